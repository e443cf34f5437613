"""Where compiled code is cached: outside the repository, in the user's cache directory.

:func:`configure_numba` is called by ``mkba_sim.kernels`` before any ``@njit(cache=True)``
function is defined, so numba's cache goes to ``<cache root>/numba`` instead of
``__pycache__`` folders inside the source tree. A user's own ``NUMBA_CACHE_DIR`` wins.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

__all__ = ["cache_path", "cache_root", "configure_numba"]


def cache_root() -> Path:
    """Return the mkba_sim cache directory (``$MKBA_SIM_CACHE`` or the platform default)."""
    root = _root()
    root.mkdir(parents=True, exist_ok=True)
    return root


def cache_path() -> Path:
    """The mkba_sim cache directory, as :func:`cache_root`, without creating it."""
    return _root()


def _root() -> Path:
    env = os.environ.get("MKBA_SIM_CACHE")
    return Path(env) if env else Path(platformdirs.user_cache_dir("mkba_sim"))


def configure_numba() -> None:
    """Point numba's on-disk cache at ``<cache root>/numba`` unless the user chose one.

    Before numba is imported this sets ``NUMBA_CACHE_DIR`` (read by numba at import);
    afterwards it sets numba's config directly.
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    path = str(_root() / "numba")
    if "numba" in sys.modules:
        from numba.core import config

        config.CACHE_DIR = path
    else:
        os.environ["NUMBA_CACHE_DIR"] = path
