"""Sample a :class:`~mkba_sim.bayes.protocol.SubModel` into ArviZ groups; no disk access.

:func:`sample_groups` builds the PyMC model, runs NUTS, derives the outputs, draws from the
prior and computes the convergence numbers. It returns the four groups of an ArviZ
``InferenceData`` (``posterior``, ``sample_stats``, ``observed_data``, ``prior``) as plain
xarray datasets, which :mod:`mkba_sim.io.posteriors` stores as one NetCDF file with groups
(``arviz.from_netcdf`` reads it). :func:`cache_key` hashes everything a posterior depends
on; the application layer (:mod:`mkba_sim.fitting`) supplies the parts that need the
file system (the data's bytes, the code's source, installed versions).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from mkba_sim.bayes.diagnostics import Diagnostics, compute_diagnostics
from mkba_sim.bayes.protocol import SubModel
from mkba_sim.errors import BayesError
from mkba_sim.results import make_attrs

__all__ = [
    "CACHE_SCHEMA",
    "GROUPS",
    "PosteriorFit",
    "SamplerSettings",
    "StepProgress",
    "cache_key",
    "one_c_module",
    "sample_groups",
    "sample_model",
]

CACHE_SCHEMA = "mkba_sim.posterior/2"
#: ``on_progress(step, done, total, detail)``: the protocol of
#: ``mkba_sim.workflow.ProgressCallback``.
StepProgress = Callable[[str, int, int, str], None]
#: The InferenceData groups a stored posterior holds.
GROUPS = ("posterior", "sample_stats", "observed_data", "prior")


@dataclass(frozen=True)
class SamplerSettings:
    """Sampler settings (part of the cache key).

    The defaults give 4 × 1,000 draws after 1,000 tuning steps on 2 cores: bulk and tail
    ESS well above the gate's 400 for the recidivism model (docs/bayes.md).
    ``prior_draws`` draws from the prior are stored in the ``prior`` group (0: none).
    ``backend`` is ``"pymc"`` (PyMC's NUTS on PyTensor's compiled C, one module per
    function: :func:`one_c_module`), ``"numba"`` (PyMC's
    NUTS on a numba-compiled model) or ``"nutpie"`` (nutpie's NUTS, numba; if installed).
    """

    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    cores: int = 2
    seed: int = 2020
    target_accept: float = 0.9
    prior_draws: int = 1000
    backend: str = "pymc"


@dataclass(frozen=True)
class PosteriorFit:
    """A posterior ready to use.

    Attributes
    ----------
    groups
        ``posterior`` (every output with dims ``(chain, draw)``, free parameters, vector
        latents with their own dimension; attrs hold the provenance), ``sample_stats``,
        ``observed_data``, ``prior``.
    diagnostics
        Convergence numbers (the gate is applied by the caller).
    key, path
        The cache key and the cache file.
    from_cache
        True if loaded, False if sampled now.
    seconds
        Time to load (from cache) or to build, compile and sample (fresh fit).
    data_path
        The data file of this request (``None`` for data inside the model file).
    """

    groups: dict[str, xr.Dataset]
    diagnostics: Diagnostics
    key: str
    path: Path
    from_cache: bool
    seconds: float
    data_path: Path | None

    @property
    def dataset(self) -> xr.Dataset:
        """The ``posterior`` group."""
        return self.groups["posterior"]

    def flat(self, name: str) -> np.ndarray:
        """1-D float array of ``name`` over all chains and draws (chain-major)."""
        return np.asarray(self.dataset[name].values, dtype=np.float64).reshape(-1)

    def inference_data(self) -> Any:
        """The groups as an ``arviz.InferenceData`` (imports ArviZ)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            import arviz as az
        return az.InferenceData(**self.groups)  # type: ignore[arg-type]

    def provenance(self) -> dict[str, Any]:
        """What a simulation using these draws should record (JSON-able).

        Sub-model, prior, cache key, whether the draws came from the cache, the time it
        took, the convergence numbers with the gate's verdict, and the caveat.
        """
        d = self.diagnostics
        a = self.dataset.attrs
        return {
            "model": str(a["model"]),
            "prior": str(a["prior"]),
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
            "caveat": str(a.get("caveat", "")),
        }


def cache_key(
    sub: SubModel,
    prior: Any,
    data_sha256: str,
    settings: SamplerSettings,
    *,
    code_sha256: str,
    versions: dict[str, str],
) -> str:
    """SHA-256 of everything a posterior depends on.

    The sub-model's name, the prior (:meth:`PriorVariant.as_dict`), the data's hash, the
    hash of the sub-model's code, the sampler settings and the versions of the sampling
    packages: a posterior is re-sampled exactly when one of these changes.
    """
    doc = {
        "schema": CACHE_SCHEMA,
        "model": sub.name,
        "prior": prior.as_dict(),
        "data_sha256": data_sha256,
        "code_sha256": code_sha256,
        "sampler": asdict(settings),
        "versions": versions,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


@contextlib.contextmanager
def _quiet_pymc() -> Iterator[None]:
    """PyMC's progress messages (``Sampling: [...]``, ``Auto-assigning NUTS``) silenced."""
    import logging

    log = logging.getLogger("pymc")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


@contextlib.contextmanager
def one_c_module() -> Iterator[None]:
    """Compile each PyTensor function as one C module, without debug information.

    PyTensor's default linker (``cvm``) compiles one C module per operation: a cold fit of
    the recidivism model ran g++ 57 times (logp and gradient alone: 53 modules). The
    ``c`` linker puts a whole function into one module (here: two, the logp and gradient
    and the function that records the draws), and ``-g0`` drops the debug information
    PyTensor always asks for (``g++ -g``), which costs a third of the compile time and
    does not change the generated code. The operations and their C code are the same, so
    the draws are the same bit for bit (docs/bayes.md, "Timings and the speed target").
    A user's own ``gcc__cxxflags`` are kept (``-g0`` is added at the end). Without a C++
    compiler (``PYTENSOR_FLAGS=cxx=``) nothing changes.
    """
    import pytensor

    if not pytensor.config.cxx:
        yield
        return
    flags = f"{pytensor.config.gcc__cxxflags} -g0".strip()
    with pytensor.config.change_flags(linker="c", gcc__cxxflags=flags):
        yield


def sample_model(
    model: Any, settings: SamplerSettings, on_progress: StepProgress | None = None
) -> Any:
    """Run NUTS on a PyMC ``model``; return PyMC's ``InferenceData``.

    ``settings.backend = "nutpie"`` samples with nutpie (numba backend) instead of
    PyMC's own NUTS. ``on_progress("fit", done, total, detail)`` is called before
    sampling and, with PyMC's sampler, for every draw of every chain, tuning included
    (``total = chains × (tune + draws)``), through PyMC's ``callback``.

    With ``backend = "pymc"`` the model's functions are compiled as one C module each
    (:func:`one_c_module`); a model with an operation that has no C implementation
    (PyTensor raises ``NotImplementedError`` while compiling, before any draw) is
    sampled with PyTensor's default linker instead, with the same seed.
    """
    import pymc as pm

    cores = max(1, min(settings.cores, os.cpu_count() or 1, settings.chains))
    with _quiet_pymc():
        kwargs: dict[str, Any] = {}
        if settings.backend == "nutpie":
            kwargs = {"nuts_sampler": "nutpie", "nuts_sampler_kwargs": {"backend": "numba"}}
        elif settings.backend == "numba":
            kwargs = {"compile_kwargs": {"mode": "NUMBA"}}
        elif settings.backend != "pymc":
            raise BayesError(
                f"unknown sampler backend {settings.backend!r}; choose pymc, numba or nutpie"
            )
        if on_progress is not None:
            total = settings.chains * (settings.tune + settings.draws)
            done = [0]
            report = on_progress

            def callback(trace: Any, draw: Any) -> None:
                done[0] += 1
                phase = "tuning" if draw.tuning else "sampling"
                report("fit", done[0], total, f"chain {draw.chain + 1}/{settings.chains} {phase}")

            report("fit", 0, total, f"{settings.chains} chains on {cores} cores")
            if settings.backend != "nutpie":
                kwargs["callback"] = callback

        def sample() -> Any:
            return pm.sample(
                draws=settings.draws,
                tune=settings.tune,
                chains=settings.chains,
                cores=cores,
                random_seed=settings.seed,
                target_accept=settings.target_accept,
                progressbar=False,
                compute_convergence_checks=False,
                model=model,
                **kwargs,
            )

        if settings.backend != "pymc":
            return sample()
        try:
            with one_c_module():
                return sample()
        except NotImplementedError:  # an operation without C code: one module per op
            return sample()


def _prior_group(
    sub: SubModel, model: Any, data: Any, prior: Any, settings: SamplerSettings
) -> xr.Dataset:
    import pymc as pm
    from pytensor.compile.mode import Mode

    if settings.prior_draws <= 0:
        return xr.Dataset()
    free = [v.name for v in model.free_RVs] + [v.name for v in model.deterministics]
    with warnings.catch_warnings(), _quiet_pymc():
        warnings.simplefilter("ignore")  # "the effect of Potentials ... will be ignored"
        idata = pm.sample_prior_predictive(
            draws=settings.prior_draws,
            model=model,
            var_names=free,
            random_seed=settings.seed + 7,
            # the prior's forward sampler runs 1,000 times: PyTensor's Python
            # implementations are fast enough and need no C compilation (a cold cache
            # otherwise compiles a dozen modules for it)
            compile_kwargs={"mode": Mode(linker="py", optimizer="fast_compile")},
        )
    pri = idata.prior
    draws = {str(k): np.asarray(pri[k].values) for k in pri.data_vars}
    rng = np.random.default_rng(np.random.SeedSequence([settings.seed, 2]))
    out = sub.derive(draws, data, prior, rng)
    return pri.assign({k: (("chain", "draw"), np.asarray(v)) for k, v in out.items()})


def sample_groups(
    sub: SubModel,
    data: Any,
    prior: Any,
    settings: SamplerSettings,
    attrs: dict[str, Any],
    on_progress: StepProgress | None = None,
) -> tuple[dict[str, xr.Dataset], Diagnostics]:
    """Build, compile, sample, derive; the InferenceData groups and their diagnostics.

    Parameters
    ----------
    sub, data, prior
        The sub-model, its parsed data and the prior.
    settings
        Sampler settings.
    attrs
        Provenance stamped on the ``posterior`` group (cache key, data path...), merged
        with :func:`mkba_sim.results.make_attrs` and the diagnostics.
    on_progress
        Passed to :func:`sample_model`.

    Notes
    -----
    The diagnostics cover every free parameter, every deterministic (element by element)
    and every derived output; they are stored as JSON in the ``diagnostics`` attribute.
    """
    start = time.perf_counter()
    with warnings.catch_warnings():
        # import-time notices of ArviZ (refactor announcement) and PyTensor (no BLAS: these
        # models have no matrix algebra) say nothing about the fit
        warnings.simplefilter("ignore", FutureWarning)
        warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
        model = sub.build(data, prior)
        idata = sample_model(model, settings, on_progress)
        prior_ds = _prior_group(sub, model, data, prior, settings)
    post = idata.posterior
    draws = {str(k): np.asarray(post[k].values) for k in post.data_vars}
    rng = np.random.default_rng(np.random.SeedSequence([settings.seed, 1]))
    outputs = sub.derive(draws, data, prior, rng)
    checked: dict[str, np.ndarray] = dict(draws)
    checked.update(outputs)
    divergences = int(np.asarray(idata.sample_stats["diverging"].values).sum())
    diag = compute_diagnostics(checked, divergences)
    seconds = time.perf_counter() - start
    posterior = post.assign({k: (("chain", "draw"), np.asarray(v)) for k, v in outputs.items()})
    for name, info in sub.variables.items():
        if name in posterior:
            posterior[name].attrs.update({"units": info.unit, "long_name": info.description})
    posterior.attrs = make_attrs(
        "mkba_sim.bayes",
        {
            **attrs,
            "schema": CACHE_SCHEMA,
            "model": sub.name,
            "prior": prior.name,
            "caveat": sub.caveat,
            "sampler": asdict(settings),
            "diagnostics": diag.as_dict(),
            "fit_seconds": seconds,
        },
        packages=("pymc", "arviz"),
    )
    stats = idata.sample_stats
    observed = xr.Dataset({k: np.asarray(v) for k, v in sub.observed(data).items()})
    prior_ds.attrs = {}
    groups = {
        "posterior": posterior,
        "sample_stats": stats,
        "observed_data": observed,
        "prior": prior_ds,
    }
    return groups, diag
