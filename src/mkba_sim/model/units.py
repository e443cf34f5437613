"""A small unit algebra that catches mismatches a model file can reveal.

Units are products of named dimensions with integer exponents, written like
``"EUR/year"``, ``"EUR/(person*month)"``, ``"offences/year"`` or ``"1"``. Names are
compared case-insensitively with a plural ``s`` removed (``days`` = ``day``) and
``euro``/``€`` read as ``EUR``. A unit left out is *unknown* and never causes an error;
a literal number adapts to what it is added to. Checked: both sides of ``+``/``-`` and
the arguments of ``min``/``max`` must agree; ``exp``/``log`` need a dimensionless
argument; an item must come out as money (or money per year).

The grammar (``docs/model-format.md``, "Units")::

    unit    = "1" | product [ "/" factor ]* | product "/" "(" product ")"
    product = factor { "*" factor }
    factor  = NAME [ "^" INTEGER ]
    NAME    = a letter or € or _, then letters, digits, _ or -

Spaces are allowed only around ``*``, ``/`` and parentheses: ``"euro per event"`` is an
error (write ``"EUR/event"``), not the single name ``europerevent``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from mkba_sim.model.expressions import BinOp, Call, Compare, Logic, Neg, Node, Not, Num, Ref, fold

__all__ = ["LITERAL", "Unit", "UnitError", "infer_unit", "parse_unit", "population_unit"]

_DIMENSIONLESS = {"", "1", "-", "fraction", "share", "probability", "ratio"}
_TOKEN = re.compile(r"^[A-Za-z_€][A-Za-z0-9_€\-]*(\^-?\d+)?$")
_SPACED = re.compile(r"[A-Za-z0-9_€)\-]\s+[A-Za-z0-9_€(]")  # two words with only a space between
_MONEY = {"€", "euro", "euros"}


class UnitError(ValueError):
    """A unit string is malformed or an expression mixes incompatible units."""


@dataclass(frozen=True)
class Unit:
    """A product of dimensions with exponents; ``dims`` is sorted and has no zeros."""

    dims: tuple[tuple[str, int], ...] = ()

    def __mul__(self, other: Unit) -> Unit:
        return _combine(self, other, 1)

    def __truediv__(self, other: Unit) -> Unit:
        return _combine(self, other, -1)

    def power(self, k: int) -> Unit:
        return Unit(tuple((d, e * k) for d, e in self.dims if e * k != 0))

    def __str__(self) -> str:
        if not self.dims:
            return "1"
        num = [f"{d}" + (f"^{e}" if e != 1 else "") for d, e in self.dims if e > 0]
        den = [f"{d}" + (f"^{-e}" if e != -1 else "") for d, e in self.dims if e < 0]
        text = "*".join(num) or "1"
        if den:
            text += "/" + ("*".join(den) if len(den) == 1 else "(" + "*".join(den) + ")")
        return text


class _Literal:
    """Marker: a bare number, dimensionless in products, adaptable in sums."""


LITERAL = _Literal()
UnitLike = Unit | _Literal | None  # None = unknown


def _combine(a: Unit, b: Unit, sign: int) -> Unit:
    acc = dict(a.dims)
    for d, e in b.dims:
        acc[d] = acc.get(d, 0) + sign * e
    return Unit(tuple(sorted((d, e) for d, e in acc.items() if e != 0)))


def _normalise(name: str) -> str:
    n = name.lower()
    if n in _MONEY:
        return "eur"
    if len(n) > 3 and n.endswith("s") and not n.endswith("ss"):
        n = n[:-1]
    return n


def parse_unit(text: str) -> Unit:
    """Parse ``"EUR/year"``-style text. Raises :class:`UnitError` when malformed."""
    t = text.strip()
    if t.lower() in _DIMENSIONLESS:
        return Unit()
    if _SPACED.search(t):
        raise UnitError(
            f"cannot read unit {text!r}: words must be joined by '*' or '/' "
            "(write 'per' as '/', e.g. 'EUR/event' or 'EUR/(client*year)')"
        )
    t = t.replace(" ", "")
    if t.count("/") > 1 and "(" not in t:
        parts = t.split("/")
        num, den = parts[0], "*".join(parts[1:])
    elif "/" in t:
        num, den = t.split("/", 1)
        if den.startswith("(") and den.endswith(")"):
            den = den[1:-1]
    else:
        num, den = t, ""
    unit = Unit()
    for side, sign in ((num, 1), (den, -1)):
        if not side or side == "1":
            continue
        for tok in side.split("*"):
            if not _TOKEN.match(tok):
                raise UnitError(f"cannot read unit {text!r} (at {tok!r}); write e.g. 'EUR/year'")
            name, _, exp = tok.partition("^")
            unit = _combine(unit, Unit(((_normalise(name), sign * int(exp or 1)),)), 1)
    return unit


def population_unit(name: str, declared: str | None = None) -> Unit:
    """The unit of a population: its declared ``unit``, else its own name in the singular.

    A population counts something, so it carries that thing as its unit: ``clients = 69``
    is 69 ``client``; ``EUR/client × clients`` is EUR, while ``EUR/event × clients`` is
    ``EUR*client/event`` and no ledger item can be that. A population counting another
    kind of thing says so: ``cohort = { value = 69, unit = "client" }``.
    """
    return parse_unit(declared if declared is not None else name)


def _same(a: UnitLike, b: UnitLike, what: str) -> UnitLike:
    if a is None or b is None:
        return None
    if isinstance(a, _Literal):
        return b
    if isinstance(b, _Literal):
        return a
    if a != b:
        raise UnitError(f"{what} mixes units {a} and {b}")
    return a


def _as_unit(u: UnitLike) -> Unit | None:
    if isinstance(u, _Literal):
        return Unit()
    return u


def infer_unit(node: Node, units: Mapping[str, Unit | None]) -> UnitLike:
    """Unit of an expression given the units of the names (``None`` = unknown).

    Works bottom-up without recursion (:func:`~mkba_sim.model.expressions.fold`), so a
    long flat chain of terms is fine.
    """
    return fold(node, lambda n, args: _unit_of(n, args, units))


def _unit_of(node: Node, args: list[UnitLike], units: Mapping[str, Unit | None]) -> UnitLike:
    if isinstance(node, Num):
        return LITERAL
    if isinstance(node, Ref):
        return units.get(node.name)
    if isinstance(node, Neg):
        return args[0]
    if isinstance(node, BinOp):
        a, b = args
        if node.op in "+-":
            return _same(a, b, f"'{node.op}'")
        if node.op == "**":
            if isinstance(node.right, Num) and float(node.right.value).is_integer():
                ua = _as_unit(a)
                return None if ua is None else ua.power(int(node.right.value))
            ua = _as_unit(a)
            return LITERAL if isinstance(a, _Literal) else (Unit() if ua == Unit() else None)
        ua, ub = _as_unit(a), _as_unit(b)
        if ua is None or ub is None:
            return None
        if isinstance(a, _Literal) and isinstance(b, _Literal):
            return LITERAL
        return ua * ub if node.op == "*" else ua / ub
    if isinstance(node, Compare):
        _same(args[0], args[1], f"comparison '{node.op}'")
        return None  # a condition has no unit
    if isinstance(node, Logic | Not):
        return None
    if not isinstance(node, Call):  # pragma: no cover - the node types are closed
        raise TypeError(f"unknown expression node {type(node).__name__}")
    if node.func == "where":
        return _same(args[1], args[2], "where()")
    if node.func == "clip":
        return _same(_same(args[0], args[1], "clip()"), args[2], "clip()")
    if node.func == "round":
        return args[0]
    if node.func in ("normcdf", "norminv", "logit", "expit"):
        u = args[0]
        if isinstance(u, Unit) and u != Unit():
            raise UnitError(f"{node.func}() needs a dimensionless argument, got {u}")
        return Unit() if u is not None else None
    if node.func in ("min", "max"):
        acc = args[0]
        for a in args[1:]:
            acc = _same(acc, a, f"{node.func}()")
        return acc
    if node.func == "abs":
        return args[0]
    if node.func in ("exp", "log"):
        u = args[0]
        if isinstance(u, Unit) and u != Unit():
            raise UnitError(f"{node.func}() needs a dimensionless argument, got {u}")
        return Unit() if u is not None else None
    # sqrt
    u = _as_unit(args[0])
    if u is None:
        return None
    if any(e % 2 for _, e in u.dims):
        return None
    return Unit(tuple((d, e // 2) for d, e in u.dims))
