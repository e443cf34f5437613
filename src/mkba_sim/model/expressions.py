"""The expression language of model files: arithmetic over names, nothing more.

Text is parsed with :func:`ast.parse` and converted node by node into the small tree
below; any node type outside the whitelist is refused with a message saying what was
found. The tree is evaluated by :func:`evaluate` (NumPy) or turned into kernel source
by the engine; Python never evaluates model text.

Functions are declared once, in :data:`FUNCTION_DEFS`: arity, the NumPy implementation
used by replication and the reference path, and the name of the scalar numba function in
:mod:`mkba_sim.kernels.exprfuncs` that generated kernels call. Comparisons (``<``,
``<=``, ``>``, ``>=``, ``==``, ``!=``, joined with ``and``, ``or``, ``not``) exist only
as the condition of ``where(condition, a, b)``.
"""

from __future__ import annotations

import ast
import math
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

__all__ = [
    "FUNCTIONS",
    "FUNCTION_DEFS",
    "MAX_LENGTH",
    "YEAR",
    "BinOp",
    "Call",
    "Compare",
    "ExpressionError",
    "Function",
    "Logic",
    "Neg",
    "Node",
    "Not",
    "Num",
    "Ref",
    "evaluate",
    "explain_non_finite",
    "fold",
    "names",
    "parse_expression",
    "walk",
]

T = TypeVar("T")

MAX_LENGTH = 20_000
"""Longest expression text, in characters."""
MAX_DEPTH = 60
"""Deepest nesting of parentheses, function calls, powers and unary minus."""
MAX_TERMS = 1_000
"""Most operands in one flat chain of ``+ -`` (or of ``* /``); a chain is not nesting."""


YEAR = "year"
"""The name of the current year (1..horizon) in item values."""


class ExpressionError(ValueError):
    """An expression is not valid arithmetic over names."""


@dataclass(frozen=True)
class Num:
    """A numeric literal."""

    value: float


@dataclass(frozen=True)
class Ref:
    """A reference to a population, parameter or derived quantity."""

    name: str


@dataclass(frozen=True)
class BinOp:
    """``left op right`` with op one of ``+ - * / **``."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Neg:
    """Unary minus."""

    operand: Node


@dataclass(frozen=True)
class Call:
    """A whitelisted function applied to arguments."""

    func: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Compare:
    """``left op right`` with op one of ``< <= > >= == !=`` (only in a condition)."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Logic:
    """``a and b and ...`` or ``a or b or ...`` over conditions."""

    op: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    """``not condition``."""

    operand: Node


Node = Num | Ref | BinOp | Neg | Call | Compare | Logic | Not

_CONDITION = (Compare, Logic, Not)


def _np_fold(f: Callable[[Any, Any], Any]) -> Callable[..., Any]:
    def apply(*args: Any) -> Any:
        return _fold(f, list(args))

    return apply


def _np_normcdf(x: Any) -> Any:
    from mkba_sim.distributions.conversions import normal_cdf

    return normal_cdf(x)


def _np_norminv(p: Any) -> Any:
    from mkba_sim.distributions.conversions import normal_quantile

    return normal_quantile(p)


def _np_logit(p: Any) -> Any:
    """log(p / (1 - p)): -inf at 0, +inf at 1, NaN outside [0, 1] (as the kernel)."""
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log(p) - np.log1p(-p)
    return np.where((p >= 0.0) & (p <= 1.0), out, np.nan)


