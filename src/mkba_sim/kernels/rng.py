"""Counter-based uniforms: a draw's random number depends only on (seed, stream, draw).

The generator is the SplitMix64 output function (Steele, Lea & Flood 2014,
doi:10.1145/2714064.2660195) evaluated at position ``draw`` of a sequence whose start is
``key ^ stream``. Random access by position is what makes results independent of the
number of threads and of the chunk size, the idea of counter-based generators (Salmon
et al. 2011, doi:10.1145/2063384.2063405).
"""

from __future__ import annotations

import numpy as np
from numba import int64, njit, uint64

__all__ = ["GOLDEN", "mix64", "stream_uniform", "uniform_from_bits"]

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_ONE = np.uint64(1)
_TWO_M53 = 1.0 / 9007199254740992.0


@njit(cache=True, inline="always")
def mix64(z: np.uint64) -> np.uint64:
    """SplitMix64 finaliser (variant 13 of Stafford's mixers): a bijection on 64 bits."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True, inline="always")
def uniform_from_bits(x: np.uint64) -> float:
    """Map 64 random bits to a double in the open interval (0, 1): (k + 0.5) / 2**53."""
    # x >> 11 < 2**53 fits a signed integer, whose conversion to double is one
    # instruction (an unsigned one is not); the value is the same
    return (float(int64(x >> _S11)) + 0.5) * _TWO_M53


@njit(cache=True, inline="always")
def stream_uniform(key: np.uint64, stream: np.uint64, draw: np.int64) -> float:
    """Uniform number of ``stream`` at position ``draw`` for the run keyed by ``key``."""
    z = (key ^ stream) + (uint64(draw) + _ONE) * GOLDEN
    return uniform_from_bits(mix64(z))
