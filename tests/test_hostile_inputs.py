"""Hostile and odd inputs: one MkbaError naming the file and the key, or accepted where
the format says so (docs/model-format.md, "Limits"; docs/files.md).

Most cases run in-process (the message is the CLI's line without its prefix); a few go
through the command line to check the line and the exit status.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import mkba_sim
from conftest import run_cli
from mkba_sim.errors import ModelFileError, ModelWarning
from mkba_sim.io.draws import MAX_DRAWS, read_draws
from mkba_sim.model.evaluate import evaluate_scenario
from mkba_sim.model.expressions import MAX_TERMS

BASE = """
[model]
title = "hostile"
price_year = 2020
horizon_years = 2
discount_rate = 0.0

[populations]
clients = 10

[parameters.salary]
dist = "normal"
mean = 100
sd = 10
published = 100
source = "test"

[parameters.saving]
dist = "triangular"
low = 250
mode = 500
high = 750
published = 500
source = "test"

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
value = "saving"
years = [1]
"""

POSTERIOR = """
[parameters.p]
dist = "posterior"
file = "{file}"
variable = "p"
source = "test"
"""


def _posterior_model(folder: Path, file: str) -> Path:
    text = BASE.replace("[[items]]", POSTERIOR.format(file=file) + "\n[[items]]", 1).replace(
        'value = "saving"', 'value = "saving * p"'
    )
    path = folder / "m.toml"
    path.write_text(text)
    return path


def _npy_with_header(path: Path, shape: tuple[int, ...], data: bytes, descr: str = "<f8") -> None:
    with open(path, "wb") as fh:
        header = {"descr": descr, "fortran_order": False, "shape": shape}
        np.lib.format.write_array_header_1_0(fh, header)
        fh.write(data)


# --------------------------------------------------------------------------- draws files


def _make(kind: str, folder: Path) -> str:
    """Write a hostile draws file of ``kind``; return its name."""
    name = f"{kind}.npy"
    path = folder / name
    if kind == "nan":
        np.save(path, np.array([1.0, np.nan, 2.0]))
    elif kind == "inf":
        np.save(path, np.array([1.0, 2.0, -np.inf]))
    elif kind == "empty":
        np.save(path, np.array([], dtype=np.float64))
    elif kind == "zero-bytes":
        path.write_bytes(b"")
    elif kind == "strings":
        np.save(path, np.array(["0.1", "0.2"]))
    elif kind == "complex":
        np.save(path, np.array([0.5 + 1j, 0.25 + 0j]))
    elif kind == "two-d":
        np.save(path, np.ones((10, 3)))
    elif kind == "integers":
        np.save(path, np.arange(5))
    elif kind == "objects":
        np.save(path, np.array([0.5, None], dtype=object), allow_pickle=True)
    elif kind == "huge-header":
        _npy_with_header(path, (10**12,), b"\0" * 64)
    elif kind == "truncated":
        _npy_with_header(path, (1000,), b"\0" * 64)
    elif kind == "bad-header":
        path.write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr': os.system}  \n")
    elif kind == "not-npy":
        path.write_bytes(b"PK\x03\x04 a zip file, not an array")
    elif kind == "garbage-nc":
        name = "garbage.nc"
        (folder / name).write_bytes(b"\x89HDF\r\n\x1a\n" + b"\xff" * 100)
    elif kind == "nc-other-dims":
        name = "other.nc"
        xr.Dataset({"p": (("a", "b"), np.ones((3, 4)))}).to_netcdf(folder / name, engine="h5netcdf")
    elif kind == "nc-no-variable":
        name = "novar.nc"
        xr.Dataset({"q": ("draw", np.ones(3))}).to_netcdf(folder / name, engine="h5netcdf")
    elif kind == "nc-nan":
        name = "nan.nc"
        xr.Dataset({"p": ("draw", np.array([0.1, np.nan]))}).to_netcdf(
            folder / name, engine="h5netcdf"
        )
    else:  # pragma: no cover
        raise ValueError(kind)
    return name


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("nan", ["1 NaN and 0 infinite", "first at index 1"]),
        ("inf", ["0 NaN and 1 infinite", "index 2"]),
        ("empty", ["holds no draws"]),
        ("zero-bytes", ["not a readable .npy file"]),
        ("strings", ["holds text", "real floating-point"]),
        ("complex", ["holds complex numbers"]),
        ("two-d", ["shape (10, 3)", "one-dimensional"]),
        ("integers", ["holds integers"]),
        ("objects", ["holds Python objects"]),
        ("huge-header", ["claims 1,000,000,000,000 values", f"{MAX_DRAWS:,}"]),
        ("truncated", ["header claims 1,000 values", "64 bytes", "truncated"]),
        ("bad-header", ["not a readable .npy file"]),
        ("not-npy", ["not a readable .npy file"]),
        ("garbage-nc", ["not a readable NetCDF file"]),
        ("nc-other-dims", ["dimensions ('a', 'b')", "('chain', 'draw')"]),
        ("nc-no-variable", ["has no such variable", "['q']"]),
        ("nc-nan", ["1 NaN"]),
    ],
)
def test_bad_draws_files_are_one_error_naming_file_and_key(
    tmp_path: Path, kind: str, words: list[str]
) -> None:
    name = _make(kind, tmp_path)
    model = _posterior_model(tmp_path, name)
    with pytest.raises(ModelFileError) as exc:
        mkba_sim.simulate(str(model), draws=1000, seed=1, backend="numpy")
    msg = str(exc.value)
    assert msg.startswith(f"{model}: parameters.p: draws file '{name}'"), msg
    for w in words:
        assert w in msg, msg


def test_draws_in_arviz_layout_and_float32_are_accepted(tmp_path: Path) -> None:
    draws = np.arange(12, dtype=np.float32).reshape(3, 4) / 12
    xr.Dataset({"p": (("chain", "draw"), draws)}).to_netcdf(tmp_path / "post.nc", engine="h5netcdf")
    got = read_draws(tmp_path / "post.nc", "p", "m.toml", "parameters.p")
    np.testing.assert_array_equal(got, draws.ravel().astype(np.float64))
    np.save(tmp_path / "p.npy", np.linspace(0, 1, 50, dtype=np.float32))
    res = mkba_sim.simulate(
        str(_posterior_model(tmp_path, "p.npy")), draws=1000, seed=1, backend="numpy"
    )
    assert res.summary("base")["net"]["mean"] is not None


def test_draws_paths_stay_in_the_model_folder(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    np.save(outside / "p.npy", np.linspace(0, 1, 50))
    folder = tmp_path / "model"
    folder.mkdir()
    os.symlink(outside / "p.npy", folder / "link.npy")
    for source in ("../elsewhere/p.npy", str(outside / "p.npy"), "link.npy", "/etc/passwd"):
        model = _posterior_model(folder, source)
        with pytest.raises(ModelFileError, match="outside the model's folder") as exc:
            mkba_sim.simulate(str(model), draws=1000, seed=1, backend="numpy")
        assert "--allow-outside-files" in str(exc.value)
    model = _posterior_model(folder, "../elsewhere/p.npy")
    res = mkba_sim.simulate(
        str(model), draws=1000, seed=1, backend="numpy", allow_outside_files=True
    )
    assert res.summary("base")["net"]["mean"] is not None
    for source, words in (("/dev/zero.npy", "not found"), ("data.csv", "must end in")):
        with pytest.raises(ModelFileError, match=words):
            mkba_sim.simulate(
                str(_posterior_model(folder, source)),
                draws=1000,
                backend="numpy",
                allow_outside_files=True,
            )


def test_draws_file_errors_through_the_command_line(tmp_path: Path) -> None:
    model = _posterior_model(tmp_path, _make("huge-header", tmp_path))
    proc = run_cli("run", str(model), "--draws", "1000")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"mkba-sim: error: {model}: parameters.p: draws file 'huge-header.npy': claims "
        f"1,000,000,000,000 values; at most {MAX_DRAWS:,} draws are read"
    ]
    proc = run_cli("validate", str(model))  # validate reads draws files too
    assert proc.returncode == 2 and "huge-header.npy': claims" in proc.stderr
    escape = _posterior_model(tmp_path, "../../etc/passwd")
    proc = run_cli("run", str(escape), "--draws", "1000")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "outside the model's folder" in proc.stderr


# --------------------------------------------------------------------------- sizes


def test_deep_toml_is_one_error() -> None:
    deep = "x = " + "[" * 100_000 + "]" * 100_000 + "\n"
    with pytest.raises(ModelFileError, match="nested too deeply to read"):
        mkba_sim.loads_model(deep, path="deep.toml")
    nested = BASE.replace("mean = 100", "mean = " + "[" * 30 + "1" + "]" * 30)
    with pytest.raises(ModelFileError, match="nested more than 20 levels") as exc:
        mkba_sim.loads_model(nested, path="n.toml")
    assert exc.value.key.startswith("parameters.salary.mean[0]")


def test_three_thousand_chained_derived_quantities() -> None:
    chain = "\n".join(
        ['[derived]\nd0 = "salary"'] + [f'd{i} = "d{i - 1} + 1"' for i in range(1, 3000)]
    )
    text = BASE.replace("[[items]]", chain + "\n\n[[items]]", 1).replace(
        'value = "saving"', 'value = "saving + d2999 - d2999"'
    )
    model = mkba_sim.loads_model(text, path="chain.toml")
    assert [d.name for d in model.base.derived][-1] == "d2999"
    cyclic = text.replace('d0 = "salary"', 'd0 = "d2999"')
    with pytest.raises(ModelFileError, match="circular reference: d0 -> d2999 -> d2998"):
        mkba_sim.loads_model(cyclic, path="chain.toml")


def test_fifteen_hundred_scenarios_extending_each_other() -> None:
    parts = [BASE, '[scenarios.s0]\ndescription = "first"']
    parts += [f'[scenarios.s{i}]\nextends = "s{i - 1}"' for i in range(1, 1500)]
    parts[-1] += "\npopulations = { clients = 12 }"
    model = mkba_sim.loads_model("\n".join(parts), path="many.toml")
    assert list(model.scenarios)[:3] == ["base", "s0", "s1"] and len(model.scenarios) == 1501
    assert model.scenarios["s1499"].populations["clients"] == 12
    cyclic = "\n".join(parts).replace(
        '[scenarios.s0]\ndescription = "first"', '[scenarios.s0]\nextends = "s1499"'
    )
    with pytest.raises(
        ModelFileError, match="scenarios extend each other in a circle: s0 -> s1499"
    ):
        mkba_sim.loads_model(cyclic, path="many.toml")


@pytest.mark.parametrize("op", ["+", "*"])
def test_a_flat_chain_of_a_thousand_terms_is_not_nesting(op: str) -> None:
    # counts of different things cannot be added: these populations are plain numbers
    names = " ".join(f'x{i} = {{ value = 1, unit = "1" }}' for i in range(MAX_TERMS))
    pops = "[populations]\nclients = 10\n" + names.replace(" x", "\nx")
    chain = f" {op} ".join(f"x{i}" for i in range(MAX_TERMS))
    text = BASE.replace("[populations]\nclients = 10\n", pops + "\n").replace(
        'value = "saving"', f'value = "saving * ({chain})"'
    )
    model = mkba_sim.loads_model(text, path="long.toml")
    assert mkba_sim.replicate(model) == []
    totals = evaluate_scenario(model.base, {"salary": 100.0, "saving": 500.0})
    assert float(totals.benefits) == 500 * (MAX_TERMS if op == "+" else 1)
    too_long = text.replace(f"x{MAX_TERMS - 1})", f"x{MAX_TERMS - 1} {op} 1)")
    with pytest.raises(ModelFileError, match=f"more than {MAX_TERMS} terms"):
        mkba_sim.loads_model(too_long, path="long.toml")


def test_a_ledger_sum_of_two_hundred_names_validates() -> None:
    text = BASE.replace('value = "saving"', 'value = "' + " + ".join(["saving"] * 200) + '"')
    model = mkba_sim.loads_model(text, path="two_hundred.toml")
    assert model.base.item("savings").expr is not None


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_a_long_chain_runs(backend: str) -> None:
    text = BASE.replace('value = "saving"', 'value = "' + " + ".join(["saving"] * 1000) + '"')
    model = mkba_sim.loads_model(text, path="long.toml")
    res = mkba_sim.simulate(model, draws=5000, seed=1, backend=backend)
    assert res.summary("base")["benefits"]["mean"] == pytest.approx(500_000, rel=0.05)


def test_a_long_chain_is_one_line_on_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "long.toml"
    path.write_text(
        BASE.replace('value = "saving"', 'value = "' + " + ".join(["saving"] * 1000) + '"')
    )
    assert run_cli("validate", str(path)).returncode == 0
    proc = run_cli("run", str(path), "--draws", "1000")
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 0 or len(proc.stderr.strip().splitlines()) == 1


# --------------------------------------------------------------------------- typos


def test_scenario_override_of_an_unknown_population_is_an_error() -> None:
    text = BASE + "\n[scenarios.more]\npopulations = { client = 12 }\n"
    with pytest.raises(ModelFileError) as exc:
        mkba_sim.loads_model(text, path="typo.toml")
    assert exc.value.key == "scenarios.more.populations.client"
    assert "no population called 'client'" in str(exc.value)
    assert "did you mean 'clients'?" in str(exc.value)


def test_an_override_nothing_uses_is_a_warning(tmp_path: Path) -> None:
    text = BASE + (
        "\n[scenarios.cheap]\n"
        'parameters.salery = { dist = "fixed", value = 50, source = "t" }\n'
        'derived = { unused = "salary * 2" }\n'
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = mkba_sim.loads_model(text, path="w.toml")
    assert [type(w.message) for w in caught] == [ModelWarning, ModelWarning]
    assert model.warnings[0].startswith("w.toml: scenarios.cheap.parameters.salery: nothing")
    assert "did you mean 'salary'?" in model.warnings[0]
    assert model.warnings[1].startswith("w.toml: scenarios.cheap.derived.unused: nothing")
    path = tmp_path / "w.toml"
    path.write_text(text)
    proc = run_cli("validate", str(path))
    assert proc.returncode == 0
    assert proc.stderr.count("mkba-sim: warning: ") == 2 and "salery" in proc.stderr


@pytest.mark.parametrize("field", ["value", "low", "high"])
@pytest.mark.parametrize("bad", ["nan", "inf", "-inf"])
def test_published_figures_must_be_finite(field: str, bad: str) -> None:
    fig = {"value": "-1500", "low": "-1", "high": "1", field: bad}
    text = (
        BASE
        + '\n[[published]]\nquantity = "net"\nsource = "t"\n'
        + "".join(f"{k} = {v}\n" for k, v in fig.items())
    )
    with pytest.raises(ModelFileError) as exc:
        mkba_sim.loads_model(text, path="pub.toml")
    assert exc.value.key == f"published[0].{field}"
    assert "must be a finite number" in str(exc.value)
