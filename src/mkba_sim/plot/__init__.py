"""Figures for decision-makers: one accessible style, matplotlib imported lazily.

Layer rule: reads :class:`~mkba_sim.results.Result` and
:class:`~mkba_sim.analysis.decision.AnalysisResult` objects; imports matplotlib only inside
functions, so ``import mkba_sim.plot`` stays light; never touches disk.

Every plotting function takes ``ax=`` (an existing Axes; a new figure sized for A4 width
when omitted) and returns the Axes it drew on. :func:`to_svg` turns a figure into an
inline SVG string for the HTML report.

Colours are the Okabe–Ito palette (Okabe & Ito 2008, *Color Universal Design*;
Wong 2011, *Nature Methods* 8:441, doi:10.1038/nmeth.1618), distinguishable with the
common forms of colour blindness; favourable and unfavourable are also told apart by
position and hatching, never by colour alone.
"""

from mkba_sim.plot.figures import (
    FIG_WIDTH,
    OKABE_ITO,
    break_even,
    enbs,
    evppi,
    net_distribution,
    net_per_year,
    stakeholders,
    style,
    to_svg,
    tornado,
)

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
