"""Fit a sub-model with PyMC, or load its cached posterior; the diagnostics gate.

A fitted posterior is stored as one NetCDF file (plain xarray, so loading it needs
neither PyMC nor ArviZ and takes milliseconds) under
``cache_root()/"posteriors"/NAME/PRIOR-KEY.nc``. ``KEY`` is a SHA-256 over

* the bytes of the case-data file,
* the priors (the named reference prior and the treated-group priors),
* the text of the model code (:attr:`SubModel.code_modules`),
* the sampler settings (draws, tune, chains, seed, target acceptance) and
* the versions of PyMC, PyTensor, ArviZ and NumPy,

so a posterior is re-sampled exactly when one of these changes. The file is written to a
temporary name and renamed (:mod:`mkba_sim.io.atomic`), so a reader never sees half a
file and two processes fitting at once cannot corrupt it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from mkba_sim._cache import cache_root
from mkba_sim.bayes.data import CaseData, read_cases
from mkba_sim.bayes.diagnostics import Diagnostics, compute_diagnostics, enforce
from mkba_sim.bayes.priors import TREATED_PRIORS, ReferencePrior
from mkba_sim.bayes.registry import SubModel, get_model
from mkba_sim.errors import BayesError
from mkba_sim.io.netcdf import load_dataset, save_dataset
from mkba_sim.results import make_attrs

__all__ = [
    "CACHE_SCHEMA",
    "PosteriorFit",
    "SamplerSettings",
    "cache_key",
    "configure_pytensor",
    "default_data_dirs",
    "fit_or_load",
    "resolve_data_file",
    "sample_model",
]

CACHE_SCHEMA = "mkba_sim.posterior/1"

# on_progress(step, done, total, detail): the protocol of mkba_sim.workflow.ProgressCallback
StepProgress = Callable[[str, int, int, str], None]


@dataclass(frozen=True)
class SamplerSettings:
    """NUTS settings (part of the cache key).

    The defaults give 4 × 1,000 draws after 1,000 tuning steps on 2 cores: bulk and tail
    ESS well above the gate's 400 for this model (docs/bayes.md).
    """

    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    cores: int = 2
    seed: int = 2020
    target_accept: float = 0.9


@dataclass(frozen=True)
class PosteriorFit:
    """A posterior ready to use.

    Attributes
    ----------
    dataset
        Every output variable with dims ``(chain, draw)`` (``exposure`` also ``case``);
        attrs hold the provenance.
    diagnostics
        Convergence numbers (the gate is applied by :func:`fit_or_load`).
    key
        The cache key.
    path
        The cache file.
    from_cache
        True if loaded, False if sampled now.
    seconds
        Time to load (from cache) or to build, compile and sample (fresh fit).
    data_path
        The case-data file of this request (its bytes hash into ``key``; the dataset's
        ``data_path`` attribute is where the data were when the posterior was sampled).
    """

    dataset: xr.Dataset
    diagnostics: Diagnostics
    key: str
    path: Path
    from_cache: bool
    seconds: float
    data_path: Path

    def flat(self, name: str) -> np.ndarray:
        """1-D float array of ``name`` over all chains and draws (chain-major)."""
        return np.asarray(self.dataset[name].values, dtype=np.float64).reshape(-1)

    def provenance(self) -> dict[str, Any]:
        """What a simulation using these draws should record (JSON-able).

        Sub-model, prior, cache key, whether the draws came from the cache, the time it
        took, and the convergence numbers with the gate's verdict.
        """
        d = self.diagnostics
        return {
            "model": str(self.dataset.attrs["model"]),
            "prior": str(self.dataset.attrs["prior"]),
            "cache_key": self.key,
            "from_cache": self.from_cache,
            "seconds": round(self.seconds, 3),
            "chains": d.chains,
            "draws_per_chain": d.n_draws,
            "max_rhat": d.max_rhat,
            "min_ess_bulk": d.min_ess_bulk,
            "min_ess_tail": d.min_ess_tail,
            "divergences": d.divergences,
            "diagnostics_passed": not d.failures(),
        }


def default_data_dirs() -> list[Path]:
    """Where case data is looked for when no ``data_dir`` is given.

    The ``models/data`` directory of the source checkout this package runs from, then
    ``models/data`` under the working directory.
    """
    here = Path(__file__).resolve()
    dirs = [here.parents[3] / "models" / "data", Path.cwd() / "models" / "data"]
    out: list[Path] = []
    for d in dirs:
        if d not in out:
            out.append(d)
    return out


def resolve_data_file(sub: SubModel, data_dir: Path | None) -> Path:
    """The case-data file of ``sub`` (in ``data_dir``, or the default places).

    Raises
    ------
    BayesError
        If it is not there; the message says where it looked and what to do.
    """
    if data_dir is not None:
        path = Path(data_dir) / sub.data_file
        if not path.is_file():
            raise BayesError(
                f"{sub.name}: case data {sub.data_file!r} not found in {str(data_dir)!r} (the "
                f"'data' directory next to the model file); copy models/data/{sub.data_file} "
                "there"
            )
        return path
    tried = default_data_dirs()
    for d in tried:
        if (d / sub.data_file).is_file():
            return d / sub.data_file
    raise BayesError(
        f"{sub.name}: case data {sub.data_file!r} not found in {[str(d) for d in tried]}; "
        "pass data_dir"
    )


def _code_hash(sub: SubModel) -> str:
    h = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for name in sub.code_modules:
        h.update(name.encode())
        h.update((here / name).read_bytes())
    return h.hexdigest()


def _versions() -> dict[str, str]:
    out = {}
    for pkg in ("pymc", "pytensor", "arviz", "numpy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "absent"
    return out


def cache_key(
    sub: SubModel, prior: ReferencePrior, data: CaseData, settings: SamplerSettings
) -> str:
    """SHA-256 of everything a posterior depends on (see the module docstring)."""
    doc = {
        "schema": CACHE_SCHEMA,
        "model": sub.name,
        "prior": prior.as_dict(),
        "treated_priors": asdict(TREATED_PRIORS),
        "data_sha256": data.sha256,
        "code_sha256": _code_hash(sub),
        "sampler": asdict(settings),
        "versions": _versions(),
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def configure_pytensor() -> None:
    """Keep PyTensor's compiled C code in mkba_sim's cache directory, not in the repo.

    Only effective before PyTensor is first imported; a user's own
    ``PYTENSOR_FLAGS`` with a ``compiledir`` setting wins.
    """
    if "pytensor" in sys.modules:
        return
    flags = os.environ.get("PYTENSOR_FLAGS", "")
    if "compiledir" in flags:
        return
    target = cache_root() / "pytensor"
    os.environ["PYTENSOR_FLAGS"] = ",".join(f for f in (flags, f"base_compiledir={target}") if f)


def sample_model(
    model: Any, settings: SamplerSettings, on_progress: StepProgress | None = None
) -> tuple[dict[str, np.ndarray], int]:
    """Run NUTS (PyMC) on ``model``; return the posterior arrays and the divergence count.

    Arrays are shaped ``(chain, draw, ...)``, keyed by variable name (free variables in
    their constrained space, and deterministics). Call :func:`configure_pytensor` first
    if PyTensor has not been imported yet.

    ``on_progress("fit", done, total, detail)`` is called before sampling and for every
    draw of every chain, tuning included (``total = chains × (tune + draws)``), through
    PyMC's ``callback`` (which runs in this process whether chains run in parallel or
    not); ``detail`` says which chain drew last and whether it is still tuning.
    """
    import logging

    import pymc as pm

    cores = max(1, min(settings.cores, os.cpu_count() or 1, settings.chains))
    log = logging.getLogger("pymc")
    level = log.level
    log.setLevel(logging.ERROR)
    callback = None
    if on_progress is not None:
        total = settings.chains * (settings.tune + settings.draws)
        done = [0]
        report = on_progress

        def callback(trace: Any, draw: Any) -> None:
            done[0] += 1
            phase = "tuning" if draw.tuning else "sampling"
            report("fit", done[0], total, f"chain {draw.chain + 1}/{settings.chains} {phase}")

        report("fit", 0, total, f"{settings.chains} chains on {cores} cores")
    try:
        idata = pm.sample(
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            cores=cores,
            random_seed=settings.seed,
            target_accept=settings.target_accept,
            progressbar=False,
            compute_convergence_checks=False,
            model=model,
            callback=callback,
        )
    finally:
        log.setLevel(level)
    post = idata.posterior
    draws = {str(k): np.asarray(post[k].values) for k in post.data_vars}
    divergences = int(np.asarray(idata.sample_stats["diverging"].values).sum())
    return draws, divergences


def _fit(
    sub: SubModel,
    prior: ReferencePrior,
    data: CaseData,
    settings: SamplerSettings,
    key: str,
    on_progress: StepProgress | None = None,
) -> tuple[xr.Dataset, Diagnostics]:
    """Build, compile, sample, derive; return the dataset to cache and its diagnostics."""
    configure_pytensor()
    start = time.perf_counter()
    with warnings.catch_warnings():
        # import-time notices of ArviZ (refactor announcement) and PyTensor (no BLAS: this
        # model has no matrix algebra) say nothing about the fit
        warnings.simplefilter("ignore", FutureWarning)
        warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
        model = sub.build(data, prior)
        draws, divergences = sample_model(model, settings, on_progress)
    rng = np.random.default_rng(np.random.SeedSequence([settings.seed, 1]))
    outputs = sub.derive(draws, data, prior, rng)
    checked = {n: draws[n] for n in sub.base_variables if n in draws}
    if "exposure" in draws:  # latent times at risk, labelled by case number
        for i, case in enumerate(data.cases):
            checked[f"exposure[case {case}]"] = draws["exposure"][..., i]
    for name, arr in outputs.items():
        if name not in checked:
            checked[name] = arr
    diag = compute_diagnostics(checked, divergences)
    seconds = time.perf_counter() - start
    data_vars: dict[str, Any] = {n: (("chain", "draw"), np.asarray(a)) for n, a in outputs.items()}
    for name in sub.base_variables:
        if name not in data_vars and name in draws:
            data_vars[name] = (("chain", "draw"), draws[name])
    if "exposure" in draws:
        data_vars["exposure"] = (("chain", "draw", "case"), draws["exposure"])
    ds = xr.Dataset(
        data_vars,
        coords={
            "chain": np.arange(settings.chains),
            "draw": np.arange(settings.draws),
            "case": data.cases,
        },
        attrs=make_attrs(
            "mkba_sim.bayes",
            {
                "schema": CACHE_SCHEMA,
                "model": sub.name,
                "prior": prior.name,
                "cache_key": key,
                "data_path": data.path,
                "data_sha256": data.sha256,
                "sampler": asdict(settings),
                "versions": _versions(),
                "diagnostics": diag.as_dict(),
                "fit_seconds": seconds,
            },
            packages=("pymc", "arviz"),
        ),
    )
    return ds, diag


def fit_or_load(
    name: str,
    prior: str | None = None,
    *,
    cache_dir: Path | None = None,
    data_dir: Path | None = None,
    strict: bool = True,
    settings: SamplerSettings | None = None,
    on_progress: StepProgress | None = None,
) -> PosteriorFit:
    """The posterior of sub-model ``name`` under reference prior ``prior``.

    Loaded from the cache when its key matches; otherwise sampled (PyMC), checked and
    cached. Either way the diagnostics gate is applied.

    Parameters
    ----------
    name
        Registry name, e.g. ``"nazorg_plus_recidivism"``.
    prior
        Reference prior name (``None``: the sub-model's default).
    cache_dir
        Directory of cached posteriors (default ``cache_root()/"posteriors"``).
    data_dir
        Directory holding the case-data file (default: the source checkout's
        ``models/data``, then ``./models/data``).
    strict
        Raise :class:`~mkba_sim.errors.DiagnosticsError` if the fit fails the gate
        (otherwise warn and return it).
    settings
        Sampler settings (default :class:`SamplerSettings`).
    on_progress
        ``on_progress(step, done, total, detail)``
        (:class:`mkba_sim.workflow.ProgressCallback`): ``("posterior", 0, 1, "NAME (prior
        P)")`` first, the ``"fit"`` steps of :func:`sample_model` when the posterior is
        sampled, and ``("posterior", 1, 1, "from cache" | "fitted")`` last.

    Raises
    ------
    BayesError
        Unknown name or prior, missing or malformed data, unreadable cache.
    DiagnosticsError
        In strict mode, when the posterior fails the convergence gate.
    """
    start = time.perf_counter()
    sub = get_model(name)
    ref = sub.prior(prior)
    settings = settings or SamplerSettings()
    data_file = resolve_data_file(sub, data_dir)
    data = read_cases(data_file)
    key = cache_key(sub, ref, data, settings)
    if on_progress is not None:
        on_progress("posterior", 0, 1, f"{sub.name} (prior {ref.name})")
    root = Path(cache_dir) if cache_dir is not None else cache_root() / "posteriors"
    path = root / sub.name / f"{ref.name}-{key[:24]}.nc"
    ds: xr.Dataset | None = None
    if path.is_file():
        try:
            ds = load_dataset(path)
        except (OSError, ValueError) as exc:
            warnings.warn(
                f"cached posterior {path} unreadable ({exc}); re-sampling",
                RuntimeWarning,
                stacklevel=2,
            )
            ds = None
        if ds is not None and ds.attrs.get("cache_key") != key:
            ds = None
    from_cache = ds is not None
    if ds is None:
        ds, _ = _fit(sub, ref, data, settings, key, on_progress)
        try:
            save_dataset(ds, path)
        except OSError as exc:
            raise BayesError(
                f"{sub.name}: cannot write the posterior cache {path}: {exc}"
            ) from None
    diag = Diagnostics.from_dict(json.loads(str(ds.attrs["diagnostics"])))
    enforce(diag, f"{sub.name} (prior {ref.name!r})", strict=strict)
    seconds = time.perf_counter() - start if from_cache else float(ds.attrs["fit_seconds"])
    if on_progress is not None:
        on_progress("posterior", 1, 1, "from cache" if from_cache else "fitted")
    return PosteriorFit(ds, diag, key, path, from_cache, seconds, data_file)
