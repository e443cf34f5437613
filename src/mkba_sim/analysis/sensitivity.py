"""Global sensitivity analysis: from a kept sample, and from pick-freeze reruns.

From one kept Monte Carlo sample (no reruns; valid with correlated inputs):
:func:`variance_shares` (first-order index Var(E[net | X_i]) / Var(net) from the EVPPI
regression) and :func:`borgonovo_delta` (moment-independent delta, via SALib).

From reruns: :func:`group_sobol`, first-order and total Sobol' indices of groups of
inputs from the outputs of the A, B and A_B^(g) runs (groups must be mutually
independent, e.g. the copula's correlation blocks and the singletons).

References
----------
Sobol', I. M. (2001). Global sensitivity indices for nonlinear mathematical models and
their Monte Carlo estimates. *Mathematics and Computers in Simulation* 55(1-3), 271-280.
doi:10.1016/S0378-4754(00)00270-6
Saltelli, A., Annoni, P., Azzini, I., Campolongo, F., Ratto, M. & Tarantola, S. (2010).
Variance based sensitivity analysis of model output. Design and estimator for the total
sensitivity index. *Computer Physics Communications* 181(2), 259-270.
doi:10.1016/j.cpc.2009.09.018
Jansen, M. J. W. (1999). Analysis of variance designs for model output. *Computer Physics
Communications* 117(1-2), 35-43. doi:10.1016/S0010-4655(98)00154-4
Borgonovo, E. (2007). A new uncertainty importance measure. *Reliability Engineering &
System Safety* 92(6), 771-784. doi:10.1016/j.ress.2006.04.015
Plischke, E., Borgonovo, E. & Smith, C. L. (2013). Global sensitivity measures from given
data. *European Journal of Operational Research* 226(3), 536-550.
doi:10.1016/j.ejor.2012.11.047
Strong, M., Oakley, J. E. & Brennan, A. (2014). *Medical Decision Making* 34(3), 311-326.
doi:10.1177/0272989X13505910
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from mkba_sim.analysis.voi import conditional_mean

__all__ = [
    "DeltaResult",
    "GroupSobolResult",
    "borgonovo_delta",
    "group_sobol",
    "variance_shares",
]

FloatArray = NDArray[np.float64]


# ------------------------------------------------------------ from a kept sample


def variance_shares(
    net: ArrayLike,
    inputs: ArrayLike,
    groups: Sequence[Sequence[int]] | None = None,
    *,
    seed: int | np.random.Generator = 0,
) -> FloatArray:
    r"""First-order variance shares Var(E[net | X_u]) / Var(net) from a kept sample.

    .. math::

        S_u = \frac{\operatorname{Var}\big(\mathrm{E}[Y \mid X_u]\big)}
                   {\operatorname{Var}(Y)}

    for each input (or group of inputs) u. E[Y | X_u] is the same nonparametric
    regression as for EVPPI (:func:`~mkba_sim.analysis.voi.conditional_mean`: penalised
    spline for 1-4 inputs, Gaussian process beyond; Strong, Oakley & Brennan 2014), and
    S_u is its R^2. This is the "expected reduction in variance with perfect information
    about u" of the R package voi's ``evppivar``.

    Parameters
    ----------
    net
        Draws of the output, ``(n_draws,)``.
    inputs
        The inputs for the same draws, ``(n_draws, n_inputs)``.
    groups
        Column indices of each group; by default every column on its own.
    seed
        Seed or Generator (used only by the GP path).

    Returns
    -------
    ndarray
        One share per input or group, in [0, 1].

    Notes
    -----
    Valid with correlated inputs: S_u is then the *full* first-order index, which
    includes what u explains through its correlation with other inputs, so the shares
    may sum to more than 1. With independent inputs it is Sobol's first-order index.
    Accuracy: the fitted values carry regression noise, which biases S_u upwards by
    about (edf - 1)/n (1 - S_u) (edf = effective degrees of freedom, a few to ~50), and
    a too-stiff basis biases it downwards; the Monte Carlo error is of order
    sqrt(1/n). No standard error is given; bootstrap the draws if one is needed.
    """
    y = np.asarray(net, dtype=np.float64)
    x = np.asarray(inputs, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, np.newaxis]
    if y.ndim != 1:
        raise ValueError("net must be one output, shape (n_draws,)")
    cols = [[j] for j in range(x.shape[1])] if groups is None else [list(g) for g in groups]
    var_y = float(y.var())
    out = np.empty(len(cols))
    for i, g in enumerate(cols):
        if var_y == 0.0:
            out[i] = 0.0
            continue
        fit = conditional_mean(y, x[:, g], seed=seed, n_se_draws=0)
        out[i] = float(fit.fitted[:, 0].var() / y[fit.rows].var())
    result: FloatArray = np.clip(out, 0.0, 1.0)
    return result


@dataclass(frozen=True)
class DeltaResult:
    """Borgonovo's delta per input, with a normal-approximation confidence interval.

    Attributes
    ----------
    delta
        Bias-reduced delta estimate per input (SALib's ``delta_raw``).
    ci_low, ci_high
        delta -/+ z * bootstrap sd at ``conf_level``.
    notes
        SALib's notes and warnings per input (empty when all went well); an input whose
        estimate failed has delta = NaN and the reason here.
    """

    delta: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    notes: tuple[str, ...]


def borgonovo_delta(
    net: ArrayLike,
    inputs: ArrayLike,
    seed: int,
    *,
    num_resamples: int = 100,
    conf_level: float = 0.95,
) -> DeltaResult:
    r"""Borgonovo's moment-independent delta from a kept sample, via SALib.

    .. math::

        \delta_i = \tfrac12\, \mathrm{E}_{X_i}\Big[\int \big|f_Y(y) - f_{Y\mid X_i}(y)\big|
        \, dy\Big]

    (Borgonovo 2007): half the expected L1 distance between the output's density and its
    density given X_i; 0 when Y does not depend on X_i, at most 1. Estimated from the
    given sample by SALib's ``delta.analyze`` (Plischke, Borgonovo & Smith 2013: equal-
    count slices of X_i, kernel density estimates per slice, bootstrap bias reduction).

    Parameters
    ----------
    net
        Draws of the output, ``(n_draws,)``.
    inputs
        The inputs for the same draws, ``(n_draws, n_inputs)``.
    seed
        Seed of the bootstrap. Required: without it SALib's results change run to run
        (SALib#281).
    num_resamples, conf_level
        Bootstrap resamples and confidence level of the interval.

    Returns
    -------
    DeltaResult

    Notes
    -----
    *Why SALib:* it is the maintained implementation of the given-data estimator, with
    its bias reduction; we wrap it rather than re-derive it. It is used through this
    wrapper because SALib 1.6's ``delta.analyze`` (a) seeds NumPy's *global* generator
    (and ignores ``seed=0``), (b) sets the process-wide warnings filter to "once" and
    replaces ``warnings.formatwarning``, (c) turns a failure for one input into a note.
    The wrapper seeds a saved-and-restored global state itself (so every seed works and
    the caller's global RNG is untouched), restores the warnings machinery, and
    returns the notes. Accuracy: delta is valid with correlated inputs; the KDE-based
    estimator is biased for small samples (Plischke et al. 2013 bias-reduce it, SALib
    does); the interval reflects bootstrap spread only. Cost grows as
    n x num_resamples x n_inputs, so use a few thousand draws.
    """
    try:
        from SALib.analyze import delta as salib_delta
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "borgonovo_delta needs SALib; install it with: pip install 'mkba_sim[analysis]'"
        ) from exc
    y = np.asarray(net, dtype=np.float64)
    x = np.asarray(inputs, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, np.newaxis]
    if y.ndim != 1 or x.shape[0] != y.size:
        raise ValueError("net must be (n_draws,) and inputs (n_draws, n_inputs)")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(x))):
        raise ValueError("net or inputs has non-finite values")
    d = x.shape[1]
    names = [f"x{j}" for j in range(d)]
    problem = {
        "num_vars": d,
        "names": names,
        "bounds": [[float(x[:, j].min()), float(x[:, j].max())] for j in range(d)],
    }
    state = np.random.get_state()
    format_warning = warnings.formatwarning
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            np.random.seed(seed)
            res = salib_delta.analyze(
                problem,
                x,
                y,
                num_resamples=num_resamples,
                conf_level=conf_level,
                seed=None,
                method="delta",
            )
    finally:
        np.random.set_state(state)
        warnings.formatwarning = format_warning
    delta = np.asarray(res["delta_raw"], dtype=np.float64)
    half = np.asarray(res["delta_raw_conf"], dtype=np.float64)
    notes_list = [str(n) for n in res.get("notes", [""] * d)]
    for w in caught:  # SALib's notices, returned instead of printed
        text = str(w.message)
        for j, name in enumerate(names):
            if text.startswith(f"[{name}]"):
                notes_list[j] = f"{notes_list[j]} {text}".strip()
    notes = tuple(notes_list)
    return DeltaResult(delta=delta, ci_low=delta - half, ci_high=delta + half, notes=notes)


# ---------------------------------------------------------------- from reruns


@dataclass(frozen=True)
class GroupSobolResult:
    """First-order and total Sobol' indices per group, with bootstrap intervals.

    Attributes
    ----------
    first, total
        Point estimates per group, shape ``(n_groups,)``.
    first_se, total_se
        Bootstrap standard errors.
    first_ci, total_ci
        Bootstrap percentile intervals, shape ``(n_groups, 2)``.
    """

    first: FloatArray
    total: FloatArray
    first_se: FloatArray
    total_se: FloatArray
    first_ci: FloatArray
    total_ci: FloatArray


def _sobol_estimates(
    f_A: FloatArray, f_B: FloatArray, f_AB: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Saltelli (2010) Table 2 (b) first order, Jansen (1999) total; draws on the last axis.

    ``f_A``, ``f_B`` are (..., n) and ``f_AB`` is (G, ..., n); outputs are centred on the
    mean of A and B first (Sobol' & Levitan 1999), as scipy does.
    """
    mean = 0.5 * (f_A.mean(axis=-1) + f_B.mean(axis=-1))[..., np.newaxis]
    a, b, ab = f_A - mean, f_B - mean, f_AB - mean
    var = 0.5 * (np.mean(a * a, axis=-1) + np.mean(b * b, axis=-1))  # pooled A and B
    with np.errstate(divide="ignore", invalid="ignore"):
        first = np.mean(b * (ab - a), axis=-1) / var
        total = 0.5 * np.mean((a - ab) ** 2, axis=-1) / var
    first = np.where(np.isfinite(first), first, 0.0)
    total = np.where(np.isfinite(total), total, 0.0)
    return first, total


def group_sobol(
    f_A: ArrayLike,
    f_B: ArrayLike,
    f_AB: ArrayLike,
    *,
    seed: int | np.random.Generator = 0,
    n_resamples: int = 999,
    conf_level: float = 0.95,
) -> GroupSobolResult:
    r"""Sobol' first-order and total indices of groups of inputs from pick-freeze reruns.

    Two independent runs A and B of n draws each, and for every group g a run A_B^(g):
    A with group g's inputs taken from B. Then (Saltelli et al. 2010, Table 2 (b) and
    (f); the total-effect form is Jansen 1999)

    .. math::

        S_g = \frac{\tfrac1n \sum_j f(B)_j \big(f(A_B^{(g)})_j - f(A)_j\big)}{V},
        \qquad
        S_{T,g} = \frac{\tfrac1{2n} \sum_j \big(f(A)_j - f(A_B^{(g)})_j\big)^2}{V},

    V the variance of the pooled A and B outputs, all outputs centred on their pooled
    mean first (Sobol' & Levitan 1999).

    Parameters
    ----------
    f_A, f_B
        Outputs of runs A and B, shape ``(n,)``.
    f_AB
        Outputs of the runs A_B^(g), shape ``(n_groups, n)``: row g is A with group g's
        columns taken from B, draw j of every run using draw j of A and B.
    seed
        Seed or Generator of the bootstrap.
    n_resamples, conf_level
        Bootstrap resamples (over draws j, jointly across A, B and every A_B^(g)) and
        the level of the percentile intervals.

    Returns
    -------
    GroupSobolResult

    Notes
    -----
    These are exactly the estimators of ``scipy.stats.sobol_indices(func={'f_A': ...,
    'f_B': ..., 'f_AB': ...})`` (the tests check equality). We compute them here
    instead of calling SciPy because SciPy requires n to be a power of 2 (its rule for
    Sobol' *sequences*; engine reruns are plain Monte Carlo of any size), and its
    ``SobolResult.bootstrap`` takes no random generator, so its intervals cannot be
    reproduced; the bootstrap here is ``scipy.stats.bootstrap`` with ``rng``.

    Groups must be mutually independent (e.g. the copula's correlation blocks): the
    variance decomposition assumes independent groups. Group indices are what a
    user asks about ("all effect sizes", "all unit costs") and need G + 2 runs, not
    one per parameter. Accuracy: both estimators are unbiased with Monte Carlo error
    O(n^-1/2); the first-order one is noisier for groups with small indices; estimates
    can fall slightly below 0 or above 1 and are returned unclipped.
    """
    a = np.asarray(f_A, dtype=np.float64)
    b = np.asarray(f_B, dtype=np.float64)
    ab = np.asarray(f_AB, dtype=np.float64)
    if ab.ndim == 1:
        ab = ab[np.newaxis]
    if a.ndim != 1 or a.shape != b.shape or ab.ndim != 2 or ab.shape[1] != a.size:
        raise ValueError("f_A and f_B must be (n,) and f_AB (n_groups, n)")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b)) and np.all(np.isfinite(ab))):
        raise ValueError("f_A, f_B or f_AB has non-finite values")
    n = a.size
    if n < 2:
        raise ValueError("need at least 2 draws")
    first, total = _sobol_estimates(a, b, ab)
    g = ab.shape[0]

    def statistic(idx: NDArray[np.intp], axis: int = -1) -> FloatArray:
        idx = np.asarray(idx, dtype=np.intp)
        s1, st = _sobol_estimates(a[idx], b[idx], ab[:, idx])  # idx: (..., n)
        # s1, st: (G, ...) -> stack to (2G, ...)
        out: FloatArray = np.concatenate([s1, st], axis=0)
        return out

    boot = stats.bootstrap(
        (np.arange(n),),
        statistic,
        n_resamples=n_resamples,
        confidence_level=conf_level,
        method="percentile",
        vectorized=True,
        batch=max(1, min(n_resamples, 20_000_000 // max(1, n * (g + 2)))),
        rng=seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed),
    )
    lo = np.asarray(boot.confidence_interval.low)
    hi = np.asarray(boot.confidence_interval.high)
    se = np.asarray(boot.standard_error)
    return GroupSobolResult(
        first=first,
        total=total,
        first_se=se[:g],
        total_se=se[g:],
        first_ci=np.stack([lo[:g], hi[:g]], axis=1),
        total_ci=np.stack([lo[g:], hi[g:]], axis=1),
    )
