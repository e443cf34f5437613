"""Replication mode: every parameter at its published value, compared with the study."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from mkba_sim.errors import ModelFileError
from mkba_sim.model import Model
from mkba_sim.model.evaluate import (
    Totals,
    evaluate_scenario,
    first_non_finite,
    published_inputs,
)

__all__ = [
    "COLUMNS",
    "BaseCase",
    "ReplicationRow",
    "base_case",
    "check_finite",
    "check_published",
    "replicate",
]

COLUMNS = ("central", "low", "high")


@dataclass(frozen=True)
class ReplicationRow:
    """One published figure beside the model's value.

    ``difference = round(computed, decimals) - published``; zero means the model
    reproduces the study's figure to the precision it printed.
    """

    quantity: str
    scenario: str
    column: str
    published: float
    computed: float
    difference: float
    decimals: int
    source: str
    note: str

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output; an undefined value (e.g. a ratio over zero costs)
        is ``null``."""
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in asdict(self).items()
        }

    @property
    def matches(self) -> bool:
        """True when the figure is reproduced at the printed precision."""
        return self.difference == 0


def replicate(model: Model, scenario: str | None = None) -> list[ReplicationRow]:
    """Evaluate ``model`` in replication mode and compare with its ``[[published]]`` figures.

    Parameters
    ----------
    model
        A validated model.
    scenario
        Only this scenario's figures (default: all).

    Raises
    ------
    ModelFileError
        If ``scenario`` is unknown or a parameter it needs has no published value.
    """
    if scenario is not None and scenario not in model.scenarios:
        raise ModelFileError(
            model.path,
            "scenarios",
            f"unknown scenario {scenario!r}; choose from {sorted(model.scenarios)}",
        )
    cache: dict[tuple[str, str], Totals] = {}
    rows = []
    for fig in model.published:
        if scenario is not None and fig.scenario != scenario:
            continue
        for column, published in zip(COLUMNS, (fig.value, fig.low, fig.high), strict=True):
            if published is None:
                continue
            key = (fig.scenario, column)
            if key not in cache:
                cache[key] = _evaluate(model, fig.scenario, column)
            computed = float(cache[key].quantity(fig.quantity))
            # an undefined figure (a ratio over costs <= 0) never matches: NaN difference
            diff = round(computed, fig.decimals) - published
            rows.append(
                ReplicationRow(
                    fig.quantity,
                    fig.scenario,
                    column,
                    published,
                    computed,
                    round(diff, fig.decimals) + 0.0,
                    fig.decimals,
                    fig.source,
                    fig.note,
                )
            )
    return rows


def _evaluate(model: Model, scenario: str, column: str) -> Totals:
    sc = model.scenarios[scenario]
    try:
        inputs = published_inputs(sc, column)
    except KeyError as exc:
        raise ModelFileError(
            model.path,
            f"parameters.{exc.args[0]}.published",
            f"scenario {scenario!r} cannot be replicated: this parameter has no published value",
        ) from None
    totals = evaluate_scenario(sc, inputs)
    check_finite(model, scenario, totals, f"the {column} published values")
    return totals


