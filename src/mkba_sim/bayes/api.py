"""Public functions of :mod:`mkba_sim.bayes`: draws for the engine, summaries for people.

The JSON summary has the stable structure ``mkba_sim.bayes/1`` (docs/bayes.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mkba_sim.bayes.fit import PosteriorFit, StepProgress, fit_or_load
from mkba_sim.bayes.registry import get_model
from mkba_sim.errors import BayesError

__all__ = [
    "SCHEMA",
    "SUMMARY_VARIABLES",
    "bayes_summary_json",
    "format_summary",
    "load_posterior",
    "load_posterior_with_provenance",
    "prior_sensitivity",
]

SCHEMA = "mkba_sim.bayes/1"

#: Variables shown in summaries, in this order.
SUMMARY_VARIABLES = (
    "p_treated",
    "p_reference",
    "relative_reduction_reoffending",
    "rate_treated",
    "rate_reference",
    "avoided_offences_per_client_year",
    "relative_reduction_offences",
    "offences_per_recidivist_treated",
    "offences_per_recidivist_reference",
    "cohort_offences_treated",
    "cohort_offences_reference",
    "cohort_offences_avoided",
    "reference_weight",
    "p_intensive",
    "p_little_connection",
    "intensity_difference",
)

#: Columns of the prior-sensitivity table.
SENSITIVITY_VARIABLES = (
    "p_reference",
    "relative_reduction_reoffending",
    "avoided_offences_per_client_year",
    "relative_reduction_offences",
    "cohort_offences_avoided",
)


def load_posterior(
    name: str,
    variables: Sequence[str],
    *,
    cache_dir: Path | None = None,
    strict: bool = True,
    prior: str | None = None,
    data_dir: Path | None = None,
) -> dict[str, np.ndarray]:
    """Posterior draws of ``variables`` of sub-model ``name``, jointly indexed.

    Fits the model on first use (PyMC, about half a minute) and loads the cached
    posterior afterwards (milliseconds). Draw ``i`` of every returned array comes from
    the same posterior draw, so dependence between the variables is kept.

    Parameters
    ----------
    name
        Sub-model, e.g. ``"nazorg_plus_recidivism"``.
    variables
        Output names (see ``mkba_sim.bayes.MODELS[name].variables``).
    cache_dir
        Posterior cache directory (default ``cache_root()/"posteriors"``).
    strict
        Refuse a posterior that fails the convergence gate (else warn).
    prior
        Reference prior (``"mixture"``, ``"support_need"``, ``"very_active"``;
        default ``"mixture"``).
    data_dir
        Directory with the case data (``io.posteriors`` passes the ``data`` directory
        next to the model file).

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
    >>> from mkba_sim.bayes import load_posterior
    >>> d = load_posterior("nazorg_plus_recidivism", ["p_treated", "p_reference"])  # doctest: +SKIP
    >>> float((d["p_treated"] < d["p_reference"]).mean())  # doctest: +SKIP
    """
    draws, _ = load_posterior_with_provenance(
        name, variables, cache_dir=cache_dir, strict=strict, prior=prior, data_dir=data_dir
    )
    return draws


def load_posterior_with_provenance(
    name: str,
    variables: Sequence[str],
    *,
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
        :meth:`PosteriorFit.provenance` (sub-model, prior, cache key, from cache or fitted,
        convergence numbers and whether they pass the gate), which a simulation stamps
        on its result.

    ``on_progress`` reports loading or fitting as :func:`~mkba_sim.bayes.fit.fit_or_load`
    does.
    """
    sub = get_model(name)
    if isinstance(variables, str):
        variables = [variables]
    unknown = [v for v in variables if v not in sub.variables]
    if unknown:
        raise BayesError(
            f"{name}: unknown variable(s) {unknown}; available: {sorted(sub.variables)}"
        )
    if not variables:
        raise BayesError(f"{name}: no variables asked for")
    fit = fit_or_load(
        name, prior, cache_dir=cache_dir, data_dir=data_dir, strict=strict, on_progress=on_progress
    )
    return {v: fit.flat(v) for v in variables}, fit.provenance()


