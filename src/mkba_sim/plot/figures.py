"""The plotting functions of :mod:`mkba_sim.plot` (see its docstring for the rules)."""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mkba_sim.results import Result

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from mkba_sim.analysis.decision import AnalysisResult

__all__ = [
    "FIG_WIDTH",
    "OKABE_ITO",
    "break_even",
    "enbs",
    "evppi",
    "net_distribution",
    "net_per_year",
    "stakeholders",
    "style",
    "to_svg",
    "tornado",
]

#: Okabe–Ito colours by role.
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#999999",
}
POSITIVE = OKABE_ITO["blue"]
NEGATIVE = OKABE_ITO["vermillion"]
NEUTRAL = OKABE_ITO["grey"]

#: Figure width in inches: the text width of an A4 page with 2 cm margins (17 cm).
FIG_WIDTH = 6.7

_RC: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 9.5,
    "axes.titlesize": 10.5,
    "axes.labelsize": 9.5,
    "xtick.labelsize": 8.5,
    "ytick.labelsize": 8.5,
    "legend.fontsize": 8.5,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.grid.axis": "x",
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "svg.fonttype": "none",  # text stays text: small, searchable, selectable
    "svg.hashsalt": "mkba_sim",  # stable ids: the same figure gives the same bytes
}

_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "net": "Net balance ({cur})",
        "share": "Share of draws",
        "p_pos": "P(net > 0) = {p}",
        "published": "study: {col}",
        "central": "central",
        "low": "low",
        "high": "high",
        "mean": "mean",
        "tornado": "E[net] ({cur}) with the input at its 5th / 95th percentile",
        "input_low": "input low (5th percentile)",
        "input_high": "input high (95th percentile)",
        "evppi": "Value of perfect information about the input ({cur})",
        "variance_share": "Share of the variance of the net balance",
        "cost": "Total programme cost ({cur})",
        "p_axis": "P(net > 0)",
        "e_net": "Expected net balance ({cur})",
        "current": "current costs",
        "stake": "Balance per stakeholder ({cur}): mean and 90% interval",
        "year": "Year",
        "net_year": "Net balance ({cur}, present value)",
        "million": "M",
        "study_size": "Participants of the study (n)",
        "enbs_axis": "{cur}, {years} years, discounted",
        "pop_evsi": "value of the study (population EVSI)",
        "study_cost": "cost of the study",
        "enbs": "net benefit of the study (ENBS)",
        "best_n": "best n = {n}",
    },
    "nl": {
        "net": "Saldo ({cur})",
        "share": "Aandeel van de trekkingen",
        "p_pos": "P(saldo > 0) = {p}",
        "published": "studie: {col}",
        "central": "midden",
        "low": "laag",
        "high": "hoog",
        "mean": "gemiddelde",
        "tornado": "Verwacht saldo ({cur}) met de invoer op zijn 5e / 95e percentiel",
        "input_low": "invoer laag (5e percentiel)",
        "input_high": "invoer hoog (95e percentiel)",
        "evppi": "Waarde van volledige informatie over de invoer ({cur})",
        "variance_share": "Aandeel in de variantie van het saldo",
        "cost": "Totale kosten van het programma ({cur})",
        "p_axis": "P(saldo > 0)",
        "e_net": "Verwacht saldo ({cur})",
        "current": "huidige kosten",
        "stake": "Saldo per belanghebbende ({cur}): gemiddelde en 90%-interval",
        "year": "Jaar",
        "net_year": "Saldo ({cur}, contante waarde)",
        "million": "mln",
        "study_size": "Deelnemers aan het onderzoek (n)",
        "enbs_axis": "{cur}, {years} jaar, contant",
        "pop_evsi": "waarde van het onderzoek (EVSI, populatie)",
        "study_cost": "kosten van het onderzoek",
        "enbs": "netto opbrengst van het onderzoek (ENBS)",
        "best_n": "beste n = {n}",
    },
}


def _t(lang: str) -> Mapping[str, str]:
    if lang not in _TEXT:
        raise ValueError(f"unknown language {lang!r}; choose one of {', '.join(sorted(_TEXT))}")
    return _TEXT[lang]