def _np_expit(x: Any) -> Any:
    """1 / (1 + exp(-x)), computed without overflow on either side (as the kernel)."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore"):
        e = np.exp(-np.abs(x))
    return np.where(x >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))


def _np_clip(x: Any, lo: Any, hi: Any) -> Any:
    return np.minimum(np.maximum(x, lo), hi)


def _np_round(x: Any, digits: Any = 0.0) -> Any:
    """Round half away from zero to ``digits`` decimals (negative: tens, hundreds, ...)."""
    x = np.asarray(x, dtype=np.float64)
    k = np.asarray(digits, dtype=np.float64)
    pos = k >= 0.0
    with np.errstate(invalid="ignore", over="ignore"):
        s = np.power(10.0, np.abs(k))
        y = np.where(pos, x * s, x / s)
        a = np.abs(y)
        f = np.floor(a)
        r = np.copysign(np.where(a - f >= 0.5, f + 1.0, f), y)
        out = np.where(pos, r / s, r * s)
    return np.where(k == np.floor(k), out, np.nan)


@dataclass(frozen=True)
class Function:
    """One function of the expression language, declared once.

    ``numpy`` evaluates it on arrays (replication, the NumPy reference path); ``kernel``
    names the scalar numba function of :mod:`mkba_sim.kernels.exprfuncs` with the same
    semantics (NaN in, NaN out; the same edge values), which generated kernels call.
    """

    name: str
    min_args: int
    max_args: int | None  # None: variadic
    numpy: Callable[..., Any]
    kernel: str
    doc: str


FUNCTION_DEFS: dict[str, Function] = {
    f.name: f
    for f in (
        Function("abs", 1, 1, np.abs, "abs", "absolute value"),
        Function("exp", 1, 1, np.exp, "math.exp", "e to the power x"),
        Function("log", 1, 1, np.log, "flog", "natural logarithm (-inf at 0, NaN below)"),
        Function("sqrt", 1, 1, np.sqrt, "fsqrt", "square root (NaN below 0)"),
        Function("min", 2, None, _np_fold(np.minimum), "fmin", "smallest argument"),
        Function("max", 2, None, _np_fold(np.maximum), "fmax", "largest argument"),
        Function("normcdf", 1, 1, _np_normcdf, "fnormcdf", "standard normal CDF Φ(x)"),
        Function("norminv", 1, 1, _np_norminv, "fnorminv", "standard normal quantile Φ⁻¹(p)"),
        Function("logit", 1, 1, _np_logit, "flogit", "log(p / (1 - p))"),
        Function("expit", 1, 1, _np_expit, "fexpit", "1 / (1 + exp(-x)), inverse of logit"),
        Function("clip", 3, 3, _np_clip, "fclip", "clip(x, low, high) = min(max(x, low), high)"),
        Function(
            "round", 1, 2, _np_round, "fround", "round(x) or round(x, digits), half away from 0"
        ),
        Function("where", 3, 3, np.where, "", "where(condition, a, b): a if condition else b"),
    )
}
"""Every function of the expression language (the one definition)."""

# name -> (min args, max args or None for variadic)
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    n: (f.min_args, f.max_args) for n, f in FUNCTION_DEFS.items()
}

_COMPARE: dict[type[ast.cmpop], str] = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
}

_BINOPS: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Pow: "**",
}


def parse_expression(text: str | int | float) -> Node:
    """Parse ``text`` into a whitelisted expression tree.

    Raises
    ------
    ExpressionError
        With a message naming the construct that is not allowed.
    """
    if isinstance(text, bool):
        raise ExpressionError(f"expected an expression or a number, got {text!r}")
    if isinstance(text, int | float):
        if not _finite(text):
            raise ExpressionError("numbers must be finite and below 1.8e308")
        return Num(float(text))
    if not isinstance(text, str):
        raise ExpressionError(f"expected an expression or a number, got {text!r}")
    if not text.strip():
        raise ExpressionError("expression is empty")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression is longer than {MAX_LENGTH} characters")
    try:
        with warnings.catch_warnings():
            # e.g. "1if" warns "invalid decimal literal" on stderr; we report errors ourselves
            warnings.simplefilter("ignore", SyntaxWarning)
            tree = ast.parse(text.strip(), mode="eval")
    except (RecursionError, MemoryError):
        raise ExpressionError(
            f"expression is too deeply nested for the parser (limits: {MAX_TERMS} terms in a "
            f"chain, {MAX_DEPTH} levels of nesting): split it into [derived] quantities"
        ) from None
    except (SyntaxError, ValueError) as exc:
        detail = exc.msg if isinstance(exc, SyntaxError) else type(exc).__name__
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise ExpressionError(f"not a valid expression ({detail}): {shown!r}") from None
    return _convert(tree.body, 0)


def _finite(v: int | float) -> bool:
    try:
        return math.isfinite(v)
    except OverflowError:  # an integer too large for a float
        return False


def _convert(node: ast.AST, depth: int) -> Node:
    if depth > MAX_DEPTH:
        raise ExpressionError(
            f"expression is nested more than {MAX_DEPTH} levels deep (parentheses, function "
            "calls, powers and unary minus count; a flat chain of + - or * / does not): "
            "split it into [derived] quantities"
        )
    if isinstance(node, ast.Compare | ast.BoolOp) or (
        isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)
    ):
        raise ExpressionError(
            "comparisons (< <= > >= == !=, and, or, not) are only allowed as the condition "
            "of where(condition, a, b)"
        )
    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ExpressionError(f"only numbers are allowed as constants, found {v!r}")
        if not _finite(v):
            raise ExpressionError("numbers must be finite and below 1.8e308")
        return Num(float(v))
    if isinstance(node, ast.Name):
        return Ref(node.id)
    if isinstance(node, ast.BinOp):
        return _convert_chain(node, depth)
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.USub):
            return Neg(_convert(node.operand, depth + 1))
        if isinstance(node.op, ast.UAdd):
            return _convert(node.operand, depth + 1)
        raise ExpressionError(f"operator {type(node.op).__name__} is not allowed")
    if isinstance(node, ast.Call):
        allowed = ", ".join(sorted(FUNCTIONS))
        if not isinstance(node.func, ast.Name):
            raise ExpressionError(
                f"calling an expression ({type(node.func).__name__}) is not allowed; "
                f"only the functions {allowed} may be called, by name"
            )
        if node.func.id not in FUNCTIONS:
            raise ExpressionError(f"function {node.func.id!r} is not allowed; allowed: {allowed}")
        if node.keywords:
            raise ExpressionError("keyword arguments are not allowed")
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise ExpressionError("starred arguments are not allowed")
        lo, hi = FUNCTIONS[node.func.id]
        n = len(node.args)
        if n < lo or (hi is not None and n > hi):
            want = str(lo) if hi == lo else f"at least {lo}"
            raise ExpressionError(f"{node.func.id}() takes {want} argument(s), got {n}")
        if node.func.id == "where":
            cond = _convert_condition(node.args[0], depth + 1)
            rest = tuple(_convert(a, depth + 1) for a in node.args[1:])
            return Call("where", (cond, *rest))
        return Call(node.func.id, tuple(_convert(a, depth + 1) for a in node.args))
    raise ExpressionError(
        f"{type(node).__name__} is not allowed in an expression; only "
        "numbers, names, + - * / **, parentheses and "
        f"{', '.join(sorted(FUNCTIONS))}"
    )


def _convert_condition(node: ast.AST, depth: int) -> Node:
    """The condition of ``where``: comparisons joined with ``and``, ``or``, ``not``."""
    if depth > MAX_DEPTH:
        return _convert(node, depth)  # raises the nesting error
    if isinstance(node, ast.Compare):
        parts: list[Node] = []
        left = _convert(node.left, depth + 1)
        for op, right_ast in zip(node.ops, node.comparators, strict=True):
            sym = _COMPARE.get(type(op))
            if sym is None:
                raise ExpressionError(
                    f"comparison {type(op).__name__} is not allowed; use < <= > >= == !="
                )
            right = _convert(right_ast, depth + 1)
            parts.append(Compare(sym, left, right))
            left = right
        return parts[0] if len(parts) == 1 else Logic("and", tuple(parts))
    if isinstance(node, ast.BoolOp):
        lop = "and" if isinstance(node.op, ast.And) else "or"
        return Logic(lop, tuple(_convert_condition(v, depth + 1) for v in node.values))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return Not(_convert_condition(node.operand, depth + 1))
    raise ExpressionError(
        "the condition of where(condition, a, b) must be a comparison such as "
        "'year <= 2' or 'x > 0 and y < 1'"
    )


_SAME_LEVEL = ({"+", "-"}, {"*", "/"})


def _binop(node: ast.BinOp) -> str:
    op = _BINOPS.get(type(node.op))
    if op is None:
        raise ExpressionError(f"operator {type(node.op).__name__} is not allowed; use + - * / **")
    return op


def _convert_chain(node: ast.BinOp, depth: int) -> Node:
    """A left-associative chain ``a + b - c + ...`` (or ``a * b / c ...``) without recursion.

    Python parses a chain into a left-deep tree; its length is not nesting, so the left
    spine is followed in a loop at the same depth and only the operands go one level down.
    The result is the same left-deep :class:`BinOp` tree (same order of evaluation).
    """
    op = _binop(node)
    level = next((g for g in _SAME_LEVEL if op in g), None)
    spine: list[tuple[str, ast.AST]] = [(op, node.right)]
    left: ast.AST = node.left
    while level is not None and isinstance(left, ast.BinOp):
        lop = _binop(left)
        if lop not in level:
            break
        spine.append((lop, left.right))
        left = left.left
        if len(spine) >= MAX_TERMS:
            raise ExpressionError(
                f"a chain of {' '.join(sorted(level))} has more than {MAX_TERMS} terms: "
                "split it into [derived] quantities"
            )
    acc = _convert(left, depth + 1)
    for bop, right in reversed(spine):
        acc = BinOp(bop, acc, _convert(right, depth + 1))
    return acc


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, BinOp | Compare):
        return (node.left, node.right)
    if isinstance(node, Neg | Not):
        return (node.operand,)
    if isinstance(node, Call | Logic):
        return node.args
    return ()


def fold(node: Node, combine: Callable[[Node, list[T]], T]) -> T:
    """Combine a tree bottom-up without recursion: ``combine(node, values of its children)``.

    Children are visited left to right. Every walk over an expression tree goes through
    here (or :func:`walk`), so a long flat chain of terms (a left-deep tree of
    :data:`MAX_TERMS` levels) never reaches Python's recursion limit.
    """
    stack: list[tuple[Node, bool]] = [(node, False)]
    values: list[T] = []
    while stack:
        n, ready = stack.pop()
        kids = _children(n)
        if ready or not kids:
            k = len(kids)
            got = values[len(values) - k :] if k else []
            if k:
                del values[len(values) - k :]
            values.append(combine(n, got))
        else:
            stack.append((n, True))
            stack.extend((c, False) for c in reversed(kids))
    return values[0]


def walk(node: Node) -> Iterator[Node]:
    """Yield ``node`` and all its descendants (depth first, left to right; no recursion)."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(_children(n)))


