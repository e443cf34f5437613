"""Plain-text tables for the terminal."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mkba_sim.analysis.replication import BaseCase, ReplicationRow
from mkba_sim.model import Model
from mkba_sim.results import Result

if TYPE_CHECKING:
    from mkba_sim.analysis.decision import AnalysisResult

__all__ = [
    "analysis_summary",
    "base_case_table",
    "fmt_number",
    "replication_table",
    "run_summary",
]


def fmt_number(x: float, decimals: int = 0) -> str:
    """Thousands separators, fixed decimals; ``-0`` shown as ``0``; NaN as "undefined".

    A non-finite value is never printed as if it were a number.
    """
    if math.isnan(x):
        return "undefined"
    if math.isinf(x):
        return "+infinite" if x > 0 else "-infinite"
    text = f"{x:,.{decimals}f}"
    if text.startswith("-") and float(text.replace(",", "")) == 0:
        text = text[1:]  # -0 (or a tiny negative rounded to 0) shown as 0
    return text


def base_case_table(model: Model, cases: Sequence[BaseCase]) -> str:
    """The deterministic base case of each scenario: every item and total, the balances
    per stakeholder and perspective, per participant, and the inputs' price conversions."""
    cur = model.settings.currency
    out = [
        f"Deterministic base case of {model.title!r} ({model.path}): every input at its "
        f"published value, prices {model.settings.price_year} {cur}",
    ]
    for c in cases:
        out += ["", f"Scenario {c.scenario}"]
        if c.missing:
            out.append(f"  not evaluated: {c.missing}")
            continue
        rows = [
            (
                ("+ " if side == "benefit" else "- ") + name,
                holder,
                fmt_number(v) if math.isfinite(v) else "by year",
                fmt_number(pv),
            )
            for name, side, holder, v, pv in c.items
        ]
        rows += [
            ("benefits", "", "", fmt_number(c.benefits)),
            ("costs", "", "", fmt_number(c.costs)),
            ("net", "", "", fmt_number(c.net)),
            ("benefit-cost ratio", "", "", fmt_number(c.bcr, 2)),
        ]
        head = ("item", "stakeholder", "value per year", "present value")
        out += ["  " + line for line in _table(head, rows, {2, 3})]
        for title, balances in (
            ("stakeholder", c.stakeholders),
            ("perspective", c.perspectives),
        ):
            if balances:
                out.append(
                    f"  per {title}: "
                    + "; ".join(f"{k} {fmt_number(v)}" for k, v in balances.items())
                )
        if c.per_participant:
            pop = model.settings.per_participant
            out.append(
                f"  per participant ({pop}): "
                + "; ".join(f"{k} {fmt_number(v)}" for k, v in c.per_participant.items())
            )
        if c.point_estimates:
            out.append(
                "  no published value, at the point estimate: " + ", ".join(c.point_estimates)
            )
    if model.price_conversions:
        from mkba_sim.model.prices import CPI_SOURCE, cpi_table

        out += ["", f"Price years converted to {model.settings.price_year} ({CPI_SOURCE}):"]
        shown = {c.scenario for c in cases} | {"base"}
        status = {y: st for y, (_, st) in cpi_table().items()}
        out += [
            f"  {c.parameter} ({c.scenario}): {c.from_year} prices x CPI {c.index_to:.2f} / "
            f"{c.index_from:.2f} = x {c.factor:.4f}"
            + (
                " (provisional index)"
                if "provisional" in (status[c.from_year], status[c.to_year])
                else ""
            )
            for c in model.price_conversions
            if c.scenario in shown
        ]
    return "\n".join(out)


def replication_table(model: Model, rows: Sequence[ReplicationRow]) -> str:
    """Published figures beside the model's, with the difference, one row per figure.

    Without published figures it says so in one line (no empty table, no "0 of 0")."""
    if not rows:
        out = [
            f"No published figures to compare for {model.title!r} ({model.path}): "
            "the model has no [[published]] entries for these scenarios."
        ]
        if model.pm:
            out += ["", "Not monetised (PM):"]
            out += [f"- {p.name} ({p.side}): {p.note}" for p in model.pm]
        return "\n".join(out)
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
    ) + (f"\n  Caveat: {p['caveat']}." if p.get("caveat") else "")


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
        out += _perspective_lines(s)
        out.append("")
    if doc["pm"]:
        out.append("Not monetised (PM): " + "; ".join(p["name"] for p in doc["pm"]))
    out += [_posterior_line(p) for p in doc["posteriors"]]
    out.append(f"Quantiles: {run['quantile_method']}. {run['draws_per_second']:,.0f} draws/s.")
    if "dask" in run:
        c = run["dask"]
        out.append(
            f"Ran on a Dask cluster: scheduler {c['scheduler']}, {c['workers']} workers, "
            f"{c['threads']} threads in all (the same numbers as a local run)."
        )
    return "\n".join(out)


