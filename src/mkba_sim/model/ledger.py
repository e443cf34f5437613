"""The ledger's one definition: present values, totals, ratio, balances and non-finite policy.

Every path that turns item values into a balance uses this module: replication
(:func:`mkba_sim.model.evaluate_scenario`), the NumPy reference path and the generated
numba kernel (whose source is emitted from the same :class:`Ledger` and whose ratio is
:func:`ratio` compiled by numba). The arithmetic, in this order:

* an item's **present value** is its yearly value times its PV weight,
  ``pv_k = value_k * weight_k`` (:meth:`~mkba_sim.model.Item.pv_weight`: decay and
  discounting over the item's years); an item with a value per year (it uses ``year``,
  lists one value per year or has a decay expression, :attr:`Item.per_year`) has
  ``pv_k = 0 + value_k(t1) * factor_k(t1) + value_k(t2) * factor_k(t2) + ...`` over its
  years in increasing order, with the year factors below;
* **benefits** and **costs** are the sums of the present values on each side, in item
  order, starting from 0; **net** is ``benefits - costs``;
* the **benefit-cost ratio** is ``benefits / costs`` when ``costs > 0`` and *undefined*
  otherwise (reported as NaN and counted as "not defined", never as ±inf): a ratio over
  zero or negative costs has no decision meaning (Boardman et al. 2018, *Cost-Benefit
  Analysis: Concepts and Practice*, 5th ed., §2.3, on why the net balance, not the ratio,
  decides);
* a **stakeholder balance** is the signed sum (benefits +, costs −) of the present values
  of that stakeholder's items, in item order;
* the **balance of year t** is the signed sum of ``value_k * factor_k(t)`` over the items
  listed in year *t*, with ``factor_k(t)`` the decay times discount factor of that year
  (:meth:`~mkba_sim.model.Item.year_factors`); the years' balances add up to ``net``;
* a **perspective balance** (:mod:`mkba_sim.model.perspectives`) is the signed sum, in
  item order, of the present values of the items of the perspective's stakeholders;
* **per participant** (``[model] per_participant`` names a population *n*): benefits,
  costs, net and each perspective balance divided by *n* (:func:`ratio`),
  *undefined* (NaN, like the ratio) when *n* ≤ 0.

Non-finite policy (:data:`NON_FINITE_POLICIES`): a draw in which any derived quantity or
item value is NaN or ±inf is an error by default (``"stop"``: the run stops naming the
quantity, scenario, draw and input values); with ``[model] non_finite = "drop"`` such
draws are dropped from every statistic of that scenario and the count is reported. An
undefined ratio (costs ≤ 0) is not a non-finite value: it is a documented state of the
ratio alone.

The weights are *numbers* (:func:`ledger_weights`); the index lists of :class:`Ledger`
are *structure*: changing a discount rate or decay changes the weights, not the kernel.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mkba_sim.model.types import Scenario

__all__ = [
    "NON_FINITE_POLICIES",
    "TOTALS",
    "Balance",
    "Ledger",
    "LedgerWeights",
    "evaluate_ledger",
    "ledger_of",
    "ledger_weights",
    "ratio",
    "ratio_array",
]

TOTALS = ("benefits", "costs", "net")
NON_FINITE_POLICIES = ("stop", "drop")


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator`` if ``denominator > 0``, else NaN (undefined): the
    benefit-cost ratio (benefits / costs) and every per-participant figure (value /
    participants) of one draw.

    Written in plain Python so that the generated kernel compiles this very function.
    """
    if denominator > 0.0:
        return numerator / denominator
    return math.nan


def ratio_array(numerator: Any, denominator: Any) -> Any:
    """:func:`ratio` element-wise for arrays (or scalars): NaN where ``denominator <= 0``."""
    a = np.asarray(numerator, dtype=np.float64)
    d = np.asarray(denominator, dtype=np.float64)
    positive = d > 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(positive, a / np.where(positive, d, 1.0), math.nan)
    return out if out.ndim else float(out)


@dataclass(frozen=True)
class Balance:
    """A signed sum over items: ``terms`` are ``(item index, +1 or -1)`` in item order.

    For ``kind == "year"`` the ``m``-th term uses the ``m``-th year coefficient of the
    balance (see :class:`LedgerWeights`); otherwise each term is the item's present value.
    """

    kind: str  # "stakeholder", "year" or "perspective"
    name: str
    terms: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Ledger:
    """The structure of one scenario's ledger: which item goes where, no numbers."""

    items: tuple[str, ...]
    is_benefit: tuple[bool, ...]
    stakeholders: tuple[Balance, ...]
    years: tuple[Balance, ...]
    perspectives: tuple[Balance, ...] = ()
    participants: str | None = None  # the population balances are divided by, if any
    per_year: tuple[bool, ...] = ()
    """Per item: its values are given per year (a dict year -> value in
    :func:`evaluate_ledger`, one variable per year in the kernel)."""

    def year_term_index(self) -> dict[tuple[int, int], int]:
        """(item index, year) -> index of that term's factor in the year coefficients."""
        out: dict[tuple[int, int], int] = {}
        m = 0
        for bal in self.years:
            for k, _ in bal.terms:
                out[(k, int(bal.name))] = m
                m += 1
        return out

    def is_per_year(self, k: int) -> bool:
        """True when item ``k`` has a value per year."""
        return bool(self.per_year) and self.per_year[k]

    @property
    def benefit_items(self) -> tuple[int, ...]:
        """Indices of the benefit items, in item order."""
        return tuple(k for k, b in enumerate(self.is_benefit) if b)

    @property
    def cost_items(self) -> tuple[int, ...]:
        """Indices of the cost items, in item order."""
        return tuple(k for k, b in enumerate(self.is_benefit) if not b)