def names(node: Node) -> set[str]:
    """Names the expression refers to."""
    return {n.name for n in walk(node) if isinstance(n, Ref)}


def evaluate(node: Node, env: Mapping[str, Any], consts: Mapping[int, float] | None = None) -> Any:
    """Evaluate with NumPy semantics (scalars or arrays broadcast; x/0 gives ±inf or nan).

    ``consts`` optionally maps ``id`` of a literal node to the value to use instead of
    the literal's own (the engine passes constants as data). Works bottom-up without
    recursion (:func:`fold`), so a long flat chain of terms is fine.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return fold(node, lambda n, args: _apply(n, args, env, consts))


def _apply(
    node: Node, args: list[Any], env: Mapping[str, Any], consts: Mapping[int, float] | None
) -> Any:
    if isinstance(node, Num):
        return node.value if consts is None else consts.get(id(node), node.value)
    if isinstance(node, Ref):
        return env[node.name]
    if isinstance(node, Neg):
        return -args[0]
    if isinstance(node, BinOp):
        a, b = args
        if node.op == "+":
            return np.add(a, b)
        if node.op == "-":
            return np.subtract(a, b)
        if node.op == "*":
            return np.multiply(a, b)
        if node.op == "/":
            return np.divide(a, b)
        return np.power(np.asarray(a, dtype=np.float64), b)
    if isinstance(node, Compare):
        a, b = args
        return _NP_COMPARE[node.op](a, b)
    if isinstance(node, Logic):
        return _fold(np.logical_and if node.op == "and" else np.logical_or, args)
    if isinstance(node, Not):
        return np.logical_not(args[0])
    return FUNCTION_DEFS[node.func].numpy(*args)


_NP_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
}


def _fold(f: Callable[[Any, Any], Any], args: list[Any]) -> Any:
    acc = args[0]
    for a in args[1:]:
        acc = f(acc, a)
    return acc


def _show(x: float) -> str:
    return f"{x:.6g}"


def explain_non_finite(
    node: Node, env: Mapping[str, float], consts: Mapping[int, float] | None = None
) -> str:
    """Why ``node`` is NaN or ±inf for the scalar values in ``env``: the first operation
    (innermost, left to right) whose operands are finite but whose result is not.

    Returns a phrase such as ``"sqrt of a negative number (-0.31)"`` or ``"division by
    zero (3 / 0)"``; ``"a non-finite input (x = nan)"`` when an input itself is not finite.
    """
    stack: list[tuple[Node, bool]] = [(node, False)]
    values: dict[int, float] = {}
    while stack:  # post-order without recursion
        n, done = stack.pop()
        kids: tuple[Node, ...] = _children(n)
        if isinstance(n, _CONDITION):
            continue  # a condition is true or false, never non-finite
        if isinstance(n, Call) and n.func == "where":
            # only the branch where() takes can be the cause
            cond = bool(evaluate(n.args[0], env, consts))
            kids = (n.args[1],) if cond else (n.args[2],)
        if not done and kids:
            stack.append((n, True))
            stack.extend((k, False) for k in reversed(kids))
            continue
        v = float(evaluate(n, env, consts))
        values[id(n)] = v
        if math.isfinite(v):
            continue
        if isinstance(n, Ref):
            return f"a non-finite input ({n.name} = {v})"
        args = [values[id(k)] for k in kids]
        if not all(math.isfinite(a) for a in args):
            continue  # propagated from below; the cause was reported there
        return _why(n, args, v)
    return "no non-finite value"


def _why(n: Node, args: list[float], v: float) -> str:
    if isinstance(n, Call):
        a = args[0]
        if n.func == "sqrt":
            return f"sqrt of a negative number ({_show(a)})"
        if n.func == "log":
            return "log of zero" if a == 0 else f"log of a negative number ({_show(a)})"
        if n.func == "exp":
            return f"exp overflows ({_show(a)})"
        if n.func == "norminv":
            return f"norminv of {_show(a)} (defined for probabilities in [0, 1])"
        if n.func == "logit":
            return f"logit of {_show(a)} (defined for probabilities in [0, 1])"
        if n.func == "round":
            return "round() with digits that are not a whole number"
        return f"{n.func} gives {v}"
    if isinstance(n, BinOp):
        a, b = args
        if n.op == "/":
            if b == 0:
                what = "0 / 0" if a == 0 else f"{_show(a)} / 0"
                return f"division by zero ({what})"
            return f"division overflows ({_show(a)} / {_show(b)})"
        if n.op == "**":
            if a < 0:
                return f"a negative number to a fractional power ({_show(a)} ** {_show(b)})"
            if a == 0 and b < 0:
                return f"zero to a negative power (0 ** {_show(b)})"
            return f"power overflows ({_show(a)} ** {_show(b)})"
        return f"{n.op} overflows ({_show(a)} {n.op} {_show(b)})"
    return f"gives {v}"