def _pct_or_na(p: float | None) -> str:
    return "n/a" if p is None else f"{p:.1%}"


def _perspective_lines(s: dict[str, Any]) -> list[str]:
    """Perspective balances and per-participant results of one scenario's summary."""
    out: list[str] = []
    persp = s.get("perspectives") or {}
    if persp:
        out.append("  balance per perspective (mean, 90% interval, P(> 0)):")
        width = max(len(k) for k in persp)
        for k, v in persp.items():
            out.append(
                f"    {k:<{width}} {fmt_number(v['mean']) if v['mean'] is not None else 'n/a':>14}"
                f"  {_interval(v['interval90']):<28} {_pct_or_na(v['p_positive'])}"
                f"  ({', '.join(v['stakeholders'])})"
            )
    per = s.get("per_participant")
    if per:
        n = per["participants"]
        shown = f"{fmt_number(n, 0 if n is None or float(n).is_integer() else 2)}" if n else "0"
        out.append(f"  per participant ({per['population']}, n = {shown}):")
        net = per["net"]
        if net["mean"] is None:
            out.append("    undefined: the number of participants is 0")
            return out
        out.append(
            f"    net                mean {fmt_number(net['mean'])}; 90% interval "
            f"{_interval(net['interval90'])}; P(> 0) {_pct_or_na(net['p_positive'])}"
        )
        out.append(
            f"    benefits / costs   {fmt_number(per['benefits']['mean'])} / "
            f"{fmt_number(per['costs']['mean'])}"
        )
        width = max((len(k) for k in per.get("perspectives", {})), default=0)
        for k, v in per.get("perspectives", {}).items():
            out.append(
                f"    {k:<{width}} {fmt_number(v['mean']):>14}  "
                f"{_interval(v['interval90']):<28} {_pct_or_na(v['p_positive'])}"
            )
    return out


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(head), line(["-" * w for w in widths])] + [line(r) for r in rows]


def _n(x: float | None, decimals: int = 0) -> str:
    return "n/a" if x is None else fmt_number(x, decimals)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def _g(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4g}"


