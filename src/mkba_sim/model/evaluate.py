"""Evaluate a scenario for given parameter values (scalars or arrays of draws)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mkba_sim.model.expressions import YEAR, Node, evaluate, explain_non_finite, names
from mkba_sim.model.ledger import evaluate_ledger, ledger_of, ledger_weights
from mkba_sim.model.types import Item, Scenario

__all__ = [
    "NonFinite",
    "Totals",
    "evaluate_item",
    "evaluate_scenario",
    "first_non_finite",
    "published_inputs",
]


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


def evaluate_item(
    item: Item, env: Mapping[str, Any], consts: Mapping[int, float] | None = None
) -> Any:
    """An item's yearly value: one value, or for an item with values per year
    (:attr:`~mkba_sim.model.Item.per_year`) a dict year -> value.

    Year *t*'s value is the item's expression for *t* with ``year = t``, times
    (1 - decay)^(t - first year) when the decay is an expression (a numeric decay is
    in the ledger's year factors instead). The generated kernel does the same
    operations in the same order.
    """
    if not item.per_year:
        return evaluate(item.expr, env, consts)
    first = min(item.years)
    dec = None if item.decay_expr is None else evaluate(item.decay_expr, env, consts)
    out: dict[int, Any] = {}
    for t in sorted(set(item.years)):
        v = evaluate(item.value_expr(t), {**env, YEAR: float(t)}, consts)
        if dec is not None:
            with np.errstate(all="ignore"):
                v = np.multiply(v, np.power(np.subtract(1.0, dec), float(t - first)))
        out[t] = v
    return out


def evaluate_scenario(scenario: Scenario, params: Mapping[str, Any]) -> Totals:
    """Evaluate derived quantities, items and the ledger for ``params`` (name -> value)."""
    env: dict[str, Any] = dict(scenario.populations)
    env.update(params)
    for d in scenario.derived:
        env[d.name] = evaluate(d.expr, env)
    values = {it.name: evaluate_item(it, env) for it in scenario.items}
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

    A parameter whose distribution keys are expressions and that has no published value
    takes the value of :func:`mkba_sim.model.dependent.complete_inputs` (its
    distribution's mean at the other inputs' values).

    Raises
    ------
    KeyError
        Naming the first parameter without a published value.
    """
    from mkba_sim.model.dependent import complete_inputs

    out = {}
    for name, p in scenario.parameters.items():
        v = p.published_value(column)
        if v is None:
            if p.dist.family == "dependent":
                continue  # computed below from the inputs it depends on
            raise KeyError(name)
        out[name] = v
    return complete_inputs(scenario, out)


@dataclass(frozen=True)
class NonFinite:
    """The first derived quantity or item of a scenario that is NaN or ±inf, and why."""

    key: str  # "derived.NAME" or "items[i] ('NAME')", as in the model file
    value: float
    why: str  # e.g. "sqrt of a negative number (-0.31)"
    inputs: tuple[str, ...]  # the parameters it depends on, through derived quantities


def first_non_finite(
    scenario: Scenario,
    values: Mapping[str, Any],
    consts: Mapping[int, float] | None = None,
) -> NonFinite | None:
    """Check one evaluation of ``scenario`` against the non-finite policy.

    ``values`` maps every population, parameter, derived quantity and item name to its
    scalar value (as :func:`evaluate_scenario` computes them; an item with values per
    year maps to a dict year -> value, or each year is given as ``"NAME@YEAR"``);
    derived quantities are
    checked in evaluation order, then items. ``consts`` are the run's literal constants
    (see :func:`mkba_sim.model.expressions.evaluate`). Returns ``None`` when all are finite.
    """
    exprs: list[tuple[str, str, Node, int | None]] = [
        (f"derived.{d.name}", d.name, d.expr, None) for d in scenario.derived
    ]
    for i, it in enumerate(scenario.items):
        key = f"items[{i}] ({it.name!r})"
        if not it.per_year:
            exprs.append((key, it.name, it.expr, None))
        else:
            exprs += [(key, it.name, it.value_expr(t), t) for t in sorted(set(it.years))]
    derived = {d.name: d.expr for d in scenario.derived}
    by_name = {it.name: it for it in scenario.items}
    for key, name, expr, year in exprs:
        v = _value(values, name, year)
        if math.isfinite(v):
            continue
        env: Mapping[str, Any] = values if year is None else {**values, YEAR: year}
        why = explain_non_finite(expr, env, consts)
        item = by_name.get(name) if year is not None else None
        if why == "no non-finite value" and item is not None and item.decay_expr is not None:
            why = "the decay factor (1 - decay)^(t - first year) is not finite"
            expr = item.decay_expr
        if year is not None:
            key = f"{key} in year {year}"
        todo, seen = list(names(expr)), set()
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                todo.extend(names(derived[n]) if n in derived else ())
        inputs = tuple(sorted(n for n in seen if n in scenario.parameters))
        return NonFinite(key, v, why, inputs)
    return None


def _value(values: Mapping[str, Any], name: str, year: int | None) -> float:
    """A scalar value by name; for a year of an item with values per year, either
    ``values[name][year]`` or ``values[f"{name}@{year}"]``."""
    if year is None:
        return float(values[name])
    if f"{name}@{year}" in values:
        return float(values[f"{name}@{year}"])
    return float(values[name][year])
