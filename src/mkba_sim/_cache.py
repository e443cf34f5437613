"""Where compiled code is cached: outside the repository, in the user's cache directory.

Imported first by ``mkba_sim/__init__.py`` so that ``NUMBA_CACHE_DIR`` is set before
numba is imported. A user's own ``NUMBA_CACHE_DIR`` wins.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

__all__ = ["cache_root"]


def cache_root() -> Path:
    """Return the mkba_sim cache directory (``$MKBA_SIM_CACHE`` or the platform default)."""
    env = os.environ.get("MKBA_SIM_CACHE")
    root = Path(env) if env else Path(platformdirs.user_cache_dir("mkba_sim"))
    root.mkdir(parents=True, exist_ok=True)
    return root


os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_root() / "numba"))
