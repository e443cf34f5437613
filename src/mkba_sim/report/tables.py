"""Tables to paste into a document: Markdown or CSV, from a run or an analysis.

``mkba-sim run --format md|csv`` and ``mkba-sim analyse --format md|csv`` print these.
Markdown tables carry numbers with thousands separators and percentages, ready to read;
CSV carries plain numbers (money to cents, probabilities as fractions) for a spreadsheet.
Several tables are separated by one empty line; each starts with its header row (CSV)
or a ``### title`` line (Markdown).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mkba_sim.report.text import fmt_number
from mkba_sim.results import Result

if TYPE_CHECKING:
    from mkba_sim.analysis.decision import AnalysisResult

__all__ = ["FORMATS", "Table", "analysis_tables", "format_tables", "run_tables"]

FORMATS = ("md", "csv")


@dataclass(frozen=True)
class Table:
    """A titled table; ``kinds`` says how each column is shown (text, money, p, ratio, g)."""

    title: str
    head: tuple[str, ...]
    kinds: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


def run_tables(result: Result) -> list[Table]:
    """Summary and stakeholder tables of every scenario of a simulation."""
    doc = result.to_dict()
    summary = []
    stake = []
    persp = []
    per = []
    for name, s in doc["scenarios"].items():
        lo, hi = s["net"]["interval90"]
        summary.append(
            (
                name,
                s["benefits"]["mean"],
                s["costs"]["mean"],
                s["net"]["mean"],
                lo,
                hi,
                s["p_net_positive"],
                s["bcr"]["median"],
            )
        )
        for k, v in s["stakeholders"].items():
            stake.append((name, k, v["mean"], *v["interval90"], v["p_positive"]))
        for k, v in (s.get("perspectives") or {}).items():
            persp.append((name, k, v["mean"], *v["interval90"], v["p_positive"]))
        pp = s.get("per_participant")
        if pp:
            per.append(
                (
                    name,
                    pp["participants"],
                    pp["benefits"]["mean"],
                    pp["costs"]["mean"],
                    pp["net"]["mean"],
                    *pp["net"]["interval90"],
                    pp["net"]["p_positive"],
                )
            )
    extra = []
    if persp:
        extra.append(
            Table(
                "perspectives",
                ("scenario", "perspective", "mean", "p05", "p95", "p_positive"),
                ("text", "text", "money", "money", "money", "p"),
                tuple(persp),
            )
        )
    if per:
        extra.append(
            Table(
                "per_participant",
                (
                    "scenario",
                    "participants",
                    "benefits",
                    "costs",
                    "net",
                    "net_p05",
                    "net_p95",
                    "p_net_positive",
                ),
                ("text", "g", "money", "money", "money", "money", "money", "p"),
                tuple(per),
            )
        )
    return [
        Table(
            "summary",
            (
                "scenario",
                "benefits",
                "costs",
                "net",
                "net_p05",
                "net_p95",
                "p_net_positive",
                "bcr_median",
            ),
            ("text", "money", "money", "money", "money", "money", "p", "ratio"),
            tuple(summary),
        ),
        Table(
            "stakeholders",
            ("scenario", "stakeholder", "mean", "p05", "p95", "p_positive"),
            ("text", "text", "money", "money", "money", "p"),
            tuple(stake),
        ),
        *extra,
    ]


def analysis_tables(analysis: AnalysisResult) -> list[Table]:
    """Summary, tornado and stakeholder tables of a decision analysis (and its EVSI
    curve when there is one)."""
    d = analysis.to_dict()
    be = d["break_even"]
    out = [
        Table(
            "summary",
            ("scenario", "net_mean", "p_net_positive", "evpi", "break_even_cost", "current_cost"),
            ("text", "money", "p", "money", "money", "money"),
            (
                (
                    d["scenario"],
                    d["net_mean"],
                    d["p_net_positive"],
                    d["evpi"]["per_decision"],
                    be["cost_mean"],
                    be["current_cost_mean"],
                ),
            ),
        )
    ]
    if d["tornado"]:
        out.append(
            Table(
                "tornado",
                (
                    "input",
                    "value_low",
                    "value_high",
                    "net_low",
                    "net_high",
                    "swing",
                    "variance_share",
                    "evppi",
                ),
                ("text", "g", "g", "money", "money", "money", "p", "money"),
                tuple(
                    (
                        r["input"],
                        r["value"][0],
                        r["value"][1],
                        r["net_mean"][0],
                        r["net_mean"][1],
                        r["swing"],
                        r["variance_share"],
                        r["evppi"],
                    )
                    for r in d["tornado"]
                ),
            )
        )
    out.append(
        Table(
            "stakeholders",
            ("stakeholder", "mean", "p05", "p95", "p_positive"),
            ("text", "money", "money", "money", "p"),
            tuple(
                (k, v["mean"], *v["interval90"], v["p_positive"])
                for k, v in d["stakeholders"].items()
            ),
        )
    )
    if d.get("perspectives"):
        out.append(
            Table(
                "perspectives",
                ("perspective", "mean", "p05", "p95", "p_positive"),
                ("text", "money", "money", "money", "p"),
                tuple(
                    (k, v["mean"], *v["interval90"], v["p_positive"])
                    for k, v in d["perspectives"].items()
                ),
            )
        )
    if d["evsi"]["available"]:  # the value of a follow-up study per size (EVSI, ENBS)
        out.append(
            Table(
                "evsi",
                ("n", "evsi", "evsi_se", "population_evsi", "study_cost", "enbs"),
                ("text", "money", "money", "money", "money", "money"),
                tuple(
                    (str(r["n"]), r["evsi"], r["se"], r["population"], r["cost"], r["enbs"])
                    for r in d["evsi"]["sizes"]
                ),
            )
        )
    return out


def _md_cell(x: Any, kind: str) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    if kind == "money":
        return fmt_number(float(x))
    if kind == "p":
        return f"{float(x):.1%}"
    if kind == "ratio":
        return f"{float(x):.2f}"
    if kind == "g":
        return f"{float(x):.4g}"
    return str(x).replace("|", "\\|")


def _csv_cell(x: Any, kind: str) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return ""
    if kind == "money":
        return f"{float(x):.2f}"
    if kind in ("p", "ratio", "g"):
        return f"{float(x):.6g}"
    return str(x)


def format_tables(tables: Sequence[Table], fmt: str) -> str:
    """The tables as Markdown (``fmt="md"``) or CSV (``fmt="csv"``)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown table format {fmt!r}; choose one of {', '.join(FORMATS)}")
    parts = []
    for t in tables:
        if fmt == "csv":
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            w.writerow(t.head)
            for r in t.rows:
                w.writerow([_csv_cell(x, k) for x, k in zip(r, t.kinds, strict=True)])
            parts.append(buf.getvalue().rstrip("\n"))
        else:
            align = ["---" if k == "text" else "---:" for k in t.kinds]
            lines = [f"### {t.title}", "", "| " + " | ".join(t.head) + " |"]
            lines.append("| " + " | ".join(align) + " |")
            for r in t.rows:
                cells = [_md_cell(x, k) for x, k in zip(r, t.kinds, strict=True)]
                lines.append("| " + " | ".join(cells) + " |")
            parts.append("\n".join(lines))
    return "\n\n".join(parts)
