"""Evaluate a scenario for given parameter values (scalars or arrays of draws)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mkba_sim.model.expressions import Node, evaluate, explain_non_finite, names
from mkba_sim.model.ledger import evaluate_ledger, ledger_of, ledger_weights
from mkba_sim.model.types import Scenario

__all__ = ["NonFinite", "Totals", "evaluate_scenario", "first_non_finite", "published_inputs"]


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
    perspectives: dict[str, Any] = field(default_factory=dict)
    per_participant: dict[str, Any] = field(default_factory=dict)

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
    part = env[ledger.participants] if ledger.participants is not None else None
    out = evaluate_ledger(ledger, ledger_weights(scenario, ledger), list(values.values()), part)
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
        out["perspectives"],
        out["per_participant"],
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


@dataclass(frozen=True)
class NonFinite:
    """The first derived quantity or item of a scenario that is NaN or ±inf, and why."""

    key: str  # "derived.NAME" or "items[i] ('NAME')", as in the model file
    value: float
    why: str  # e.g. "sqrt of a negative number (-0.31)"
    inputs: tuple[str, ...]  # the parameters it depends on, through derived quantities


def first_non_finite(
    scenario: Scenario,
    values: Mapping[str, float],
    consts: Mapping[int, float] | None = None,
) -> NonFinite | None:
    """Check one evaluation of ``scenario`` against the non-finite policy.

    ``values`` maps every population, parameter, derived quantity and item name to its
    scalar value (as :func:`evaluate_scenario` computes them); derived quantities are
    checked in evaluation order, then items. ``consts`` are the run's literal constants
    (see :func:`mkba_sim.model.expressions.evaluate`). Returns ``None`` when all are finite.
    """
    exprs: list[tuple[str, str, Node]] = [
        (f"derived.{d.name}", d.name, d.expr) for d in scenario.derived
    ]
    exprs += [
        (f"items[{i}] ({it.name!r})", it.name, it.expr) for i, it in enumerate(scenario.items)
    ]
    derived = {d.name: d.expr for d in scenario.derived}
    for key, name, expr in exprs:
        v = float(values[name])
        if math.isfinite(v):
            continue
        why = explain_non_finite(expr, values, consts)
        todo, seen = list(names(expr)), set()
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                todo.extend(names(derived[n]) if n in derived else ())
        inputs = tuple(sorted(n for n in seen if n in scenario.parameters))
        return NonFinite(key, v, why, inputs)
    return None
