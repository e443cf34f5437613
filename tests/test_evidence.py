"""``[evidence.NAME]`` blocks: validation, conjugate checks, SBC, the example end to end.

Fits use small temporary caches. The conjugate checks compare PyMC's posterior with the
closed form (Beta-binomial, Gamma-Poisson; Gelman et al. 2013 §2.4, §2.6) at five
quantiles, each within 4 Monte Carlo standard errors (ArviZ ``mcse(method="quantile")``,
autocorrelation-aware): with 5 comparisons per variable the false-alarm rate is about
5 × 6e-5 (and the seed is fixed).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import mkba_sim
from conftest import REPO
from mkba_sim import fitting
from mkba_sim.bayes import EvidenceSubModel, SamplerSettings
from mkba_sim.errors import ModelFileError

EXAMPLE = REPO / "models" / "examples" / "evidence_reoffending.toml"
SMALL = SamplerSettings(draws=1000, tune=600, chains=2, cores=2, prior_draws=200)

HEAD = """
[model]
title = "evidence test"
price_year = 2020
horizon_years = 1

[[items]]
name = "x"
side = "benefit"
stakeholder = "s"
value = "1000 * q"
years = [1]

[parameters.q]
dist = "posterior"
model = "e"
variable = "{variable}"
source = "test"
"""


def _model(block: str, variable: str = "p") -> mkba_sim.Model:
    return mkba_sim.loads_model(HEAD.format(variable=variable) + block, path="m.toml")


BINOMIAL = """
[evidence.e]
kind = "binomial"
events = 5
trials = 12
"""


@pytest.mark.parametrize(
    ("block", "key", "message"),
    [
        ("kind = 'binomal'\nevents = 5\ntrials = 12", "evidence.e.kind", "must be one of"),
        ("kind = 'binomial'\nevents = 5", "evidence.e.trials", "is required"),
        ("kind = 'binomial'\nevents = 13\ntrials = 12", "evidence.e.events", "events <= trials"),
        ("kind = 'binomial'\nevents = -1\ntrials = 12", "evidence.e.events", "whole number"),
        ("kind = 'binomial'\nevents = 5\ntrials = 12\nexposure = 1.5", "evidence.e", "window"),
        ("kind = 'binomial'\nevent = 5\ntrials = 12", "evidence.e.event", "did you mean 'events'"),
        (
            "kind = 'binomial'\nevents = 5\ntrials = 12\n"
            "prior = { dist = 'beta', mean = 0.5, sd = 0.6 }",
            "evidence.e.prior",
            "no Beta distribution",
        ),
        ("kind = 'poisson'\nevents = 7\nexposure = 20", "evidence.e.prior", "is required"),
        (
            "kind = 'comparison'\nevents = 5\ntrials = 12\nreference = { mean = 0.5, sd = 0.05 }",
            "evidence.e.transfer",
            "is required",
        ),
        (
            "kind = 'comparison'\nevents = 5\ntrials = 12\nreference = { mean = 0.5 }\n"
            "transfer = { sd = 0.5 }",
            "evidence.e.reference",
            "needs mean and sd",
        ),
        (
            "kind = 'comparison'\nevents = 5\ntrials = 12\nreference = { mean = 1.5, sd = 0.1 }\n"
            "transfer = { sd = 0.5 }",
            "evidence.e.reference",
            "no probability distribution",
        ),
        (
            "kind = 'comparison'\nevents = 5\ntrials = 12\nreference = { mean = 0.5, sd = 0.05 }\n"
            "transfer = { sd = 'wide' }",
            "evidence.e.transfer.sd",
            "finite number",
        ),
    ],
)
def test_evidence_errors_name_file_and_key(block: str, key: str, message: str) -> None:
    with pytest.raises(ModelFileError) as exc:
        _model("[evidence.e]\n" + block + "\n")
    assert exc.value.path == "m.toml" and exc.value.key == key, str(exc.value)
    assert message in exc.value.problem


def test_posterior_parameter_must_ask_for_an_output_of_the_block() -> None:
    with pytest.raises(ModelFileError, match=r"parameters.q.variable.*no variable 'rate'"):
        _model(BINOMIAL, variable="rate")
    m = _model(BINOMIAL)
    assert m.evidence["e"].outputs == ("p",) and m.evidence["e"].events == 5


def test_evidence_submodel_follows_the_protocol() -> None:
    from mkba_sim.bayes import SubModel

    m = mkba_sim.load_model(EXAMPLE)
    sub = fitting.resolve_submodel("reoffending", m)
    assert isinstance(sub, EvidenceSubModel) and isinstance(sub, SubModel)
    assert sub.sensitivity == ("default", "no_transfer", "double_transfer")
    assert "not a causal estimate" in sub.caveat
    # the derived outputs, draw by draw
    draws = {
        "p_treated": np.array([[0.3, 0.4]]),
        "p_reference_reported": np.array([[0.5, 0.5]]),
        "transfer_bias": np.array([[0.0, np.log(2.0)]]),
    }
    ev = m.evidence["reoffending"]
    out = sub.derive(draws, ev, sub.prior(None), np.random.default_rng(0))
    np.testing.assert_allclose(out["p_reference"], [[0.5, 2 / 3]])
    np.testing.assert_allclose(out["difference"], [[0.2, 2 / 3 - 0.4]])
    np.testing.assert_allclose(out["odds_ratio"][0, 0], (0.3 / 0.7) / 1.0)
    # no transfer term: the bias is its mean, 0
    del draws["transfer_bias"]
    out0 = sub.derive(draws, ev, sub.prior("no_transfer"), np.random.default_rng(0))
    np.testing.assert_allclose(out0["p_reference"], 0.5)


def _check_quantiles(x: np.ndarray, dist: object) -> None:
    import arviz as az

    for q in (0.05, 0.25, 0.5, 0.75, 0.95):
        mcse = float(az.mcse(x, method="quantile", prob=q))
        est = float(np.quantile(x, q))
        exact = float(dist.ppf(q))  # type: ignore[attr-defined]
        assert abs(est - exact) < 4 * mcse, (q, est, exact, mcse)


def test_binomial_block_matches_the_beta_binomial_closed_form(tmp_path: Path) -> None:
    """5 of 12 with a Beta(2, 3) prior: the posterior is Beta(7, 10)."""
    from scipy import stats

    m = _model(BINOMIAL + "prior = { dist = 'beta', alpha = 2, beta = 3 }\n")
    fit = fitting.fit_or_load("e", model=m, cache_dir=tmp_path, settings=SMALL)
    assert fit.diagnostics.passed()
    _check_quantiles(fit.dataset["p"].values, stats.beta(7, 10))
    # ArviZ-native: the cache file is an InferenceData with the four groups
    import arviz as az

    idata = az.from_netcdf(fit.path)
    assert set(idata.groups()) >= {"posterior", "sample_stats", "observed_data", "prior"}
    assert int(idata.observed_data["events"]) == 5
    assert "r_hat" in az.summary(idata, var_names=["p"]).columns


def test_poisson_block_matches_the_gamma_poisson_closed_form(tmp_path: Path) -> None:
    """7 events over 20 person-years, Gamma(2, rate 4) prior: posterior Gamma(9, rate 24)."""
    from scipy import stats

    block = (
        "[evidence.e]\nkind = 'poisson'\nevents = 7\nexposure = 20\n"
        "prior = { dist = 'gamma', shape = 2, rate = 4 }\n"
    )
    m = _model(block, variable="rate")
    events: list[tuple[str, int, int, str]] = []
    fit = fitting.fit_or_load(
        "e", model=m, cache_dir=tmp_path, settings=SMALL, on_progress=lambda *e: events.append(e)
    )
    _check_quantiles(fit.dataset["rate"].values, stats.gamma(9, scale=1 / 24))
    # progress: the posterior step around one "fit" step per draw of every chain
    total = SMALL.chains * (SMALL.tune + SMALL.draws)
    assert events[0] == ("posterior", 0, 1, "e (prior default)")
    assert events[-1] == ("posterior", 1, 1, "fitted")
    fits = [e for e in events if e[0] == "fit"]
    assert len(fits) == total + 1 and fits[-1][1] == fits[-1][2] == total


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("MKBA_SIM_SKIP_SBC") == "1", reason="MKBA_SIM_SKIP_SBC=1")
def test_binomial_block_simulation_based_calibration() -> None:
    """SBC (Talts et al. 2018) of the binomial block with exposure (1.5 of 2 years).

    30 data sets: p from the Beta(1, 1) prior, k ~ Binomial(12, 1 - (1 - p)^0.75); one
    compiled model with the events in a ``pm.Data`` container; rank of the true p among
    99 thinned draws; chi-square test over 5 bins, failing at p < 0.001.
    """
    import logging
    import warnings

    from scipy import stats

    from mkba_sim.bayes.evidence import _VARIANTS, build_evidence_model

    fitting.configure_pytensor()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import pymc as pm

    block = BINOMIAL + "exposure = 1.5\nwindow = 2\n"
    ev = _model(block).evidence["e"]
    model = build_evidence_model(ev, _VARIANTS["default"], mutable_data=True)
    logging.getLogger("pymc").setLevel(logging.ERROR)
    rng = np.random.default_rng(20240601)
    ranks = []
    for i in range(30):
        p = rng.beta(1, 1)
        k = int(rng.binomial(12, 1 - (1 - p) ** 0.75))
        pm.set_data({"events": k}, model=model)
        idata = pm.sample(
            draws=500,
            tune=300,
            chains=2,
            cores=1,
            random_seed=i,
            progressbar=False,
            compute_convergence_checks=False,
            model=model,
        )
        flat = idata.posterior["p"].values.reshape(-1)
        thinned = flat[np.linspace(0, flat.size - 1, 99).astype(int)]
        ranks.append(int(np.sum(thinned < p)))
    counts = np.bincount(np.asarray(ranks) * 5 // 100, minlength=5)
    pvalue = stats.chisquare(counts).pvalue
    print(f"SBC evidence binomial: bin counts {counts.tolist()}, chi-square p = {pvalue:.3f}")
    assert pvalue > 0.001, (counts.tolist(), pvalue)


def test_example_fits_gates_caches_and_simulates_from_the_cli(tmp_path: Path) -> None:
    """The example model file from a fresh clone: bayes (fit), bayes again (cache), run."""
    env = dict(os.environ, MKBA_SIM_CACHE=str(tmp_path / "cache"))
    import subprocess
    import sys

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mkba_sim.cli", *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=900,
        )

    first = cli("bayes", str(EXAMPLE), "--prior", "default", "--json")
    assert first.returncode == 0, first.stderr
    doc = json.loads(first.stdout)["submodels"]["reoffending"]
    assert not doc["cache"]["from_cache"] and doc["diagnostics"]["passed"]
    assert "not a causal estimate" in doc["caveat"]
    p = doc["variables"]["p_treated"]
    assert 0.3 < p["mean"] < 0.5  # 5 of 12 with a uniform prior: Beta(6, 8), mean 0.43
    nc = list((tmp_path / "cache" / "posteriors" / "reoffending").glob("default-*.nc"))
    assert len(nc) == 1
    second = cli("bayes", str(EXAMPLE), "--prior", "default")
    assert second.returncode == 0 and "loaded from cache" in second.stdout
    assert "CAVEAT" in second.stdout
    run = cli("run", str(EXAMPLE), "--draws", "20000", "--seed", "1", "--json")
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    (post,) = out["posteriors"]
    assert post["model"] == "reoffending" and post["from_cache"] and post["diagnostics_passed"]
    assert "not a causal estimate" in post["caveat"]
    assert 0.0 < out["scenarios"]["base"]["p_net_positive"] < 1.0
    text = cli("run", str(EXAMPLE), "--draws", "20000", "--seed", "1")
    assert text.returncode == 0 and "Caveat: a comparison with an external reference" in text.stdout


# --- registering a user's own sub-model ----------------------------------------------------


class _MySubModel(EvidenceSubModel):
    """A user's Python sub-model (here: an evidence block under its own name)."""


