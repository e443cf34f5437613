"""Bad model files give one ModelFileError naming the file, the dotted key and the problem.

The table below writes small TOML files into ``tmp_path``; hypothesis then throws random
structures at :func:`mkba_sim.model.build_model` and random text at
:func:`mkba_sim.loads_model`, which must only ever raise ``ModelFileError``.
"""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mkba_sim
from mkba_sim import MkbaError, ModelFileError
from mkba_sim.model import build_model

REPO = Path(__file__).resolve().parent.parent

SETTINGS = settings(
    deadline=None,
    max_examples=200,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# --------------------------------------------------------------------------- TOML pieces

HEAD = """
[model]
title = "Test model"
price_year = 2020
horizon_years = 2
discount_rate = 0.0
"""
POPS = """
[populations]
clients = 10
"""
SALARY = """
[parameters.salary]
dist = "normal"
mean = 100
sd = 10
published = 100
unit = "EUR/(client*year)"
source = "test"
"""
ITEM = """
[[items]]
name = "salaries"
side = "cost"
stakeholder = "city"
value = "clients * salary"
years = [1, 2]
"""


def model(
    *,
    top: str = "",
    head: str = HEAD,
    pops: str = POPS,
    params: str = SALARY,
    extra: str = "",
    items: str = ITEM,
) -> str:
    """A small valid model, with any piece replaced."""
    return top + head + pops + params + extra + items


def param(name: str, body: str, *, source: bool = True, published: str | None = "1") -> str:
    lines = [f"[parameters.{name}]", body.strip()]
    if published is not None:
        lines.append(f"published = {published}")
    if source:
        lines.append('source = "test"')
    return "\n" + "\n".join(lines) + "\n"


def item(name: str, value: str, years: str = "[1]", more: str = "") -> str:
    return (
        f'\n[[items]]\nname = "{name}"\nside = "cost"\nstakeholder = "city"\n'
        f"value = {value}\nyears = {years}\n{more}\n"
    )


EFFECT = param("effect", 'dist = "effect_size"\nd = 0.33\nci95 = [0.14, 0.53]\nconvert = "besd"')
TWO_MORE = param("p0", 'dist = "beta"\nalpha = 5\nbeta = 5', published="0.5") + param(
    "lam", 'dist = "gamma"\nshape = 8\nrate = 6'
)

# (id, text, dotted key, words the problem must contain)
CASES: list[tuple[str, str, str, list[str]]] = [
    # --- families and keys
    (
        "unknown-distribution",
        model(params=SALARY.replace('"normal"', '"gauss"')),
        "parameters.salary.dist",
        ["unknown distribution 'gauss'", "normal"],
    ),
    ("unknown-key-top-level", model(top="bogus = 1\n"), "bogus", ["unknown key"]),
    ("unknown-key-model", model(head=HEAD + "titel = 'x'\n"), "model.titel", ["unknown key"]),
    (
        "unknown-key-parameter",
        model(params=SALARY + 'colour = "red"\n'),
        "parameters.salary.colour",
        ["unknown key for dist = 'normal'", "mean, sd"],
    ),
    (
        "unknown-key-item",
        model(items=ITEM + "colour = 1\n"),
        "items[0] ('salaries').colour",
        ["unknown key"],
    ),
    (
        "mixed-parametrisations",
        model(params=SALARY + "interval = [1, 2]\n"),
        "parameters.salary",
        ["exactly one parametrisation"],
    ),
    # --- intervals with inverted bounds
    (
        "normal-interval-inverted",
        model(params=param("salary", 'dist = "normal"\ninterval = [30, 10]\nunit = "EUR/year"')),
        "parameters.salary.interval",
        ["inverted", "[30.0, 10.0]"],
    ),
    (
        "effect-size-ci-inverted",
        model(extra=EFFECT.replace("[0.14, 0.53]", "[0.53, 0.14]")),
        "parameters.effect.ci95",
        ["inverted"],
    ),
    (
        "effect-size-outside-ci",
        model(extra=EFFECT.replace("d = 0.33", "d = 0.9")),
        "parameters.effect.d",
        ["outside its CI"],
    ),
    (
        "triangular-low-above-high",
        model(extra=param("cost", 'dist = "triangular"\nlow = 3\nmode = 2\nhigh = 1')),
        "parameters.cost.high",
        ["low must be below high"],
    ),
    (
        "uniform-low-above-high",
        model(extra=param("cost", 'dist = "uniform"\nlow = 5\nhigh = 1')),
        "parameters.cost.high",
        ["low must be below high", "low=5.0, high=1.0"],
    ),
    (
        "interval-mass-outside",
        model(params=SALARY.replace("mean = 100\nsd = 10", "interval = [90, 110]\nmass = 95")),
        "parameters.salary.mass",
        ["strictly between 0 and 1"],
    ),
    # --- probabilities outside [0, 1]
    (
        "beta-mean-above-one",
        model(extra=param("p", 'dist = "beta"\nmean = 1.5\nsd = 0.1')),
        "parameters.p.mean",
        ["probability", "1.5"],
    ),
    (
        "beta-published-above-one",
        model(extra=param("p", 'dist = "beta"\nalpha = 2\nbeta = 2', published="1.2")),
        "parameters.p.published",
        ["1.2", "probability in [0, 1]"],
    ),
    (
        "beta-published-low-negative",
        model(extra=param("p", 'dist = "beta"\nalpha = 2\nbeta = 2\npublished_low = -0.1')),
        "parameters.p.published_low",
        ["probability in [0, 1]"],
    ),
    (
        "success-rate-base-rate",
        model(
            extra=EFFECT.replace('"besd"', '"success_rate"\nbase_rate = 1.3'),
        ),
        "parameters.effect.base_rate",
        ["probability", "1.3"],
    ),
    # --- values
    (
        "negative-sd",
        model(params=SALARY.replace("sd = 10", "sd = -10")),
        "parameters.salary.sd",
        ["must be > 0", "-10"],
    ),
    (
        "non-numeric-mean",
        model(params=SALARY.replace("mean = 100", 'mean = "abc"')),
        "parameters.salary.mean",
        ["refers to undefined name 'abc'"],  # a text value is an expression (issue 9)
    ),
    (
        "non-numeric-published",
        model(params=SALARY.replace("published = 100", 'published = "x"')),
        "parameters.salary.published",
        ["must be a finite number", "'x'"],
    ),
    (
        "boolean-published",
        model(params=SALARY.replace("published = 100", "published = true")),
        "parameters.salary.published",
        ["must be a finite number, got True"],
    ),
    (
        "non-numeric-population",
        model(pops='\n[populations]\nclients = "ten"\n'),
        "populations.clients",
        ["valid number", "'ten'"],
    ),
    (
        "negative-population",
        model(pops="\n[populations]\nclients = -3\n"),
        "populations.clients",
        ["cannot be negative"],
    ),
    (
        "nan-population",
        model(pops="\n[populations]\nclients = nan\n"),
        "populations.clients",
        ["finite"],
    ),
    (
        "huge-integer",
        model(params=SALARY.replace("published = 100", "published = 1" + "0" * 400)),
        "parameters.salary.published",
        ["finite number", "too large"],
    ),
    (
        "extreme-magnitudes",
        model(extra=param("p", 'dist = "beta"\nmean = 0.5\nsd = 1e-200', published="0.5")),
        "parameters.p",
        ["cannot build a beta distribution"],
    ),
    (
        "hedges-n-too-small",
        model(extra=param("g", 'dist = "effect_size"\ng = 0.5\nse = 0.1\nn = 3')),
        "parameters.g.n",
        ["exceed 3"],
    ),
    (
        "poisson-too-large",
        model(extra=param("k", 'dist = "poisson"\nmean = 1e12')),
        "parameters.k.mean",
        ["too many for a count table"],
    ),
    # --- references
    (
        "undefined-derived",
        model(extra='\n[derived]\ntotal = "clients * salry"\n'),
        "derived.total",
        ["undefined name 'salry'", "did you mean 'salary'?"],
    ),
    (
        "undefined-item",
        model(items=ITEM.replace("clients * salary", "clients * salray")),
        "items[0] ('salaries').value",
        ["undefined name 'salray'", "did you mean 'salary'?"],
    ),
    (
        "circular",
        model(extra='\n[derived]\na = "b + 1"\nb = "2 * a"\n'),
        "derived.a",
        ["circular reference: a -> b -> a"],
    ),
    (
        "circular-three",
        model(extra='\n[derived]\na = "b + 1"\nb = "c"\nc = "a * salary"\n'),
        "derived.a",
        ["circular reference: a -> b -> c -> a"],
    ),
    (
        "self-reference",
        model(extra='\n[derived]\na = "a + 1"\n'),
        "derived.a",
        ["circular reference: a -> a"],
    ),
    # --- units
    (
        "unit-mismatch-derived",
        model(
            extra=param("fee", 'dist = "fixed"\nvalue = 5\nunit = "EUR/offence"', published=None)
            + '\n[derived]\ntotal = "salary + fee"\n'
        ),
        "derived.total",
        ["unit mismatch", "eur/(client*year)", "eur/offence"],
    ),
    (
        "item-not-money",
        model(
            extra=param("offences", 'dist = "gamma"\nshape = 8\nrate = 6\nunit = "offences"'),
            items=item("crime", '"offences"'),
        ),
        "items[0] ('crime').value",
        ["evaluates to offence", "must be money"],
    ),
    (
        "bad-unit-text",
        model(params=SALARY.replace('"EUR/(client*year)"', '"EUR/ye ar$"')),
        "parameters.salary.unit",
        ["cannot read unit"],
    ),
    # --- expressions
    (
        "forbidden-expression",
        model(extra="\n[derived]\nx = \"__import__('os').system('x')\"\n"),
        "derived.x",
        ["not allowed"],
    ),
    (
        "forbidden-item-expression",
        model(items=ITEM.replace('"clients * salary"', '"salary if clients else 0"')),
        "items[0] ('salaries').value",
        ["IfExp is not allowed"],
    ),
    # --- required keys
    (
        "missing-source",
        model(params=SALARY.replace('source = "test"\n', "")),
        "parameters.salary.source",
        ["is required", "where the number comes from"],
    ),
    (
        "missing-title",
        model(head=HEAD.replace('title = "Test model"\n', "")),
        "model.title",
        ["required"],
    ),
    # --- ledger
    (
        "years-outside-horizon",
        model(items=ITEM.replace("[1, 2]", "[1, 3]")),
        "items[0] ('salaries').years",
        ["year 3 is outside 1..horizon_years = 2"],
    ),
    (
        "bad-side",
        model(items=ITEM.replace('"cost"', '"profit"')),
        "items[0] ('salaries').side",
        ["'cost'", "'benefit'"],
    ),
    # --- names
    (
        "duplicate-name",
        model(pops="\n[populations]\nclients = 10\nsalary = 3\n"),
        "parameters.salary",
        ["also defined in [populations]"],
    ),
    (
        "duplicate-item",
        model(items=ITEM + ITEM),
        "items[1] ('salaries')",
        ["two items are called 'salaries'"],
    ),
    (
        "reserved-name",
        model(extra='\n[derived]\nnet = "1"\n'),
        "derived.net",
        ["reserved"],
    ),
    # --- scenarios
    (
        "scenario-extends-unknown",
        model(extra='\n[scenarios.low]\nextends = "hgh"\n\n[scenarios.high]\n'),
        "scenarios.low.extends",
        ["unknown scenario 'hgh'", "did you mean 'high'?"],
    ),
    (
        "scenario-extends-circular",
        model(extra='\n[scenarios.a]\nextends = "b"\n\n[scenarios.b]\nextends = "a"\n'),
        "scenarios.a.extends",
        ["circle: a -> b -> a"],
    ),
    (
        "scenario-drop-unknown-item",
        model(extra='\n[scenarios.low]\ndrop_items = ["salary"]\n'),
        "scenarios.low.drop_items[0]",
        ["no item called 'salary'", "did you mean 'salaries'?"],
    ),
    (
        "scenario-bad-parameter",
        model(
            extra='\n[scenarios.low.parameters.salary]\ndist = "normal"\nmean = 1\nsd = 0\n'
            'published = 1\nsource = "s"\n'
        ),
        "scenarios.low.parameters.salary.sd",
        ["must be > 0"],
    ),
    (
        "scenario-named-base",
        model(extra="\n[scenarios.base]\n"),
        "scenarios.base",
        ["reserved"],
    ),
    # --- correlations
    (
        "correlation-not-symmetric",
        model(
            extra=TWO_MORE
            + '\n[[correlations]]\nnames = ["p0", "lam"]\nmatrix = [[1.0, 0.5], [0.4, 1.0]]\n'
        ),
        "correlations[0].matrix",
        ["not symmetric"],
    ),
    (
        "correlation-not-positive-definite",
        model(
            extra=TWO_MORE + '\n[[correlations]]\nnames = ["p0", "lam", "salary"]\n'
            "matrix = [[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]]\n"
        ),
        "correlations[0].matrix",
        ["not positive definite"],
    ),
    (
        "correlation-unknown-name",
        model(
            extra=TWO_MORE
            + '\n[[correlations]]\nnames = ["p0", "lamb"]\nmatrix = [[1.0, 0.5], [0.5, 1.0]]\n'
        ),
        "correlations[0].names[1]",
        ["no parameter called 'lamb'", "did you mean 'lam'?"],
    ),
    (
        "correlation-ragged-matrix",
        model(
            extra=TWO_MORE
            + '\n[[correlations]]\nnames = ["p0", "lam"]\nmatrix = [[1.0, 0.5], [0.5]]\n'
        ),
        "correlations[0].matrix",
        ["must be 2×2"],
    ),
    (
        "correlation-fixed-parameter",
        model(
            extra=param("c", 'dist = "fixed"\nvalue = 2', published=None)
            + TWO_MORE
            + '\n[[correlations]]\nnames = ["p0", "c"]\nmatrix = [[1.0, 0.5], [0.5, 1.0]]\n'
        ),
        "correlations[0].names[1]",
        ["only sampled parameters can be correlated"],
    ),
    # --- published figures
    (
        "published-unknown-quantity",
        model(extra='\n[[published]]\nquantity = "nett"\nvalue = 1\nsource = "t"\n'),
        "published[0].quantity",
        ["'nett'", "did you mean 'net'?"],
    ),
]


@pytest.mark.parametrize(
    ("text", "key", "needles"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_model_file_names_file_key_and_problem(
    tmp_path: Path, text: str, key: str, needles: list[str]
) -> None:
    path = tmp_path / "bad_model.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ModelFileError) as info:
        mkba_sim.load_model(path)
    err = info.value
    msg = str(err)
    assert err.path == str(path)
    assert err.key == key
    assert msg.startswith(f"{path}: {key}: ")
    for needle in needles:
        assert needle in msg, msg
    assert "\n" not in msg


def test_the_cases_start_from_a_valid_model(tmp_path: Path) -> None:
    path = tmp_path / "good.toml"
    path.write_text(model(extra=EFFECT + TWO_MORE), encoding="utf-8")
    m = mkba_sim.load_model(path)
    assert set(m.base.parameters) == {"salary", "effect", "p0", "lam"}
    assert m.path == str(path)


def test_invalid_toml_syntax(tmp_path: Path) -> None:
    path = tmp_path / "syntax.toml"
    path.write_text(model() + "\nx = = 1\n", encoding="utf-8")
    with pytest.raises(ModelFileError, match="not valid TOML") as info:
        mkba_sim.load_model(path)
    assert str(info.value).startswith(f"{path}: ")
    assert "line" in str(info.value)


def test_file_not_found(tmp_path: Path) -> None:
    path = tmp_path / "missing.toml"
    with pytest.raises(ModelFileError, match="file not found") as info:
        mkba_sim.load_model(path)
    assert str(path) in str(info.value)


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="cannot read file") as info:
        mkba_sim.load_model(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_non_utf8_bytes(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(model().replace("Test model", "Modèle").encode("latin-1"))
    with pytest.raises(ModelFileError, match="not UTF-8") as info:
        mkba_sim.load_model(path)
    assert str(path) in str(info.value)


def test_integer_beyond_python_digit_limit() -> None:
    """tomllib raises a plain ValueError for integers over 4300 digits."""
    with pytest.raises(ModelFileError, match="not valid TOML"):
        mkba_sim.loads_model("x = 1" + "0" * 5000, path="x.toml")


def test_model_file_error_is_an_mkba_error() -> None:
    assert issubclass(ModelFileError, MkbaError)


# --------------------------------------------------------------------------- hypothesis


def valid_doc() -> dict[str, Any]:
    """A valid model touching every section, as the parsed TOML dict."""

    def p(**kw: Any) -> dict[str, Any]:
        return {"source": "s", **kw}

    return {
        "model": {"title": "T", "price_year": 2020, "horizon_years": 3, "discount_rate": 0.03},
        "populations": {"clients": 69, "interviewed": 12},
        "parameters": {
            "salary": p(dist="normal", mean=99_000, sd=5_000, published=99_000, unit="EUR/year"),
            "cost_per_offence": p(
                dist="triangular",
                low=500,
                mode=1_000,
                high=1_500,
                published=500,
                unit="EUR/offence",
            ),
            "effect": p(
                dist="effect_size", d=0.33, ci95=[0.14, 0.53], convert="besd", published=0.16
            ),
            "p0": p(dist="beta", mean=0.5, sd=0.1, published=0.5),
            "offences": p(dist="gamma", shape=8, rate=6, published=1.33, unit="offences"),
            "incidents": p(dist="poisson", mean=2.7, published=3),
            "scale": p(dist="discrete", values=[1, 2, 3], weights=[1, 1, 2], published=2),
            "width": p(dist="lognormal", interval=[1, 4], mass=0.9, published=2),
        },
        "derived": {
            "extrapolation": "clients / interviewed",
            "avoided": {"expr": "offences * effect * p0", "unit": "offences"},
        },
        "items": [
            {
                "name": "coordinator",
                "side": "cost",
                "stakeholder": "city",
                "value": "salary",
                "years": [1, 2],
                "unit": "EUR/year",
                "source": "s",
            },
            {
                "name": "avoided offence costs",
                "side": "benefit",
                "stakeholder": "justice",
                "value": "extrapolation * avoided * cost_per_offence * scale",
                "years": [1, 2, 3],
                "decay": 0.1,
            },
            {"name": "one-off", "side": "cost", "stakeholder": "city", "value": 1000, "years": [1]},
        ],
        "pm": [{"name": "wellbeing", "side": "benefit", "note": "n"}],
        "scenarios": {
            "low": {
                "description": "d",
                "model": {"discount_rate": 0.0},
                "populations": {"clients": 12},
                "parameters": {"salary": p(dist="fixed", value=90_000)},
                "derived": {"extrapolation": "1"},
                "drop_items": ["one-off"],
                "items": [
                    {
                        "name": "extra",
                        "side": "cost",
                        "stakeholder": "x",
                        "value": "incidents * 10",
                        "years": [1],
                    }
                ],
            },
            "lower": {"extends": "low", "populations": {"clients": 6}},
        },
        "correlations": [
            {"kind": "spearman", "names": ["p0", "offences"], "matrix": [[1, 0.4], [0.4, 1]]}
        ],
        "published": [
            {"quantity": "net", "value": 0, "source": "s"},
            {"quantity": "coordinator", "scenario": "low", "value": 0, "low": 1, "source": "s"},
        ],
    }


def test_valid_doc_builds() -> None:
    m = build_model(valid_doc(), path="x.toml")
    assert set(m.scenarios) == {"base", "low", "lower"}
    assert mkba_sim.replicate(m)


KEYS = [
    "model", "title", "price_year", "horizon_years", "discount_rate", "populations",
    "parameters", "derived", "items", "scenarios", "correlations", "published", "dist",
    "mean", "sd", "published", "source", "unit", "value", "years", "name", "side", "interval",
    "mass", "expr", "extends", "drop_items", "names", "matrix", "quantity", "ci95", "d",
    "convert", "base_rate", "alpha", "beta", "weights", "values", "clients",
]  # fmt: skip
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**300, max_value=10**400),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(["normal", "beta", "fixed", "effect_size", "EUR/year", "a + b", "clients",
                     "base", "low", "net", "besd", "success_rate", "1/0", "-1"]),
)  # fmt: skip
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=10))
garbage = st.recursive(
    scalars,
    lambda c: st.one_of(st.lists(c, max_size=4), st.dictionaries(keys, c, max_size=4)),
    max_leaves=12,
)