def _fmt(x: float, lang: str, decimals: int = 0) -> str:
    """Thousands and decimal separators of ``lang`` (nl: 1.234,5; en: 1,234.5)."""
    text = f"{x:,.{decimals}f}"
    if text.startswith("-") and float(text.replace(",", "")) == 0:
        text = text[1:]
    if lang == "nl":
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return text.replace("-", "\u2212")


def _money_formatter(lang: str, scale: float) -> Any:
    from matplotlib.ticker import FuncFormatter

    m = _t(lang)["million"]

    def f(x: float, _pos: Any = None) -> str:
        if scale >= 1e6:
            return f"{_fmt(x / 1e6, lang, 1)} {m}"
        return _fmt(x, lang)

    return FuncFormatter(f)


def _pct_formatter(lang: str, top: float = 1.0) -> Any:
    from matplotlib.ticker import FuncFormatter

    decimals = 1 if top < 0.1 else 0
    return FuncFormatter(lambda x, _pos=None: f"{_fmt(100 * x, lang, decimals)}%")


@contextlib.contextmanager
def style() -> Iterator[None]:
    """The report's matplotlib style (fonts, grid, SVG text as text) as a context."""
    import matplotlib as mpl

    with mpl.rc_context(_RC):  # type: ignore[arg-type]
        yield


def _axes(ax: Axes | None, height: float) -> Axes:
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    with style():
        fig = Figure(figsize=(FIG_WIDTH, height), layout="constrained")
        return fig.add_subplot()


def to_svg(fig: Figure) -> str:
    """The figure as an inline ``<svg>`` element (no XML prolog, no date, stable ids)."""
    buf = io.StringIO()
    with style():
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    start = text.find("<svg")
    return text[start:].strip() if start >= 0 else text


def _currency(result_attrs: Mapping[str, Any]) -> str:
    return str(result_attrs.get("currency") or "")


def _rebin(counts: np.ndarray, lo: float, width: float, edges: np.ndarray) -> np.ndarray:
    """Counts of a fine streaming histogram re-counted into ``edges`` (by bin centre)."""
    inner = np.asarray(counts[1:-1], dtype=np.float64)
    centres = lo + (np.arange(inner.size) + 0.5) * width
    out, _ = np.histogram(centres, bins=edges, weights=inner)
    return out


def net_distribution(
    result: Result,
    scenario: str,
    *,
    published: Mapping[str, float] | None = None,
    bins: int = 60,
    lang: str = "en",
    ax: Axes | None = None,
) -> Axes:
    """Histogram of the net balance with P(net > 0) shaded and the study's figures marked.

    Uses the kept draws when the run has them, else the run's streaming histogram
    (``net_hist_counts``), re-counted into ``bins`` bins between the 1st and 99th
    percentiles (widened to include 0 and the published figures).

    Parameters
    ----------
    result
        A simulation result.
    scenario
        The scenario drawn.
    published
        The study's own net balance by column (``{"central": ..., "low": ..., "high": ...}``,
        e.g. from :func:`mkba_sim.replicate`), drawn as vertical lines.
    bins
        Number of bars.
    lang
        ``"en"`` or ``"nl"`` (labels and number format).
    ax
        Axes to draw on (a new A4-width figure when omitted).
    """
    t = _t(lang)
    ds = result.dataset.sel(scenario=scenario)
    cur = _currency(result.dataset.attrs)
    pub = {k: float(v) for k, v in (published or {}).items() if v is not None and math.isfinite(v)}
    q = ds["net_quantile"]
    lo_q, hi_q = float(q.sel(prob=0.01)), float(q.sel(prob=0.99))
    if not (math.isfinite(lo_q) and math.isfinite(hi_q)) or hi_q <= lo_q:
        centre = float(ds["mean"].sel(quantity="net"))
        centre = centre if math.isfinite(centre) else 0.0
        lo_q, hi_q = centre - 1.0, centre + 1.0
    marks = list(pub.values())
    if min(abs(lo_q), abs(hi_q)) <= hi_q - lo_q or lo_q <= 0 <= hi_q:
        marks.append(0.0)  # zero shown when it is not far outside the spread
    lo, hi = min(lo_q, *marks), max(hi_q, *marks)
    pad = 0.04 * (hi - lo or 1.0)
    edges = np.linspace(lo - pad, hi + pad, bins + 1)
    if result.has_draws:
        x = result.draws(scenario, "net")
        counts, _ = np.histogram(x[np.isfinite(x)], bins=edges)
        counts = counts.astype(np.float64)
    else:
        counts = _rebin(
            np.asarray(ds["net_hist_counts"].values),
            float(ds["net_hist_lo"]),
            float(ds["net_hist_width"]),
            edges,
        )
    n = max(float(ds["n_kept"]), 1.0)
    share = counts / n
    ax = _axes(ax, 2.8)
    with style():
        centres = 0.5 * (edges[:-1] + edges[1:])
        widths = np.diff(edges)
        pos = centres > 0
        ax.bar(centres[~pos], share[~pos], widths[~pos], color=NEGATIVE, alpha=0.85, lw=0)
        ax.bar(
            centres[pos],
            share[pos],
            widths[pos],
            color=POSITIVE,
            alpha=0.85,
            lw=0,
            label=t["p_pos"].format(p=_p_text(float(ds["p_net_positive"]), lang)),
        )
        ax.axvline(0.0, color=OKABE_ITO["black"], lw=1.0)
        styles = {"central": ("--", 1.5), "low": (":", 1.3), "high": (":", 1.3)}
        for col in ("low", "central", "high"):
            if col in pub:
                ls, lw = styles[col]
                ax.axvline(
                    pub[col],
                    color=OKABE_ITO["black"],
                    ls=ls,
                    lw=lw,
                    label=t["published"].format(col=t[col]),
                )
        ax.set_xlabel(t["net"].format(cur=cur))
        ax.set_ylabel(t["share"])
        ax.xaxis.set_major_formatter(_money_formatter(lang, max(abs(lo), abs(hi))))
        ax.yaxis.set_major_formatter(_pct_formatter(lang, float(share.max(initial=0.0))))
        ax.legend(loc="upper left")
    return ax


