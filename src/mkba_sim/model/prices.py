"""Price years: an input in another year's euros, converted with the CBS consumer-price index.

An input may say ``price_year = 2016`` (Németh et al. 2020 give 2016 prices, used in a 2022
study). Every use of it in an expression is then multiplied by

    factor = CPI(model price year) / CPI(input price year),

the ordinary deflation with a price index (Boardman et al. 2018, *Cost-Benefit Analysis:
Concepts and Practice*, 5th ed., §8.1: real values from nominal with the CPI). The index
is the CBS consumer-price index, all expenditure, 2015 = 100 (StatLine 83131NED), shipped
in ``mkba_sim/model/data/cpi_nl_cbs.csv`` with its source and how it was entered.

The input keeps its own value and spread (a simulation override or a tornado bar is in its
own price year); the factor is a literal constant in the expression trees, so it is data,
not structure. Replication and the report show every conversion (:class:`PriceConversion`).
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

from mkba_sim.model.expressions import BinOp, Node, Num, Ref, fold

__all__ = ["CPI_SOURCE", "PriceConversion", "cpi_table", "price_factor", "rescale_names"]

CPI_SOURCE = (
    "CBS StatLine 83131NED, Consumentenprijzen; prijsindex 2015=100, alle bestedingen, jaarcijfers"
)
_DATA = "cpi_nl_cbs.csv"


@dataclass(frozen=True)
class PriceConversion:
    """One input converted from its own price year to the model's."""

    parameter: str
    scenario: str  # "base", or the scenario that defines the input
    from_year: int
    to_year: int
    index_from: float
    index_to: float

    @property
    def factor(self) -> float:
        """CPI(to_year) / CPI(from_year)."""
        return self.index_to / self.index_from

    def as_dict(self) -> dict[str, object]:
        """Plain dict for JSON output (the factor included)."""
        return {**dataclasses.asdict(self), "factor": self.factor, "index_source": CPI_SOURCE}


@functools.cache
def cpi_table() -> dict[int, tuple[float, str]]:
    """Year -> (CPI, status) from the shipped data file (read once)."""
    text = resources.files("mkba_sim.model").joinpath("data", _DATA).read_text("utf-8")
    rows = csv.DictReader(io.StringIO("\n".join(ln for ln in text.splitlines() if ln[:1] != "#")))
    return {int(r["year"]): (float(r["cpi"]), r["status"]) for r in rows}


def price_factor(from_year: int, to_year: int) -> tuple[float, float]:
    """The CPI of ``from_year`` and of ``to_year``.

    Raises
    ------
    ValueError
        If either year is outside the shipped index, naming the years it covers.
    """
    table = cpi_table()
    for y in (from_year, to_year):
        if y not in table:
            raise ValueError(
                f"no consumer-price index for {y}: the shipped CBS index covers "
                f"{min(table)}-{max(table)} ({CPI_SOURCE})"
            )
    return table[from_year][0], table[to_year][0]


def _rebuild(node: Node, kids: list[Node], factors: Mapping[str, float]) -> Node:
    if isinstance(node, Ref):
        f = factors.get(node.name)
        return node if f is None else BinOp("*", node, Num(f))
    if not kids:
        return node
    # any other node: its Node fields (and tuples of Nodes) in field order, as fold visits them
    it = iter(kids)
    changes: dict[str, object] = {}
    for fld in dataclasses.fields(node):
        v = getattr(node, fld.name)
        if isinstance(v, tuple) and v and all(_is_node(x) for x in v):
            changes[fld.name] = tuple(next(it) for _ in v)
        elif _is_node(v):
            changes[fld.name] = next(it)
    rebuilt: Node = dataclasses.replace(node, **changes)  # type: ignore[arg-type]
    return rebuilt


def _is_node(x: object) -> bool:
    return dataclasses.is_dataclass(x) and not isinstance(x, type)


def rescale_names(expr: Node, factors: Mapping[str, float]) -> Node:
    """``expr`` with every reference to a name in ``factors`` multiplied by its factor.

    ``Ref(n)`` becomes ``Ref(n) * Num(factor)``; the tree is rebuilt bottom-up without
    recursion (:func:`~mkba_sim.model.expressions.fold`). Unchanged when no name is hit.
    """
    if not factors:
        return expr
    return fold(expr, lambda n, kids: _rebuild(n, kids, factors))
