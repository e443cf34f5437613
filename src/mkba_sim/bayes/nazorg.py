"""The nazorg-plus recidivism model: twelve cases, exposure, missing outcomes, a reference.

The model (in full in ``docs/bayes.md``) has three independent blocks.

**Treated (the twelve cases).** Case *i* is at risk for ``t_i`` years, drawn uniformly
between its ``exposure_low`` and ``exposure_high`` (two cases were still detained at the
end of 2022). With a constant hazard λ, it reoffends with probability
``p_i = 1 − exp(−λ t_i)``; λ is parametrised by the two-year probability
``p_treated = 1 − exp(−2λ)`` ~ Beta(1, 1). A reoffender commits ``1 + Poisson(ρ t_i)``
offences (hurdle form: the reference figure 2.7 is per *recidivist*), ρ ~ Gamma(1, 1).
Only the total (7 offences among 5 reoffenders) is known, and only the *number* of
reoffenders among cases 4, 6, 10, 11 (three), not which. The likelihood sums over every
assignment consistent with that count (:func:`treated_loglik`), so the missing outcomes
are marginalised exactly, each assignment carrying its own exposures.

**Reference (care as usual).** No data: the priors of
:mod:`mkba_sim.bayes.priors` (two WODC groups and the weight between them).

**Intensity contrast (secondary).** Reoffending in the intensive group (1 of 7) and the
little-connection group (4 of 5), binomial with Beta(1, 1) priors (§5.1 gives only these
aggregates, so exposure cannot be split by group).

Derived quantities and the cohort's posterior predictive are computed from the draws in
:func:`derived_quantities`.

References
----------
Seed 003 (Nazorg-plus Midden-Limburg), §5.1 pp. 33–37: 5 of 12 reoffended, 7 offences,
    the intensity split, reference groups; §5.2 pp. 40–41: two still detained.
Gelman, A., Carlin, J. B., Stern, H. S., Dunson, D. B., Vehtari, A. & Rubin, D. B. (2013).
    *Bayesian Data Analysis*, 3rd ed., §8.3–8.4 (finite-population inference: observed
    units fixed, unobserved units predicted). CRC Press.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from mkba_sim.bayes.data import CaseData, parse_cases
from mkba_sim.bayes.priors import (
    DEFAULT_PRIOR,
    REFERENCE_PRIORS,
    TREATED_PRIORS,
    ReferencePrior,
    TreatedPriors,
)
from mkba_sim.bayes.protocol import VariableInfo
from mkba_sim.errors import BayesError

__all__ = [
    "BASE_VARIABLES",
    "CAVEAT",
    "VARIABLES",
    "NazorgRecidivism",
    "VariableInfo",
    "build_model",
    "derived_quantities",
    "set_observed",
    "simulate_dataset",
    "treated_design",
    "treated_loglik",
]


#: Free parameters of the PyMC model (all scalar except ``exposure``).
BASE_VARIABLES = (
    "p_treated",
    "rho_treated",
    "p_support_need",
    "p_very_active",
    "w_u",
    "extra_offences_reference",
    "p_intensive",
    "p_little_connection",
    "transfer_bias",
    "measurement_log_ratio",
)

#: Every scalar output per posterior draw (what model files may ask for).
VARIABLES: dict[str, VariableInfo] = {
    "p_treated": VariableInfo(
        "1", "two-year probability of reoffending under nazorg-plus (the 12 interviewed)"
    ),
    "p_treated_population": VariableInfo(
        "1",
        "the same for the cohort's population (selection of 12 of 20 drawn; = p_treated "
        "if the loss is ignorable)",
    ),
    "p_reference": VariableInfo(
        "1", "two-year probability of reoffending, care as usual, transferred to this group"
    ),
    "p_reference_reported": VariableInfo(
        "1", "the WODC reference groups' probability (mixture by reference_weight)"
    ),
    "transfer_bias": VariableInfo(
        "1", "log-odds bias between the reported reference and this group (Turner et al. 2009)"
    ),
    "measurement_ratio": VariableInfo(
        "1", "recorded (interviews, case files) / registered-comparable further offences"
    ),
    "expected_offences_avoided_per_year": VariableInfo(
        "offences/year",
        "LEDGER INPUT: expected offences avoided per year by a cohort of 69 (population "
        "expectation: recurs with every cohort)",
    ),
    "expected_offences_treated_per_year": VariableInfo(
        "offences/year", "expected offences per year of a cohort of 69 under nazorg-plus"
    ),
    "expected_offences_reference_per_year": VariableInfo(
        "offences/year", "expected offences per year of a cohort of 69, care as usual"
    ),
    "rate_treated": VariableInfo(
        "offences/client-year", "offences per client-year at risk under nazorg-plus"
    ),
    "rate_reference": VariableInfo(
        "offences/client-year", "offences per client-year at risk, care as usual"
    ),
    "avoided_offences_per_client_year": VariableInfo(
        "offences/client-year", "rate_reference - rate_treated"
    ),
    "relative_reduction_reoffending": VariableInfo("1", "1 - p_treated / p_reference"),
    "relative_reduction_offences": VariableInfo("1", "1 - rate_treated / rate_reference"),
    "cohort_offences_avoided": VariableInfo(
        "offences",
        "2020 COHORT PREDICTION (finite population, not the ledger input): offences avoided "
        "by the 69 of 2020 over the two-year window (the 12 observed fixed, 57 predicted)",
    ),
    "cohort_offences_treated": VariableInfo(
        "offences", "offences of the 69 under nazorg-plus (7 observed + 57 predicted)"
    ),
    "cohort_offences_reference": VariableInfo(
        "offences", "predicted offences of the 69 under care as usual"
    ),
    "offences_per_recidivist_treated": VariableInfo(
        "offences", "offences per reoffender in two years under nazorg-plus (1 + 2 rho)"
    ),
    "offences_per_recidivist_reference": VariableInfo(
        "offences", "offences per reoffender in two years, care as usual (about 2.7)"
    ),
    "rho_treated": VariableInfo(
        "offences/year", "further offences per year at risk of a reoffender, nazorg-plus"
    ),
    "p_support_need": VariableInfo("1", "two-year recidivism, support-need reference group"),
    "p_very_active": VariableInfo("1", "two-year recidivism, very active repeat offenders"),
    "reference_weight": VariableInfo("1", "weight w of the very-active group in p_reference"),
    "p_intensive": VariableInfo("1", "reoffending, intensive trajectories (secondary)"),
    "p_little_connection": VariableInfo("1", "reoffending, little connection (secondary)"),
    "intensity_difference": VariableInfo(
        "1", "p_little_connection - p_intensive (secondary; not causal)"
    ),
}


def treated_design(data: CaseData, *, all_patterns: bool = False) -> dict[str, np.ndarray]:
    """The observed data of the treated block as arrays (see :func:`treated_loglik`).

    Parameters
    ----------
    data
        The case data.
    all_patterns
        If False (fitting), ``rows`` holds only the outcome patterns of the missing cases
        consistent with the total. If True, all 2^m patterns, with ``log_valid`` = −inf
        for the inconsistent ones: the arrays then have the same shapes for any data set
        with this case structure, so one compiled model serves many data sets
        (simulation-based calibration).

    Returns
    -------
    dict
        ``yes``, ``no`` (n,): known reoffender / non-reoffender indicators; ``rows``
        (patterns, m): 1 where a missing case reoffends in the pattern; ``log_valid``
        (patterns,); ``extra`` (): offences beyond each reoffender's first.
    """
    m = data.missing.size
    k = data.missing_reoffenders
    if all_patterns:
        rows = np.asarray(list(itertools.product((0.0, 1.0), repeat=m))).reshape(-1, m)
        log_valid = np.where(rows.sum(axis=1) == k, 0.0, -np.inf)
    else:
        subsets = list(itertools.combinations(range(m), k))
        rows = np.zeros((len(subsets), m))
        for r, subset in enumerate(subsets):
            rows[r, list(subset)] = 1.0
        log_valid = np.zeros(len(subsets))
    return {
        "yes": (data.reoffended == 1).astype(np.float64),
        "no": (data.reoffended == 0).astype(np.float64),
        "rows": rows,
        "log_valid": log_valid,
        "extra": np.asarray(float(data.extra_offences)),
    }


def treated_loglik(lam: Any, rho: Any, t: Any, miss: np.ndarray, design: dict[str, Any]) -> Any:
    """Log-likelihood of the treated block, missing outcomes summed out (PyTensor graph).

    Parameters
    ----------
    lam
        Hazard per year (scalar tensor).
    rho
        Further offences per year at risk of a reoffender (scalar tensor).
    t
        Time at risk per case (vector tensor, years).
    miss
        Indices of the cases whose outcome is known only through the total.
    design
        :func:`treated_design` arrays (NumPy constants or shared tensors).

    Notes
    -----
    With ``R`` the known reoffenders, ``N`` the known non-reoffenders, ``M`` the cases
    not known per case, ``k`` the reoffenders among them and ``E`` the offences beyond
    each reoffender's first,

    .. math::

        \\log L = \\sum_{i\\in R}\\log(1-e^{-\\lambda t_i}) - \\sum_{i\\in N}\\lambda t_i
        + \\log\\sum_{S\\subset M, |S|=k}\\Big[\\prod_{j\\in S}(1-e^{-\\lambda t_j})
        \\prod_{j\\in M\\setminus S}e^{-\\lambda t_j}\\;
        \\mathrm{Poisson}\\big(E \\mid \\rho\\,(T_R + \\textstyle\\sum_{j\\in S}t_j)\\big)\\Big]

    with :math:`T_R = \\sum_{i\\in R} t_i`. The sum of independent Poisson counts is
    Poisson with the summed mean, so only the total ``E`` is needed. Every term is kept
    finite where its weight is zero (a case with no time at risk that did not
    reoffend), so the gradient never sees 0 · ∞.
    """
    import pytensor.tensor as pt

    yes, no, rows = design["yes"], design["no"], design["rows"]
    log_p = pt.log1mexp(-lam * pt.maximum(t, 1e-12))  # log P(reoffend within t)
    log_q = -lam * t  # log P(no offence within t)
    known = pt.sum(yes * log_p + no * log_q)
    if miss.size:
        term = pt.sum(rows * log_p[miss][None, :] + (1.0 - rows) * log_q[miss][None, :], axis=1)
        t_chosen = pt.sum(rows * t[miss][None, :], axis=1)
    else:
        term = pt.zeros((1,))
        t_chosen = pt.zeros((1,))
    mu = rho * (pt.sum(yes * t) + t_chosen)
    extra = design["extra"]
    poisson = extra * pt.log(mu + 1e-300) - mu - pt.gammaln(extra + 1.0)
    return known + pt.logsumexp(term + poisson + design["log_valid"])


def build_model(
    data: CaseData,
    prior: ReferencePrior,
    treated: TreatedPriors = TREATED_PRIORS,
    *,
    mutable_data: bool = False,
) -> Any:
    """The PyMC model (imports PyMC; call only when fitting).

    Parameters
    ----------
    data, prior, treated
        Case data, reference prior and treated-group priors.
    mutable_data
        Hold the observed data in ``pm.Data`` containers (all outcome patterns, see
        :func:`treated_design`) so that :func:`set_observed` can swap in another data
        set of the same case structure without recompiling.

    Returns
    -------
    pymc.Model
        Free variables :data:`BASE_VARIABLES`, ``exposure_u`` (latent uniform of the cases
        with uncertain exposure) and the deterministic ``exposure`` (years, per case).
    """
    import pymc as pm
    import pytensor.tensor as pt

    data = with_recorded_offences(data, prior)
    window = float(data.window_years)
    lo = data.exposure_low
    width = data.exposure_high - data.exposure_low
    uncertain = np.flatnonzero(width > 0.0)
    design: dict[str, Any] = treated_design(data, all_patterns=mutable_data)
    with pm.Model(coords={"case": data.cases.tolist()}) as model:
        if mutable_data:
            design = {k: pm.Data(f"design_{k}", v) for k, v in design.items()}
            k_int = pm.Data("intensive_reoffenders", data.intensive_reoffenders)
            k_little = pm.Data("little_connection_reoffenders", data.little_reoffenders)
        else:
            k_int, k_little = data.intensive_reoffenders, data.little_reoffenders
        # treated: nazorg-plus
        p_t = pm.Beta("p_treated", treated.p_treated.alpha, treated.p_treated.beta)
        rho_t = pm.Gamma(
            "rho_treated", alpha=treated.rho_treated.shape, beta=treated.rho_treated.rate
        )
        lam = -pt.log1p(-p_t) / window
        t = pt.as_tensor_variable(lo.copy())
        if uncertain.size:
            u = pm.Uniform("exposure_u", 0.0, 1.0, shape=uncertain.size)
            t = pt.set_subtensor(t[uncertain], lo[uncertain] + width[uncertain] * u)
        pm.Deterministic("exposure", t, dims="case")
        # outcome measurement: recorded further offences ~ Poisson(psi * rho * t)
        psi: Any = 1.0
        if prior.measurement_sd > 0:
            psi = pt.exp(pm.Normal("measurement_log_ratio", 0.0, prior.measurement_sd))
        pm.Potential("treated_loglik", treated_loglik(lam, rho_t * psi, t, data.missing, design))
        # reference: care as usual, priors only
        pm.Beta("p_support_need", prior.p_support_need.alpha, prior.p_support_need.beta)
        pm.Beta("p_very_active", prior.p_very_active.alpha, prior.p_very_active.beta)
        pm.Beta("w_u", prior.w_alpha, prior.w_beta)
        g = prior.extra_offences_reference
        pm.Gamma("extra_offences_reference", alpha=g.shape, beta=g.rate)
        if prior.transfer_sd > 0:  # transferability of the reference (Turner et al. 2009)
            pm.Normal("transfer_bias", 0.0, prior.transfer_sd)
        # intensity contrast (secondary)
        p_i = pm.Beta("p_intensive", treated.p_intensive.alpha, treated.p_intensive.beta)
        p_l = pm.Beta(
            "p_little_connection",
            treated.p_little_connection.alpha,
            treated.p_little_connection.beta,
        )
        pm.Binomial("intensive_obs", n=data.intensive_cases, p=p_i, observed=k_int)
        pm.Binomial("little_connection_obs", n=data.little_cases, p=p_l, observed=k_little)
    return model


def set_observed(model: Any, data: CaseData) -> None:
    """Swap the observed data of a ``build_model(..., mutable_data=True)`` model.

    ``data`` must have the case structure (cases, exposure bounds, which are missing)
    the model was built with.
    """
    import pymc as pm

    values: dict[str, Any] = {
        f"design_{k}": v for k, v in treated_design(data, all_patterns=True).items()
    }
    values["intensive_reoffenders"] = data.intensive_reoffenders
    values["little_connection_reoffenders"] = data.little_reoffenders
    pm.set_data(values, model=model)


def with_recorded_offences(data: CaseData, prior: ReferencePrior) -> CaseData:
    """``data`` with the prior's ``recorded_offences`` (sensitivity rows), if it sets one.

    Raises
    ------
    BayesError
        If the number is below the number of reoffenders.
    """
    n = prior.recorded_offences
    if n is None or n == data.total_offences:
        return data
    if n < data.total_reoffenders:
        raise BayesError(
            f"prior {prior.name!r}: {n} recorded offences is below the "
            f"{data.total_reoffenders} reoffenders"
        )
    return replace(data, total_offences=n)


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)


def derived_quantities(
    draws: dict[str, np.ndarray],
    data: CaseData,
    prior: ReferencePrior,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Every output of :data:`VARIABLES` from the posterior draws (arrays of one shape).

    ``draws`` holds the free parameters and ``exposure`` (shape ``(..., n_cases)``);
    ``transfer_bias`` and ``measurement_log_ratio`` are 0 where the prior has no such term.

    **Population (the ledger's input).** ``expected_offences_*_per_year`` are
    expectations for a cohort of ``cohort_size`` clients: per client, E[offences in the
    window] = (1 − e^{−λ t})(1 + ρ t) averaged over the exposure distribution of the
    sample (the posterior times at risk of the 12 cases), divided by the window. This is
    the yearly effect that recurs with every cohort, not a prediction of one cohort.

    **Selection.** The treated probability of the population is (1 − f) p_treated + f
    expit(logit p_treated + γ) (``lost_share`` f, ``selection_log_odds`` γ; γ = 0: the
    loss of 8 of the 20 drawn is ignorable).

    **The 2020 cohort (finite population, a separate output).** ``rng`` drives the
    posterior predictive: each of the ``cohort_size − n`` unobserved clients gets the
    exposure distribution of a randomly chosen sampled case (the sample is a random draw
    from the cohort, 003 §2.3), reoffends with ``1 − exp(−λ t)`` and commits
    ``1 + Poisson(ρ t)`` offences; under care as usual all 69 are predicted with the
    reference hazard and ρ, the 12 at their own (posterior) exposure. Recorded offences of
    the 12 under nazorg-plus are fixed at the total.
    """
    data = with_recorded_offences(data, prior)
    window = float(data.window_years)
    p_t = draws["p_treated"]
    zero = np.zeros_like(p_t)
    rho_t = draws["rho_treated"]
    w = prior.w_shift + prior.w_scale * draws["w_u"]
    p_reported = (1.0 - w) * draws["p_support_need"] + w * draws["p_very_active"]
    delta = draws.get("transfer_bias", zero)
    p_ref = _expit(_logit(p_reported) + delta)
    psi = np.exp(draws.get("measurement_log_ratio", zero))
    f = prior.lost_share
    p_pop = (1.0 - f) * p_t + f * _expit(_logit(p_t) + prior.selection_log_odds)
    m_ref = 1.0 + draws["extra_offences_reference"]
    rho_ref = draws["extra_offences_reference"] / window
    m_t = 1.0 + window * rho_t
    rate_t = p_pop * m_t / window
    rate_ref = p_ref * m_ref / window
    lam_t = -np.log1p(-p_pop) / window
    lam_ref = -np.log1p(-p_ref) / window
    t_obs = draws["exposure"]

    def expected(lam: np.ndarray, rho: np.ndarray) -> np.ndarray:
        per_case = -np.expm1(-lam[..., None] * t_obs) * (1.0 + rho[..., None] * t_obs)
        return data.cohort_size * per_case.mean(axis=-1) / window

    e_t, e_ref = expected(lam_t, rho_t), expected(lam_ref, rho_ref)
    out: dict[str, np.ndarray] = {
        "p_treated": p_t,
        "p_treated_population": p_pop,
        "p_reference": p_ref,
        "p_reference_reported": p_reported,
        "transfer_bias": np.broadcast_to(delta, p_t.shape).copy(),
        "measurement_ratio": np.broadcast_to(psi, p_t.shape).copy(),
        "rate_treated": rate_t,
        "rate_reference": rate_ref,
        "avoided_offences_per_client_year": rate_ref - rate_t,
        "relative_reduction_reoffending": 1.0 - p_pop / p_ref,
        "relative_reduction_offences": 1.0 - rate_t / rate_ref,
        "expected_offences_treated_per_year": e_t,
        "expected_offences_reference_per_year": e_ref,
        "expected_offences_avoided_per_year": e_ref - e_t,
        "offences_per_recidivist_treated": m_t,
        "offences_per_recidivist_reference": m_ref,
        "rho_treated": rho_t,
        "p_support_need": draws["p_support_need"],
        "p_very_active": draws["p_very_active"],
        "reference_weight": np.broadcast_to(w, p_t.shape).copy(),
        "p_intensive": draws["p_intensive"],
        "p_little_connection": draws["p_little_connection"],
        "intensity_difference": draws["p_little_connection"] - draws["p_intensive"],
    }
    shape = p_t.shape
    n_other = data.cohort_size - data.n
    pick = rng.integers(0, data.n, size=(*shape, n_other))
    t_other = data.exposure_low[pick] + (
        data.exposure_high[pick] - data.exposure_low[pick]
    ) * rng.random(size=pick.shape)

    def offences(lam: np.ndarray, rho: np.ndarray, t: np.ndarray) -> np.ndarray:
        p = -np.expm1(-lam[..., None] * t)
        hit = rng.random(size=t.shape) < p
        return np.sum(hit * (1 + rng.poisson(rho[..., None] * t)), axis=-1)

    treated_other = offences(lam_t, rho_t, t_other)
    ref_other = offences(lam_ref, rho_ref, t_other)
    ref_obs = offences(lam_ref, rho_ref, t_obs)
    treated_cohort = data.total_offences + treated_other
    ref_cohort = ref_obs + ref_other
    out["cohort_offences_treated"] = treated_cohort.astype(np.float64)
    out["cohort_offences_reference"] = ref_cohort.astype(np.float64)
    out["cohort_offences_avoided"] = (ref_cohort - treated_cohort).astype(np.float64)
    return out


