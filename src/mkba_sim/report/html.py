"""The decision report: one self-contained HTML file in Dutch or English.

:func:`render_html` turns a model, its simulation :class:`~mkba_sim.results.Result`, the
decision analysis of its main scenario and the replication rows into a string: Jinja2
templates (``report/templates``), figures from :mod:`mkba_sim.plot` as inline SVG, numbers
formatted per language with Babel (:mod:`mkba_sim.report.locale`). No scripts to run, no
external assets; print CSS for A4. Writing the file is the caller's business
(:func:`mkba_sim.workflow.report` writes it atomically).

Key figures carry their unrounded values in ``data-value`` attributes and the page embeds
the JSON documents it was made from (``<script type="application/json" id="mkba-data">``),
so a reader or a test can check the page against the numbers.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mkba_sim.analysis.replication import ReplicationRow
from mkba_sim.model import Model
from mkba_sim.model.prices import CPI_SOURCE
from mkba_sim.report.locale import Formatter, texts, verdict
from mkba_sim.results import Result

if TYPE_CHECKING:
    from mkba_sim.analysis.decision import AnalysisResult

__all__ = ["render_html"]

_VERSION_KEYS = (
    "mkba_sim_version",
    "python_version",
    "numpy_version",
    "scipy_version",
    "numba_version",
    "xarray_version",
)


def _svg(ax: Any) -> str:
    from mkba_sim.plot import to_svg

    return to_svg(ax.figure)


def _describe_dist(dist: Any, fmt: Formatter, unit: str | None) -> str:
    """``normal (mu 99.000, sd 5.000); 90%: 90.776 – 107.224``."""
    family = getattr(dist, "family", type(dist).__name__.lower())
    if family == "dependent":  # keys are expressions over other inputs: show them as written
        return str(getattr(dist, "text", "") or family)
    if family == "posterior":
        what = "model" if not getattr(dist, "is_file", False) else "file"
        return f"posterior ({what} {dist.source}, {dist.variable})"
    params = []
    if dataclasses.is_dataclass(dist):
        for f in dataclasses.fields(dist):
            v = getattr(dist, f.name)
            if f.repr and isinstance(v, int | float) and not isinstance(v, bool):
                params.append(f"{f.name} {fmt.value(float(v))}")
    text = f"{family} ({', '.join(params)})" if params else family
    if getattr(dist, "is_random", False):
        try:
            lo, hi = dist.interval(0.9)
            text += f"; 90%: {fmt.value(lo)} – {fmt.value(hi, unit)}"
        except Exception:  # an interval is a courtesy: never fail the report over it
            pass
    return text


def _published_value(p: Any, fmt: Formatter) -> str:
    if p.published is None:
        return ""
    text = fmt.value(p.published)
    if p.published_low is not None or p.published_high is not None:
        text += f" ({fmt.value(p.published_low)} – {fmt.value(p.published_high)})"
    if getattr(p, "published_default", False):
        text += " *"
    return text


def _assumption_rows(params: Mapping[str, Any], fmt: Formatter) -> list[dict[str, str]]:
    return [
        {
            "name": name,
            "dist": _describe_dist(p.dist, fmt, p.unit),
            "published": _published_value(p, fmt),
            "unit": p.unit or "",
            "source": p.source + (f" — {p.note}" if p.note else ""),
        }
        for name, p in params.items()
    ]


def _published(rows: Sequence[ReplicationRow], scenario: str) -> dict[str, dict[str, float]]:
    """``{quantity: {column: value}}`` of the study's figures for ``scenario``."""
    out: dict[str, dict[str, float]] = {}
    for r in rows:
        if r.scenario == scenario:
            out.setdefault(r.quantity, {})[r.column] = r.published
    return out


def _f(x: Any) -> float | None:
    if x is None:
        return None
    y = float(x)
    return y if math.isfinite(y) else None


