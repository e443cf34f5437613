"""The model-file expression language: arithmetic equals a direct evaluation of the
generated tree; garbage and every forbidden construct give ExpressionError only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mkba_sim.model.expressions import (
    FUNCTIONS,
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_TERMS,
    BinOp,
    Call,
    ExpressionError,
    Neg,
    Num,
    Ref,
    evaluate,
    names,
    parse_expression,
)

SETTINGS = settings(
    deadline=None, max_examples=200, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)

ENV = {"a": 1.5, "b": -2.0, "clients": 69.0, "x_1": 0.25, "big": 1e300, "zero": 0.0}


# --------------------------------------------------------------------------- a test-side tree


@dataclass(frozen=True)
class T:
    """An expression as the test builds it: kind, payload, children."""

    kind: str  # num | name | bin | neg | call
    val: Any = None  # number, name, operator or function name
    kids: tuple[T, ...] = ()


# precedence as in Python's grammar: + - < * / < unary - < **
_PREC = {"+": 1, "-": 1, "*": 2, "/": 2, "neg": 3, "**": 4}


def _prec(t: T) -> int:
    if t.kind == "bin":
        return _PREC[t.val]
    if t.kind == "neg":
        return _PREC["neg"]
    return 5  # atoms and calls


def render(t: T, minimal: bool) -> str:
    """Source text; ``minimal`` uses only the parentheses Python's precedence needs."""
    if t.kind == "num":
        return repr(t.val)
    if t.kind == "name":
        return t.val
    if t.kind == "call":
        return f"{t.val}({', '.join(render(k, minimal) for k in t.kids)})"
    if t.kind == "neg":
        (x,) = t.kids
        inner = render(x, minimal)
        # -x needs parentheses around x unless x binds at least as tightly as unary minus
        need = not minimal or _prec(x) < _PREC["neg"]
        return f"-({inner})" if need else f"-{inner}"
    left, right = t.kids
    p = _PREC[t.val]
    ls, rs = render(left, minimal), render(right, minimal)
    if t.val == "**":  # right-associative; its left operand may not be a bare unary minus
        lneed = _prec(left) <= p
        rneed = _prec(right) < _PREC["neg"]
    else:  # left-associative
        lneed = _prec(left) < p
        rneed = _prec(right) <= p
    if not minimal or lneed:
        ls = f"({ls})"
    if not minimal or rneed:
        rs = f"({rs})"
    return f"{ls} {t.val} {rs}"


def reference(t: T, env: dict[str, float]) -> np.float64:
    """Evaluate the test's own tree with float64 arithmetic (no parser, no eval)."""
    with np.errstate(all="ignore"):
        if t.kind == "num":
            return np.float64(t.val)
        if t.kind == "name":
            return np.float64(env[t.val])
        if t.kind == "neg":
            return -reference(t.kids[0], env)
        args = [reference(k, env) for k in t.kids]
        if t.kind == "bin":
            a, b = args
            return {
                "+": np.add,
                "-": np.subtract,
                "*": np.multiply,
                "/": np.divide,
                "**": np.power,
            }[t.val](a, b)
        if t.val in ("min", "max"):
            acc = args[0]
            for x in args[1:]:
                acc = np.minimum(acc, x) if t.val == "min" else np.maximum(acc, x)
            return acc
        return {"abs": np.abs, "exp": np.exp, "log": np.log, "sqrt": np.sqrt}[t.val](args[0])


def tree_names(t: T) -> set[str]:
    own = {t.val} if t.kind == "name" else set()
    return own.union(*(tree_names(k) for k in t.kids))


numbers = st.one_of(
    st.integers(0, 10**6),
    st.floats(0, 1e6, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.5, 1e-3, 2.5e-7, 1e20]),
)
leaves = st.one_of(
    numbers.map(lambda v: T("num", v)),
    st.sampled_from(sorted(ENV)).map(lambda n: T("name", n)),
)


