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

__all__ = ["COLUMNS", "ReplicationRow", "check_finite", "check_published", "replicate"]

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