def _describe(x: np.ndarray) -> dict[str, float | list[float]]:
    lo, med, hi = np.quantile(x, [0.05, 0.5, 0.95])
    return {
        "mean": float(np.mean(x)),
        "sd": float(np.std(x, ddof=1)),
        "median": float(med),
        "interval90": [float(lo), float(hi)],
    }


def _p_any_reduction(fit: PosteriorFit) -> dict[str, float]:
    return {
        "reoffending": float(np.mean(fit.flat("p_treated") < fit.flat("p_reference"))),
        "offences": float(np.mean(fit.flat("avoided_offences_per_client_year") > 0.0)),
        "cohort_offences": float(np.mean(fit.flat("cohort_offences_avoided") > 0.0)),
    }


def _sensitivity_row(fit: PosteriorFit, description: str) -> dict[str, Any]:
    row: dict[str, Any] = {
        "prior": str(fit.dataset.attrs["prior"]),
        "description": description,
    }
    for v in SENSITIVITY_VARIABLES:
        row[v] = _describe(fit.flat(v))
    row["p_any_reduction"] = _p_any_reduction(fit)
    row["diagnostics_passed"] = fit.diagnostics.passed()
    return row


def prior_sensitivity(
    name: str,
    priors: Sequence[str] | None = None,
    *,
    cache_dir: Path | None = None,
    strict: bool = True,
    data_dir: Path | None = None,
) -> list[dict[str, Any]]:
    """How the answer moves with the reference prior: one row per named prior.

    Each row holds the prior's name and description, mean / sd / median / 90% interval
    of :data:`SENSITIVITY_VARIABLES`, the probabilities of any reduction and whether the
    fit passed the diagnostics. Every prior is a separate (cached) fit.
    """
    sub = get_model(name)
    names = list(priors) if priors is not None else list(sub.priors)
    rows = []
    for p in names:
        ref = sub.prior(p)
        fit = fit_or_load(name, p, cache_dir=cache_dir, data_dir=data_dir, strict=strict)
        rows.append(_sensitivity_row(fit, ref.description))
    return rows


def bayes_summary_json(
    name: str,
    prior: str | None = None,
    strict: bool = True,
    data_dir: Path | None = None,
    *,
    cache_dir: Path | None = None,
    on_progress: StepProgress | None = None,
) -> dict[str, Any]:
    """JSON-able summary of sub-model ``name`` (schema ``mkba_sim.bayes/1``).

    ``prior=None`` summarises the default prior and tabulates every named prior in
    ``prior_sensitivity``; a named ``prior`` restricts both to that prior.
    ``on_progress`` reports loading or fitting each prior's posterior
    (:func:`~mkba_sim.bayes.fit.fit_or_load`).
    """
    sub = get_model(name)
    ref = sub.prior(prior)
    fit = fit_or_load(
        name,
        ref.name,
        cache_dir=cache_dir,
        data_dir=data_dir,
        strict=strict,
        on_progress=on_progress,
    )
    ds = fit.dataset
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "name": sub.name,
        "description": sub.description,
        "prior": {"name": ref.name, "description": ref.description, "spec": ref.as_dict()},
        "data": {"path": str(fit.data_path), "sha256": str(ds.attrs["data_sha256"])},
        "cache": {
            "key": fit.key,
            "path": str(fit.path),
            "from_cache": fit.from_cache,
            "seconds": fit.seconds,
            "fit_seconds": float(ds.attrs["fit_seconds"]),
            "created": str(ds.attrs["created"]),
        },
        "draws": int(ds.sizes["chain"] * ds.sizes["draw"]),
        "variables": {
            v: {
                **_describe(fit.flat(v)),
                "unit": sub.variables[v].unit,
                "description": sub.variables[v].description,
            }
            for v in SUMMARY_VARIABLES
        },
        "p_any_reduction": _p_any_reduction(fit),
        "p_intensive_lower": float(np.mean(fit.flat("intensity_difference") > 0.0)),
        "diagnostics": {k: v for k, v in fit.diagnostics.as_dict().items() if k != "per_variable"},
    }
    names = [ref.name] if prior is not None else list(sub.priors)
    rows = []
    for p in names:
        f = (
            fit
            if p == ref.name
            else fit_or_load(
                name,
                p,
                cache_dir=cache_dir,
                data_dir=data_dir,
                strict=strict,
                on_progress=on_progress,
            )
        )
        rows.append(_sensitivity_row(f, sub.prior(p).description))
    doc["prior_sensitivity"] = rows
    return doc


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return "nan"
    a = abs(x)
    if a >= 100:
        return f"{x:,.0f}"
    if a >= 10:
        return f"{x:.1f}"
    return f"{x:.3f}"