def _extend(children: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    return st.one_of(
        st.tuples(st.sampled_from(["+", "-", "*", "/", "**"]), children, children).map(
            lambda x: T("bin", x[0], (x[1], x[2]))
        ),
        children.map(lambda c: T("neg", None, (c,))),
        st.tuples(st.sampled_from(["abs", "exp", "log", "sqrt"]), children).map(
            lambda x: T("call", x[0], (x[1],))
        ),
        st.tuples(st.sampled_from(["min", "max"]), st.lists(children, min_size=2, max_size=3)).map(
            lambda x: T("call", x[0], tuple(x[1]))
        ),
    )


trees = st.recursive(leaves, _extend, max_leaves=24)


def _same(got: Any, want: Any) -> None:
    np.testing.assert_array_equal(np.float64(got), np.float64(want))  # nan == nan here


@SETTINGS
@given(trees, st.booleans())
def test_evaluate_equals_direct_evaluation_of_the_tree(t: T, minimal: bool) -> None:
    text = render(t, minimal)
    if len(text) > MAX_LENGTH:
        return
    node = parse_expression(text)
    with np.errstate(all="ignore"):
        _same(evaluate(node, ENV), reference(t, ENV))
    assert names(node) == tree_names(t)


@SETTINGS
@given(trees)
def test_evaluate_broadcasts_over_draws(t: T) -> None:
    """Arrays of draws evaluate elementwise, as the engine's NumPy path uses them."""
    text = render(t, True)
    if len(text) > MAX_LENGTH:
        return
    node = parse_expression(text)
    envs = [ENV, {**ENV, "a": -0.5, "clients": 12.0}, {**ENV, "b": 3.0, "x_1": -1.0}]
    arrays = {k: np.array([e[k] for e in envs]) for k in ENV}
    with np.errstate(all="ignore"):
        got = np.broadcast_to(evaluate(node, arrays), (3,))
        for i, e in enumerate(envs):
            _same(got[i], reference(t, e))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1 + 2 * 3", 7.0),
        ("(1 + 2) * 3", 9.0),
        ("2 ** 3 ** 2", 512.0),
        ("-2 ** 2", -4.0),
        ("2 ** -1", 0.5),
        ("10 / 4 / 5", 0.5),
        ("10 - 4 - 5", 1.0),
        ("+a", 1.5),
        ("--a", 1.5),
        ("clients * a / 3", 34.5),
        ("max(1, a, b)", 1.5),
        ("min(1, a, b)", -2.0),
        ("abs(b)", 2.0),
        ("sqrt(clients - 5)", 8.0),
        ("exp(zero) + log(1)", 1.0),
        ("1_000 * 2", 2000.0),
        ("1e3", 1000.0),
        (7, 7.0),
        (2.5, 2.5),
        ("1 / zero", np.inf),
        ("-1 / zero", -np.inf),
        ("zero / zero", np.nan),
        ("log(b)", np.nan),
        ("big * big", np.inf),
    ],
)
def test_known_values(text: str | float, value: float) -> None:
    with np.errstate(all="ignore"):
        _same(evaluate(parse_expression(text), ENV), value)


def test_tree_shape() -> None:
    assert parse_expression("-a * max(b, 2)") == BinOp(
        "*", Neg(Ref("a")), Call("max", (Ref("b"), Num(2.0)))
    )


# --------------------------------------------------------------------------- garbage


def _only_expression_error(text: Any) -> None:
    try:
        node = parse_expression(text)
    except ExpressionError as exc:
        assert str(exc)
        return
    # accepted: then it is a tree of the allowed nodes over names
    assert isinstance(node, Num | Ref | BinOp | Neg | Call)


@SETTINGS
@given(st.text())
def test_garbage_text_only_raises_expression_error(text: str) -> None:
    _only_expression_error(text)


@SETTINGS
@given(st.text(alphabet="0123456789+-*/().,ab _e\n\t:=<>![]'\"{}@%~&|^#\\", max_size=60))
def test_garbage_syntax_only_raises_expression_error(text: str) -> None:
    _only_expression_error(text)


@SETTINGS
@given(
    st.lists(
        st.sampled_from(
            [
                "a",
                "1",
                "+",
                "-",
                "*",
                "/",
                "**",
                "(",
                ")",
                ",",
                "max",
                "exp",
                ".",
                "[",
                "]",
                "'x'",
                " ",
                "lambda",
                ":",
                "if",
                "else",
                "<",
                "and",
                "1e308",
                "1e309",
                "9" * 400,
            ]
        ),
        max_size=40,
    ).map("".join)
)
def test_garbage_tokens_only_raise_expression_error(text: str) -> None:
    _only_expression_error(text)


@SETTINGS
@given(
    st.one_of(
        st.none(),
        st.booleans(),
        st.floats(),
        st.integers(),
        st.binary(),
        st.lists(st.integers()),
        st.dictionaries(st.text(), st.integers()),
    )
)
def test_non_text_values_only_raise_expression_error(value: Any) -> None:
    _only_expression_error(value)


