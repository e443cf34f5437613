"""Replication mode: both seed models reproduce their study's tables to the euro.

The published figures live in the model files' ``[[published]]`` tables and are computed
from the model files; the tests below check (a) every published figure is reproduced
with difference 0 and (b) the figures the study prints are present in those tables, so a
model file cannot pass by dropping a figure it fails to reproduce.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import mkba_sim
from conftest import run_cli

REPO = Path(__file__).resolve().parent.parent
MODELS = REPO / "models"
SEED_MODELS = sorted(MODELS.glob("*.toml"))

# What the studies print (seed 000 tables 8-9; seed 003 §6.2), per (scenario, quantity):
# (central, low, high) or central only. The model files must carry these figures.
STUDY_000 = {
    ("base", "participation"): (14_846_950, 3_930_075, 26_637_175),
    ("base", "avoided debt problems"): (720_000, 315_000, 1_170_000),
    ("base", "housing"): (-1_008_000, -441_000, -1_638_000),
    ("base", "health"): (10_030_000, 590_000, 19_470_000),
    ("base", "extra costs"): (32_340_000, 32_340_000, 32_340_000),
    ("base", "net"): (-7_751_050, -27_945_925, 13_299_175),
    ("extra_population_under_25", "net"): (43_186_807, 22_991_932, 64_237_032),
}
STUDY_003 = {
    ("base", "costs"): 122_000,
    ("base", "benefits"): 158_125,
    ("base", "bcr"): 1.30,
    ("variant_b", "benefits"): 278_745,
    ("variant_b", "bcr"): 2.28,
    ("variant_a_n12", "coordinator salary"): 17_217,
    ("variant_a_n12", "case investments"): 4_000,
    ("variant_a_n12", "crime, variant A: avoided offence costs"): 4_500,
    ("variant_a_n12", "work: avoided welfare benefits, recurrent"): 20_000,
    ("variant_a_n12", "work: avoided welfare benefits, one-off"): 3_000,
    ("variant_b_n12", "crime, variant B: avoided detention days"): 17_217,
    ("base", "crime, variant A: avoided offence costs"): 25_875,
    ("variant_b", "crime, variant B: avoided detention days"): 99_000,
}


def test_seed_models_exist() -> None:
    names = {p.name for p in SEED_MODELS}
    assert {"reclasseren_in_de_buurt.toml", "nazorg_plus.toml"} <= names


@pytest.mark.parametrize("path", SEED_MODELS, ids=lambda p: p.stem)
def test_every_published_figure_is_reproduced(path: Path) -> None:
    model = mkba_sim.load_model(path)
    rows = mkba_sim.replicate(model)
    assert rows, f"{path.name} has no [[published]] figures"
    bad = [r for r in rows if r.difference != 0]
    assert not bad, "\n".join(
        f"{r.scenario}/{r.quantity}/{r.column}: {r.published} vs {r.computed}" for r in bad
    )


def _published(path: Path) -> dict[tuple[str, str], tuple[float | None, ...]]:
    model = mkba_sim.load_model(path)
    return {(f.scenario, f.quantity): (f.value, f.low, f.high) for f in model.published}


def test_reclasseren_in_de_buurt_carries_the_study_figures() -> None:
    published = _published(MODELS / "reclasseren_in_de_buurt.toml")
    for key, figures in STUDY_000.items():
        assert published[key] == figures, key


def test_nazorg_plus_carries_the_study_figures() -> None:
    published = _published(MODELS / "nazorg_plus.toml")
    for key, figure in STUDY_003.items():
        assert published[key][0] == figure, key


def test_ratios_compare_at_two_decimals() -> None:
    rows = mkba_sim.replicate(mkba_sim.load_model(MODELS / "nazorg_plus.toml"))
    bcr = {r.scenario: r for r in rows if r.quantity == "bcr"}
    assert bcr["base"].decimals == 2 and bcr["variant_b"].decimals == 2
    # the unrounded ratios are not the printed ones; only their rounding is
    assert bcr["base"].computed == pytest.approx(158_125 / 122_000)
    assert bcr["variant_b"].computed == pytest.approx(278_745 / 122_000)


def test_sign_slip_is_reported_in_the_model_notes() -> None:
    model = mkba_sim.load_model(MODELS / "reclasseren_in_de_buurt.toml")
    assert "8.000.000" in model.settings.notes and "minus sign" in model.settings.notes
    proc = run_cli("replicate", "models/reclasseren_in_de_buurt.toml")
    assert "Model notes:" in proc.stdout and "minus sign" in proc.stdout
    assert "Not monetised (PM):" in proc.stdout


def test_low_column_is_not_the_worst_case() -> None:
    """Housing has a negative base: its low effect is its least negative value."""
    rows = mkba_sim.replicate(mkba_sim.load_model(MODELS / "reclasseren_in_de_buurt.toml"))
    housing = {r.column: r.computed for r in rows if r.quantity == "housing"}
    assert housing["low"] > housing["central"] > housing["high"]


def test_cli_replicate_json_schema() -> None:
    proc = run_cli("replicate", "models/reclasseren_in_de_buurt.toml", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "mkba_sim.replication/1"
    assert doc["all_match"] is True
    assert set(doc["model"]) == {"path", "title", "sha256"}
    keys = {"quantity", "scenario", "column", "published", "computed", "difference"}
    assert all(keys <= set(r) for r in doc["rows"])
    net = [r for r in doc["rows"] if r["quantity"] == "net" and r["scenario"] == "base"]
    assert {r["column"]: r["published"] for r in net} == {
        "central": -7_751_050,
        "low": -27_945_925,
        "high": 13_299_175,
    }


def test_cli_replicate_one_scenario_text() -> None:
    proc = run_cli("replicate", "models/nazorg_plus.toml", "--scenario", "variant_b")
    assert proc.returncode == 0, proc.stderr
    assert "278,745" in proc.stdout and "2.28" in proc.stdout
    assert "variant_a_n12" not in proc.stdout


def test_cli_replicate_reports_a_mismatch(tmp_path: Path) -> None:
    src = (MODELS / "nazorg_plus.toml").read_text(encoding="utf-8")
    assert "value = 158_125" in src
    bad = tmp_path / "nazorg_plus.toml"
    bad.write_text(src.replace("value = 158_125", "value = 158_126"), encoding="utf-8")
    proc = run_cli("replicate", str(bad), "--json")
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["all_match"] is False
    (row,) = [r for r in doc["rows"] if r["difference"] != 0]
    assert row["quantity"] == "benefits" and row["difference"] == -1


def test_cli_replicate_unknown_scenario_is_a_clear_error() -> None:
    proc = run_cli("replicate", "models/nazorg_plus.toml", "--scenario", "nope")
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "nope" in proc.stderr and "nazorg_plus.toml" in proc.stderr