def _scenario_block(
    result: Result,
    name: str,
    rows: Sequence[ReplicationRow],
    fmt: Formatter,
    lang: str,
    with_figures: bool,
) -> dict[str, Any]:
    import mkba_sim.plot as plot

    s = result.summary(name)
    pub = _published(rows, name)
    key, sentence = verdict(s["p_net_positive"], lang)
    block: dict[str, Any] = {
        "name": name,
        "description": s["description"],
        "verdict": sentence,
        "band": key,
        "p": s["p_net_positive"],
        "p_text": fmt.pct(s["p_net_positive"]),
        "net_mean": s["net"]["mean"],
        "net_mean_text": fmt.money(s["net"]["mean"]),
        "net_low": s["net"]["interval90"][0],
        "net_high": s["net"]["interval90"][1],
        "interval_text": fmt.interval(s["net"]["interval90"]),
        "bcr": s["bcr"]["median"],
        "bcr_text": fmt.number(s["bcr"]["median"], 2),
        "benefits_text": fmt.money(s["benefits"]["mean"]),
        "costs_text": fmt.money(s["costs"]["mean"]),
        "study": [],
        "items": [],
        "stakeholders": [],
        "perspectives": [],
        "per_participant": None,
        "figures": {},
    }
    for q, label, money in (
        ("benefits", "benefits", True),
        ("costs", "costs", True),
        ("net", "net", True),
        ("bcr", "bcr", False),
    ):
        if q not in pub:
            continue
        mine = s["bcr"]["median"] if q == "bcr" else s[q]["mean"]
        cols = pub[q]

        def show(v: float | None, money: bool = money) -> str:
            return fmt.money(v) if money else fmt.number(v, 2)

        block["study"].append(
            {
                "label": label,
                "central": show(cols.get("central")),
                "low": show(cols.get("low")) if "low" in cols else "",
                "high": show(cols.get("high")) if "high" in cols else "",
                "value": cols.get("central"),
                "mine": show(mine),
            }
        )
    for item, v in s["items"].items():
        block["items"].append(
            {
                "name": item,
                "side": v["side"],
                "stakeholder": v["stakeholder"],
                "amount": fmt.money(
                    v["mean"] if v["side"] == "benefit" or v["mean"] is None else -v["mean"]
                ),
            }
        )
    for k, v in s["stakeholders"].items():
        block["stakeholders"].append(
            {
                "name": k,
                "mean": v["mean"],
                "mean_text": fmt.money(v["mean"]),
                "interval_text": fmt.interval(v["interval90"]),
                "p_text": fmt.pct(v["p_positive"]),
            }
        )
    for k, v in (s.get("perspectives") or {}).items():
        block["perspectives"].append(
            {
                "name": k,
                "members": ", ".join(v["stakeholders"]),
                "mean": v["mean"],
                "mean_text": fmt.money(v["mean"]),
                "interval_text": fmt.interval(v["interval90"]),
                "p_text": fmt.pct(v["p_positive"]),
            }
        )
    per = s.get("per_participant")
    if per:
        block["per_participant"] = {
            "population": per["population"],
            "n": fmt.number(per["participants"]) if per["participants"] is not None else "",
            "benefits_text": fmt.money(per["benefits"]["mean"]),
            "costs_text": fmt.money(per["costs"]["mean"]),
            "net_text": fmt.money(per["net"]["mean"]),
            "net": per["net"]["mean"],
            "interval_text": fmt.interval(per["net"]["interval90"]),
            "p_text": fmt.pct(per["net"]["p_positive"]),
        }
    if with_figures:
        figs = block["figures"]
        net_pub = pub.get("net", {})
        figs["distribution"] = _svg(
            plot.net_distribution(result, name, published=net_pub, lang=lang)
        )
        if s["stakeholders"]:
            figs["stakeholders"] = _svg(plot.stakeholders(result, name, lang=lang))
        if result.dataset.sizes.get("year", 0) > 1:
            figs["per_year"] = _svg(plot.net_per_year(result, name, lang=lang))
    return block