def simulate_dataset(
    data: CaseData,
    rng: np.random.Generator,
    treated: TreatedPriors = TREATED_PRIORS,
    measurement_sd: float = 0.0,
) -> tuple[dict[str, float], CaseData]:
    """Draw parameters from the treated priors and a data set from the model.

    Used by simulation-based calibration (Talts et al. 2018, arXiv:1804.06788): the case
    structure (exposure bounds, which cases are missing) is that of ``data``; outcomes,
    totals and the intensity counts are simulated; the recorded further offences are
    Poisson(ψ ρ t) with log ψ ~ Normal(0, ``measurement_sd``) (the prior's
    measurement term).

    Returns
    -------
    (truth, data)
        The drawn ``p_treated``, ``rho_treated``, ``p_intensive`` and the new data.
    """
    window = float(data.window_years)
    p_t = rng.beta(treated.p_treated.alpha, treated.p_treated.beta)
    rho = rng.gamma(treated.rho_treated.shape, 1.0 / treated.rho_treated.rate)
    p_i = rng.beta(treated.p_intensive.alpha, treated.p_intensive.beta)
    p_l = rng.beta(treated.p_little_connection.alpha, treated.p_little_connection.beta)
    lam = -np.log1p(-p_t) / window
    t = data.exposure_low + (data.exposure_high - data.exposure_low) * rng.random(data.n)
    y = (rng.random(data.n) < -np.expm1(-lam * t)).astype(np.int64)
    psi = np.exp(rng.normal(0.0, measurement_sd)) if measurement_sd > 0 else 1.0
    n_off = np.where(y == 1, 1 + rng.poisson(rho * psi * t), 0)
    observed = y.copy()
    observed[data.missing] = -1
    k_i = int(rng.binomial(data.intensive_cases, p_i))
    k_l = int(rng.binomial(data.little_cases, p_l))
    new = replace(
        data,
        reoffended=observed,
        total_reoffenders=int(y.sum()),
        total_offences=int(n_off.sum()),
        intensive_reoffenders=k_i,
        little_reoffenders=k_l,
        sha256="simulated",
    )
    truth = {"p_treated": float(p_t), "rho_treated": float(rho), "p_intensive": float(p_i)}
    return truth, new


