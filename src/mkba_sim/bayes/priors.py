"""Priors of the nazorg-plus recidivism model, each with its source.

Two kinds of prior live here:

* **treated-group priors** — weakly informative, centred near the care-as-usual figures so
  that the prior itself does not favour an effect of nazorg-plus;
* **reference priors** — what "care as usual" would have produced. The study has no
  control group; it names two WODC reference groups and says the nazorg-plus target group
  lies *between* them (seed 003 §5.1, p. 37, footnote 45). Which group applies is the
  largest uncertainty of the whole crime benefit, so it is an explicit parameter: a weight
  ``w`` on the very-active group (ZAVP), ``p_reference = (1 − w)·p_support_need +
  w·p_very_active``.

The named reference priors (``support_need``, ``very_active``, ``mixture``) only change
the constants of the weight; the model graph is the same for all three.

References
----------
WODC (2020). *Monitor Nazorg ex-gedetineerden, 6e meting*. Den Haag: WODC; p. 23 (ZAVP,
    very active repeat offenders: two-year recidivism 70–80%) and p. 56 (prisoners with
    problems on the basic conditions: just under 50%; 2.7 offences per recidivist in two
    years). Cited by seed 003 §5.1, footnote 45.
Vehtari, A., Gelman, A., Simpson, D., Carpenter, B. & Bürkner, P.-C. (2021). Rank-
    normalization, folding, and localization: an improved R-hat for assessing convergence
    of MCMC. *Bayesian Analysis* 16(2), 667–718. https://doi.org/10.1214/20-BA1221
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from mkba_sim.errors import BayesError

__all__ = [
    "DEFAULT_PRIOR",
    "LOST_SHARE",
    "MEASUREMENT_SD",
    "REFERENCE_PRIORS",
    "TRANSFER_SD",
    "TREATED_PRIORS",
    "BetaPrior",
    "GammaPrior",
    "ReferencePrior",
    "TreatedPriors",
    "beta_from_mean_sd",
    "gamma_from_mean_sd",
]


@dataclass(frozen=True)
class BetaPrior:
    """Beta(``alpha``, ``beta``) on a probability."""

    alpha: float
    beta: float

    @property
    def mean(self) -> float:
        """Prior mean α / (α + β)."""
        return self.alpha / (self.alpha + self.beta)

    @property
    def sd(self) -> float:
        """Prior standard deviation."""
        a, b = self.alpha, self.beta
        return math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1.0)))


@dataclass(frozen=True)
class GammaPrior:
    """Gamma(``shape``, ``rate``) on a positive quantity (mean shape / rate)."""

    shape: float
    rate: float

    @property
    def mean(self) -> float:
        """Prior mean shape / rate."""
        return self.shape / self.rate

    @property
    def sd(self) -> float:
        """Prior standard deviation √shape / rate."""
        return math.sqrt(self.shape) / self.rate


def beta_from_mean_sd(mean: float, sd: float) -> BetaPrior:
    """Beta prior with the given mean and standard deviation (method of moments).

    α = m c, β = (1 − m) c with c = m (1 − m) / sd² − 1.

    Raises
    ------
    BayesError
        If no Beta distribution has these moments (sd² ≥ m (1 − m)).
    """
    if not 0.0 < mean < 1.0 or sd <= 0.0 or sd * sd >= mean * (1.0 - mean):
        raise BayesError(f"no Beta prior has mean {mean} and sd {sd}")
    c = mean * (1.0 - mean) / (sd * sd) - 1.0
    return BetaPrior(mean * c, (1.0 - mean) * c)


def gamma_from_mean_sd(mean: float, sd: float) -> GammaPrior:
    """Gamma prior with the given mean and sd: shape = (m / sd)², rate = m / sd²."""
    if mean <= 0.0 or sd <= 0.0:
        raise BayesError(f"no Gamma prior has mean {mean} and sd {sd}")
    return GammaPrior((mean / sd) ** 2, mean / (sd * sd))


@dataclass(frozen=True)
class TreatedPriors:
    """Priors for the nazorg-plus (treated) group and the intensity contrast.

    Attributes
    ----------
    p_treated
        Two-year probability of at least one new offence under nazorg-plus. Uniform
        Beta(1, 1): its mean 0.5 equals the study's chosen reference rate, so the prior
        does not favour an effect.
    rho_treated
        Further offences per year of the window, for a person who reoffends (so a
        reoffender commits 1 + Poisson(ρ t) offences in a window of t years). Gamma(1, 1),
        i.e. exponential with mean 1 per year: a priori a reoffender commits 1 + 2 = 3
        offences in two years, close to the reference 2.7 (WODC 2020 p. 56).
    p_intensive, p_little_connection
        Reoffending probability in the two intensity groups of §5.1 (secondary output),
        uniform Beta(1, 1).
    """

    p_treated: BetaPrior = BetaPrior(1.0, 1.0)
    rho_treated: GammaPrior = GammaPrior(1.0, 1.0)
    p_intensive: BetaPrior = BetaPrior(1.0, 1.0)
    p_little_connection: BetaPrior = BetaPrior(1.0, 1.0)


TREATED_PRIORS = TreatedPriors()


# WODC (2020) p. 56 / p. 23 / p. 56, via 003 §5.1 p. 37; see ReferencePrior.
_P_SUPPORT_NEED = beta_from_mean_sd(0.48, 0.015)
_P_VERY_ACTIVE = beta_from_mean_sd(0.75, 0.025)
# sd 0.5, not the 0.2 of national sampling precision: whether 2.7 per recidivist (one
# national group) transfers to this group is uncertain too (issue 10; docs/bayes.md)
_EXTRA_OFFENCES_REFERENCE = gamma_from_mean_sd(1.7, 0.5)

#: Default sd of the transfer bias on the log-odds of p_reference (see ReferencePrior).
TRANSFER_SD = 0.5
#: Default sd of log(recorded / registered offences) (see ReferencePrior).
MEASUREMENT_SD = 0.3
#: 8 of the 20 drawn at random were not interviewed (5 unreachable, 3 non-response).
LOST_SHARE = 8 / 20


@dataclass(frozen=True)
class ReferencePrior:
    """Care-as-usual ("reference") prior: two WODC groups and the weight between them.

    ``p_reference = (1 − w) p_support_need + w p_very_active`` with
    ``w = w_shift + w_scale · u``, ``u ~ Beta(w_alpha, w_beta)``; a fixed group is
    ``w_scale = 0`` (``u`` is then sampled from its prior and unused).

    Attributes
    ----------
    name, description
        Identifier (used by model files: ``prior = "very_active"``) and a one-line text.
    p_support_need
        Two-year recidivism of released prisoners with support needs on the basic
        conditions, "iets minder dan 50%" (003 §5.1 p. 37; WODC 2020 p. 56): Beta with mean
        0.48 and sd 0.015 (95% interval ≈ 0.45–0.51).
    p_very_active
        Two-year recidivism of very active repeat offenders (ZAVP), "tussen 70% en 80%"
        (003 §5.1 p. 37; WODC 2020 p. 23): Beta with mean 0.75, sd 0.025 (95% ≈ 0.70–0.80).
    extra_offences_reference
        Offences per recidivist in two years minus the first one: 2.7 − 1 = 1.7 (WODC 2020
        p. 56, quoted in 003 §5.1 p. 37), Gamma with sd 0.5 (95% ≈ 0.9–2.8, i.e. 1.9–3.8
        offences per recidivist): national sampling precision would be about 0.2; the rest
        is uncertainty about whether one national group's figure transfers to this group.
        The study gives 2.7 only for the support-need group; it is used for both groups.
    w_shift, w_scale, w_alpha, w_beta
        The weight on the very-active group, see above.
    transfer_sd
        Transferability of the reference to the treated clients: a bias δ ~ Normal(0,
        ``transfer_sd``) on the log-odds, logit p_reference = logit p_reported + δ — the
        additive bias term of bias-adjusted evidence synthesis (Turner et al. 2009,
        doi:10.1111/j.1467-985X.2008.00547.x). 0.5 means the odds of reoffending under care
        as usual may differ from the national groups' by a factor 0.38–2.7 (95%):
        voluntary participation, reach through the coordinator and a national rather than
        Limburg reference are each plausible sources of that size. 0: no term.
    measurement_sd
        Outcome measurement: the treated offences are those known from interviews and case
        files, not all convicted (003 §5.1 footnotes 38–39), WODC counts registered cases.
        The recorded count of further offences is Poisson(ψ ρ t) with log ψ ~ Normal(0,
        ``measurement_sd``): ψ = recorded / registered-comparable, 0.56–1.8 (95%) at 0.3,
        centred on 1 because the two errors (unconvicted cases counted; offences unknown
        to the interviewer missed) pull in opposite directions. 0: no term.
    recorded_offences
        Replace the case file's total of recorded offences (7) by this number (the
        sensitivity rows 9 and 11); ``None``: the case file's.
    selection_log_odds
        The 12 interviewed are 12 of 20 drawn at random; 8 were lost (5 unreachable, 3
        non-response). The cohort's reoffending probability is (1 − f) p + f expit(logit p
        + γ) with f = ``lost_share`` (8/20) and γ this value: 0 (the default) is the stated
        assumption that the loss is ignorable; log 2 (a sensitivity row) gives the lost
        clients twice the odds of reoffending.
    lost_share
        f above.
    """

    name: str
    description: str
    w_shift: float
    w_scale: float
    w_alpha: float = 1.0
    w_beta: float = 1.0
    p_support_need: BetaPrior = _P_SUPPORT_NEED
    p_very_active: BetaPrior = _P_VERY_ACTIVE
    extra_offences_reference: GammaPrior = _EXTRA_OFFENCES_REFERENCE
    transfer_sd: float = TRANSFER_SD
    measurement_sd: float = MEASUREMENT_SD
    recorded_offences: int | None = None
    selection_log_odds: float = 0.0
    lost_share: float = LOST_SHARE

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (also hashed into the posterior cache key)."""
        return asdict(self)