def _p_text(p: float, lang: str) -> str:
    return "n/a" if not math.isfinite(p) else f"{_fmt(100 * p, lang, 1)}%"


def _label(name: str) -> str:
    return name.replace("_", " ")


def tornado(
    analysis: AnalysisResult,
    *,
    top: int = 8,
    lang: str = "en",
    ax: Axes | None = None,
) -> Axes:
    """Tornado diagram: E[net] with each input at its 5th and 95th percentile.

    Bars start at the base run's mean net balance; inputs are sorted by swing (largest
    on top), as in the analysis dataset (``tornado_net_mean``).
    """
    t = _t(lang)
    ds = analysis.dataset
    cur = _currency(ds.attrs)
    ax = _axes(ax, 0.9 + 0.32 * min(top, ds.sizes.get("input", 0)))
    if "input" not in ds.coords:
        return ax
    names = [str(x) for x in ds["input"].values][:top]
    mean = np.asarray(ds["tornado_net_mean"].values)[:top]
    centre = float(ds["net_mean"])
    y = np.arange(len(names))[::-1]
    with style():
        ax.barh(y, mean[:, 0] - centre, left=centre, color=OKABE_ITO["sky_blue"], height=0.6)
        ax.barh(
            y,
            mean[:, 1] - centre,
            left=centre,
            color=OKABE_ITO["orange"],
            height=0.6,
            hatch="//",
            edgecolor="white",
            lw=0,
        )
        from matplotlib.patches import Patch

        handles = [
            Patch(facecolor=OKABE_ITO["sky_blue"], label=t["input_low"]),
            Patch(
                facecolor=OKABE_ITO["orange"], hatch="//", edgecolor="white", label=t["input_high"]
            ),
        ]
        ax.margins(x=0.04)
        ax.axvline(centre, color=OKABE_ITO["black"], lw=1.0)
        ax.axvline(0.0, color=OKABE_ITO["grey"], lw=0.8, ls="--")
        ax.set_yticks(y, [_label(n) for n in names])
        ax.set_xlabel(t["tornado"].format(cur=cur))
        ax.xaxis.set_major_formatter(_money_formatter(lang, float(np.nanmax(np.abs(mean)))))
        ax.legend(handles=handles, loc="lower right", ncols=2, bbox_to_anchor=(1.0, 1.0))
    return ax


