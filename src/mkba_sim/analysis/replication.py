"""Replication mode: every parameter at its published value, compared with the study."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mkba_sim.errors import ModelFileError
from mkba_sim.model import Model
from mkba_sim.model.evaluate import Totals, evaluate_scenario, published_inputs

__all__ = ["COLUMNS", "ReplicationRow", "replicate"]

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
        """Plain dict for JSON output."""
        return asdict(self)


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
    return evaluate_scenario(sc, inputs)