REFERENCE_PRIORS: dict[str, ReferencePrior] = {
    p.name: p
    for p in (
        ReferencePrior(
            "mixture",
            "target group between the two WODC groups: w ~ Beta(1, 1) on the very-active "
            "group (003 §5.1: 'ergens tussen deze beide groepen')",
            w_shift=0.0,
            w_scale=1.0,
        ),
        ReferencePrior(
            "support_need",
            "released prisoners with support needs, just under 50% (the study's own, "
            "conservative choice; w = 0)",
            w_shift=0.0,
            w_scale=0.0,
        ),
        ReferencePrior(
            "very_active",
            "very active repeat offenders (ZAVP), 70-80% (the group the study calls "
            "closest in problems; w = 1)",
            w_shift=1.0,
            w_scale=0.0,
        ),
        ReferencePrior(
            "face_value",
            "mixture, with the reference taken at face value: no transfer bias, recorded "
            "offences = registered, reference offences per recidivist 2.7 +- 0.2",
            w_shift=0.0,
            w_scale=1.0,
            transfer_sd=0.0,
            measurement_sd=0.0,
            extra_offences_reference=gamma_from_mean_sd(1.7, 0.2),
        ),
        ReferencePrior(
            "transfer_wide",
            "mixture, transfer bias sd 1.0 on the log-odds (odds off by 0.14-7.1)",
            w_shift=0.0,
            w_scale=1.0,
            transfer_sd=1.0,
        ),
        ReferencePrior(
            "offences_9",
            "mixture, 9 recorded offences instead of 7 (offences missed by interviews "
            "and case files)",
            w_shift=0.0,
            w_scale=1.0,
            recorded_offences=9,
        ),
        ReferencePrior(
            "offences_11",
            "mixture, 11 recorded offences instead of 7",
            w_shift=0.0,
            w_scale=1.0,
            recorded_offences=11,
        ),
        ReferencePrior(
            "selection_lost_worse",
            "mixture, the 8 of 20 not interviewed had twice the odds of reoffending "
            "(non-ignorable selection)",
            w_shift=0.0,
            w_scale=1.0,
            selection_log_odds=math.log(2.0),
        ),
    )
}
DEFAULT_PRIOR = "mixture"