def evppi(
    analysis: AnalysisResult,
    *,
    kind: str = "evppi",
    top: int = 8,
    lang: str = "en",
    ax: Axes | None = None,
) -> Axes:
    """Bars per input: partial EVPI (``kind="evppi"``) or variance share
    (``kind="variance_share"``), largest on top."""
    if kind not in ("evppi", "variance_share"):
        raise ValueError(f"kind must be 'evppi' or 'variance_share', got {kind!r}")
    t = _t(lang)
    ds = analysis.dataset
    cur = _currency(ds.attrs)
    ax = _axes(ax, 0.9 + 0.3 * min(top, ds.sizes.get("input", 0)))
    if "input" not in ds.coords:
        return ax
    values = np.nan_to_num(np.asarray(ds[kind].values, dtype=np.float64))
    order = np.argsort(-values, kind="stable")[:top]
    names = [_label(str(ds["input"].values[i])) for i in order]
    y = np.arange(len(order))[::-1]
    with style():
        ax.barh(y, values[order], color=OKABE_ITO["blue"], height=0.6)
        ax.set_yticks(y, names)
        if kind == "evppi":
            ax.set_xlabel(t["evppi"].format(cur=cur))
            ax.xaxis.set_major_formatter(_money_formatter(lang, float(values.max(initial=0))))
        else:
            ax.set_xlabel(t["variance_share"])
            ax.xaxis.set_major_formatter(_pct_formatter(lang))
    return ax


def break_even(
    analysis: AnalysisResult,
    *,
    kind: str = "probability",
    lang: str = "en",
    ax: Axes | None = None,
) -> Axes:
    """Acceptability (``kind="probability"``: P(net > 0)) or expected net balance
    (``kind="mean"``) against the programme's total cost, current costs marked."""
    if kind not in ("probability", "mean"):
        raise ValueError(f"kind must be 'probability' or 'mean', got {kind!r}")
    t = _t(lang)
    ds = analysis.dataset
    cur = _currency(ds.attrs)
    x = np.asarray(ds["cost"].values)
    ax = _axes(ax, 2.6)
    with style():
        if kind == "probability":
            ax.plot(x, ds["cost_p_positive"].values, color=OKABE_ITO["blue"], lw=2)
            for lv in np.asarray(ds["level"].values):
                ax.axhline(float(lv), color=OKABE_ITO["grey"], lw=0.7, ls=":")
            ax.set_ylim(-0.02, 1.02)
            ax.set_ylabel(t["p_axis"])
            ax.yaxis.set_major_formatter(_pct_formatter(lang))
        else:
            ax.plot(x, ds["cost_net_mean"].values, color=OKABE_ITO["blue"], lw=2)
            ax.axhline(0.0, color=OKABE_ITO["black"], lw=0.8)
            ax.set_ylabel(t["e_net"].format(cur=cur))
            ax.yaxis.set_major_formatter(
                _money_formatter(lang, float(np.nanmax(np.abs(ds["cost_net_mean"].values))))
            )
        ax.axvline(
            float(ds["current_cost_mean"]),
            color=OKABE_ITO["vermillion"],
            ls="--",
            lw=1.2,
            label=t["current"],
        )
        ax.set_xlabel(t["cost"].format(cur=cur))
        ax.xaxis.set_major_formatter(_money_formatter(lang, float(x.max(initial=0))))
        ax.grid(True, axis="both")
        ax.legend(loc="upper right")
    return ax