@dataclass(frozen=True)
class BaseCase:
    """The deterministic base case of one scenario: every input at its published value
    (or, where the study published none, its point estimate), every item and total.

    ``items`` rows are ``(name, side, stakeholder, yearly value, present value)``, the
    yearly value NaN (JSON ``null``) for an item with a value per year;
    ``point_estimates`` names the inputs that had no published value; ``missing`` is set
    (and everything else empty) when an input has no value at all (a posterior).
    """

    scenario: str
    items: tuple[tuple[str, str, str, float, float], ...]
    benefits: float
    costs: float
    net: float
    bcr: float
    stakeholders: dict[str, float]
    perspectives: dict[str, float]
    per_participant: dict[str, float]
    point_estimates: tuple[str, ...]
    missing: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output (an undefined ratio is ``null``)."""

        def f(x: float) -> float | None:
            return x if math.isfinite(x) else None

        return {
            "scenario": self.scenario,
            "missing": self.missing,
            "items": [
                {"name": n, "side": sd, "stakeholder": sh, "value": f(v), "present_value": f(pv)}
                for n, sd, sh, v, pv in self.items
            ],
            "benefits": f(self.benefits),
            "costs": f(self.costs),
            "net": f(self.net),
            "bcr": f(self.bcr),
            "stakeholders": {k: f(v) for k, v in self.stakeholders.items()},
            "perspectives": {k: f(v) for k, v in self.perspectives.items()},
            "per_participant": {k: f(v) for k, v in self.per_participant.items()},
            "point_estimates": list(self.point_estimates),
        }


def base_case(model: Model, scenario: str | None = None) -> list[BaseCase]:
    """The deterministic base case of every scenario (or of ``scenario``).

    Each input is at its ``published`` value; an input without one is at its point
    estimate (an effect size: the conversion of its estimate; otherwise the mean of its
    distribution; see ``docs/model-format.md``). A scenario with an input that has no
    value at all (posterior draws not attached) is returned with ``missing`` set.
    """
    if scenario is not None and scenario not in model.scenarios:
        raise ModelFileError(
            model.path,
            "scenarios",
            f"unknown scenario {scenario!r}; choose from {sorted(model.scenarios)}",
        )
    out = []
    for name, sc in model.scenarios.items():
        if scenario is not None and name != scenario:
            continue
        try:
            inputs = published_inputs(sc, "central")
        except KeyError as exc:
            why = f"input {exc.args[0]!r} has no published value or point estimate (posterior)"
            out.append(BaseCase(name, (), *(math.nan,) * 4, {}, {}, {}, (), why))
            continue
        t = evaluate_scenario(sc, inputs)
        check_finite(model, name, t, "the published values")
        per = {k: float(v) for k, v in t.per_participant.items() if k != "perspectives"}
        per.update(
            {
                f"perspective {k}": float(v)
                for k, v in t.per_participant.get("perspectives", {}).items()
            }
        )
        out.append(
            BaseCase(
                name,
                tuple(
                    (
                        it.name,
                        it.side,
                        it.stakeholder,
                        _yearly(t.item_values[it.name]),
                        float(t.item_pv[it.name]),
                    )
                    for it in sc.items
                ),
                float(t.benefits),
                float(t.costs),
                float(t.net),
                float(t.bcr),
                {k: float(v) for k, v in t.stakeholders.items()},
                {k: float(v) for k, v in t.perspectives.items()},
                per,
                tuple(n for n, p in sc.parameters.items() if p.published_default),
            )
        )
    return out


def _yearly(value: Any) -> float:
    """An item's value per year; NaN when it has one value per year (a dict)."""
    return math.nan if isinstance(value, dict) else float(value)


def check_finite(model: Model, scenario: str, totals: Totals, where: str) -> None:
    """Raise a :class:`ModelFileError` naming the first derived quantity or item that is
    NaN or ±inf in ``totals`` — the non-finite policy of :mod:`mkba_sim.model.ledger`
    applied to one evaluation — with the reason (e.g. "sqrt of a negative number")."""
    values: dict[str, Any] = {
        **{k: float(v) for k, v in totals.names.items()},
        **{
            k: ({t: float(x) for t, x in v.items()} if isinstance(v, dict) else float(v))
            for k, v in totals.item_values.items()
        },
    }
    bad = first_non_finite(model.scenarios[scenario], values)
    if bad is not None:
        raise ModelFileError(
            model.path, bad.key, f"is {bad.value} at {where} in scenario {scenario!r}: {bad.why}"
        )


def check_published(model: Model) -> list[str]:
    """Evaluate every scenario at its published central values and raise for the first
    non-finite derived quantity or item; return the scenarios that could not be
    evaluated because a parameter has no published value."""
    skipped = []
    for name, sc in model.scenarios.items():
        try:
            inputs = published_inputs(sc, "central")
        except KeyError:
            skipped.append(name)
            continue
        check_finite(model, name, evaluate_scenario(sc, inputs), "the published values")
    return skipped
