"""The Bayesian recidivism model: data, likelihood, conjugate check, gate, cache, API, CLI.

Fits use a temporary posterior cache. One default fit is shared by the tests in a
session (a file lock keeps two xdist workers from fitting it twice).
"""

from __future__ import annotations

import fcntl
import itertools
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import mkba_sim
from mkba_sim import fitting
from mkba_sim.bayes import format_summary
from mkba_sim.bayes.data import CaseData, parse_cases
from mkba_sim.bayes.diagnostics import Thresholds, compute_diagnostics
from mkba_sim.bayes.sampling import SamplerSettings
from mkba_sim.errors import BayesError, DiagnosticsError
from mkba_sim.fitting import fit_or_load

REPO = Path(__file__).resolve().parent.parent
CASES = REPO / "models" / "data" / "nazorg_plus_cases.csv"
NAME = "nazorg_plus_recidivism"


def read_cases(path: Path) -> CaseData:
    return parse_cases(path.read_bytes(), str(path))


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A posterior cache holding the default (mixture) fit of the real data."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "bayes_cache"
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        fit_or_load(NAME, "mixture", cache_dir=root / "posteriors", data_dir=CASES.parent)
    return root / "posteriors"


def _write_cases(directory: Path, edit: dict[int, dict[str, str]] | None = None) -> Path:
    """Copy the case file into ``directory``, with some cells replaced."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = CASES.read_text().splitlines()
    header_i = next(i for i, ln in enumerate(lines) if ln.startswith("case,"))
    cols = lines[header_i].split(",")
    out = lines[: header_i + 1]
    for ln in lines[header_i + 1 :]:
        cells = ln.split(",")
        for col, value in (edit or {}).get(int(cells[0]), {}).items():
            cells[cols.index(col)] = value
        out.append(",".join(cells))
    path = directory / CASES.name
    path.write_text("\n".join(out) + "\n")
    return path


# --- import rule and data ---------------------------------------------------------------


def test_import_does_not_load_pymc() -> None:
    code = (
        "import sys, mkba_sim.bayes, mkba_sim.fitting; "
        "print([m for m in ('pymc', 'arviz', 'pytensor') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_case_file_matches_the_study() -> None:
    d = read_cases(CASES)
    assert d.n == 12 and d.cohort_size == 69 and d.window_years == 2
    assert d.cases[d.missing].tolist() == [4, 6, 10, 11]
    assert d.cases[d.reoffended == 1].tolist() == [5, 7]
    assert d.cases[d.reoffended == 0].tolist() == [1, 2, 3, 8, 9, 12]
    assert (d.total_reoffenders, d.total_offences) == (5, 7)
    assert (d.missing_reoffenders, d.extra_offences) == (3, 2)
    assert (d.intensive_cases, d.intensive_reoffenders) == (7, 1)
    assert (d.little_cases, d.little_reoffenders) == (5, 4)
    # the two still detained at the end of 2022 have (almost) no time at risk
    assert d.exposure_high[d.cases == 9][0] <= 0.5 and d.exposure_high[d.cases == 12][0] <= 0.5


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("# @total_reoffenders: 5", "# @total_reoffenders: 9"), "cannot hold"),
        (("# @total_offences: 7", "# @total_offences: 3"), "below @total_reoffenders"),
        (("# @cohort_size: 69\n", ""), "missing for ['cohort_size']"),
        (("5,1,2.0,1.5,2.5", "5,yes,2.0,1.5,2.5"), "reoffended must be 0, 1 or empty"),
        (("7,1,2.0,1.5,2.5", "7,1,2.0,2.5,1.5"), "exposure_low <= exposure_high"),
        (("case,reoffended,", "case,reoff,"), "columns ['reoffended'] missing"),
        (("# @intensive_cases: 7", "# @intensive_cases: 6"), "must equal the 12 rows"),
    ],
)
def test_case_file_errors_name_the_problem(change: tuple[str, str], message: str) -> None:
    text = CASES.read_text()
    assert change[0] in text
    with pytest.raises(BayesError, match=r"nazorg_plus_cases.csv") as exc:
        parse_cases(text.replace(change[0], change[1], 1).encode(), str(CASES))
    assert message in str(exc.value)


# --- the likelihood: the missing outcomes are summed out exactly ---------------------------


def test_marginal_likelihood_equals_brute_force() -> None:
    """Summing over every outcome of cases 4, 6, 10, 11 with exactly 3 reoffenders."""
    import pytensor
    import pytensor.tensor as pt

    from mkba_sim.bayes.nazorg import treated_design, treated_loglik

    d = read_cases(CASES)
    lam, rho = pt.dscalar("lam"), pt.dscalar("rho")
    t = pt.dvector("t")
    fs = [
        pytensor.function(
            [lam, rho, t],
            treated_loglik(lam, rho, t, d.missing, treated_design(d, all_patterns=every)),
            mode="FAST_COMPILE",
        )
        for every in (False, True)
    ]
    rng = np.random.default_rng(3)
    for _ in range(5):
        lam_v, rho_v = rng.uniform(0.05, 1.0), rng.uniform(0.05, 1.5)
        t_v = d.exposure_low + (d.exposure_high - d.exposure_low) * rng.random(d.n)
        p = 1.0 - np.exp(-lam_v * t_v)
        total = 0.0
        for y_missing in itertools.product((0, 1), repeat=4):
            y = d.reoffended.copy()
            y[d.missing] = y_missing
            if y.sum() != d.total_reoffenders:
                continue
            mu = rho_v * t_v[y == 1].sum()
            pois = math.exp(-mu) * mu**d.extra_offences / math.factorial(d.extra_offences)
            total += float(np.prod(np.where(y == 1, p, 1.0 - p))) * pois
        for f in fs:
            assert f(lam_v, rho_v, t_v) == pytest.approx(math.log(total), rel=1e-12)


# --- conjugate special case -------------------------------------------------------------


def test_conjugate_special_case_matches_scipy(tmp_path: Path) -> None:
    """With every exposure fixed at the 2-year window the treated block is conjugate.

    The ``face_value`` prior has no measurement term (recorded = registered offences),
    so rho_treated keeps its conjugate Gamma posterior.

    Then p_i = p_treated for every case and the sum over the missing outcomes is
    4 p³(1 − p) Poisson(2 | 10 ρ), so p_treated ~ Beta(1 + 5, 1 + 7), rho_treated ~
    Gamma(1 + 2, rate 1 + 10), p_intensive ~ Beta(1 + 1, 1 + 6), p_little_connection ~
    Beta(1 + 4, 1 + 1), and the reference parameters keep their priors.

    Tolerance: every posterior quantile (5, 25, 50, 75, 95%) must lie within 4 Monte
    Carlo standard errors (ArviZ ``mcse(method="quantile")``, which accounts for
    autocorrelation) of the exact quantile. With 5 quantiles × 6 variables the chance of a
    false failure is about 30 × 6e-5 ≈ 0.2% (and the seed is fixed).
    """
    import arviz as az
    from scipy import stats

    from mkba_sim.bayes.priors import REFERENCE_PRIORS

    data_dir = tmp_path / "data"
    _write_cases(
        data_dir,
        {c: {"exposure_low": "2.0", "exposure_high": "2.0"} for c in range(1, 13)},
    )
    fit = fit_or_load(NAME, "face_value", cache_dir=tmp_path / "cache", data_dir=data_dir)
    ref = REFERENCE_PRIORS["face_value"]
    exact = {
        "p_treated": stats.beta(6, 8),
        "rho_treated": stats.gamma(3, scale=1 / 11),
        "p_intensive": stats.beta(2, 7),
        "p_little_connection": stats.beta(5, 2),
        "p_support_need": stats.beta(ref.p_support_need.alpha, ref.p_support_need.beta),
        "extra_offences_reference": stats.gamma(
            ref.extra_offences_reference.shape, scale=1 / ref.extra_offences_reference.rate
        ),
    }
    for name, dist in exact.items():
        x = fit.dataset[name].values  # (chain, draw)
        for q in (0.05, 0.25, 0.5, 0.75, 0.95):
            mcse = float(az.mcse(x, method="quantile", prob=q))
            est = float(np.quantile(x, q))
            assert abs(est - dist.ppf(q)) < 4 * mcse, (name, q, est, dist.ppf(q), mcse)


# --- diagnostics gate --------------------------------------------------------------------


def test_gate_flags_chains_that_do_not_mix() -> None:
    rng = np.random.default_rng(1)
    stuck = rng.normal(size=(4, 500)) + np.array([[0.0], [0.0], [0.0], [3.0]])
    good = rng.normal(size=(4, 500))
    diag = compute_diagnostics({"stuck": stuck, "good": good}, divergences=2)
    bad = diag.failures(Thresholds())
    assert diag.worst["rhat"] == "stuck" and diag.max_rhat > 1.1
    assert any(b.startswith("R-hat") for b in bad)
    assert any("divergent" in b for b in bad)
    assert compute_diagnostics({"good": good}, 0).passed()


def test_gate_refuses_a_bad_fit_in_strict_mode(tmp_path: Path) -> None:
    tiny = SamplerSettings(draws=15, tune=15, chains=2, cores=1)
    with pytest.raises(DiagnosticsError, match=r"ESS") as exc:
        fit_or_load(NAME, cache_dir=tmp_path, data_dir=CASES.parent, settings=tiny)
    assert "2 chains x 15 draws" in str(exc.value)
    # not strict: the same (now cached) fit is returned, with a warning
    with pytest.warns(RuntimeWarning, match=r"failed the convergence diagnostics"):
        fit = fit_or_load(
            NAME, cache_dir=tmp_path, data_dir=CASES.parent, settings=tiny, strict=False
        )
    assert fit.from_cache and not fit.diagnostics.passed()


# --- cache -------------------------------------------------------------------------------


def test_cache_hit_loads_the_same_draws_without_sampling(
    shared_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = fit_or_load(NAME, "mixture", cache_dir=shared_cache, data_dir=CASES.parent)

    def no_sampling(*args: object, **kwargs: object) -> None:
        raise AssertionError("re-sampled although the cache is valid")

    monkeypatch.setattr(fitting, "sample_groups", no_sampling)
    again = fit_or_load(NAME, "mixture", cache_dir=shared_cache, data_dir=CASES.parent)
    assert again.from_cache and again.key == first.key
    # the record is the original fit's (its speed is a benchmark, not a unit test)
    assert again.dataset.attrs["fit_seconds"] == first.dataset.attrs["fit_seconds"]
    np.testing.assert_array_equal(again.flat("p_treated"), first.flat("p_treated"))
    # what was cached passed the gate
    assert again.diagnostics.passed() and again.diagnostics.divergences == 0


def test_cache_is_invalidated_when_data_change(
    shared_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    same = _write_cases(tmp_path / "same")
    changed = _write_cases(tmp_path / "changed", {9: {"exposure_high": "0.3"}})
    cached = fit_or_load(NAME, "mixture", cache_dir=shared_cache, data_dir=same.parent)
    assert cached.from_cache  # identical bytes elsewhere: same key

    class ResampledError(Exception):
        pass

    def sampling(*args: object, **kwargs: object) -> None:
        raise ResampledError

    monkeypatch.setattr(fitting, "sample_groups", sampling)
    with pytest.raises(ResampledError):
        fit_or_load(NAME, "mixture", cache_dir=shared_cache, data_dir=changed.parent)
    # a different prior is a different posterior too
    with pytest.raises(ResampledError):
        fit_or_load(NAME, "support_need", cache_dir=shared_cache, data_dir=same.parent)


def test_cache_key_covers_data_priors_code_and_sampler() -> None:
    from mkba_sim.bayes import cache_key, get_model

    sub = get_model(NAME)
    d = read_cases(CASES)
    code = fitting.code_sha256(sub)
    v = {"pymc": "5"}

    def key(prior: str, data: CaseData, settings: SamplerSettings, code: str = code) -> str:
        return cache_key(sub, sub.prior(prior), data.sha256, settings, code_sha256=code, versions=v)

    base = key("mixture", d, SamplerSettings())
    other_data = parse_cases(CASES.read_bytes().replace(b"2.5,no,,", b"2.4,no,,", 1))
    assert key("mixture", other_data, SamplerSettings()) != base
    assert key("very_active", d, SamplerSettings()) != base
    assert key("mixture", d, SamplerSettings(seed=1)) != base
    assert key("mixture", d, SamplerSettings(), code="other code") != base
    assert key("mixture", d, SamplerSettings()) == base


# --- public API --------------------------------------------------------------------------


def test_load_posterior_draws_are_jointly_indexed(shared_cache: Path) -> None:
    names = [
        "p_treated",
        "p_reference",
        "rate_treated",
        "rate_reference",
        "avoided_offences_per_client_year",
        "relative_reduction_reoffending",
        "relative_reduction_offences",
        "offences_per_recidivist_treated",
        "cohort_offences_avoided",
        "cohort_offences_treated",
        "cohort_offences_reference",
    ]
    d = fitting.load_posterior(NAME, names, cache_dir=shared_cache, data_dir=CASES.parent)
    assert list(d) == names
    assert {a.shape for a in d.values()} == {(4000,)}
    assert all(a.dtype == np.float64 for a in d.values())
    # identities that hold draw by draw only if the draws share their index
    np.testing.assert_allclose(
        d["rate_treated"], d["p_treated"] * d["offences_per_recidivist_treated"] / 2
    )
    np.testing.assert_allclose(
        d["avoided_offences_per_client_year"], d["rate_reference"] - d["rate_treated"]
    )
    np.testing.assert_allclose(
        d["relative_reduction_reoffending"], 1 - d["p_treated"] / d["p_reference"]
    )
    np.testing.assert_allclose(
        d["relative_reduction_offences"], 1 - d["rate_treated"] / d["rate_reference"]
    )
    np.testing.assert_array_equal(
        d["cohort_offences_avoided"],
        d["cohort_offences_reference"] - d["cohort_offences_treated"],
    )
    d2 = fitting.load_posterior(
        NAME,
        [
            "p_reference",
            "p_reference_reported",
            "transfer_bias",
            "expected_offences_avoided_per_year",
            "expected_offences_treated_per_year",
            "expected_offences_reference_per_year",
            "p_treated_population",
        ],
        cache_dir=shared_cache,
        data_dir=CASES.parent,
    )
    logit = np.log(d2["p_reference_reported"] / (1 - d2["p_reference_reported"]))
    np.testing.assert_allclose(d2["p_reference"], 1 / (1 + np.exp(-(logit + d2["transfer_bias"]))))
    np.testing.assert_allclose(
        d2["expected_offences_avoided_per_year"],
        d2["expected_offences_reference_per_year"] - d2["expected_offences_treated_per_year"],
    )
    # the transfer term is there, with its N(0, 0.5) prior (no data inform it)
    assert 0.4 < d2["transfer_bias"].std() < 0.6
    # ignorable selection by default: the population's probability is the sample's
    np.testing.assert_allclose(d2["p_treated_population"], d["p_treated"])
    # finite population: the 12 observed contribute their 7 offences, the 57 are predicted
    assert d["cohort_offences_treated"].min() >= 7
    assert np.all(d["cohort_offences_avoided"] == np.round(d["cohort_offences_avoided"]))


def test_load_posterior_errors(tmp_path: Path) -> None:
    with pytest.raises(BayesError, match=r"unknown Bayesian sub-model 'nope'.*nazorg_plus"):
        fitting.load_posterior("nope", ["p_treated"], cache_dir=tmp_path)
    with pytest.raises(BayesError, match=r"unknown variable.*'p_treatd'.*avoided_offences"):
        fitting.load_posterior(NAME, ["p_treated", "p_treatd"], cache_dir=tmp_path)
    with pytest.raises(BayesError, match=r"unknown prior 'zavp'.*very_active"):
        fitting.load_posterior(NAME, ["p_treated"], cache_dir=tmp_path, prior="zavp")
    with pytest.raises(BayesError, match=r"not found in .*copy models/data/nazorg_plus_cases"):
        fitting.load_posterior(NAME, ["p_treated"], cache_dir=tmp_path, data_dir=tmp_path)
    with pytest.raises(BayesError, match=r"no variables"):
        fitting.load_posterior(NAME, [], cache_dir=tmp_path)
    assert not any(tmp_path.rglob("*.nc"))  # nothing was fitted


def test_summary_json_and_text(shared_cache: Path) -> None:
    doc = fitting.bayes_summary_json(
        NAME, prior="mixture", data_dir=CASES.parent, cache_dir=shared_cache
    )
    json.dumps(doc)  # JSON-able
    assert doc["schema"] == "mkba_sim.bayes/2" and doc["name"] == NAME
    assert "not a causal estimate" in doc["caveat"]
    assert doc["prior"]["name"] == "mixture"
    assert doc["diagnostics"]["passed"] and doc["draws"] == 4000
    v = doc["variables"]["avoided_offences_per_client_year"]
    assert v["interval90"][0] < v["median"] < v["interval90"][1]
    assert 0.5 < doc["probabilities"]["P(fewer offences per client-year)"] <= 1.0
    assert [r["prior"] for r in doc["prior_sensitivity"]] == ["mixture"]
    text = format_summary(doc)
    assert "cohort_offences_avoided" in text and "P(fewer offences" in text
    assert "CAVEAT" in text and "not a causal estimate" in text
    with pytest.raises(BayesError, match=r"not a mkba_sim.bayes/2 document"):
        format_summary({"schema": "other"})


MODEL_TOML = """
[model]
title = "posterior test"
price_year = 2020
horizon_years = 2

