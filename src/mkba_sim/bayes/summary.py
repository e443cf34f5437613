"""Summaries of a fitted sub-model for people: JSON (``mkba_sim.bayes/2``) and text.

Pure functions of a :class:`~mkba_sim.bayes.sampling.PosteriorFit`; the application layer
(:mod:`mkba_sim.fitting`) fits or loads the posteriors and calls these.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from mkba_sim.bayes.protocol import SubModel
from mkba_sim.bayes.sampling import PosteriorFit
from mkba_sim.errors import BayesError

__all__ = ["SCHEMA", "describe", "format_summary", "sensitivity_row", "summary_doc"]

SCHEMA = "mkba_sim.bayes/2"


def describe(x: np.ndarray) -> dict[str, float | list[float]]:
    """Mean, sd, median and central 90% interval of draws ``x``."""
    lo, med, hi = np.quantile(x, [0.05, 0.5, 0.95])
    return {
        "mean": float(np.mean(x)),
        "sd": float(np.std(x, ddof=1)),
        "median": float(med),
        "interval90": [float(lo), float(hi)],
    }


def sensitivity_row(sub: SubModel, fit: PosteriorFit) -> dict[str, Any]:
    """One row of the sensitivity table: the prior, its columns and probabilities."""
    name = str(fit.dataset.attrs["prior"])
    row: dict[str, Any] = {"prior": name, "description": sub.prior(name).description}
    for v in sub.sensitivity_variables:
        row[v] = describe(fit.flat(v))
    row["probabilities"] = sub.probabilities(fit.dataset)
    row["diagnostics_passed"] = fit.diagnostics.passed()
    return row


def summary_doc(sub: SubModel, fit: PosteriorFit, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """JSON-able summary of one fit with its sensitivity ``rows`` (schema ``mkba_sim.bayes/2``)."""
    ds = fit.dataset
    ref = sub.prior(str(ds.attrs["prior"]))
    prior_ds = fit.groups.get("prior")
    prior_probabilities = (
        sub.probabilities(prior_ds)
        if prior_ds is not None and all(v in prior_ds for v in sub.summary_variables)
        else {}
    )
    return {
        "schema": SCHEMA,
        "name": sub.name,
        "description": sub.description,
        "caveat": sub.caveat,
        "prior": {"name": ref.name, "description": ref.description, "spec": ref.as_dict()},
        "data": {
            "path": str(fit.data_path) if fit.data_path is not None else None,
            "sha256": str(ds.attrs.get("data_sha256", "")),
        },
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
                **describe(fit.flat(v)),
                "unit": sub.variables[v].unit,
                "description": sub.variables[v].description,
            }
            for v in sub.summary_variables
        },
        "probabilities": sub.probabilities(ds),
        "prior_probabilities": prior_probabilities,
        "diagnostics": {k: v for k, v in fit.diagnostics.as_dict().items() if k != "per_variable"},
        "sensitivity_columns": list(sub.sensitivity_variables),
        "prior_sensitivity": list(rows),
    }


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


def _wrap(text: str, indent: str, width: int = 92) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width=width, initial_indent=indent, subsequent_indent=indent)


def format_summary(doc: dict[str, Any]) -> str:
    """A readable text table of a :func:`summary_doc` document."""
    if doc.get("schema") != SCHEMA:
        raise BayesError(f"not a {SCHEMA} document (schema {doc.get('schema')!r})")
    origin = (
        f"loaded from cache in {doc['cache']['seconds']:.2f} s"
        if doc["cache"]["from_cache"]
        else f"fitted in {doc['cache']['fit_seconds']:.1f} s"
    )
    data = doc["data"]
    source = (
        f"data {data['path']} (sha256 {data['sha256'][:12]})"
        if data["path"]
        else "data from the model file"
    )
    lines = [f"{doc['name']}  (prior: {doc['prior']['name']})"]
    lines += _wrap(doc["prior"]["description"], "  ")
    if doc.get("caveat"):
        lines += _wrap("CAVEAT: " + doc["caveat"] + ".", "  ")
    lines += [
        f"  {source}, {doc['draws']:,} draws, {origin}",
        "",
        f"  {'variable':<40} {'mean':>9} {'median':>9} {'90% interval':>22}  unit",
    ]
    for v, s in doc["variables"].items():
        lo, hi = s["interval90"]
        q = _count if v.startswith("cohort_") else _fmt
        lines.append(
            f"  {v:<40} {_fmt(s['mean']):>9} {q(s['median']):>9} "
            f"{'[' + q(lo) + ', ' + q(hi) + ']':>22}  {s['unit']}"
        )
    lines.append("")
    prior_p = doc.get("prior_probabilities", {})
    for label, p in doc["probabilities"].items():
        extra = f"  (prior alone: {prior_p[label]:.3f})" if label in prior_p else ""
        lines.append(f"  {label}: {p:.3f}{extra}")
    d = doc["diagnostics"]
    verdict = "passed" if d["passed"] else "FAILED: " + "; ".join(d["failures"])
    lines += [
        f"  diagnostics: {verdict} (max R-hat {d['max_rhat']:.4f}, min ESS bulk "
        f"{d['min_ess_bulk']:.0f}, tail {d['min_ess_tail']:.0f}, divergences "
        f"{d['divergences']}; {d['chains']} chains x {d['n_draws']} draws)",
    ]
    rows = doc["prior_sensitivity"]
    if rows:
        cols = doc["sensitivity_columns"]
        headline = next(iter(rows[0]["probabilities"]), "")
        width = max(24, *(len(c) for c in cols)) + 1
        lines += [
            "",
            "  sensitivity (mean [90% interval]; last column: " + headline + "):",
            f"  {'prior / variant':<22} " + " ".join(f"{c:>{width}}" for c in cols),
        ]
        for row in rows:
            cells = []
            for c in cols:
                s = row[c]
                cells.append(
                    f"{_fmt(s['mean'])} [{_fmt(s['interval90'][0])}, {_fmt(s['interval90'][1])}]"
                )
            p = row["probabilities"].get(headline, math.nan)
            lines.append(
                f"  {row['prior']:<22} " + " ".join(f"{c:>{width}}" for c in cells) + f"  {p:.3f}"
            )
    return "\n".join(lines)