def test_register_a_python_submodel_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    from mkba_sim.bayes import MODELS, register
    from mkba_sim.errors import BayesError

    monkeypatch.setattr("mkba_sim.bayes.registry.MODELS", dict(MODELS))
    import mkba_sim.bayes.registry as registry

    monkeypatch.setattr(fitting, "MODELS", registry.MODELS)
    sub = _MySubModel(_model(BINOMIAL).evidence["e"])
    sub.name = "my_model"
    register(sub)
    assert fitting.resolve_submodel("my_model") is sub
    other = _MySubModel(_model(BINOMIAL).evidence["e"])
    other.name = "my_model"
    with pytest.raises(BayesError, match=r"already registered"):
        register(other)
    assert register(other, replace=True) is fitting.resolve_submodel("my_model")
    with pytest.raises(BayesError, match=r"is not a SubModel: missing \[.*'build'"):
        register(object())  # type: ignore[arg-type]
    with pytest.raises(BayesError, match=r"unknown Bayesian sub-model 'nope'.*my_model"):
        fitting.resolve_submodel("nope")


def test_entry_point_submodels_are_loaded_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    import mkba_sim.bayes.registry as registry
    from mkba_sim.bayes import MODELS

    models = dict(MODELS)
    monkeypatch.setattr(registry, "MODELS", models)
    monkeypatch.setattr(fitting, "MODELS", models)
    monkeypatch.setattr(fitting, "_ENTRY_POINTS_LOADED", False)
    sub = _MySubModel(_model(BINOMIAL).evidence["e"])
    sub.name = "installed_model"
    ep = metadata.EntryPoint("installed_model", "pkg.mod:factory", registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(metadata.EntryPoint, "load", lambda self: lambda: sub)
    monkeypatch.setattr(
        fitting.metadata,
        "entry_points",
        lambda group: [ep] if group == registry.ENTRY_POINT_GROUP else [],
    )
    assert fitting.resolve_submodel("installed_model") is sub


def test_posterior_store_round_trip_and_atomic_write(tmp_path: Path) -> None:
    """The store writes the groups into one NetCDF file (via a temporary name) and reads
    every group back; ArviZ reads the same file as an InferenceData."""
    import xarray as xr

    from mkba_sim.io.posteriors import PosteriorStore

    rng = np.random.default_rng(3)
    coords = {"chain": [0, 1], "draw": np.arange(50)}
    groups = {
        "posterior": xr.Dataset(
            {"p": (("chain", "draw"), rng.random((2, 50)))}, coords=coords, attrs={"k": "v"}
        ),
        "sample_stats": xr.Dataset(
            {"diverging": (("chain", "draw"), np.zeros((2, 50), dtype=bool))}, coords=coords
        ),
        "observed_data": xr.Dataset({"events": np.asarray(5)}),
        "prior": xr.Dataset({"p": (("chain", "draw"), rng.random((1, 50)))}),
    }
    store = PosteriorStore(tmp_path)
    path = store.path("m", "default", "ab" * 32)
    assert path == tmp_path / "m" / f"default-{'ab' * 12}.nc"
    assert store.read(path) is None
    store.write(path, groups)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary left
    back = store.read(path)
    assert back is not None and set(back) == set(groups)
    np.testing.assert_array_equal(back["posterior"]["p"].values, groups["posterior"]["p"].values)
    assert back["posterior"].attrs["k"] == "v"
    assert back["sample_stats"]["diverging"].dtype == bool
    path.write_bytes(b"not netcdf")
    with pytest.raises((OSError, ValueError)):
        store.read(path)


def test_poisson_comparison_block_builds_and_derives() -> None:
    """A count comparison: 7 offences in 20 person-years against 0.8 ± 0.1 a year."""
    block = (
        "[evidence.e]\nkind = 'comparison'\noutcome = 'poisson'\nevents = 7\nexposure = 20\n"
        "prior = { dist = 'gamma', mean = 0.5, sd = 0.5 }\n"
        "reference = { mean = 0.8, sd = 0.1 }\ntransfer = { sd = 0.3 }\nunit = 'offences/year'\n"
    )
    m = _model(block, variable="rate_ratio")
    ev = m.evidence["e"]
    sub = EvidenceSubModel(ev)
    assert ev.outputs[0] == "rate_treated" and sub.variables["rate_treated"].unit == "offences/year"
    model = sub.build(ev, sub.prior(None))
    assert {v.name for v in model.free_RVs} == {
        "rate_treated",
        "rate_reference_reported",
        "transfer_bias",
    }
    draws = {
        "rate_treated": np.array([[0.4]]),
        "rate_reference_reported": np.array([[0.8]]),
        "transfer_bias": np.array([[np.log(1.25)]]),
    }
    out = sub.derive(draws, ev, sub.prior(None), np.random.default_rng(0))
    np.testing.assert_allclose(out["rate_reference"], 1.0)
    np.testing.assert_allclose(out["difference"], 0.6)
    np.testing.assert_allclose(out["rate_ratio"], 0.4)
    np.testing.assert_allclose(out["relative_reduction"], 0.6)