#: What the result is not; shown with every output of this sub-model.
CAVEAT = (
    "a comparison of 12 interviewed clients with external (national WODC) reference "
    "figures, not a causal estimate: there is no control group, participation is "
    "voluntary and the reference may not transfer to this group"
)

#: Variables shown in summaries, in this order.
SUMMARY_VARIABLES = (
    "p_treated",
    "p_treated_population",
    "p_reference_reported",
    "transfer_bias",
    "p_reference",
    "relative_reduction_reoffending",
    "rate_treated",
    "rate_reference",
    "avoided_offences_per_client_year",
    "relative_reduction_offences",
    "offences_per_recidivist_treated",
    "offences_per_recidivist_reference",
    "measurement_ratio",
    "expected_offences_treated_per_year",
    "expected_offences_reference_per_year",
    "expected_offences_avoided_per_year",
    "cohort_offences_treated",
    "cohort_offences_reference",
    "cohort_offences_avoided",
    "reference_weight",
    "p_intensive",
    "p_little_connection",
    "intensity_difference",
)

#: Columns of the sensitivity table.
SENSITIVITY_VARIABLES = (
    "p_reference",
    "avoided_offences_per_client_year",
    "expected_offences_avoided_per_year",
)


class NazorgRecidivism:
    """The nazorg-plus recidivism model as a :class:`~mkba_sim.bayes.protocol.SubModel`."""

    name: str = "nazorg_plus_recidivism"
    description: str = (
        "reoffending and offence counts of the 12 interviewed nazorg-plus cases "
        "(seed 003 §5.1) against an uncertain care-as-usual reference"
    )
    caveat: str = CAVEAT
    data_file: str | None = "nazorg_plus_cases.csv"
    priors: Mapping[str, Any] = REFERENCE_PRIORS
    default_prior: str = DEFAULT_PRIOR
    sensitivity: tuple[str, ...] = tuple(REFERENCE_PRIORS)
    variables: Mapping[str, VariableInfo] = VARIABLES
    summary_variables: tuple[str, ...] = SUMMARY_VARIABLES
    sensitivity_variables: tuple[str, ...] = SENSITIVITY_VARIABLES
    code_modules: tuple[str, ...] = (
        "mkba_sim.bayes.nazorg",
        "mkba_sim.bayes.priors",
        "mkba_sim.bayes.data",
        "mkba_sim.bayes.sampling",
    )

    def parse(self, raw: bytes | None, path: str) -> CaseData:
        """:func:`~mkba_sim.bayes.data.parse_cases`."""
        if raw is None:
            raise BayesError(f"{self.name}: the case file {self.data_file!r} is needed")
        return parse_cases(raw, path)

    def data_fingerprint(self, data: CaseData) -> str:
        """SHA-256 of the case file's bytes."""
        return data.sha256

    def build(self, data: CaseData, prior: ReferencePrior) -> Any:
        """:func:`build_model`."""
        return build_model(data, prior)

    def derive(
        self,
        draws: dict[str, np.ndarray],
        data: CaseData,
        prior: ReferencePrior,
        rng: np.random.Generator,
    ) -> dict[str, np.ndarray]:
        """:func:`derived_quantities`."""
        return derived_quantities(draws, data, prior, rng)

    def observed(self, data: CaseData) -> dict[str, np.ndarray]:
        """Per-case outcome (−1: known only through the total) and the aggregates."""
        return {
            "reoffended": data.reoffended,
            "total_reoffenders": np.asarray(data.total_reoffenders),
            "total_offences": np.asarray(data.total_offences),
            "intensive_reoffenders": np.asarray(data.intensive_reoffenders),
            "little_connection_reoffenders": np.asarray(data.little_reoffenders),
        }

    def probabilities(self, out: Any) -> dict[str, float]:
        """P(fewer offences per client-year), P(lower reoffending), P(fewer in the cohort),
        P(intensive trajectories reoffend less)."""

        def flat(name: str) -> np.ndarray:
            return np.asarray(out[name], dtype=np.float64).reshape(-1)

        return {
            "P(fewer offences per client-year)": float(
                np.mean(flat("avoided_offences_per_client_year") > 0.0)
            ),
            "P(p_treated_population < p_reference)": float(
                np.mean(flat("p_treated_population") < flat("p_reference"))
            ),
            "P(expected_offences_avoided_per_year > 0)": float(
                np.mean(flat("expected_offences_avoided_per_year") > 0.0)
            ),
            "P(cohort_offences_avoided > 0)": float(np.mean(flat("cohort_offences_avoided") > 0)),
            "P(p_intensive < p_little_connection)": float(
                np.mean(flat("intensity_difference") > 0.0)
            ),
        }

    def prior(self, name: str | None) -> ReferencePrior:
        """The named prior (``None``: the default); unknown names raise :class:`BayesError`."""
        key = self.default_prior if name is None else name
        if key not in self.priors:
            raise BayesError(
                f"{self.name}: unknown prior {key!r}; choose one of {sorted(self.priors)}"
            )
        return self.priors[key]