def enbs(analysis: AnalysisResult, *, lang: str = "en", ax: Axes | None = None) -> Axes:
    """Value of a study (population EVSI, band of ± 2 standard errors), its cost and the
    expected net benefit of sampling against the study's size, the best size marked.

    Raises
    ------
    ValueError
        If the analysis has no EVSI (its ``evsi_note`` attribute says why).
    """
    import re

    ds = analysis.dataset
    if not ds.attrs.get("evsi_available"):
        raise ValueError(f"the analysis has no EVSI: {ds.attrs.get('evsi_note', '')}")
    t = _t(lang)
    cur = _currency(ds.attrs)
    n = np.asarray(ds["study_size"].values, dtype=np.float64)
    pop = np.asarray(ds["evsi_population"].values)
    factor = pop / np.where(ds["evsi"].values > 0, ds["evsi"].values, np.nan)
    band = 2.0 * np.asarray(ds["evsi_se"].values) * np.nanmax(factor, initial=0.0)
    cost = np.asarray(ds["study_cost"].values)
    net = np.asarray(ds["enbs"].values)
    found = re.search(r"over (\d+) yearly", str(ds["evsi_population"].attrs["long_name"]))
    ax = _axes(ax, 3.2)
    with style():
        ax.fill_between(n, pop - band, pop + band, color=OKABE_ITO["sky_blue"], alpha=0.35, lw=0)
        ax.plot(n, pop, color=OKABE_ITO["blue"], lw=2, marker="o", ms=3, label=t["pop_evsi"])
        ax.plot(n, cost, color=OKABE_ITO["vermillion"], lw=1.5, ls="--", label=t["study_cost"])
        ax.plot(n, net, color=OKABE_ITO["black"], lw=1.5, ls="-.", label=t["enbs"])
        ax.axhline(0.0, color=OKABE_ITO["grey"], lw=0.8)
        best = int(ds["enbs_best_n"])
        ax.plot(
            [best],
            [float(ds["enbs_best"])],
            marker="D",
            color=OKABE_ITO["black"],
            ls="none",
            label=t["best_n"].format(n=best),
        )
        ax.set_xlabel(t["study_size"])
        ax.set_ylabel(t["enbs_axis"].format(cur=cur, years=found.group(1) if found else "?"))
        scale = float(np.nanmax(np.abs(np.r_[pop, cost, net]), initial=0.0))
        ax.yaxis.set_major_formatter(_money_formatter(lang, scale))
        ax.grid(True, axis="both")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=2)
    return ax


def stakeholders(
    result: Result,
    scenario: str,
    *,
    lang: str = "en",
    ax: Axes | None = None,
) -> Axes:
    """Each stakeholder's balance: mean (dot) and 90% interval (line)."""
    t = _t(lang)
    s = result.summary(scenario)["stakeholders"]
    cur = _currency(result.dataset.attrs)
    names = list(s)
    ax = _axes(ax, 0.9 + 0.35 * max(len(names), 1))
    y = np.arange(len(names))[::-1]
    with style():
        for yi, name in zip(y, names, strict=True):
            v = s[name]
            lo, hi = v["interval90"]
            mean = v["mean"] if v["mean"] is not None else math.nan
            colour = POSITIVE if mean >= 0 else NEGATIVE
            if lo is not None and hi is not None:
                ax.plot([lo, hi], [yi, yi], color=colour, lw=3, solid_capstyle="butt")
            ax.plot([mean], [yi], "o", color=OKABE_ITO["black"], ms=5)
        ax.axvline(0.0, color=OKABE_ITO["black"], lw=0.8)
        ax.set_yticks(y, names)
        ax.set_ylim(-0.7, len(names) - 0.3)
        ax.set_xlabel(t["stake"].format(cur=cur))
        vals = [abs(x) for v in s.values() for x in v["interval90"] if x is not None]
        ax.xaxis.set_major_formatter(_money_formatter(lang, max(vals, default=0.0)))
    return ax


def net_per_year(
    result: Result,
    scenario: str,
    *,
    lang: str = "en",
    ax: Axes | None = None,
) -> Axes:
    """The present value of each year's net balance (``net_year_mean``)."""
    t = _t(lang)
    ds = result.dataset.sel(scenario=scenario)
    cur = _currency(result.dataset.attrs)
    years = np.asarray(ds["year"].values)
    vals = np.asarray(ds["net_year_mean"].values, dtype=np.float64)
    ax = _axes(ax, 2.4)
    with style():
        colours = [POSITIVE if v >= 0 else NEGATIVE for v in vals]
        ax.bar(years, vals, color=colours, width=0.7)
        ax.axhline(0.0, color=OKABE_ITO["black"], lw=0.8)
        ax.set_xticks(years)
        ax.set_xlabel(t["year"])
        ax.set_ylabel(t["net_year"].format(cur=cur))
        ax.grid(True, axis="y")
        ax.grid(False, axis="x")
        ax.yaxis.set_major_formatter(
            _money_formatter(lang, float(np.nanmax(np.abs(vals), initial=0)))
        )
    return ax


def _published_net(rows: Sequence[Any], scenario: str) -> dict[str, float]:
    """``{column: value}`` of the study's net balance of ``scenario`` from replication rows."""
    return {r.column: r.published for r in rows if r.scenario == scenario and r.quantity == "net"}