# --------------------------------------------------------------------------- forbidden


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("__import__('os').system('x')", "calling an expression (Attribute) is not allowed"),
        ("a.b", "Attribute is not allowed"),
        ("a.__class__", "Attribute is not allowed"),
        ("().__class__.__bases__[0]", "not allowed"),
        ("a[0]", "Subscript is not allowed"),
        ("lambda: 1", "Lambda is not allowed"),
        ("(lambda: 1)()", "calling an expression (Lambda) is not allowed"),
        ("[x for x in y]", "ListComp is not allowed"),
        ("(x for x in y)", "GeneratorExp is not allowed"),
        ("{x: 1 for x in y}", "DictComp is not allowed"),
        ("'abc'", "only numbers are allowed as constants"),
        ("b'abc'", "only numbers are allowed as constants"),
        ("a + 'abc'", "only numbers are allowed as constants"),
        ("a < b", "only allowed as the condition of where"),
        ("a == b", "only allowed as the condition of where"),
        ("a and b", "only allowed as the condition of where"),
        ("not a", "only allowed as the condition of where"),
        ("where(a, 1, 2)", "must be a comparison"),
        ("where(a < b, c < d, 2)", "only allowed as the condition of where"),
        ("where(a is b, 1, 2)", "comparison Is is not allowed"),
        ("where(a in b, 1, 2)", "comparison In is not allowed"),
        ("(x := 1)", "NamedExpr is not allowed"),
        ("f'{a}'", "JoinedStr is not allowed"),
        ("a if b else 1", "IfExp is not allowed"),
        ("open('f')", "function 'open' is not allowed"),
        ("eval('1')", "function 'eval' is not allowed"),
        ("getattr(a, 'b')", "function 'getattr' is not allowed"),
        ("max(a, b, key=1)", "keyword arguments are not allowed"),
        ("max(*a)", "starred arguments are not allowed"),
        ("sqrt(1, 2)", "sqrt() takes 1 argument(s), got 2"),
        ("min(1)", "min() takes at least 2 argument(s), got 1"),
        ("a % 2", "operator Mod is not allowed"),
        ("a // 2", "operator FloorDiv is not allowed"),
        ("a @ b", "operator MatMult is not allowed"),
        ("a << 1", "operator LShift is not allowed"),
        ("~a", "operator Invert is not allowed"),
        ("True", "only numbers are allowed as constants"),
        ("None", "only numbers are allowed as constants"),
        ("...", "only numbers are allowed as constants"),
        ("1j", "only numbers are allowed as constants"),
        ("1e999", "finite"),
        ("1" + "0" * 400, "finite"),
        ("[1]", "List is not allowed"),
        ("(1, 2)", "Tuple is not allowed"),
        ("{1: 2}", "Dict is not allowed"),
        ("await a", "Await is not allowed"),
        ("import os", "not a valid expression"),
        ("yield 1", "not a valid expression"),
        ("1; 2", "not a valid expression"),
        ("x\x00", "not a valid expression"),
        ("", "expression is empty"),
        ("  \n ", "expression is empty"),
        ("(" * 500 + "1" + ")" * 500, "too many nested parentheses"),
        ("-" * (MAX_DEPTH + 5) + "1", f"nested more than {MAX_DEPTH} levels"),
        ("+".join(["a"] * (MAX_TERMS + 1)), f"more than {MAX_TERMS} terms"),
        ("*".join(["a"] * (MAX_TERMS + 1)), f"more than {MAX_TERMS} terms"),
        # CPython's parser may or may not run out of stack on this one (it depends on the
        # thread's stack): either limit gives a message with the same advice
        ("1-" * 5000 + "1", "split it into [derived] quantities"),
        ("sqrt(" * 70 + "1" + ")" * 70, f"nested more than {MAX_DEPTH} levels"),
        ("1+" * MAX_LENGTH + "1", f"longer than {MAX_LENGTH} characters"),
        (" " * (MAX_LENGTH + 1) + "1", f"longer than {MAX_LENGTH} characters"),
        (True, "expected an expression or a number"),
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        (None, "expected an expression or a number"),
        (["a"], "expected an expression or a number"),
    ],
)
def test_forbidden_construct_is_refused_with_a_message(text: Any, needle: str) -> None:
    with pytest.raises(ExpressionError) as info:
        parse_expression(text)
    msg = str(info.value)
    assert needle in msg
    assert len(msg) < 300  # one readable line, even for a 2000-character input
    assert "\n" not in msg


def test_every_allowed_function_parses() -> None:
    for f, (lo, _hi) in FUNCTIONS.items():
        if f == "where":  # its first argument is a condition
            continue
        args = ", ".join(["a"] * lo)
        assert parse_expression(f"{f}({args})") == Call(f, tuple(Ref("a") for _ in range(lo)))


def test_nothing_is_executed() -> None:
    """A refused expression has no side effects (the parser never evaluates text)."""
    import builtins

    before = dict(vars(builtins))
    for text in ("__import__('os').system('touch /tmp/mkba_pwned')", "exec('x=1')", "a.b()"):
        with pytest.raises(ExpressionError):
            parse_expression(text)
    assert dict(vars(builtins)).keys() == before.keys()
