"""The statistics plan: which per-draw values are summarised and what is kept of each.

Declared once, here. The code generator emits exactly this plan
(:mod:`mkba_sim.engine.codegen`), the NumPy reference path interprets it
(:mod:`mkba_sim.engine.numpy_path`) and the accumulator and result read it. Adding a
statistic is one entry in :data:`KEPT`.

A *series* is one per-draw value of one scenario, in this order per scenario: the
present value of each item, ``benefits``, ``costs``, ``net``, the ratio ``bcr``, the
balance of each stakeholder, the balance of each year, the balance of each perspective
and, when the model names a population of participants, benefits, costs, net and each
perspective's balance per participant (:mod:`mkba_sim.model.ledger`).
Every series gets moments (mean, sd, MCSE); the entries of :data:`KEPT` add a count of
draws above a threshold (for a probability such as P(net > 0)) and a streaming
histogram (for quantiles). A series whose value may be *undefined* (the ratio when
costs ≤ 0) is summarised over the draws where it is defined, and that count is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mkba_sim.model.ledger import TOTALS, Ledger

__all__ = ["KEPT", "Kept", "Series", "StatsPlan", "make_stats_plan"]


@dataclass(frozen=True)
class Kept:
    """What is kept of a series besides its moments."""

    threshold: float | None = None  # count of draws with value > threshold
    histogram: bool = False
    may_be_undefined: bool = False


# (kind, name) -> statistics; name None matches every series of that kind
KEPT: dict[tuple[str, str | None], Kept] = {
    ("total", "net"): Kept(threshold=0.0, histogram=True),
    ("ratio", "bcr"): Kept(threshold=1.0, histogram=True, may_be_undefined=True),
    ("stakeholder", None): Kept(threshold=0.0, histogram=True),
    ("perspective", None): Kept(threshold=0.0, histogram=True),
    ("participant", "net"): Kept(threshold=0.0, histogram=True, may_be_undefined=True),
    ("participant", None): Kept(may_be_undefined=True),
    ("participant_perspective", None): Kept(threshold=0.0, histogram=True, may_be_undefined=True),
}


def _kept(kind: str, name: str) -> Kept:
    return KEPT.get((kind, name)) or KEPT.get((kind, None)) or Kept()


@dataclass(frozen=True)
class Series:
    """One per-draw value of one scenario, with the positions of its statistics.

    ``exceed``, ``hist`` and ``defined`` are column indices into the plan's threshold
    counters, histograms and defined-draw counters, or -1 when not kept.
    """

    scenario: int
    kind: str  # "item", "total", "ratio", "stakeholder", "year", "perspective",
    # "participant" (a total per participant) or "participant_perspective"
    name: str
    threshold: float | None
    exceed: int
    hist: int
    defined: int

    @property
    def unit(self) -> str:
        """``"1"`` for the ratio, the model's currency (``"currency"``) otherwise."""
        return "1" if self.kind == "ratio" else "currency"


@dataclass(frozen=True)
class StatsPlan:
    """Every series of a run and the layout of its statistics' arrays."""

    series: tuple[Series, ...]
    scenario_ptr: tuple[int, ...]  # series of scenario s: scenario_ptr[s]:scenario_ptr[s + 1]
    n_exceed: int
    n_hist: int
    n_defined: int

    @property
    def n_series(self) -> int:
        """Number of series."""
        return len(self.series)

    @property
    def n_scenarios(self) -> int:
        """Number of scenarios."""
        return len(self.scenario_ptr) - 1

    @property
    def n_counts(self) -> int:
        """Integer counters per block: exceedances, defined draws, dropped draws per scenario."""
        return self.n_exceed + self.n_defined + self.n_scenarios

    def dropped_column(self, s: int) -> int:
        """Counter column of the draws dropped in scenario ``s``."""
        return self.n_exceed + self.n_defined + s

    def index(self, s: int, kind: str, name: str) -> int:
        """Series index of (``kind``, ``name``) in scenario ``s``."""
        for i in range(self.scenario_ptr[s], self.scenario_ptr[s + 1]):
            se = self.series[i]
            if se.kind == kind and se.name == name:
                return i
        raise KeyError((s, kind, name))

    def thresholds(self) -> np.ndarray:
        """Threshold of each exceedance counter (numbers, passed to the kernel)."""
        out = np.zeros(max(self.n_exceed, 1))
        for se in self.series:
            if se.exceed >= 0 and se.threshold is not None:
                out[se.exceed] = se.threshold
        return out

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per series: scenario, exceedance counter, histogram and defined-draw counter
        (-1: none), as int64 arrays for :func:`mkba_sim.kernels.reduce.accumulate`."""
        cols = [
            [se.scenario for se in self.series],
            [se.exceed for se in self.series],
            [se.hist for se in self.series],
            [se.defined for se in self.series],
        ]
        a, b, c, d = (np.array(x, dtype=np.int64) for x in cols)
        return a, b, c, d

    def hist_series(self) -> list[int]:
        """Series index of each histogram."""
        out = [0] * self.n_hist
        for i, se in enumerate(self.series):
            if se.hist >= 0:
                out[se.hist] = i
        return out


def make_stats_plan(ledgers: tuple[Ledger, ...]) -> StatsPlan:
    """The statistics plan of scenarios with these ledgers (in scenario order)."""
    series: list[Series] = []
    ptr = [0]
    n_exceed = n_hist = n_defined = 0
    for s, ledger in enumerate(ledgers):
        names = [("item", n) for n in ledger.items]
        names += [("total", t) for t in TOTALS] + [("ratio", "bcr")]
        names += [("stakeholder", b.name) for b in ledger.stakeholders]
        names += [("year", b.name) for b in ledger.years]
        names += [("perspective", b.name) for b in ledger.perspectives]
        if ledger.participants is not None:
            names += [("participant", t) for t in TOTALS]
            names += [("participant_perspective", b.name) for b in ledger.perspectives]
        for kind, name in names:
            k = _kept(kind, name)
            exceed = hist = defined = -1
            if k.threshold is not None:
                exceed, n_exceed = n_exceed, n_exceed + 1
            if k.histogram:
                hist, n_hist = n_hist, n_hist + 1
            if k.may_be_undefined:
                defined, n_defined = n_defined, n_defined + 1
            series.append(Series(s, kind, name, k.threshold, exceed, hist, defined))
        ptr.append(len(series))
    return StatsPlan(tuple(series), tuple(ptr), n_exceed, n_hist, n_defined)
