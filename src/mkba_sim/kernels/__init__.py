"""Numba kernels: counter-based RNG, special functions, inverse CDFs, streaming reductions.

Layer rule: imports numpy, numba and math only; knows nothing of files, models or
scipy. Every function here is ``@njit(cache=True)`` and pure.
"""
