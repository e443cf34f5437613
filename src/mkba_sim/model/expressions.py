"""The expression language of model files: arithmetic over names, nothing more.

Text is parsed with :func:`ast.parse` and converted node by node into the small tree
below; any node type outside the whitelist is refused with a message saying what was
found. The tree is evaluated by :func:`evaluate` (NumPy) or turned into kernel source
by the engine; Python never evaluates model text.
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
    "MAX_LENGTH",
    "BinOp",
    "Call",
    "ExpressionError",
    "Neg",
    "Node",
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


Node = Num | Ref | BinOp | Neg | Call

# name -> (min args, max args or None for variadic)
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "abs": (1, 1),
    "exp": (1, 1),
    "log": (1, 1),
    "sqrt": (1, 1),
    "min": (2, None),
    "max": (2, None),
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
        return Call(node.func.id, tuple(_convert(a, depth + 1) for a in node.args))
    raise ExpressionError(
        f"{type(node).__name__} is not allowed in an expression; only "
        "numbers, names, + - * / **, parentheses and "
        f"{', '.join(sorted(FUNCTIONS))}"
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
    if isinstance(node, BinOp):
        return (node.left, node.right)
    if isinstance(node, Neg):
        return (node.operand,)
    if isinstance(node, Call):
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


_NP_FUNCS: dict[str, Callable[..., Any]] = {
    "abs": np.abs,
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
}


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
    if node.func == "min":
        return _fold(np.minimum, args)
    if node.func == "max":
        return _fold(np.maximum, args)
    return _NP_FUNCS[node.func](args[0])


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
        kids: tuple[Node, ...] = ()
        if isinstance(n, BinOp):
            kids = (n.left, n.right)
        elif isinstance(n, Neg):
            kids = (n.operand,)
        elif isinstance(n, Call):
            kids = n.args
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