def _evsi_block(
    analysis: AnalysisResult, main: str, fmt: Formatter, lang: str, t: Mapping[str, str]
) -> dict[str, Any]:
    """The first page's EVSI sentence and the ENBS figure (or why there is none)."""
    import mkba_sim.plot as plot

    d = analysis.to_dict()
    v = d["evsi"]
    if not v["available"]:
        return {"evsi": None, "evsi_text": t["evsi_none"], "enbs_figure": None}
    sizes = v["sizes"]
    last = sizes[-1]
    found = re.search(r"over (\d+) yearly", str(v["population_note"]))
    where = "" if d["scenario"] == main else t["evsi_where"].format(scenario=d["scenario"])
    text = t["evsi_line"].format(
        n=last["n"],
        where=where,
        evsi=fmt.money(last["evsi"]),
        pop=fmt.money(last["population"]),
        years=found.group(1) if found else "?",
        cost=fmt.money(last["cost"]),
        fixed=fmt.money(v["cost"]["fixed"]),
        pp=fmt.money(v["cost"]["per_participant"]),
    )
    best = v["best"]
    verdict = t["evsi_pays"] if best["worthwhile"] else t["evsi_not"]
    text += " " + verdict.format(
        n=best["n"], enbs=fmt.money(best["enbs"]), lo=sizes[0]["n"], hi=last["n"]
    )
    return {
        "evsi": last["evsi"],
        "evsi_text": text,
        "enbs_figure": _svg(plot.enbs(analysis, lang=lang)),
    }


def _analysis_block(
    analysis: AnalysisResult, fmt: Formatter, lang: str, t: Mapping[str, str]
) -> dict[str, Any]:
    import mkba_sim.plot as plot

    d = analysis.to_dict()
    drivers = []
    for r in d["tornado"][:3]:
        drivers.append(
            {
                "name": r["input"],
                "text": t["driver_line"].format(
                    name=r["input"].replace("_", " "),
                    low=fmt.money(r["net_mean"][0]),
                    high=fmt.money(r["net_mean"][1]),
                    share=fmt.pct(r["variance_share"], 0),
                ),
            }
        )
    e = d["evpi"]
    found = re.search(r"over (\d+) yearly", str(e["population_note"]))
    years = found.group(1) if found else "?"
    evpi_value = e["per_decision"]
    net_mean = abs(d["net_mean"] or 0.0)
    negligible = evpi_value is None or evpi_value < 1e-3 * max(net_mean, 1.0)
    voi_text = (t["voi_zero"] if negligible else t["voi_line"]).format(
        evpi=fmt.money(evpi_value), pop=fmt.money(e["population"]), years=years
    )
    be = d["break_even"]
    block: dict[str, Any] = {
        "scenario": d["scenario"],
        "drivers": drivers,
        "evpi": evpi_value,
        "voi_text": voi_text,
        "break_even_mean": be["cost_mean"],
        "break_even_text": t["break_even_line"].format(
            mean=fmt.money(be["cost_mean"]),
            p80=fmt.money(be["cost_at_p"]["0.8"]),
            current=fmt.money(be["current_cost_mean"]),
        ),
        "figures": {},
    }
    figs = block["figures"]
    if d["tornado"]:
        figs["tornado"] = _svg(plot.tornado(analysis, lang=lang))
        figs["variance"] = _svg(plot.evppi(analysis, kind="variance_share", lang=lang))
        if not negligible:
            figs["evppi"] = _svg(plot.evppi(analysis, kind="evppi", lang=lang))
    figs["break_even"] = _svg(plot.break_even(analysis, lang=lang))
    return block


def _posterior_rows(posteriors: Sequence[Mapping[str, Any]], fmt: Formatter) -> list[Any]:
    out: list[dict[str, Any]] = []
    for p in posteriors:
        if "file" in p:
            out.append({"title": f"{p['variable']} ({p['file']})", "facts": [], "passed": None})
            continue
        facts = [
            ("chains × draws", f"{p['chains']} × {fmt.number(p['draws_per_chain'])}"),
            ("max R-hat", fmt.number(p["max_rhat"], 3)),
            (
                "min ESS bulk / tail",
                f"{fmt.number(p['min_ess_bulk'])} / {fmt.number(p['min_ess_tail'])}",
            ),
            ("divergences", str(p["divergences"])),
            ("prior", str(p["prior"])),
        ]
        if p.get("caveat"):
            facts.append(("caveat", str(p["caveat"])))
        out.append({"title": str(p["model"]), "facts": facts, "passed": p["diagnostics_passed"]})
    return out


def _json_for_html(doc: Any) -> str:
    """JSON safe inside ``<script type="application/json">`` (no ``</`` sequence)."""
    return json.dumps(doc, ensure_ascii=False, allow_nan=False).replace("</", "<\\/")


