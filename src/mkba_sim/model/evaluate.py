"""Evaluate a scenario for given parameter values (scalars or arrays of draws)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mkba_sim.model.expressions import evaluate
from mkba_sim.model.ledger import evaluate_ledger, ledger_of, ledger_weights
from mkba_sim.model.types import Scenario

__all__ = ["Totals", "evaluate_scenario", "published_inputs"]


@dataclass(frozen=True)
class Totals:
    """Values of one scenario: every name, each item's yearly value and present value,
    the totals and the balances per stakeholder and per year (:mod:`mkba_sim.model.ledger`).
    """

    names: dict[str, Any]
    item_values: dict[str, Any]
    item_pv: dict[str, Any]
    benefits: Any
    costs: Any
    net: Any
    bcr: Any
    stakeholders: dict[str, Any]
    years: dict[int, Any]

    def quantity(self, name: str) -> Any:
        """``net``, ``benefits``, ``costs``, ``bcr``, an item's PV or any name's value."""
        if name in ("net", "benefits", "costs", "bcr"):
            return getattr(self, name)
        if name in self.item_pv:
            return self.item_pv[name]
        return self.names[name]


def evaluate_scenario(scenario: Scenario, params: Mapping[str, Any]) -> Totals:
    """Evaluate derived quantities, items and the ledger for ``params`` (name -> value)."""
    env: dict[str, Any] = dict(scenario.populations)
    env.update(params)
    for d in scenario.derived:
        env[d.name] = evaluate(d.expr, env)
    values = {it.name: evaluate(it.expr, env) for it in scenario.items}
    ledger = ledger_of(scenario)
    out = evaluate_ledger(ledger, ledger_weights(scenario, ledger), list(values.values()))
    return Totals(
        env,
        values,
        dict(zip(values, out["pv"], strict=True)),
        out["benefits"],
        out["costs"],
        out["net"],
        out["bcr"],
        out["stakeholders"],
        out["years"],
    )


def published_inputs(scenario: Scenario, column: str = "central") -> dict[str, float]:
    """Every parameter at the study's published value for ``column``.

    Raises
    ------
    KeyError
        Naming the first parameter without a published value.
    """
    out = {}
    for name, p in scenario.parameters.items():
        v = p.published_value(column)
        if v is None:
            raise KeyError(name)
        out[name] = v
    return out