def _count(x: float) -> str:
    return f"{x:,.0f}" if math.isfinite(x) else "nan"


def format_summary(doc: dict[str, Any]) -> str:
    """A readable text table of a :func:`bayes_summary_json` document."""
    if doc.get("schema") != SCHEMA:
        raise BayesError(f"not a {SCHEMA} document (schema {doc.get('schema')!r})")
    lines = [
        f"{doc['name']}  (reference prior: {doc['prior']['name']})",
        f"  {doc['prior']['description']}",
        f"  data {doc['data']['path']} (sha256 {doc['data']['sha256'][:12]}), "
        f"{doc['draws']:,} draws, "
        + (
            f"loaded from cache in {doc['cache']['seconds']:.2f} s"
            if doc["cache"]["from_cache"]
            else f"fitted in {doc['cache']['fit_seconds']:.1f} s"
        ),
        "",
        f"  {'variable':<36} {'mean':>9} {'median':>9} {'90% interval':>22}  unit",
    ]
    for v, s in doc["variables"].items():
        lo, hi = s["interval90"]
        q = _count if v.startswith("cohort_") else _fmt
        lines.append(
            f"  {v:<36} {_fmt(s['mean']):>9} {q(s['median']):>9} "
            f"{'[' + q(lo) + ', ' + q(hi) + ']':>22}  {s['unit']}"
        )
    p = doc["p_any_reduction"]
    lines += [
        "",
        f"  P(any reduction): reoffending {p['reoffending']:.3f}, offences per client-year "
        f"{p['offences']:.3f}, cohort offences {p['cohort_offences']:.3f}",
        f"  P(intensive trajectories reoffend less than little connection): "
        f"{doc['p_intensive_lower']:.3f}",
    ]
    d = doc["diagnostics"]
    verdict = "passed" if d["passed"] else "FAILED: " + "; ".join(d["failures"])
    lines += [
        f"  diagnostics: {verdict} (max R-hat {d['max_rhat']:.4f}, min ESS bulk "
        f"{d['min_ess_bulk']:.0f}, tail {d['min_ess_tail']:.0f}, divergences "
        f"{d['divergences']}; {d['chains']} chains x {d['n_draws']} draws)",
        "",
        "  prior sensitivity (mean [90% interval]):",
        f"  {'prior':<14} {'p_reference':>22} {'avoided/client-yr':>22} "
        f"{'cohort avoided':>22} {'P(reduction)':>12}",
    ]
    for row in doc["prior_sensitivity"]:
        cells = []
        for v in ("p_reference", "avoided_offences_per_client_year", "cohort_offences_avoided"):
            s = row[v]
            q = _count if v.startswith("cohort_") else _fmt
            cells.append(f"{_fmt(s['mean'])} [{q(s['interval90'][0])}, {q(s['interval90'][1])}]")
        lines.append(
            f"  {row['prior']:<14} {cells[0]:>22} {cells[1]:>22} {cells[2]:>22} "
            f"{row['p_any_reduction']['offences']:>12.3f}"
        )
    return "\n".join(lines)
