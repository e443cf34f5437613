"""NetCDF reading and writing of xarray objects, atomically."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import xarray as xr

from mkba_sim.io.atomic import atomic_path

__all__ = ["load_dataset", "save_dataset"]

_ENGINE: Literal["h5netcdf"] = "h5netcdf"


def save_dataset(ds: xr.Dataset, target: str | os.PathLike[str]) -> Path:
    """Save ``ds`` as NetCDF at ``target`` with an atomic rename; return the path."""
    with atomic_path(target) as tmp:
        ds.to_netcdf(tmp, engine=_ENGINE)
    return Path(target)


def load_dataset(source: str | os.PathLike[str]) -> xr.Dataset:
    """Load a NetCDF file fully into memory (the file is closed afterwards)."""
    with xr.open_dataset(source, engine=_ENGINE) as ds:
        return ds.load()