def _only_model_file_error(raw: Any) -> None:
    try:
        m = build_model(raw, path="x.toml")
    except ModelFileError as exc:
        assert str(exc).startswith("x.toml")
        return
    # it validated: replication must then work or say why, as an MkbaError
    with contextlib.suppress(MkbaError):
        mkba_sim.replicate(m)


@SETTINGS
@given(garbage)
def test_random_structures_only_raise_model_file_error(raw: Any) -> None:
    _only_model_file_error(raw)


@SETTINGS
@given(st.dictionaries(keys, garbage, max_size=6))
def test_random_top_level_tables_only_raise_model_file_error(raw: dict[str, Any]) -> None:
    _only_model_file_error(raw)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


@SETTINGS
@given(st.data())
def test_mutated_valid_model_only_raises_model_file_error(data: st.DataObject) -> None:
    """Replace, delete or add at a random place in a valid model: reaches every validator."""
    doc = valid_doc()
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(doc)[1:]))
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        last = path[-1]
        action = data.draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[last] = data.draw(garbage)
        elif action == "delete":
            del parent[last]
        elif isinstance(parent[last], dict):
            parent[last][data.draw(keys)] = data.draw(garbage)
        elif isinstance(parent[last], list):
            parent[last].append(data.draw(garbage))
    _only_model_file_error(copy.deepcopy(doc))


