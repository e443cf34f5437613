"""Saving and loading simulation results as NetCDF (atomic writes)."""

from __future__ import annotations

import os
from pathlib import Path

from mkba_sim.errors import MkbaError
from mkba_sim.io.netcdf import load_dataset, save_dataset
from mkba_sim.results import Result

__all__ = ["load_result", "save_result"]


def save_result(result: Result, path: str | os.PathLike[str]) -> Path:
    """Write ``result`` to ``path`` (NetCDF); an interrupted write leaves no partial file."""
    try:
        return save_dataset(result.dataset, path)
    except OSError as exc:
        raise MkbaError(f"{path}: cannot write result ({exc.strerror or exc})") from None


def load_result(path: str | os.PathLike[str]) -> Result:
    """Read a result saved by :func:`save_result`."""
    try:
        ds = load_dataset(path)
    except FileNotFoundError:
        raise MkbaError(f"{path}: file not found") from None
    except (OSError, ValueError) as exc:
        raise MkbaError(f"{path}: not a mkba_sim result ({exc})") from None
    if "model_sha256" not in ds.attrs:
        raise MkbaError(f"{path}: not a mkba_sim result (no provenance attributes)")
    return Result(ds)
