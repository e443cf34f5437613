"""The validated model: plain frozen dataclasses, the engine's input."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mkba_sim.distributions import Distribution
from mkba_sim.model.evidence import Evidence
from mkba_sim.model.expressions import Node
from mkba_sim.model.perspectives import Perspective
from mkba_sim.model.prices import PriceConversion

__all__ = [
    "Correlation",
    "Derived",
    "Item",
    "Model",
    "Parameter",
    "PmItem",
    "PublishedFigure",
    "Scenario",
    "Settings",
]


@dataclass(frozen=True)
class Settings:
    """Model-wide settings (``[model]``)."""

    title: str
    price_year: int
    horizon_years: int
    currency: str = "EUR"
    discount_rate: float = 0.0225
    non_finite: str = "stop"  # see mkba_sim.model.ledger: "stop" or "drop"
    source: str = ""
    notes: str = ""
    per_participant: str | None = None  # a population: balances are also shown per member


@dataclass(frozen=True)
class Parameter:
    """An uncertain input with its published value(s), unit and source."""

    name: str
    dist: Distribution
    published: float | None
    published_low: float | None
    published_high: float | None
    unit: str | None
    source: str
    note: str = ""
    published_default: bool = False  # True: no published value; the point estimate is used
    price_year: int | None = None  # the input's own price year, when it states one

    def published_value(self, column: str = "central") -> float | None:
        """The study's value in ``column`` (central, low or high)."""
        if column == "low" and self.published_low is not None:
            return self.published_low
        if column == "high" and self.published_high is not None:
            return self.published_high
        return self.published


@dataclass(frozen=True)
class Derived:
    """A quantity computed from others."""

    name: str
    expr: Node
    unit: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Item:
    """A ledger line: an amount per listed year, on the cost or benefit side."""

    name: str
    side: str
    stakeholder: str
    expr: Node
    years: tuple[int, ...]
    decay: float = 0.0
    unit: str | None = None
    source: str = ""
    note: str = ""
    values: tuple[Node, ...] = ()
    """One expression per listed year (same order as ``years``), when given as a list."""
    decay_expr: Node | None = None
    """``decay`` written as an expression; then ``decay`` is 0 and the decay factor
    (1 - decay)^(t - first year) is part of each year's value."""
    uses_year: bool = False
    """The value refers to ``year`` (1..horizon), so it differs between years."""

    @property
    def per_year(self) -> bool:
        """True when the item has a value per year rather than one value for all years."""
        return bool(self.values) or self.decay_expr is not None or self.uses_year

    def value_expr(self, year: int) -> Node:
        """The expression of the item's value in ``year`` (before an expression decay)."""
        return self.values[self.years.index(year)] if self.values else self.expr

    @property
    def expressions(self) -> tuple[Node, ...]:
        """Every expression of the item: value(s) and an expression decay."""
        out = self.values or (self.expr,)
        return out + ((self.decay_expr,) if self.decay_expr is not None else ())

    @property
    def sign(self) -> float:
        """+1 for benefits, -1 for costs, as they enter the net balance."""
        return 1.0 if self.side == "benefit" else -1.0

    def year_factors(self, discount_rate: float) -> dict[int, tuple[float, float]]:
        """Per listed year: (decay factor, decay × discount factor).

        Year *t* is discounted by (1 + r)^-(t - 1); decay is applied from the item's first
        year: (1 - decay)^(t - first year), as in WSIPP's benefit-cost model (WSIPP 2019,
        *Benefit-Cost Technical Documentation*, ch. 2).
        """
        first = min(self.years)
        out = {}
        for t in self.years:
            keep = (1.0 - self.decay) ** (t - first)
            out[t] = (keep, keep * (1.0 + discount_rate) ** -(t - 1))
        return out

    def pv_weight(self, discount_rate: float) -> float:
        """Present value of one unit of this item's yearly value."""
        return sum(f[1] for f in self.year_factors(discount_rate).values())


@dataclass(frozen=True)
class Correlation:
    """A Gaussian-copula block: members and the Pearson correlation of normal scores."""

    names: tuple[str, ...]
    matrix: np.ndarray = field(compare=False)
    cholesky: np.ndarray = field(compare=False)


@dataclass(frozen=True)
class PmItem:
    """A non-monetised effect (PM-post) that reports carry along unvalued."""

    name: str
    side: str
    note: str = ""
    source: str = ""


@dataclass(frozen=True)
class PublishedFigure:
    """One figure of the study's own tables, for replication."""

    quantity: str
    scenario: str
    value: float
    low: float | None
    high: float | None
    decimals: int
    source: str
    note: str = ""


@dataclass(frozen=True)
class Scenario:
    """One fully resolved variant of the model (scenario ``base`` is the file as written)."""

    name: str
    description: str
    settings: Settings
    populations: dict[str, float]
    parameters: dict[str, Parameter]
    derived: tuple[Derived, ...]  # in dependency order
    items: tuple[Item, ...]
    correlations: tuple[Correlation, ...] = ()
    perspectives: tuple[Perspective, ...] = ()  # named groups of stakeholders
    population_units: dict[str, str] = field(default_factory=dict)  # population -> unit

    def item(self, name: str) -> Item:
        """The item called ``name``."""
        for it in self.items:
            if it.name == name:
                return it
        raise KeyError(name)


@dataclass(frozen=True)
class Model:
    """A validated model file."""

    path: str
    sha256: str
    settings: Settings
    scenarios: dict[str, Scenario]
    pm: tuple[PmItem, ...] = ()
    published: tuple[PublishedFigure, ...] = ()
    warnings: tuple[str, ...] = ()
    """Problems that do not stop the model (e.g. a scenario setting nothing uses)."""
    stakeholders: dict[str, str] = field(default_factory=dict)
    """Declared stakeholders (``[stakeholders]``: name -> description); empty if none."""
    price_conversions: tuple[PriceConversion, ...] = ()
    """Inputs stated in another price year, converted with the CPI (:mod:`.prices`)."""
    evidence: dict[str, Evidence] = field(default_factory=dict)
    """``[evidence.NAME]`` blocks (:mod:`mkba_sim.model.evidence`)."""

    @property
    def base(self) -> Scenario:
        """Scenario ``base``: the model as written."""
        return self.scenarios["base"]

    @property
    def title(self) -> str:
        """The model's title."""
        return self.settings.title
