"""Fuzzing that reaches the whole path: generated model files through validate, replicate
and a 1,000-draw run; generated draws files through the reader; generated command lines
through the argument parser. The promise checked: a result, or one MkbaError — never
another exception.

Reproducible and fast: the ``mkba-fuzz`` hypothesis profile is derandomized (the same
examples on every machine), has no deadline and modest example counts (about 30 s in
all). Generated structures run on the NumPy reference path, which evaluates the same
expression trees as the compiled kernel without compiling one kernel per structure; one
fixed structure with generated numbers runs on the compiled kernel. A generated
model may legitimately produce non-finite values; for now that is a result too.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import mkba_sim
from mkba_sim.cli import build_parser, main
from mkba_sim.errors import MkbaError, ModelFileError
from mkba_sim.io.draws import read_draws

settings.register_profile(
    "mkba-fuzz",
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
        HealthCheck.filter_too_much,
    ],
)
FUZZ = settings.get_profile("mkba-fuzz")

# --------------------------------------------------------------------------- TOML text


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string of printable ASCII is a TOML basic string
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(type(v))


def to_toml(doc: dict[str, Any]) -> str:
    """A document as TOML: one line per top-level key, inline tables below."""
    return "\n".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in doc.items()) + "\n"


# --------------------------------------------------------------------------- strategies

NAMES = ["clients", "salary", "saving", "p", "x_1", "d", "net", "exp", "1bad", "a b"]
GOOD_NAMES = NAMES[:6]
TEXT = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=12)

numbers = st.one_of(
    st.integers(-5, 1000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 0.5, 1.0, 1e-300, 1e308, -1.0, 10**400]),
)
loose = st.one_of(numbers, TEXT, st.booleans(), st.lists(st.integers(0, 3), max_size=3))


def _expressions(names: list[str]) -> st.SearchStrategy[str]:
    leaf = st.one_of(
        st.sampled_from(names),
        st.sampled_from(["0", "1", "2.5", "1e308", "0.0", "0.5"]),
    )

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "**"]), inner).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            inner.map(lambda e: f"-{e}"),
            st.tuples(st.sampled_from(["abs", "exp", "log", "sqrt"]), inner).map(
                lambda t: f"{t[0]}({t[1]})"
            ),
            st.tuples(st.sampled_from(["min", "max"]), st.lists(inner, min_size=2, max_size=3)).map(
                lambda t: f"{t[0]}({', '.join(t[1])})"
            ),
            st.lists(inner, min_size=2, max_size=30).map(" + ".join),
        )

    return st.recursive(leaf, extend, max_leaves=40)


expressions = st.one_of(_expressions([*GOOD_NAMES, "nobody"]), TEXT)

FAMILIES: dict[str, list[str]] = {
    "fixed": ["value"],
    "normal": ["mean", "sd"],
    "lognormal": ["median", "sigma"],
    "beta": ["alpha", "beta"],
    "gamma": ["shape", "rate"],
    "uniform": ["low", "high"],
    "triangular": ["low", "mode", "high"],
    "pert": ["low", "mode", "high"],
    "poisson": ["mean"],
    "discrete": ["values", "weights"],
    "effect_size": ["d", "se", "convert"],
    "gauss": ["mean"],
}


@st.composite
def parameter(draw: st.DrawFn) -> dict[str, Any]:
    family = draw(st.sampled_from(sorted(FAMILIES)))
    body: dict[str, Any] = {"dist": family}
    for key in FAMILIES[family]:
        if key in ("values", "weights"):
            body[key] = draw(st.lists(st.floats(-10, 10), min_size=1, max_size=4))
        elif key == "convert":
            body[key] = draw(st.sampled_from(["none", "besd", "log_or", "bogus"]))
        else:
            body[key] = draw(st.one_of(st.floats(0.1, 100), numbers))
    if draw(st.booleans()):
        body["published"] = draw(st.one_of(st.floats(0, 1), numbers))
    if draw(st.integers(0, 9)):
        body["source"] = "fuzz"
    if not draw(st.integers(0, 9)):
        body[draw(TEXT)] = draw(loose)
    return body


@st.composite
def item(draw: st.DrawFn) -> dict[str, Any]:
    it: dict[str, Any] = {
        "name": draw(st.sampled_from(["costs a", "benefit b", "c", ""])),
        "side": draw(st.sampled_from(["cost", "benefit", "benefit", "other"])),
        "stakeholder": "city",
        "value": draw(st.one_of(expressions, numbers)),
        "years": draw(st.lists(st.integers(0, 4), min_size=0, max_size=3)),
    }
    if not draw(st.integers(0, 4)):
        it["decay"] = draw(numbers)
    return it


@st.composite
def model_doc(draw: st.DrawFn) -> dict[str, Any]:
    names = st.sampled_from(NAMES)
    doc: dict[str, Any] = {
        "model": {
            "title": "fuzz",
            "price_year": draw(st.sampled_from([2020, 1800])),
            "horizon_years": draw(st.integers(0, 4)),
            "discount_rate": draw(st.sampled_from([0.0, 0.03, -0.1, float("nan")])),
        },
        "populations": draw(st.dictionaries(names, numbers, max_size=3)),
        "parameters": draw(st.dictionaries(names, parameter(), max_size=4)),
        "derived": draw(st.dictionaries(names, expressions, max_size=3)),
        "items": draw(st.lists(item(), min_size=0, max_size=3)),
    }
    scenarios: dict[str, Any] = {}
    for i in range(draw(st.integers(0, 3))):
        sc: dict[str, Any] = {}
        if draw(st.booleans()):
            sc["extends"] = draw(st.sampled_from(["base", "s0", "s1", "s2", "nope"]))
        if draw(st.booleans()):
            sc["populations"] = draw(st.dictionaries(names, numbers, max_size=2))
        if draw(st.booleans()):
            sc["parameters"] = draw(st.dictionaries(names, parameter(), max_size=2))
        if draw(st.booleans()):
            sc["drop_items"] = draw(st.lists(st.sampled_from(["c", "costs a", "x"]), max_size=2))
        scenarios[f"s{i}"] = sc
    if scenarios:
        doc["scenarios"] = scenarios
    if draw(st.booleans()):
        doc["published"] = [
            {
                "quantity": draw(st.sampled_from(["net", "bcr", "c", "salary", "nope"])),
                "value": draw(numbers),
                "source": "fuzz",
            }
        ]
    if draw(st.booleans()):
        doc["correlations"] = [
            {"names": draw(st.lists(names, min_size=2, max_size=2)), "matrix": [[1.0, r], [r, 1.0]]}
            for r in [draw(st.floats(-1.5, 1.5))]
        ]
    return doc


TEMPLATES: dict[str, Any] = {
    "salary": lambda m: {"dist": "normal", "mean": m, "sd": m / 10 + 0.1, "published": m},
    "p": lambda m: {"dist": "beta", "mean": 0.5, "sd": 0.1, "published": 0.5},
    "saving": lambda m: {"dist": "uniform", "low": 0.0, "high": m, "published": m / 2},
    "x_1": lambda m: {"dist": "fixed", "value": m},
    "d": lambda m: {"dist": "triangular", "low": 0, "mode": m, "high": 2 * m, "published": m},
    "k": lambda m: {"dist": "poisson", "mean": m, "published": m},
}


@st.composite
def well_formed_doc(draw: st.DrawFn) -> dict[str, Any]:
    """A model that is usually valid, so that most examples reach the run."""
    horizon = draw(st.integers(1, 3))
    size = st.floats(0.5, 1e6)
    params = {
        n: {**TEMPLATES[n](draw(size)), "source": "fuzz"}
        for n in draw(
            st.lists(st.sampled_from(sorted(TEMPLATES)), min_size=1, max_size=4, unique=True)
        )
    }
    known = ["clients", *params]
    derived: dict[str, str] = {}
    for i in range(draw(st.integers(0, 2))):
        derived[f"dd{i}"] = draw(_expressions(known))
        known.append(f"dd{i}")
    items = [
        {
            "name": f"item {i}",
            "side": draw(st.sampled_from(["cost", "benefit"])),
            "stakeholder": draw(st.sampled_from(["city", "state"])),
            "value": draw(_expressions(known)),
            "years": draw(
                st.lists(st.integers(1, horizon), min_size=1, max_size=horizon, unique=True)
            ),
        }
        for i in range(draw(st.integers(1, 3)))
    ]
    doc: dict[str, Any] = {
        "model": {
            "title": "fuzz",
            "price_year": 2020,
            "horizon_years": horizon,
            "discount_rate": draw(st.sampled_from([0.0, 0.03])),
        },
        "populations": {"clients": draw(st.integers(0, 100))},
        "parameters": params,
        "items": items,
    }
    if derived:
        doc["derived"] = derived
    scenarios: dict[str, Any] = {}
    for i in range(draw(st.integers(0, 2))):
        sc: dict[str, Any] = {"extends": draw(st.sampled_from(["base", *scenarios]))}
        if draw(st.booleans()):
            sc["populations"] = {"clients": draw(st.integers(0, 100))}
        if draw(st.booleans()):
            name = draw(st.sampled_from(sorted(params)))
            sc["parameters"] = {name: {"dist": "fixed", "value": draw(size), "source": "s"}}
        if len(items) > 1 and draw(st.booleans()):
            sc["drop_items"] = [items[0]["name"]]
        scenarios[f"s{i}"] = sc
    if scenarios:
        doc["scenarios"] = scenarios
    if draw(st.booleans()):
        doc["published"] = [{"quantity": "net", "value": draw(size), "source": "fuzz"}]
    random = [n for n in params if params[n]["dist"] in ("normal", "uniform", "triangular")]
    if len(random) >= 2 and draw(st.booleans()):
        r = draw(st.floats(-0.9, 0.9))
        doc["correlations"] = [{"names": random[:2], "matrix": [[1.0, r], [r, 1.0]]}]
    if not draw(st.integers(0, 5)):  # one hostile change somewhere
        table = draw(st.sampled_from(["model", "populations", "parameters", "items"]))
        target = doc[table] if table != "items" else doc["items"][0]
        if table == "parameters":
            target = params[draw(st.sampled_from(sorted(params)))]
        key = draw(st.one_of(st.sampled_from(sorted(target)), TEXT))
        target[key] = draw(loose)
    return doc


@st.composite
def model_text(draw: st.DrawFn) -> str:
    text = to_toml(draw(st.one_of(well_formed_doc(), well_formed_doc(), model_doc())))
    cut = draw(st.integers(0, 20))
    if cut == 0:  # damaged file: truncated or with junk appended
        text = text[: draw(st.integers(0, len(text)))] + draw(TEXT)
    return text


# --------------------------------------------------------------------------- whole path


@settings(FUZZ, max_examples=120)
@given(text=model_text())
def test_generated_model_files_give_a_result_or_one_error(text: str, tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text(text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ModelWarning for unused overrides is expected
        try:
            model = mkba_sim.load_model(path)
        except MkbaError as exc:
            assert str(exc).startswith(str(path)), exc
            event("refused by validation")
            return
        with contextlib.suppress(MkbaError):
            mkba_sim.replicate(model)
        try:
            res = mkba_sim.simulate(model, draws=1000, seed=1, backend="numpy")
        except MkbaError:
            event("refused by the run")
            return
    event("simulated")
    assert res.dataset.attrs["n_draws"] == 1000


@settings(FUZZ, max_examples=25)
@given(text=model_text(), command=st.sampled_from(["validate", "replicate", "run"]))
def test_generated_model_files_through_the_command_line(
    text: str, command: str, tmp_path: Path
) -> None:
    path = tmp_path / "m.toml"
    path.write_text(text)
    argv = [command, str(path)]
    if command == "run":
        argv += ["--draws", "1000", "--seed", "1", "--backend", "numpy", "--json"]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    lines = err.getvalue().splitlines()
    assert status in (0, 1, 2)
    problems = [ln for ln in lines if not ln.startswith("mkba-sim: warning: ")]
    assert len(problems) == (1 if status == 2 else 0), lines
    if status == 2:
        assert problems[0].startswith(f"mkba-sim: error: {path}"), problems


FIXED_STRUCTURE = """
[model]
title = "fuzz, compiled kernel"
price_year = 2020
horizon_years = 2
discount_rate = {rate}

