"""`mkba-sim run` end to end through a subprocess, as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO / "benchmarks" / "reference_model.toml"
TIMING = ("seconds", "draws_per_second", "created", "threads")


def _strip(doc: dict) -> dict:
    for key in TIMING:
        doc["run"].pop(key, None)
    return doc


def test_run_json_identical_for_one_and_two_threads(tmp_path: Path) -> None:
    docs = []
    for threads in ("1", "2"):
        out = tmp_path / f"r{threads}.nc"
        proc = run_cli(
            "run",
            str(REFERENCE),
            "--draws",
            "200000",
            "--seed",
            "1",
            "--threads",
            threads,
            "--json",
            "--out",
            str(out),
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == ""  # no progress bar when not on a terminal
        doc = json.loads(proc.stdout)
        assert doc["schema"] == "mkba_sim.run/2"
        assert out.exists()
        docs.append(_strip(doc))
    assert docs[0]["scenarios"] == docs[1]["scenarios"]
    base = docs[0]["scenarios"]["base"]
    assert 0.0 <= base["p_net_positive"] <= 1.0
    assert base["p_net_positive_mcse"] > 0
    lo, hi = base["net"]["interval90"]
    assert lo < base["net"]["mean"] < hi


def test_run_text_output_and_saved_result(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "r.nc"
    missing = run_cli("run", str(REFERENCE), "--draws", "50000", "--out", str(out))
    assert missing.returncode == 2 and "does not exist" in missing.stderr  # docs/files.md
    out.parent.mkdir()
    proc = run_cli("run", str(REFERENCE), "--draws", "50000", "--seed", "2", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "P(net > 0)" in proc.stdout
    import mkba_sim

    res = mkba_sim.load_result(out)
    assert res.dataset.attrs["n_draws"] == 50_000
    assert res.dataset.attrs["seed"] == 2


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--draws", "0"], "--draws"),
        (["--draws", "lots"], "--draws"),
        (["--sampler", "grid"], "--sampler"),
        (["--draws", "100", "--sampler", "sobol", "--target-mcse-p", "0.01"], "precision"),
        (["--draws", "100", "--scenario", "nope"], "unknown scenario"),
    ],
)
def test_run_bad_arguments(args: list[str], needle: str) -> None:
    proc = run_cli("run", str(REFERENCE), *args)
    assert proc.returncode == 2
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr


def test_run_unwritable_output_leaves_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = run_cli(
        "run", str(REFERENCE), "--draws", "10000", "--seed", "1", "--out", str(blocker / "r.nc")
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