@dataclass(frozen=True)
class LedgerWeights:
    """The numbers of one scenario's ledger.

    ``pv`` [K]: PV weight of each item; ``year`` [sum of terms of the year balances]:
    the factor of each year-balance term, in the order of :attr:`Ledger.years`.
    """

    pv: np.ndarray
    year: np.ndarray


def ledger_of(scenario: Scenario) -> Ledger:
    """The ledger structure of ``scenario``: stakeholders sorted, years 1..horizon."""
    items = scenario.items
    stake = sorted({it.stakeholder for it in items})
    stakeholders = tuple(
        Balance(
            "stakeholder",
            s,
            tuple(
                (k, 1 if it.side == "benefit" else -1)
                for k, it in enumerate(items)
                if it.stakeholder == s
            ),
        )
        for s in stake
    )
    years = tuple(
        Balance(
            "year",
            str(t),
            tuple(
                (k, 1 if it.side == "benefit" else -1)
                for k, it in enumerate(items)
                if t in it.years
            ),
        )
        for t in range(1, scenario.settings.horizon_years + 1)
    )
    perspectives = tuple(
        Balance(
            "perspective",
            p.name,
            tuple(
                (k, 1 if it.side == "benefit" else -1)
                for k, it in enumerate(items)
                if it.stakeholder in p.stakeholders
            ),
        )
        for p in scenario.perspectives
    )
    return Ledger(
        tuple(it.name for it in items),
        tuple(it.side == "benefit" for it in items),
        stakeholders,
        years,
        perspectives,
        scenario.settings.per_participant,
        tuple(it.per_year for it in items),
    )


def ledger_weights(scenario: Scenario, ledger: Ledger | None = None) -> LedgerWeights:
    """The PV weights and year factors of ``scenario`` (its discount rate and decays)."""
    ledger = ledger or ledger_of(scenario)
    rate = scenario.settings.discount_rate
    pv = np.array([it.pv_weight(rate) for it in scenario.items], dtype=np.float64)
    factors = [it.year_factors(rate) for it in scenario.items]
    year = [factors[k][int(b.name)][1] for b in ledger.years for k, _ in b.terms]
    return LedgerWeights(pv, np.array(year, dtype=np.float64))


def evaluate_ledger(
    ledger: Ledger, weights: LedgerWeights, values: Sequence[Any], participants: Any = None
) -> dict[str, Any]:
    """Every balance from the items' yearly ``values`` (scalars or arrays of draws; for
    an item with values per year, a dict year -> value).

    Returns a dict with ``pv`` (list per item), ``benefits``, ``costs``, ``net``, ``bcr``,
    ``stakeholders`` (name -> balance), ``years`` (year -> balance), ``perspectives``
    (name -> balance) and ``per_participant`` (``benefits``/``costs``/``net`` and
    ``perspectives`` divided by ``participants``, the value of the population
    :attr:`Ledger.participants`; empty when there is none): the arithmetic of the module
    docstring, operation for operation as the generated kernel does it.
    """
    index = ledger.year_term_index() if any(ledger.per_year) else {}
    pv: list[Any] = []
    for k, v in enumerate(values):
        if not ledger.is_per_year(k):
            pv.append(np.multiply(v, weights.pv[k]))
            continue
        acc_pv: Any = 0.0
        for t in sorted(v):
            acc_pv = acc_pv + np.multiply(v[t], weights.year[index[(k, t)]])
        pv.append(acc_pv)
    benefits: Any = 0.0
    costs: Any = 0.0
    for k, is_b in enumerate(ledger.is_benefit):
        if is_b:
            benefits = benefits + pv[k]
        else:
            costs = costs + pv[k]
    stakeholders: dict[str, Any] = {}
    for bal in ledger.stakeholders:
        acc: Any = 0.0
        for k, sign in bal.terms:
            acc = acc + pv[k] if sign > 0 else acc - pv[k]
        stakeholders[bal.name] = acc
    years: dict[int, Any] = {}
    m = 0
    for bal in ledger.years:
        acc = 0.0
        for k, sign in bal.terms:
            vk = values[k][int(bal.name)] if ledger.is_per_year(k) else values[k]
            term = np.multiply(vk, weights.year[m])
            acc = acc + term if sign > 0 else acc - term
            m += 1
        years[int(bal.name)] = acc
    perspectives: dict[str, Any] = {}
    for bal in ledger.perspectives:
        acc = 0.0
        for k, sign in bal.terms:
            acc = acc + pv[k] if sign > 0 else acc - pv[k]
        perspectives[bal.name] = acc
    net = np.subtract(benefits, costs)
    per: dict[str, Any] = {}
    if ledger.participants is not None:
        if participants is None:
            raise ValueError(f"the value of population {ledger.participants!r} is needed")
        div = ratio_array
        per = {"benefits": div(benefits, participants), "costs": div(costs, participants)}
        per["net"] = div(net, participants)
        per["perspectives"] = {k: div(v, participants) for k, v in perspectives.items()}
    return {
        "pv": pv,
        "benefits": benefits,
        "costs": costs,
        "net": net,
        "bcr": ratio_array(benefits, costs),
        "stakeholders": stakeholders,
        "years": years,
        "perspectives": perspectives,
        "per_participant": per,
    }