[populations]
clients = {clients}

[parameters.salary]
dist = "normal"
mean = {mean}
sd = {sd}
published = {mean}
source = "fuzz"

[parameters.share]
dist = "uniform"
low = {low}
high = {high}
published = {low}
source = "fuzz"

[derived]
per_client = "salary / clients"

[[items]]
name = "salaries"
side = "cost"
stakeholder = "city"
value = "clients * salary"
years = [1, 2]

[[items]]
name = "savings"
side = "benefit"
stakeholder = "city"
value = "per_client * share * exp(share)"
years = [2]
"""

finite = st.floats(-1e300, 1e300)


@settings(FUZZ, max_examples=15)
@given(
    rate=st.sampled_from([0.0, 0.03, 0.999]),
    clients=st.one_of(st.integers(0, 10**6), st.floats(0, 1e300)),
    mean=finite,
    sd=st.one_of(st.floats(1e-300, 1e300), finite),
    low=finite,
    high=finite,
)
def test_hostile_numbers_through_the_compiled_kernel(
    rate: float, clients: float, mean: float, sd: float, low: float, high: float
) -> None:
    """Numbers are data: one structure, compiled once, every number from hypothesis."""
    text = FIXED_STRUCTURE.format(
        rate=rate, clients=clients, mean=repr(mean), sd=repr(sd), low=repr(low), high=repr(high)
    )
    try:
        model = mkba_sim.loads_model(text, path="fixed.toml")
    except ModelFileError as exc:
        assert str(exc).startswith("fixed.toml: "), exc
        return
    with contextlib.suppress(MkbaError):
        mkba_sim.replicate(model)
    try:
        res = mkba_sim.simulate(model, draws=1000, seed=1)
    except MkbaError:
        return
    assert res.dataset.attrs["n_draws"] == 1000


# --------------------------------------------------------------------------- draws files

descrs = st.sampled_from(["<f8", "<f4", ">f8", "<f2", "<c16", "|O", "<U3", "<i8", "|b1", "<f16"])
shapes = st.one_of(
    st.tuples(st.integers(0, 40)),
    st.tuples(st.integers(0, 5), st.integers(0, 5)),
    st.tuples(st.sampled_from([10**9, 10**12, 2**62])),
    st.just(()),
)


@st.composite
def npy_bytes(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.binary(max_size=200))
    if kind == 1:
        arr = np.array(draw(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=20)))
        buf = io.BytesIO()
        np.save(buf, arr)
        return buf.getvalue()
    header = {"descr": draw(descrs), "fortran_order": draw(st.booleans()), "shape": draw(shapes)}
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    data = buf.getvalue()
    if kind == 3:  # a damaged header
        i = draw(st.integers(8, len(data) - 1))
        data = data[:i] + draw(st.binary(min_size=1, max_size=8)) + data[i + 1 :]
    return data + draw(st.binary(max_size=400))


@settings(FUZZ, max_examples=300)
@given(data=npy_bytes())
def test_generated_draws_files_give_draws_or_one_error(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "d.npy"
    path.write_bytes(data)
    try:
        arr = read_draws(path, "p", "m.toml", "parameters.p")
    except ModelFileError as exc:
        assert str(exc).startswith("m.toml: parameters.p: draws file 'd.npy': "), exc
        return
    assert arr.ndim == 1 and arr.size > 0 and arr.dtype == np.float64
    assert np.isfinite(arr).all()


# --------------------------------------------------------------------------- arguments

tokens = st.one_of(
    st.sampled_from(
        [
            "run",
            "validate",
            "replicate",
            "bayes",
            "m.toml",
            "--draws",
            "--seed",
            "--threads",
            "--target-mcse-p",
            "--target-mcse-mean",
            "--memory-limit",
            "--out",
            "--json",
            "--keep-draws",
            "--force",
            "--sampler",
            "--scenario",
            "--chunk-size",
            "1e400",
            "nan",
            "-0",
            "1e6",
            "0",
            "-1",
            "1_000",
            "8G",
            "inf",
            "",
            "--",
            "-x",
        ]
    ),
    TEXT,
)


@settings(FUZZ, max_examples=300)
@given(argv=st.lists(tokens, max_size=7))
def test_generated_command_lines_parse_or_exit_with_one_line(argv: list[str]) -> None:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            build_parser().parse_args(argv)
        except SystemExit as exc:
            assert exc.code in (0, 2)
            if exc.code == 2:
                lines = err.getvalue().strip().splitlines()
                assert len(lines) == 1 and lines[0].startswith("mkba-sim"), lines
