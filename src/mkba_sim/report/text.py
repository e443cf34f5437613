"""Plain-text tables for the terminal."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from mkba_sim.analysis.replication import ReplicationRow
from mkba_sim.model import Model
from mkba_sim.results import Result

__all__ = ["fmt_number", "replication_table", "run_summary"]


def fmt_number(x: float, decimals: int = 0) -> str:
    """Thousands separators, fixed decimals; ``-0`` shown as ``0``; NaN as "undefined".

    A non-finite value is never printed as if it were a number.
    """
    if math.isnan(x):
        return "undefined"
    if math.isinf(x):
        return "+infinite" if x > 0 else "-infinite"
    if x == 0:
        x = 0.0
    return f"{x:,.{decimals}f}"


def replication_table(model: Model, rows: Sequence[ReplicationRow]) -> str:
    """Published figures beside the model's, with the difference, one row per figure."""
    head = ("scenario", "quantity", "column", "published", "model", "difference", "source")
    body = [
        (
            r.scenario,
            r.quantity,
            r.column,
            fmt_number(r.published, r.decimals),
            fmt_number(r.computed, r.decimals),
            fmt_number(r.difference, r.decimals),
            r.source,
        )
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
    right = {3, 4, 5}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    out = [
        f"Replication of {model.title!r} ({model.path})",
        "",
        line(head),
        line(["-" * w for w in widths]),
    ]
    out += [line(b) for b in body]
    n_ok = sum(r.matches for r in rows)
    out += ["", f"{n_ok} of {len(rows)} published figures reproduced exactly."]
    notes = [r for r in rows if r.note and r.column == "central"]
    if notes:
        out += ["", "Notes:"] + [f"- {r.scenario}/{r.quantity}: {r.note}" for r in notes]
    if model.settings.notes.strip():
        out += ["", "Model notes:", model.settings.notes.strip()]
    if model.pm:
        out += ["", "Not monetised (PM):"] + [f"- {p.name} ({p.side}): {p.note}" for p in model.pm]
    return "\n".join(out)


def _fmt_se(x: float) -> str:
    """A standard error: whole euros when it is at least 10, else two significant digits."""
    return fmt_number(x) if abs(x) >= 10 else f"{x:.2g}"


def _interval(iv: Sequence[float | None]) -> str:
    lo, hi = iv
    if lo is None or hi is None:
        return "[n/a]"
    return f"[{fmt_number(lo)}, {fmt_number(hi)}]"


def _posterior_line(p: dict[str, Any]) -> str:
    if "file" in p:
        return f"Posterior draws: {p['variable']} from {p['file']} ({p['draws']:,} draws)"
    verdict = "passed" if p["diagnostics_passed"] else "FAILED (not strict)"
    origin = "cached" if p["from_cache"] else f"fitted in {p['seconds']:.0f} s"
    return (
        f"Posterior {p['model']} (prior {p['prior']}, {origin}): {p['chains']} chains x "
        f"{p['draws_per_chain']:,} draws; max R-hat {p['max_rhat']:.3f}, min ESS bulk/tail "
        f"{p['min_ess_bulk']:,.0f}/{p['min_ess_tail']:,.0f}, {p['divergences']} divergences "
        f"- diagnostics {verdict}"
    )


def run_summary(result: Result) -> str:
    """A decision-maker's summary of every scenario of a simulation."""
    doc = result.to_dict()
    run = doc["run"]
    cur = doc["model"]["currency"]
    out = [
        f"{doc['model']['title']} — {run['draws']:,} draws ({run['sampler']}, seed "
        f"{run['seed']}), prices {doc['model']['price_year']} {cur}",
    ]
    if run["stopped_early"]:
        out.append("Stopped early: the precision target was met before the draws asked for.")
    if run["overrides"]:
        out.append(
            "Overrides for this run: "
            + ", ".join(f"{k} = {v}" for k, v in run["overrides"].items())
        )
    out.append("")
    for name, s in doc["scenarios"].items():
        net, bcr = s["net"], s["bcr"]
        p, pm = s["p_net_positive"], s["p_net_positive_mcse"]
        out.append(f"Scenario {name}: {s['description']}")
        if s["n_dropped"]:
            share = s["n_dropped"] / run["draws"]
            out.append(
                f"  dropped            {s['n_dropped']:,} draws ({share:.2%}) with a non-finite "
                f"value; every figure below is over the {s['n_kept']:,} kept draws"
            )
        if p is None:
            out += ["  no draw kept: every draw had a non-finite value", ""]
            continue
        out.append(f"  P(net > 0)         {p:.2%} ± {pm:.3%} (MCSE)")
        out.append(
            f"  net balance        mean {fmt_number(net['mean'])} "
            f"± {_fmt_se(net['mcse'])}; 90% interval {_interval(net['interval90'])}"
        )
        out.append(
            f"  benefits / costs   {fmt_number(s['benefits']['mean'])} / "
            f"{fmt_number(s['costs']['mean'])}"
        )
        if bcr["median"] is not None:
            out.append(
                f"  benefit-cost ratio median {bcr['median']:.2f}; 90% interval "
                f"[{bcr['interval90'][0] or float('nan'):.2f}, "
                f"{bcr['interval90'][1] or float('nan'):.2f}]; "
                f"P(BCR > 1) {bcr['p_above_1']:.2%}"
            )
        width = max((len(item) for item in s["items"]), default=0)
        for item, v in s["items"].items():
            sign = "+" if v["side"] == "benefit" else "-"
            out.append(
                f"    {sign} {item:<{width}} {fmt_number(v['mean']):>14}  ({v['stakeholder']})"
            )
        if s["stakeholders"]:
            out.append("  balance per stakeholder (mean, 90% interval, P(> 0)):")
            width = max(len(k) for k in s["stakeholders"])
            for k, v in s["stakeholders"].items():
                out.append(
                    f"    {k:<{width}} {fmt_number(v['mean']):>14}  "
                    f"{_interval(v['interval90']):<28} {v['p_positive']:.1%}"
                )
        out.append("")
    if doc["pm"]:
        out.append("Not monetised (PM): " + "; ".join(p["name"] for p in doc["pm"]))
    out += [_posterior_line(p) for p in doc["posteriors"]]
    out.append(f"Quantiles: {run['quantile_method']}. {run['draws_per_second']:,.0f} draws/s.")
    return "\n".join(out)