[parameters.avoided]
dist = "posterior"
model = "nazorg_plus_recidivism"
variable = "avoided_offences_per_client_year"
source = "test"

[parameters.p_treated]
dist = "posterior"
model = "nazorg_plus_recidivism"
variable = "p_treated"
source = "test"

[[items]]
name = "avoided offence costs"
side = "benefit"
stakeholder = "justice"
value = "69 * avoided * 500"
years = [1, 2]
"""


def test_model_file_finds_its_data_and_simulates(shared_cache: Path, tmp_path: Path) -> None:
    model_path = tmp_path / "m.toml"
    model_path.write_text(MODEL_TOML)
    with pytest.raises(mkba_sim.ModelFileError, match=r"not found in .*data"):
        mkba_sim.simulate(model_path, draws=1000, seed=1, bayes_cache=shared_cache)
    _write_cases(tmp_path / "data")
    res = mkba_sim.simulate(model_path, draws=20_000, seed=1, bayes_cache=shared_cache)
    avoided = fitting.load_posterior(
        NAME, ["avoided_offences_per_client_year"], cache_dir=shared_cache, data_dir=CASES.parent
    )["avoided_offences_per_client_year"]
    mean_net = res.summary("base")["net"]["mean"]
    assert mean_net == pytest.approx(2 * 69 * 500 * avoided.mean(), rel=0.03)


def test_cli_bayes_end_to_end(shared_cache: Path, tmp_path: Path) -> None:
    model_path = tmp_path / "m.toml"
    model_path.write_text(MODEL_TOML)
    _write_cases(tmp_path / "data")
    env = dict(os.environ, MKBA_SIM_CACHE=str(shared_cache.parent))
    cmd = [sys.executable, "-m", "mkba_sim.cli", "bayes", str(model_path)]
    start = time.perf_counter()
    proc = subprocess.run(
        [*cmd, "--json", "--prior", "mixture"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert time.perf_counter() - start < 30  # loaded from the cache, not fitted
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "mkba_sim.bayes/2" and doc["model"] == str(model_path)
    sub = doc["submodels"][NAME]
    assert sub["cache"]["from_cache"] and sub["data"]["path"] == str(tmp_path / "data" / CASES.name)
    text = subprocess.run(
        [*cmd, "--prior", "mixture"], capture_output=True, text=True, env=env, timeout=600
    )
    assert text.returncode == 0 and "avoided_offences_per_client_year" in text.stdout
    bad = subprocess.run(
        [*cmd, "--prior", "zavp"], capture_output=True, text=True, env=env, timeout=600
    )
    assert bad.returncode == 2 and "unknown prior 'zavp'" in bad.stderr
    assert "Traceback" not in bad.stderr


# --- transfer, measurement, selection, population (issue 10) ---------------------------


def _fake_draws(rng: np.random.Generator, n: int = 2000) -> dict[str, np.ndarray]:
    d = read_cases(CASES)
    shape = (2, n // 2)
    return {
        "p_treated": rng.beta(6, 8, shape),
        "rho_treated": rng.gamma(3, 1 / 11, shape),
        "p_support_need": rng.beta(500, 540, shape),
        "p_very_active": rng.beta(220, 74, shape),
        "w_u": rng.random(shape),
        "extra_offences_reference": rng.gamma(11.6, 1 / 6.8, shape),
        "p_intensive": rng.beta(2, 7, shape),
        "p_little_connection": rng.beta(5, 2, shape),
        "transfer_bias": rng.normal(0, 0.5, shape),
        "measurement_log_ratio": rng.normal(0, 0.3, shape),
        "exposure": d.exposure_low + (d.exposure_high - d.exposure_low) * rng.random((*shape, d.n)),
    }


def test_sensitivity_rows_cover_counts_bias_and_selection() -> None:
    from mkba_sim.bayes import get_model

    sub = get_model(NAME)
    rows = {n: sub.prior(n) for n in sub.sensitivity}
    assert {r.recorded_offences for r in rows.values()} >= {None, 9, 11}
    assert {r.transfer_sd for r in rows.values()} >= {0.0, 0.5, 1.0}
    assert any(r.selection_log_odds > 0 for r in rows.values())
    assert sub.prior(None).name == "mixture" and sub.prior(None).transfer_sd == 0.5
    assert "not a causal estimate" in sub.caveat


def test_recorded_offences_variant_changes_the_data() -> None:
    from mkba_sim.bayes.nazorg import with_recorded_offences
    from mkba_sim.bayes.priors import REFERENCE_PRIORS

    d = read_cases(CASES)
    assert with_recorded_offences(d, REFERENCE_PRIORS["offences_9"]).extra_offences == 4
    assert with_recorded_offences(d, REFERENCE_PRIORS["offences_11"]).total_offences == 11
    assert with_recorded_offences(d, REFERENCE_PRIORS["mixture"]) is d


def test_population_expectation_and_selection() -> None:
    """The ledger's input is an expectation for 69, not a one-cohort prediction.

    Checked against a direct computation: E[offences per client per year] = mean over the
    cases' times at risk of (1 - exp(-lam t)) (1 + rho t) / T, times 69. The finite-
    population prediction has (about) the same mean for the 57 unobserved; its spread is
    larger (Poisson and Bernoulli noise). Selection: p_population = 0.6 p + 0.4 expit(logit
    p + log 2) > p.
    """
    from mkba_sim.bayes.nazorg import derived_quantities
    from mkba_sim.bayes.priors import REFERENCE_PRIORS

    d = read_cases(CASES)
    draws = _fake_draws(np.random.default_rng(5))
    out = derived_quantities(draws, d, REFERENCE_PRIORS["mixture"], np.random.default_rng(1))
    lam = -np.log1p(-out["p_treated"]) / 2
    t = draws["exposure"]
    e = (-np.expm1(-lam[..., None] * t) * (1 + draws["rho_treated"][..., None] * t)).mean(-1)
    np.testing.assert_allclose(out["expected_offences_treated_per_year"], 69 * e / 2)
    assert out["expected_offences_avoided_per_year"].std() < out["cohort_offences_avoided"].std()
    sel = derived_quantities(
        draws, d, REFERENCE_PRIORS["selection_lost_worse"], np.random.default_rng(1)
    )
    p = out["p_treated"]
    expit = 1 / (1 + np.exp(-(np.log(p / (1 - p)) + np.log(2))))
    np.testing.assert_allclose(sel["p_treated_population"], 0.6 * p + 0.4 * expit)
    assert np.all(
        sel["expected_offences_avoided_per_year"] < out["expected_offences_avoided_per_year"]
    )
    # measurement ratio exp(eta) and transfer bias pass through draw by draw
    np.testing.assert_allclose(out["measurement_ratio"], np.exp(draws["measurement_log_ratio"]))
    np.testing.assert_array_equal(out["transfer_bias"], draws["transfer_bias"])
