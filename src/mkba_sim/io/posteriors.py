"""Posterior draws on disk: the posterior store, case-data files and draws files.

* :class:`PosteriorStore` — fitted posteriors of Bayesian sub-models, one NetCDF file per
  fit, keyed by the cache hash, holding the groups of an ArviZ ``InferenceData``
  (``posterior``, ``sample_stats``, ``observed_data``, ``prior``): ``arviz.from_netcdf``
  reads it; :meth:`PosteriorStore.read` needs only xarray. Written atomically.
* :func:`read_data_file` — the bytes of a sub-model's case data (the ``data`` directory
  next to the model file, :func:`model_data_dir`).
* Draws files named by a model (``file = ...``): ``.npy`` (a 1-D array) or NetCDF
  (``variable`` in the file: 1-D, or ``(chain, draw)``), checked as untrusted data by
  :mod:`mkba_sim.io.draws`.

This module never imports :mod:`mkba_sim.bayes`; the orchestration (find, read, hash,
load or fit, gate) is :mod:`mkba_sim.fitting`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from mkba_sim.distributions import Posterior
from mkba_sim.io.atomic import atomic_path
from mkba_sim.io.draws import read_draws, resolve_draws_path
from mkba_sim.model import Model

if TYPE_CHECKING:  # xarray is imported when a posterior file is read (not to simulate)
    import xarray as xr

__all__ = [
    "PosteriorStore",
    "check_draws_files",
    "draws_files",
    "file_draws",
    "model_data_dir",
    "needs_posteriors",
    "read_data_file",
    "submodel_variables",
]

_ENGINE: Literal["h5netcdf"] = "h5netcdf"


class PosteriorStore:
    """Posterior files under ``root``: ``root/NAME/PRIOR-KEY.nc`` (KEY: 24 hex digits).

    Old files are not deleted (each is about 1-2 MB).
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, name: str, prior: str, key: str) -> Path:
        """Where the posterior of sub-model ``name`` under ``prior`` with ``key`` lives."""
        return self.root / name / f"{prior}-{key[:24]}.nc"

    def read(self, path: str | Path) -> dict[str, xr.Dataset] | None:
        """Every group of the file at ``path`` (loaded into memory), or ``None`` if absent.

        Raises
        ------
        OSError, ValueError
            If the file exists but cannot be read as NetCDF with groups.
        """
        path = Path(path)
        if not path.is_file():
            return None
        import xarray as xr

        with xr.open_datatree(path, engine=_ENGINE) as tree:
            return {str(name): node.to_dataset().load() for name, node in tree.children.items()}

    def write(self, path: str | Path, groups: Mapping[str, xr.Dataset]) -> Path:
        """Write ``groups`` as one NetCDF file with groups, atomically; return the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            mode: Literal["w", "a"] = "w"
            for name, ds in groups.items():
                ds.to_netcdf(tmp, group=name, mode=mode, engine=_ENGINE)
                mode = "a"
        return path


def read_data_file(path: str | Path) -> bytes:
    """The bytes of a sub-model's data file (``OSError`` if unreadable)."""
    return Path(path).read_bytes()


def needs_posteriors(model: Model, scenarios: tuple[str, ...] | None = None) -> bool:
    """True if any chosen scenario has a posterior parameter."""
    names = scenarios or tuple(model.scenarios)
    return any(
        isinstance(p.dist, Posterior) for n in names for p in model.scenarios[n].parameters.values()
    )


def submodel_variables(
    model: Model, scenarios: tuple[str, ...] | None = None
) -> dict[tuple[str, str | None], set[str]]:
    """Variables asked of each Bayesian sub-model: ``{(name, prior): {variable, ...}}``.

    Draws files (``file = ...``) are not sub-models and are left out.
    """
    wanted: dict[tuple[str, str | None], set[str]] = {}
    for n in scenarios or tuple(model.scenarios):
        for p in model.scenarios[n].parameters.values():
            if isinstance(p.dist, Posterior) and not p.dist.is_file:
                wanted.setdefault((p.dist.source, p.dist.prior), set()).add(p.dist.variable)
    return wanted


def draws_files(model: Model) -> list[Path]:
    """The draws files (``file = ...``) the model names, relative to its folder; not read."""
    folder = Path(model.path).parent
    return sorted(
        {
            folder / p.dist.source
            for sc in model.scenarios.values()
            for p in sc.parameters.values()
            if isinstance(p.dist, Posterior) and p.dist.is_file
        }
    )


def check_draws_files(model: Model, *, allow_outside_files: bool = False) -> int:
    """Read and check every draws file the model names (as a run would); return how many.

    Raises
    ------
    ModelFileError
        Naming the model file, the parameter's key and the draws file.
    """
    seen: set[tuple[str, str]] = set()
    for sc in model.scenarios.values():
        for pname, p in sc.parameters.items():
            if isinstance(p.dist, Posterior) and p.dist.is_file:
                fkey = (p.dist.source, p.dist.variable)
                if fkey not in seen:
                    seen.add(fkey)
                    file_draws(model, p.dist, f"parameters.{pname}", allow_outside_files)
    return len(seen)


def model_data_dir(model: Model) -> Path | None:
    """The ``data`` directory next to the model file (``None`` for a model from a string).

    Bayesian sub-models read their case data from there, so a model file finds its data
    from any working directory.
    """
    path = Path(model.path)
    return path.parent / "data" if path.is_file() else None


def file_draws(model: Model, dist: Posterior, key: str, allow_outside: bool) -> np.ndarray:
    """Read and check the draws file of posterior parameter ``key`` (see :mod:`.draws`)."""
    path = resolve_draws_path(model.path, dist.source, key, allow_outside=allow_outside)
    return read_draws(path, dist.variable, model.path, key)