@SETTINGS
@given(st.text())
def test_random_text_only_raises_model_file_error(text: str) -> None:
    try:
        mkba_sim.loads_model(text, path="x.toml")
    except ModelFileError as exc:
        assert str(exc).startswith("x.toml")


TOML_LINES = [
    "[model]", "[populations]", "[parameters.x]", "[[items]]", "[derived]", "[scenarios.s]",
    "[[correlations]]", "[[published]]", 'title = "t"', "price_year = 2020",
    "horizon_years = 2", 'dist = "normal"', "mean = 1", "sd = 1", "published = 1",
    'source = "s"', 'name = "i"', 'side = "cost"', 'stakeholder = "c"', 'value = "x"',
    "years = [1]", 'x = "x + 1"', "mean = nan", "sd = -inf", 'names = ["x", "x"]',
    "matrix = [[1, 0], [0]]", "interval = [2, 1]", 'extends = "s"', "clients = 1e400",
]  # fmt: skip
toml_lines = st.lists(
    st.one_of(st.sampled_from(TOML_LINES), st.text(max_size=15)), max_size=30
).map("\n".join)


@SETTINGS
@given(toml_lines)
def test_random_toml_lines_only_raise_model_file_error(text: str) -> None:
    try:
        mkba_sim.loads_model(text, path="x.toml")
    except ModelFileError as exc:
        assert str(exc).startswith("x.toml")


@SETTINGS
@given(st.binary(max_size=200))
def test_random_bytes_only_raise_model_file_error(data: bytes) -> None:
    with contextlib.suppress(ModelFileError):
        mkba_sim.loads_model(data, path="x.toml")


def test_a_posterior_parameter_may_name_its_prior(tmp_path: Path) -> None:
    """`prior = "NAME"` on a `dist = "posterior"` parameter is a name, not an expression."""
    text = (REPO / "models" / "nazorg_plus.toml").read_text(encoding="utf-8")
    anchor = 'variable = "expected_offences_avoided_per_year"\n'
    assert anchor in text
    path = tmp_path / "nazorg_prior.toml"
    path.write_text(text.replace(anchor, anchor + 'prior = "face_value"\n', 1), encoding="utf-8")
    (tmp_path / "data").mkdir()
    for f in (REPO / "models" / "data").iterdir():
        (tmp_path / "data" / f.name).write_bytes(f.read_bytes())
    model = mkba_sim.load_model(path)
    dist = model.scenarios["bayesian"].parameters["expected_offences_avoided_per_year"].dist
    assert dist.prior == "face_value"