def render_html(
    model: Model,
    result: Result,
    analysis: AnalysisResult | None,
    replication: Sequence[ReplicationRow],
    *,
    lang: str = "nl",
    evsi_analysis: AnalysisResult | None = None,
) -> str:
    """Render the decision report as one self-contained HTML document.

    Parameters
    ----------
    model
        The model simulated (for its inputs, notes and PM items).
    result
        The simulation of the scenarios shown; the first is the main scenario.
    analysis
        The decision analysis of the main scenario (tornado, value of information,
        break-even), or ``None`` to leave those sections out.
    replication
        The study's published figures beside the model's (:func:`mkba_sim.replicate`).
    lang
        ``"nl"`` (default) or ``"en"``.
    evsi_analysis
        Where the value of a follow-up study (EVSI, ENBS) comes from when ``analysis``
        has none: the analysis of another scenario whose inputs come from a Bayesian
        sub-model (named on the page). Default: ``analysis`` itself.

    Returns
    -------
    str
        The HTML text (UTF-8 when written).
    """
    import jinja2
    import markupsafe

    fmt = Formatter(lang, str(result.dataset.attrs.get("currency") or "EUR"))
    t = texts(lang)
    doc = result.to_dict()
    names = result.scenarios
    main = names[0]
    scenarios = [
        _scenario_block(result, n, replication, fmt, lang, with_figures=True) for n in names
    ]
    a = result.dataset.attrs
    base_params = model.scenarios[main].parameters
    changes = []
    for n in names:
        if n == main:
            continue
        diff = {
            k: p
            for k, p in model.scenarios[n].parameters.items()
            if k not in base_params or base_params[k] != p
        }
        if diff:
            changes.append({"scenario": n, "rows": _assumption_rows(diff, fmt)})
    context = {
        "lang": lang,
        "t": t,
        "title": model.title,
        "main": scenarios[0],
        "scenarios": scenarios,
        "pm": [{"name": p.name, "side": p.side, "note": p.note} for p in model.pm],
        "analysis": (
            {
                **_analysis_block(analysis, fmt, lang, t),
                **_evsi_block(evsi_analysis or analysis, main, fmt, lang, t),
            }
            if analysis is not None
            else None
        ),
        "assumptions": _assumption_rows(base_params, fmt),
        "price_conversions": [
            {
                "name": c.parameter,
                "scenario": c.scenario,
                "from": str(c.from_year),
                "factor": f"{c.factor:.4f}",
                "cpi": f"{c.index_to:.2f} / {c.index_from:.2f}",
            }
            for c in model.price_conversions
            if c.scenario in names or c.scenario == "base"
        ],
        "price_year": model.settings.price_year,
        "has_default": any(getattr(p, "published_default", False) for p in base_params.values()),
        "cpi_source": CPI_SOURCE,
        "changes": changes,
        "notes": model.settings.notes.strip(),
        "source": model.settings.source,
        "posteriors": _posterior_rows(doc["posteriors"], fmt),
        "provenance": [
            (t["model_file"], str(a.get("model_path", ""))),
            (t["model_hash"], str(a.get("model_sha256", ""))),
            (t["seed"], str(a.get("seed", ""))),
            (t["draws"], fmt.number(float(a.get("n_draws", np.nan)))),
            (t["sampler"], f"{a.get('sampler', '')} ({a.get('quantile_method', '')})"),
            (t["price_level"], f"{a.get('price_year', '')} {a.get('currency', '')}"),
            (t["created"], str(a.get("created", ""))),
            (
                t["versions"],
                ", ".join(f"{k.removesuffix('_version')} {a[k]}" for k in _VERSION_KEYS if k in a),
            ),
        ],
        "data_json": _json_for_html(
            {
                "run": doc,
                "analysis": analysis.to_dict() if analysis is not None else None,
                "evsi_analysis": evsi_analysis.to_dict() if evsi_analysis is not None else None,
            }
        ),
    }
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("mkba_sim.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["svg"] = markupsafe.Markup  # our own matplotlib output, trusted
    return env.get_template("report.html.j2").render(context)
