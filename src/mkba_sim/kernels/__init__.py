"""Numba kernels: counter-based RNG, special functions, inverse CDFs, streaming reductions.

Layer rule: imports numpy, numba and math only (and ``mkba_sim._cache``, to place numba's
cache); knows nothing of files, models or scipy. Every function here is
``@njit(cache=True)`` and pure.
"""

from mkba_sim._cache import configure_numba

configure_numba()  # before any @njit(cache=True) below is defined
