"""Quantile tables kept between processes: ``<cache root>/tables/<key>.npy``.

A table is what :func:`mkba_sim.distributions.base.quantile_table` computes for one
distribution (scipy's inverse CDFs on the kernel's grid); its key
(:func:`~mkba_sim.distributions.base.table_key`) names everything its bits depend on.
Reading one back takes numpy only, so a process that simulates a model seen before does
not import scipy. Files are plain ``.npy`` (never pickles), written atomically; a file
that cannot be read as a 1-D float64 array is ignored, and the table computed afresh
replaces it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mkba_sim._cache import cache_path
from mkba_sim.io.atomic import atomic_path

__all__ = ["TableCache", "table_cache"]


class TableCache:
    """Quantile tables as ``root/<key>.npy`` (a :class:`~mkba_sim.distributions.base.TableStore`).

    Parameters
    ----------
    root
        The folder; created when the first table is kept.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if not key or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"a table key is lowercase hexadecimal, got {key!r}")
        return self.root / f"{key}.npy"

    def get(self, key: str) -> np.ndarray | None:
        """The table kept under ``key``, or ``None`` if absent or unreadable."""
        try:
            table = np.load(self._path(key), allow_pickle=False)
        except (OSError, ValueError, EOFError):  # absent, torn or not an array
            return None
        if not isinstance(table, np.ndarray) or table.dtype != np.float64 or table.ndim != 1:
            return None
        return table

    def put(self, key: str, table: np.ndarray) -> None:
        """Keep ``table`` under ``key`` atomically; a cache that cannot be written is
        skipped (it only saves time)."""
        path = self._path(key)
        try:
            with atomic_path(path) as tmp, tmp.open("wb") as fh:
                np.save(fh, np.asarray(table, dtype=np.float64), allow_pickle=False)
        except OSError:
            return


def table_cache() -> TableCache:
    """The tables of mkba_sim's cache directory (``$MKBA_SIM_CACHE/tables``)."""
    return TableCache(cache_path() / "tables")