def analysis_summary(result: AnalysisResult) -> str:
    """A readable summary of a decision analysis (``mkba-sim analyse``)."""
    d = result.to_dict()
    cur = d["model"]["currency"] or ""
    out = [
        f"Decision analysis of {d['model']['title']!r}, scenario {d['scenario']} — "
        f"{d['run']['draws']:,} draws, seed {d['run']['seed']}",
        f"E[net] {_n(d['net_mean'])} {cur}; P(net > 0) {_pct(d['p_net_positive'])}",
        "",
    ]
    if d["tornado"]:
        out.append(
            "Tornado: each input at its 5th / 95th percentile, the others at their "
            "distributions (E[net], P(net > 0)) and at their published values (point):"
        )
        rows: list[tuple[str, ...]] = []
        for r in d["tornado"]:
            flags = ("crosses 0 " if r["crosses_zero"] else "") + (
                "low input gives higher" if r["low_gives_higher"] else ""
            )
            rows.append(
                (
                    r["input"],
                    f"{_g(r['value'][0])} / {_g(r['value'][1])}",
                    f"{_n(r['net_mean'][0])} / {_n(r['net_mean'][1])}",
                    f"{_pct(r['p_positive'][0])} / {_pct(r['p_positive'][1])}",
                    f"{_n(r['net_point'][0])} / {_n(r['net_point'][1])}",
                    _n(r["swing"]),
                    flags.strip(),
                )
            )
        out += _table(
            ("input", "low / high value", "E[net]", "P(net > 0)", "point net", "swing", "flags"),
            rows,
            {5},
        )
        out.append(f"(point net with every input at its published value: {_n(d['point_net'])})")
        out += ["", "Global sensitivity and value of information per input:"]
        rows = []
        for r in d["tornado"]:
            rows.append(
                (
                    r["input"],
                    _pct(r["variance_share"]),
                    f"{_n(r['evppi'])} ± {_n(r['evppi_se'])}",
                    _g(r.get("delta")) if "delta" in r else "",
                )
            )
        head = (
            "input",
            "variance share",
            f"EVPPI ({cur})",
            "delta" if "delta" in d["tornado"][0] else "",
        )
        out += _table(head, rows, {1, 2})
        if d["groups"] and "sobol_first" in d["groups"][0]:
            out += ["", "Sobol' indices of independent groups (reruns with re-seeded inputs):"]
            rows = [
                (
                    str(g["group"]),
                    f"{_g(g['sobol_first'])} ± {_g(g['sobol_first_se'])}",
                    f"{_g(g['sobol_total'])} ± {_g(g['sobol_total_se'])}",
                    _n(g["evppi"]),
                )
                for g in d["groups"]
            ]
            out += _table(("group", "first order", "total", f"EVPPI ({cur})"), rows, {1, 2, 3})
    e = d["evpi"]
    out += [
        "",
        f"EVPI (fund / not fund): {_n(e['per_decision'])} {cur} ± {_n(e['mcse'])} per "
        f"decision; population: {_n(e['population'])} {cur} ({e['population_note']}).",
        "",
    ]
    out += _evsi_lines(d["evsi"], cur)
    be = d["break_even"]
    out.append(
        f"Break-even programme cost (all costs replaced by one total): E[net] = 0 at "
        f"{_n(be['cost_mean'])} {cur}; P(net > 0) = 50% / 80% / 95% at "
        + " / ".join(_n(be["cost_at_p"][k]) for k in ("0.5", "0.8", "0.95"))
        + f" {cur} (current costs: {_n(be['current_cost_mean'])})."
    )
    if "sweep" in d:
        sw = d["sweep"]
        at = " / ".join(_g(sw["break_even_at_p"][k]) for k in ("0.5", "0.8", "0.95"))
        out.append(
            f"Sweep of {sw['input']}: E[net] = 0 at {_g(sw['break_even_mean'])} "
            f"({sw['break_even_status']}); P(net > 0) = 50% / 80% / 95% at {at}."
        )
    out += ["", "Balance per stakeholder (mean, 90% interval, P(> 0)):"]
    rows = [
        (
            k,
            _n(v["mean"]),
            f"[{_n(v['interval90'][0])}, {_n(v['interval90'][1])}]",
            _pct(v["p_positive"]),
        )
        for k, v in d["stakeholders"].items()
    ]
    out += _table(("stakeholder", "mean", "90% interval", "P(> 0)"), rows, {1})
    if d.get("perspectives"):
        out += ["", "Balance per perspective (mean, 90% interval, P(> 0)):"]
        rows = [
            (
                k,
                _n(v["mean"]),
                f"[{_n(v['interval90'][0])}, {_n(v['interval90'][1])}]",
                _pct(v["p_positive"]),
            )
            for k, v in d["perspectives"].items()
        ]
        out += _table(("perspective", "mean", "90% interval", "P(> 0)"), rows, {1})
    return "\n".join(out)


def _evsi_lines(v: Mapping[str, Any], cur: str) -> list[str]:
    """The EVSI / ENBS part of the analysis summary (or why it is omitted)."""
    if not v["available"]:
        return [f"EVSI: omitted ({v['reason']}).", ""]
    cost = v["cost"]
    out = [
        f"EVSI of a study that would {v['study']} (Strong et al. 2015; statistics: "
        f"{', '.join(v['statistics'])}), against a study cost of {_n(cost['fixed'])} {cur} "
        f"+ {_n(cost['per_participant'])} {cur} per participant (population: "
        f"{v['population_note']}):"
    ]
    rows = [
        (
            str(r["n"]),
            f"{_n(r['evsi'])} ± {_n(r['se'])}",
            _n(r["population"]),
            _n(r["cost"]),
            f"{_n(r['enbs'])} ± {_n(r['enbs_se'])}",
        )
        for r in v["sizes"]
    ]
    out += _table(
        ("n", f"EVSI ({cur})", f"population ({cur})", f"study cost ({cur})", f"ENBS ({cur})"),
        rows,
        {1, 2, 3, 4},
    )
    best = v["best"]
    verdict = (
        f"best size n = {best['n']} (ENBS {_n(best['enbs'])} {cur})"
        if best["worthwhile"]
        else f"no size pays off: the highest ENBS is {_n(best['enbs'])} {cur} at n = {best['n']}"
    )
    out += [
        f"Upper bound: EVPPI of {', '.join(v['informs'])} = {_n(v['evppi_bound'])} ± "
        f"{_n(v['evppi_bound_se'])} {cur} per decision; {verdict}.",
        "",
    ]
    return out
