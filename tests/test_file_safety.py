"""What mkba_sim promises about your files (docs/files.md), through the command line.

An output never replaces the model file, its data or its draws files, nor an existing file
mkba_sim did not write (unless --force); its format follows the extension; an
interrupted run or write leaves nothing behind; arguments and closed pipes end in one line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import mkba_sim
from conftest import REPO, run_cli
from mkba_sim.cli import build_parser
from mkba_sim.errors import MkbaError
from mkba_sim.io.atomic import atomic_path, remove_stale_parts
from mkba_sim.io.results import check_output_path, is_mkba_output, save_result
from mkba_sim.results import RUN_SCHEMA

MODEL = """
[model]
title = "file safety"
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
unit = "EUR/(client*year)"
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

[[published]]
quantity = "net"
value = -1500
source = "test"
"""


def _one_error_line(proc: subprocess.CompletedProcess[str], *words: str) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "m.toml"
    path.write_text(MODEL)
    return path


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> mkba_sim.Result:
    path = tmp_path_factory.mktemp("res") / "m.toml"
    path.write_text(MODEL)
    return mkba_sim.simulate(str(path), draws=5000, seed=1, backend="numpy")


# --------------------------------------------------------------------------- CLI


def test_out_never_replaces_the_model_file(model: Path) -> None:
    before = model.read_bytes()
    for out in (
        model,
        f"{model.parent}/./m.toml",
        model.parent / ".." / model.parent.name / "m.toml",
    ):
        proc = run_cli("run", str(model), "--draws", "1000", "--out", str(out), "--force")
        _one_error_line(proc, "--out", "input of this run")
    assert model.read_bytes() == before


def test_out_refuses_foreign_files_unless_forced_and_replaces_its_own(
    model: Path, tmp_path: Path
) -> None:
    foreign = tmp_path / "notes.csv"
    foreign.write_text("my notes\n")
    proc = run_cli("run", str(model), "--draws", "1000", "--seed", "1", "--out", str(foreign))
    _one_error_line(proc, "notes.csv", "not an earlier mkba_sim output", "--force")
    assert foreign.read_text() == "my notes\n"
    forced = run_cli(
        "run", str(model), "--draws", "1000", "--seed", "1", "--out", str(foreign), "--force"
    )
    assert forced.returncode == 0, forced.stderr
    assert foreign.read_text().startswith(f"scenario,statistic,value\n,schema,{RUN_SCHEMA}\n")
    again = run_cli("run", str(model), "--draws", "1000", "--seed", "2", "--out", str(foreign))
    assert again.returncode == 0, again.stderr  # a previous output may be replaced


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("x.zarr", ["Zarr output is not supported"]),
        ("x.h5", ["extension '.h5'", ".nc, .json, .csv"]),
        ("x", ["no extension"]),
        ("missing/x.nc", ["folder", "missing", "does not exist"]),
    ],
)
def test_out_bad_targets_are_refused_before_the_run(
    model: Path, tmp_path: Path, name: str, words: list[str]
) -> None:
    proc = run_cli("run", str(model), "--draws", "1e15", "--out", str(tmp_path / name))
    _one_error_line(proc, "--out", *words)  # refused at once: 1e15 draws never start


def test_out_refuses_draws_files_and_the_data_folder(tmp_path: Path) -> None:
    np.save(tmp_path / "post.npy", np.linspace(0.0, 1.0, 100))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "cases.csv").write_text("id\n1\n")
    text = MODEL.replace(
        "[[items]]",
        '[parameters.p]\ndist = "posterior"\nfile = "post.npy"\nvariable = "p"\n'
        'source = "t"\n\n[[items]]',
        1,
    ).replace('value = "saving"', 'value = "saving * p"')
    (tmp_path / "m.toml").write_text(text)
    for out in ("post.npy", "data/cases.csv", "data/new.nc"):
        target = tmp_path / out
        proc = run_cli("run", str(tmp_path / "m.toml"), "--out", str(target), "--force")
        _one_error_line(proc, "--out", "input of this run")
    assert (tmp_path / "data" / "cases.csv").read_text() == "id\n1\n"
    assert np.load(tmp_path / "post.npy").size == 100


def test_output_formats_follow_the_extension(model: Path, tmp_path: Path) -> None:
    procs = {
        ext: run_cli(
            "run", str(model), "--draws", "2000", "--seed", "3", "--out", str(tmp_path / f"r{ext}")
        )
        for ext in (".nc", ".json", ".csv")
    }
    for proc in procs.values():
        assert proc.returncode == 0, proc.stderr
    back = mkba_sim.load_result(tmp_path / "r.nc")
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["schema"] == RUN_SCHEMA
    assert doc["scenarios"]["base"] == json.loads(json.dumps(back.summary("base")))
    rows = (tmp_path / "r.csv").read_text().splitlines()
    assert rows[:2] == ["scenario,statistic,value", f",schema,{RUN_SCHEMA}"]
    mean = float(doc["scenarios"]["base"]["net"]["mean"])
    assert f"base,net.mean,{mean!r}" in rows
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.toml", "r.csv", "r.json", "r.nc"]


def _long_run(model: Path, out: Path) -> subprocess.Popen[str]:
    argv = ["run", str(model), "--draws", "1e13", "--seed", "1", "--out", str(out)]
    return subprocess.Popen(
        [sys.executable, "-m", "mkba_sim.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},  # SIGABRT dumps every thread's stack
        # Ctrl-C as a user's foreground command gets it: a suite started in the background
        # (`make test &`, nohup) has SIGINT ignored, which its children would inherit, and
        # Python then leaves it ignored (no KeyboardInterrupt; the run would go on)
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_run_exits_130_and_leaves_nothing(
    model: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    out = tmp_path / "r.nc"
    proc = _long_run(model, out)
    assert proc.stderr is not None
    first = proc.stderr.readline()  # the time estimate: the run is under way
    assert "will take about" in first and "Ctrl-C" in first, first
    proc.send_signal(sig)
    try:
        stdout, rest = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)  # where it hangs, for the failure message
        _, stacks = proc.communicate(timeout=60)
        pytest.fail(f"the interrupted run did not end within 60 s; its threads:\n{stacks}")
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert rest.strip().splitlines() == ["mkba-sim: interrupted; nothing was saved"]
    assert stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.toml"]


def test_closed_pipe_ends_quietly(model: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mkba_sim.cli", "validate", "--json", str(model)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # like `| head` that has exited
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert proc.returncode in (0, 141)
    assert err == ""


def test_keeping_more_draws_than_memory_is_refused_up_front(model: Path) -> None:
    t0 = time.perf_counter()
    proc = run_cli("run", str(model), "--draws", "1e12", "--keep-draws")
    line = _one_error_line(proc, "keeping 1,000,000,000,000 draws needs about", "TiB")
    assert "without --keep-draws" in line
    limited = run_cli("run", str(model), "--draws", "1e6", "--keep-draws", "--memory-limit", "1M")
    _one_error_line(limited, "more than the memory limit (1.0 MiB)")
    assert time.perf_counter() - t0 < 60


def test_validate_json(model: Path, tmp_path: Path) -> None:
    good = run_cli("validate", "--json", str(model))
    assert good.returncode == 0, good.stderr
    doc = json.loads(good.stdout)
    assert doc["schema"] == "mkba_sim.validate/1" and doc["valid"] is True
    assert doc["scenarios"] == ["base"] and doc["warnings"] == []
    bad_path = tmp_path / "bad.toml"
    bad_path.write_text(MODEL.replace("sd = 10", "sd = -10"))
    bad = run_cli("validate", "--json", str(bad_path))
    _one_error_line(bad, "parameters.salary.sd")
    err = json.loads(bad.stdout)
    assert err["valid"] is False
    assert err["error"]["key"] == "parameters.salary.sd"
    assert err["error"]["file"] == str(bad_path)


def test_text_output_says_a_precision_target_stopped_the_run(model: Path) -> None:
    proc = run_cli("run", str(model), "--draws", "1e7", "--seed", "1", "--target-mcse-p", "0.01")
    assert proc.returncode == 0, proc.stderr
    assert "Stopped early: the precision target was met" in proc.stdout


def test_help_has_no_markup(capsys: pytest.CaptureFixture[str]) -> None:
    texts = [build_parser().format_help()]
    for cmd in ("validate", "replicate", "run", "bayes"):
        with pytest.raises(SystemExit):
            build_parser().parse_args([cmd, "--help"])
        texts.append(capsys.readouterr().out)
    for text in texts:
        assert "usage: mkba-sim" in text
        for mark in ("``", ":func:", ":class:", "[bold", "%("):
            assert mark not in text


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--draws", "1e400"], ["--draws", "between 2 and"]),
        (["--draws", "nan"], ["--draws", "finite"]),
        (["--draws", "inf"], ["--draws", "finite"]),
        (["--draws", "-0"], ["--draws", "negative"]),
        (["--draws", "1.5"], ["--draws", "whole number"]),
        (["--draws", "1"], ["--draws", "between 2 and"]),
        (["--draws", ""], ["--draws", "not a number"]),
        (["--draws", "1e999999999999"], ["--draws", "between 2 and"]),
        (["--draws", "1e9999999999999999999"], ["--draws", "not a number"]),
        (["--seed", "-1"], ["--seed", "negative"]),
        (["--seed", "1e100"], ["--seed", "between 0 and"]),
        (["--threads", "0"], ["--threads", "between 1 and"]),
        (["--target-mcse-p", "0"], ["--target-mcse-p", "positive"]),
        (["--target-mcse-p", "-0"], ["--target-mcse-p", "positive"]),
        (["--target-mcse-p", "nan"], ["--target-mcse-p", "finite"]),
        (["--target-mcse-mean", "1e400"], ["--target-mcse-mean", "positive finite"]),
        (["--memory-limit", "lots"], ["--memory-limit", "not a size"]),
    ],
)
def test_numeric_arguments_are_one_line_errors(
    argv: list[str], words: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["run", "m.toml", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mkba-sim run: error: argument ")
    for w in words:
        assert w in err[0]


def test_numbers_in_all_spellings() -> None:
    args = build_parser().parse_args(
        ["run", "m.toml", "--draws", "1e6", "--seed", "1_000", "--target-mcse-p", "1e-3"]
    )
    assert (args.draws, args.seed, args.target_mcse_p) == (1_000_000, 1000, 0.001)


def test_draws_overflow_through_the_command_line(model: Path) -> None:
    _one_error_line(run_cli("run", str(model), "--draws", "1e400"), "--draws")


# --------------------------------------------------------------------------- library


def test_save_result_follows_the_same_rules(result: mkba_sim.Result, tmp_path: Path) -> None:
    model_path = Path(str(result.dataset.attrs["model_path"]))
    with pytest.raises(MkbaError, match="input of this run"):
        save_result(result, model_path, force=True)
    os.link(model_path, tmp_path / "hard.csv")  # another name for the model file
    with pytest.raises(MkbaError, match="input of this run"):
        save_result(result, tmp_path / "hard.csv", force=True)
    foreign = tmp_path / "x.json"
    foreign.write_text('{"mine": true}')
    with pytest.raises(MkbaError, match="not an earlier mkba_sim output"):
        save_result(result, foreign)
    save_result(result, foreign, force=True)
    assert is_mkba_output(foreign)
    save_result(result, tmp_path / "sub" / "r.nc")  # the API makes folders
    with pytest.raises(MkbaError, match="does not exist"):
        save_result(result, tmp_path / "nope" / "r.nc", make_parents=False)
    (tmp_path / "d.nc").mkdir()
    with pytest.raises(MkbaError, match="is a folder"):
        check_output_path(tmp_path / "d.nc")


def test_leftover_temporary_files_are_removed_by_the_next_write(
    result: mkba_sim.Result, tmp_path: Path
) -> None:
    target = tmp_path / "r.nc"
    dead = tmp_path / ".r.nc.999999999.abcd.part"  # a writer killed with kill -9
    legacy = tmp_path / ".r.nc.k2j3h4.part"  # written before the pid was in the name
    running = tmp_path / f".r.nc.{os.getppid()}.abcd.part"  # a write still going on
    other = tmp_path / ".other.nc.999999999.abcd.part"  # another target's
    for p in (dead, legacy, running, other):
        p.write_bytes(b"partial")
    save_result(result, target)
    assert not dead.exists() and not legacy.exists()
    assert running.exists() and other.exists()
    assert remove_stale_parts(target) == []


def test_an_interrupted_write_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise KeyboardInterrupt
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
