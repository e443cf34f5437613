"""Kept draws of a distributed run, written by the workers block by block, read lazily.

With ``keep_draws`` on the Dask backend, every task writes its draws to one NetCDF file
of a store directory (``draws-<first draw>.nc``, written atomically, so a task that is
retried after its worker died simply writes the same file again) and returns only the
file's name. The client opens the files lazily, as one dask-backed array in draw order,
so a run of 1e9 kept draws is analysed without holding them in memory.

The store directory must be visible to the client and every worker under the same path
(a shared file system on a cluster; any folder on one machine).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mkba_sim.errors import MkbaError
from mkba_sim.io.atomic import write_with

__all__ = ["BlockStore", "open_draws_store"]

_VAR = "kept"


@dataclass(frozen=True)
class BlockStore:
    """A folder of per-task NetCDF files of kept draws (plain data: only its path).

    Parameters
    ----------
    path
        The folder; created if missing. Files of an earlier run in it are an error
        (never mixed, never deleted).
    """

    path: str

    def prepare(self) -> None:
        """Create the folder; refuse one that already holds draws files.

        Raises
        ------
        MkbaError
            If the folder cannot be created or already holds ``draws-*.nc`` files.
        """
        folder = Path(self.path)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MkbaError(f"{self.path}: cannot create the draws store ({exc})") from None
        if any(folder.glob("draws-*.nc")):
            raise MkbaError(
                f"{self.path}: the draws store already holds draws of another run; "
                "give an empty or new folder"
            )

    def write(self, start: int, kept: np.ndarray) -> str:
        """Write the draws ``start .. start + len(kept) - 1`` (one task) and return the file."""
        import xarray as xr

        target = Path(self.path) / f"draws-{start:015d}.nc"
        draw = np.arange(start, start + kept.shape[0], dtype=np.int64)
        ds = xr.Dataset({_VAR: (("draw", "column"), kept)}, coords={"draw": draw})
        write_with(target, lambda tmp: ds.to_netcdf(tmp, engine="h5netcdf"))
        return str(target)

    def open(self, files: list[str]) -> Any:
        """The draws of ``files`` (in draw order) as one lazy dask array [draws, columns]."""
        return _open(files)[_VAR].data


def _open(files: list[str]) -> Any:
    import xarray as xr

    return xr.open_mfdataset(
        files,
        engine="h5netcdf",
        combine="nested",
        concat_dim="draw",
        chunks={},
        data_vars="all",
        coords="minimal",
        compat="override",
        parallel=False,
    )


def open_draws_store(path: str | os.PathLike[str]) -> Any:
    """Open a draws store written by a distributed run as one lazy :class:`xarray.Dataset`.

    Variable ``kept`` [draw, column]: the run's inputs, then its series, in the column
    order of the run's ``input`` coordinate and statistics plan.

    Raises
    ------
    MkbaError
        If the folder holds no draws files.
    """
    files = sorted(str(p) for p in Path(path).glob("draws-*.nc"))
    if not files:
        raise MkbaError(f"{path}: no draws files (draws-*.nc) in this folder")
    return _open(files)
