"""Bayesian sub-models in the application layer: find, read, hash, load or fit, gate.

The one place where a sub-model (:mod:`mkba_sim.bayes`, pure) meets the disk
(:mod:`mkba_sim.io.posteriors`): :func:`fit_or_load` finds the case data, reads its
bytes, hashes data, prior, code, sampler settings and package versions into the cache
key, loads the posterior from the store or samples and stores it, and applies the
diagnostics gate. :func:`attach_posteriors` gives a model's ``dist = "posterior"``
parameters their draws; :func:`bayes_summary_json` is what ``mkba-sim bayes`` prints.

Sub-models are looked up, in order, among the model file's ``[evidence.NAME]`` blocks,
the registry (:func:`mkba_sim.bayes.register`) and the ``mkba_sim.submodels`` entry point
of installed packages.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import os
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from mkba_sim._cache import cache_root
from mkba_sim.bayes import MODELS, PosteriorFit, SamplerSettings, SubModel, enforce, register
from mkba_sim.bayes.diagnostics import Diagnostics
from mkba_sim.bayes.registry import ENTRY_POINT_GROUP
from mkba_sim.bayes.sampling import StepProgress, cache_key, sample_groups
from mkba_sim.bayes.study import StudyDesign, make_study_design, study_spec
from mkba_sim.bayes.summary import SCHEMA, sensitivity_row, summary_doc
from mkba_sim.distributions import Posterior, SpecError
from mkba_sim.errors import BayesError, MkbaError, ModelFileError
from mkba_sim.io.posteriors import (
    PosteriorStore,
    file_draws,
    model_data_dir,
    read_data_file,
    submodel_variables,
)
from mkba_sim.model import Model

__all__ = [
    "SCHEMA",
    "attach_posteriors",
    "bayes_summary_json",
    "code_sha256",
    "configure_pytensor",
    "default_data_dirs",
    "fit_or_load",
    "load_posterior",
    "load_posterior_with_provenance",
    "prior_sensitivity",
    "resolve_submodel",
    "study_design",
]

_ENTRY_POINTS_LOADED = False


def configure_pytensor() -> None:
    """Keep PyTensor's compiled C code in mkba_sim's cache directory, not in the repo.

    Only effective before PyTensor is first imported; a user's own ``PYTENSOR_FLAGS``
    with a ``compiledir`` setting wins.
    """
    if "pytensor" in sys.modules:
        return
    flags = os.environ.get("PYTENSOR_FLAGS", "")
    if "compiledir" in flags:
        return
    target = cache_root() / "pytensor"
    os.environ["PYTENSOR_FLAGS"] = ",".join(f for f in (flags, f"base_compiledir={target}") if f)


def _load_entry_points() -> None:
    """Register the sub-models of installed packages (entry point ``mkba_sim.submodels``)."""
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED:
        return
    _ENTRY_POINTS_LOADED = True
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in MODELS:
            continue
        try:
            factory = ep.load()
            sub = factory() if callable(factory) and not isinstance(factory, SubModel) else factory
        except Exception as exc:  # an installed package's fault, reported by name
            raise BayesError(
                f"entry point {ENTRY_POINT_GROUP}:{ep.name} ({ep.value}) failed to load: {exc}"
            ) from None
        register(sub)


def resolve_submodel(name: str, model: Model | None = None) -> SubModel:
    """The sub-model called ``name``: an evidence block of ``model``, registered, installed.

    Raises
    ------
    BayesError
        For an unknown name; the message lists the known ones.
    """
    if model is not None and name in model.evidence:
        from mkba_sim.bayes.evidence import EvidenceSubModel

        return EvidenceSubModel(model.evidence[name])
    if name not in MODELS:
        _load_entry_points()
    if name in MODELS:
        return MODELS[name]
    known = sorted(MODELS) + sorted(model.evidence if model is not None else ())
    raise BayesError(f"unknown Bayesian sub-model {name!r}; known: {known}")


def default_data_dirs() -> list[Path]:
    """Where case data is looked for when no ``data_dir`` is given.

    The ``models/data`` directory of the source checkout this package runs from, then
    ``models/data`` under the working directory.
    """
    here = Path(__file__).resolve()
    out: list[Path] = []
    for d in (here.parents[2] / "models" / "data", Path.cwd() / "models" / "data"):
        if d not in out:
            out.append(d)
    return out


def _data_file(sub: SubModel, file_name: str, data_dir: Path | None) -> Path:
    if data_dir is not None:
        path = Path(data_dir) / file_name
        if not path.is_file():
            raise BayesError(
                f"{sub.name}: case data {file_name!r} not found in {str(data_dir)!r} (the "
                f"'data' directory next to the model file); copy models/data/{file_name} "
                "there"
            )
        return path
    tried = default_data_dirs()
    for d in tried:
        if (d / file_name).is_file():
            return d / file_name
    raise BayesError(
        f"{sub.name}: case data {file_name!r} not found in {[str(d) for d in tried]}; pass data_dir"
    )


def _read_data(sub: SubModel, data_dir: Path | None) -> tuple[Any, Path | None]:
    if sub.data_file is None:
        return sub.parse(None, sub.name), None
    path = _data_file(sub, sub.data_file, data_dir)
    try:
        raw = read_data_file(path)
    except OSError as exc:
        raise BayesError(f"cannot read case data {str(path)!r}: {exc.strerror or exc}") from None
    return sub.parse(raw, str(path)), path


def code_sha256(sub: SubModel) -> str:
    """SHA-256 of the source of ``sub.code_modules`` (and of ``sub``'s own class)."""
    h = hashlib.sha256()
    for name in sub.code_modules:
        h.update(name.encode())
        try:
            h.update(inspect.getsource(importlib.import_module(name)).encode())
        except (ImportError, OSError, TypeError):
            h.update(b"<source unavailable>")
    try:
        h.update(inspect.getsource(type(sub)).encode())
    except (OSError, TypeError):
        h.update(type(sub).__qualname__.encode())
    return h.hexdigest()


def _versions() -> dict[str, str]:
    out = {}
    pkgs = ["pymc", "pytensor", "arviz", "numpy"]
    for pkg in pkgs:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "absent"
    return out


def fit_or_load(
    name: str,
    prior: str | None = None,
    *,
    model: Model | None = None,
    cache_dir: Path | None = None,
    data_dir: Path | None = None,
    strict: bool = True,
    settings: SamplerSettings | None = None,
    on_progress: StepProgress | None = None,
) -> PosteriorFit:
    """The posterior of sub-model ``name`` under ``prior``: loaded if cached, else fitted.

    Parameters
    ----------
    name
        A registered sub-model (e.g. ``"nazorg_plus_recidivism"``) or an ``[evidence]``
        block of ``model``.
    prior
        Named prior or sensitivity variant (``None``: the sub-model's default).
    model
        The model file whose evidence blocks (and ``data`` directory, unless
        ``data_dir`` is given) are used.
    cache_dir
        Directory of the posterior store (default ``cache_root()/"posteriors"``).
    data_dir
        Directory holding the case-data file (default: ``model``'s ``data`` directory,
        else the source checkout's ``models/data``, then ``./models/data``).
    strict
        Raise :class:`~mkba_sim.errors.DiagnosticsError` if the fit fails the gate
        (otherwise warn and return it).
    settings
        Sampler settings (default :class:`~mkba_sim.bayes.SamplerSettings`).
    on_progress
        ``on_progress(step, done, total, detail)`` (``mkba_sim.workflow.ProgressCallback``):
        ``("posterior", 0, 1, "NAME (prior P)")`` first, the ``"fit"`` steps of
        :func:`mkba_sim.bayes.sampling.sample_model` when the posterior is sampled, and
        ``("posterior", 1, 1, "from cache" | "fitted")`` last.

    Raises
    ------
    BayesError
        Unknown name or prior, missing or malformed data, unwritable cache.
    DiagnosticsError
        In strict mode, when the posterior fails the convergence gate.
    """
    return _fit_or_load(
        name,
        prior,
        model=model,
        cache_dir=cache_dir,
        data_dir=data_dir,
        strict=strict,
        settings=settings,
        on_progress=on_progress,
    )[0]


def _fit_or_load(
    name: str,
    prior: str | None,
    *,
    model: Model | None,
    cache_dir: Path | None,
    data_dir: Path | None,
    strict: bool,
    settings: SamplerSettings | None,
    on_progress: StepProgress | None,
) -> tuple[PosteriorFit, Any]:
    """:func:`fit_or_load`, and the sub-model's parsed data it read."""
    start = time.perf_counter()
    sub = resolve_submodel(name, model)
    ref = sub.prior(prior)
    settings = settings or SamplerSettings()
    if data_dir is None and model is not None:
        data_dir = model_data_dir(model)
    data, data_path = _read_data(sub, data_dir)
    data_sha = sub.data_fingerprint(data)
    key = cache_key(
        sub, ref, data_sha, settings, code_sha256=code_sha256(sub), versions=_versions()
    )
    if on_progress is not None:
        on_progress("posterior", 0, 1, f"{sub.name} (prior {ref.name})")
    store = PosteriorStore(
        Path(cache_dir) if cache_dir is not None else cache_root() / "posteriors"
    )
    path = store.path(sub.name, ref.name, key)
    groups = None
    try:
        groups = store.read(path)
    except (OSError, ValueError) as exc:
        warnings.warn(
            f"cached posterior {path} unreadable ({exc}); re-sampling", RuntimeWarning, stacklevel=2
        )
    if groups is not None and (
        "posterior" not in groups or groups["posterior"].attrs.get("cache_key") != key
    ):
        groups = None
    from_cache = groups is not None
    if groups is None:
        configure_pytensor()
        groups, _ = sample_groups(
            sub,
            data,
            ref,
            settings,
            {
                "cache_key": key,
                "data_path": str(data_path) if data_path is not None else "",
                "data_sha256": data_sha,
                "model_path": model.path if model is not None else "",
                "versions": _versions(),
            },
            on_progress,
        )
        try:
            store.write(path, groups)
        except OSError as exc:
            raise BayesError(
                f"{sub.name}: cannot write the posterior cache {path}: {exc}"
            ) from None
    post = groups["posterior"]
    diag = Diagnostics.from_dict(json.loads(str(post.attrs["diagnostics"])))
    enforce(diag, f"{sub.name} (prior {ref.name!r})", strict=strict)
    seconds = time.perf_counter() - start if from_cache else float(post.attrs["fit_seconds"])
    if on_progress is not None:
        on_progress("posterior", 1, 1, "from cache" if from_cache else "fitted")
    return PosteriorFit(groups, diag, key, path, from_cache, seconds, data_path), data


def study_design(
    name: str,
    prior: str | None = None,
    *,
    model: Model | None = None,
    cache_dir: Path | None = None,
    data_dir: Path | None = None,
    strict: bool = True,
) -> StudyDesign | None:
    """The study of sub-model ``name`` with its posterior draws; ``None`` if it names none.

    Loads the posterior the simulation used (from the cache; fitting only if it is
    missing, as :func:`fit_or_load`) and the case data (sample, cohort, window), and
    pairs them with the sub-model's study (:func:`mkba_sim.bayes.make_study_design`).

    Raises
    ------
    BayesError
        Unknown sub-model or prior, missing case data.
    """
    sub = resolve_submodel(name, model)
    spec = study_spec(sub)
    if spec is None:
        return None
    fit, data = _fit_or_load(
        name,
        prior,
        model=model,
        cache_dir=cache_dir,
        data_dir=data_dir,
        strict=strict,
        settings=None,
        on_progress=None,
    )
    draws = {v: fit.flat(v) for v in spec.informs if v in fit.dataset}
    return make_study_design(sub.name, spec, draws, data)


def load_posterior_with_provenance(
    name: str,
    variables: Sequence[str],
    *,
    model: Model | None = None,
    cache_dir: Path | None = None,
    strict: bool = True,
    prior: str | None = None,
    data_dir: Path | None = None,
    on_progress: StepProgress | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """:func:`load_posterior` plus the posterior's provenance.

    Returns
    -------
    tuple
        The draws as :func:`load_posterior` returns them, and
        :meth:`~mkba_sim.bayes.PosteriorFit.provenance` (sub-model, prior, cache key, from
        cache or fitted, convergence numbers, the gate's verdict, the caveat), which a
        simulation stamps on its result.
    """
    sub = resolve_submodel(name, model)
    if isinstance(variables, str):
        variables = [variables]
    unknown = [v for v in variables if v not in sub.variables]
    if unknown:
        raise BayesError(
            f"{name}: unknown variable(s) {unknown}; available: {sorted(sub.variables)}"
        )
    if not variables:
        raise BayesError(f"{name}: no variables asked for")
    sub.prior(prior)  # an unknown prior is an error before any fit
    fit = fit_or_load(
        name,
        prior,
        model=model,
        cache_dir=cache_dir,
        data_dir=data_dir,
        strict=strict,
        on_progress=on_progress,
    )
    return {v: fit.flat(v) for v in variables}, fit.provenance()


def load_posterior(
    name: str,
    variables: Sequence[str],
    *,
    model: Model | None = None,
    cache_dir: Path | None = None,
    strict: bool = True,
    prior: str | None = None,
    data_dir: Path | None = None,
) -> dict[str, np.ndarray]:
    """Posterior draws of ``variables`` of sub-model ``name``, jointly indexed.

    Fits the model on first use (PyMC) and loads the cached posterior afterwards
    (milliseconds). Draw ``i`` of every returned array comes from the same posterior
    draw, so dependence between the variables is kept.

    Parameters
    ----------
    name
        Sub-model, e.g. ``"nazorg_plus_recidivism"``, or an evidence block of ``model``.
    variables
        Output names (``resolve_submodel(name).variables``).
    model, cache_dir, strict, prior, data_dir
        As for :func:`fit_or_load`.

    Returns
    -------
    dict
        ``{variable: 1-D float64 array}``, all of the same length (chains × draws).

    Raises
    ------
    BayesError
        Unknown sub-model, prior or variable; missing data; cache problems.
    DiagnosticsError
        In strict mode, if the posterior fails the gate.

    Examples
    --------
    >>> from mkba_sim.fitting import load_posterior
    >>> d = load_posterior("nazorg_plus_recidivism", ["p_treated", "p_reference"])  # doctest: +SKIP
    >>> float((d["p_treated"] < d["p_reference"]).mean())  # doctest: +SKIP
    """
    draws, _ = load_posterior_with_provenance(
        name,
        variables,
        model=model,
        cache_dir=cache_dir,
        strict=strict,
        prior=prior,
        data_dir=data_dir,
    )
    return draws


def prior_sensitivity(
    name: str,
    priors: Sequence[str] | None = None,
    *,
    model: Model | None = None,
    cache_dir: Path | None = None,
    strict: bool = True,
    data_dir: Path | None = None,
) -> list[dict[str, Any]]:
    """How the answer moves with the prior: one row per named prior or variant.

    ``priors=None`` takes the sub-model's sensitivity list. Every row is a separate
    (cached) fit; see :func:`mkba_sim.bayes.summary.sensitivity_row`.
    """
    sub = resolve_submodel(name, model)
    names = list(priors) if priors is not None else list(sub.sensitivity)
    return [
        sensitivity_row(
            sub,
            fit_or_load(
                name, p, model=model, cache_dir=cache_dir, data_dir=data_dir, strict=strict
            ),
        )
        for p in names
    ]


def bayes_summary_json(
    name: str,
    prior: str | None = None,
    strict: bool = True,
    data_dir: Path | None = None,
    *,
    model: Model | None = None,
    cache_dir: Path | None = None,
    on_progress: StepProgress | None = None,
) -> dict[str, Any]:
    """JSON-able summary of sub-model ``name`` (schema ``mkba_sim.bayes/2``).

    ``prior=None`` summarises the default prior and tabulates the sub-model's whole
    sensitivity list; a named ``prior`` restricts both to that prior.
    """
    sub = resolve_submodel(name, model)
    ref = sub.prior(prior)
    kw: dict[str, Any] = {
        "model": model,
        "cache_dir": cache_dir,
        "data_dir": data_dir,
        "strict": strict,
        "on_progress": on_progress,
    }
    fit = fit_or_load(name, ref.name, **kw)
    names = [ref.name] if prior is not None else list(sub.sensitivity)
    rows = [
        sensitivity_row(sub, fit if p == ref.name else fit_or_load(name, p, **kw)) for p in names
    ]
    return summary_doc(sub, fit, rows)


def attach_posteriors(
    model: Model,
    scenarios: tuple[str, ...] | None = None,
    *,
    cache_dir: Path | None = None,
    strict: bool = True,
    allow_outside_files: bool = False,
    on_progress: StepProgress | None = None,
) -> tuple[Model, list[dict[str, Any]]]:
    """Return ``model`` with draws loaded into every posterior parameter.

    Sub-model draws come from :func:`load_posterior_with_provenance` (the model's own
    evidence blocks, or registered sub-models with their case data in the ``data``
    directory next to the model file); variables of the same sub-model and prior are
    loaded together so they share the draw index. Draws files are untrusted data, read
    by :func:`mkba_sim.io.draws.read_draws`; one outside the model file's folder is
    refused unless ``allow_outside_files``.

    Also returns one provenance record per posterior used (sub-model, prior, cache key,
    diagnostics, caveat) or per draws file (path and number of draws), for the result's
    attributes. ``on_progress`` reports loading or fitting each sub-model's posterior
    (:func:`fit_or_load`).
    """
    names = scenarios or tuple(model.scenarios)
    wanted = submodel_variables(model, names)
    loaded: dict[tuple[str, str | None], dict[str, np.ndarray]] = {}
    provenance: list[dict[str, Any]] = []
    for (source, prior), variables in wanted.items():
        try:
            got, info = load_posterior_with_provenance(
                source,
                sorted(variables),
                model=model,
                cache_dir=cache_dir,
                strict=strict,
                prior=prior,
                on_progress=on_progress,
            )
            loaded[(source, prior)] = got
            provenance.append({**info, "variables": sorted(variables)})
        except MkbaError as exc:
            raise ModelFileError(model.path, "parameters", str(exc)) from None
    files: dict[tuple[str, str], np.ndarray] = {}
    scenarios_new = {}
    for n, sc in model.scenarios.items():
        params = dict(sc.parameters)
        for pname, p in sc.parameters.items():
            if not isinstance(p.dist, Posterior) or n not in names:
                continue
            key = f"parameters.{pname}"
            if p.dist.is_file:
                # a file shared by several scenarios is read and recorded once
                fkey = (p.dist.source, p.dist.variable)
                if fkey not in files:
                    files[fkey] = file_draws(model, p.dist, key, allow_outside_files)
                    provenance.append(
                        {"file": fkey[0], "variable": fkey[1], "draws": files[fkey].size}
                    )
                draws = files[fkey]
            else:
                draws = loaded[(p.dist.source, p.dist.prior)][p.dist.variable]
            try:
                params[pname] = replace(p, dist=p.dist.with_draws(draws))
            except SpecError as exc:
                raise ModelFileError(model.path, key, exc.problem) from None
        scenarios_new[n] = replace(sc, parameters=params)
    return replace(model, scenarios=scenarios_new), provenance
