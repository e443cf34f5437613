"""Simulation-based calibration of the treated block (Talts et al. 2018, arXiv:1804.06788).

For each of ``N_DATASETS`` data sets: draw ``p_treated``, ``rho_treated`` and
``p_intensive`` from their priors and the exposures from theirs, simulate the twelve
cases with the study's structure (cases 4, 6, 10, 11 reported only as a count; only the
total number of offences), hide what the study hides, fit the model and record the rank
of each true value among ``L`` thinned posterior draws. If the sampler and the
likelihood (including the sum over the hidden outcomes) are right, each rank is uniform
on 0..L.

Check: ranks in 5 equal bins, chi-square test of uniformity; the test fails if any of the
three parameters has p < 0.001 (family-wise false-alarm rate about 0.3%; the seed is
fixed, so the run is reproducible). Results are reported in docs/bayes.md.

Runtime: about a minute on two cores. ``MKBA_SIM_SKIP_SBC=1`` skips it.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from mkba_sim.bayes.data import parse_cases
from mkba_sim.bayes.nazorg import build_model, set_observed, simulate_dataset
from mkba_sim.bayes.priors import REFERENCE_PRIORS
from mkba_sim.fitting import configure_pytensor

CASES = Path(__file__).resolve().parent.parent / "models" / "data" / "nazorg_plus_cases.csv"
N_DATASETS = 30
L = 99  # thinned posterior draws per data set: ranks 0..99
BINS = 5
PARAMS = ("p_treated", "rho_treated", "p_intensive")


def sbc_ranks(n_datasets: int, seed: int) -> dict[str, np.ndarray]:
    """Rank of the true value among ``L`` posterior draws, per data set and parameter.

    One model with ``pm.Data`` containers and one NUTS step are compiled once; each data
    set is swapped in with :func:`set_observed` (tuning restarts for every fit).
    """
    import logging

    configure_pytensor()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
        import pymc as pm

        data = parse_cases(CASES.read_bytes(), str(CASES))
        prior = REFERENCE_PRIORS["mixture"]  # with the measurement and transfer terms
        model = build_model(data, prior, mutable_data=True)
        step = pm.NUTS(model=model, target_accept=0.9)
    logging.getLogger("pymc").setLevel(logging.ERROR)
    rng = np.random.default_rng(seed)
    ranks: dict[str, list[int]] = {p: [] for p in PARAMS}
    for i in range(n_datasets):
        truth, sim = simulate_dataset(data, rng, measurement_sd=prior.measurement_sd)
        set_observed(model, sim)
        idata = pm.sample(
            draws=500,
            tune=500,
            chains=2,
            cores=1,
            step=step,
            random_seed=seed + i,
            progressbar=False,
            compute_convergence_checks=False,
            model=model,
        )
        for p in PARAMS:
            flat = idata.posterior[p].values.reshape(-1)
            thinned = flat[np.linspace(0, flat.size - 1, L).astype(int)]
            ranks[p].append(int(np.sum(thinned < truth[p])))
    return {p: np.asarray(r) for p, r in ranks.items()}


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("MKBA_SIM_SKIP_SBC") == "1", reason="MKBA_SIM_SKIP_SBC=1")
def test_simulation_based_calibration() -> None:
    from scipy import stats

    ranks = sbc_ranks(N_DATASETS, seed=20230413)
    for p, r in ranks.items():
        assert r.min() >= 0 and r.max() <= L
        counts = np.bincount(r * BINS // (L + 1), minlength=BINS)
        pvalue = stats.chisquare(counts).pvalue
        print(f"SBC {p}: bin counts {counts.tolist()}, chi-square p = {pvalue:.3f}")
        assert pvalue > 0.001, (p, counts.tolist(), pvalue)
