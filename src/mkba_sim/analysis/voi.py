"""Value of information from a kept Monte Carlo sample: EVPI, EVPPI, EVSI and ENBS.

The decision is "fund" (net social balance ``net``) against "not fund" (net = 0), or one
of several programme variants against not funding. Everything here works on arrays of
draws that are already computed; nothing re-runs a model.

References
----------
Claxton, K. (1999). The irrelevance of inference: a decision-making approach to the
stochastic evaluation of health care technologies. *J. Health Economics* 18(3), 341-364.
doi:10.1016/S0167-6296(98)00039-3
Strong, M., Oakley, J. E. & Brennan, A. (2014). Estimating multiparameter partial expected
value of perfect information from a probabilistic sensitivity analysis sample: a
nonparametric regression approach. *Medical Decision Making* 34(3), 311-326.
doi:10.1177/0272989X13505910
Jackson, C. H., Baio, G., Heath, A., Strong, M., Welton, N. J. & Wilson, E. C. F. (2022).
Value of information analysis in models to inform health policy. *Annual Review of
Statistics and Its Application* 9, 95-118. doi:10.1146/annurev-statistics-040120-010730
(the R package ``voi``, whose defaults the regression here follows).
O'Sullivan, F. (1986). A statistical perspective on ill-posed inverse problems.
*Statistical Science* 1(4), 502-518. doi:10.1214/ss/1177013525
Eilers, P. H. C. & Marx, B. D. (1996). Flexible smoothing with B-splines and penalties.
*Statistical Science* 11(2), 89-121. doi:10.1214/ss/1038425655
Wood, S. N. (2017). *Generalized Additive Models: An Introduction with R*, 2nd ed.,
ch. 5-6 (cubic regression splines, tensor products, the Bayesian covariance of the
coefficients). Chapman & Hall/CRC.
Golub, G. H., Heath, M. & Wahba, G. (1979). Generalized cross-validation as a method for
choosing a good ridge parameter. *Technometrics* 21(2), 215-223.
doi:10.1080/00401706.1979.10489751
Rasmussen, C. E. & Williams, C. K. I. (2006). *Gaussian Processes for Machine Learning*,
ch. 2 and 5. MIT Press.
Strong, M., Oakley, J. E., Brennan, A. & Breeze, P. (2015). Estimating the expected value
of sample information using the probabilistic sensitivity analysis sample: a fast,
nonparametric regression-based method. *Medical Decision Making* 35(5), 570-583.
doi:10.1177/0272989X15575286 (EVSI by regression on a simulated study statistic).
Ades, A. E., Lu, G. & Claxton, K. (2004). Expected value of sample information
calculations in medical decision modeling. *Medical Decision Making* 24(2), 207-227.
doi:10.1177/0272989X04263162 (EVSI, expected net benefit of sampling).
"""

from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.interpolate import BSpline

__all__ = [
    "ConditionalMean",
    "EnbsResult",
    "EvpiResult",
    "EvppiResult",
    "EvsiResult",
    "conditional_mean",
    "enbs",
    "evpi",
    "evppi",
    "evsi",
    "population_evpi",
]

FloatArray = NDArray[np.float64]
Method = Literal["auto", "spline", "gp"]

# Marginal basis dimension of the tensor-product spline by number of inputs. voi uses
# mgcv's te(..., bs="cr"): 5 per margin, 4 once there are 4 or more inputs
# (chjackson/voi R/evppi_gam.R). One input gets a richer basis (mgcv's s() default is 10)
# because one margin is cheap and a sample of 1e4-1e5 draws supports it.
_BASIS_DIM = {1: 12, 2: 5, 3: 5, 4: 4}
_MAX_BASIS_1D = 48
_MAX_SPLINE_INPUTS = 4
_CHUNK_ROWS = 8192


def _one_blas_thread() -> contextlib.AbstractContextManager[object]:
    """Run the regression's BLAS calls on one thread (threadpoolctl, if installed).

    The design matrices are narrow (at most 256 columns), so BLAS threads gain little,
    and on a busy machine their spin-waiting costs a lot: the EVSI curve of
    ``nazorg_plus`` (scenario ``bayesian``, 1e5 draws) took 13.6 s with OpenBLAS's
    default threads and 5.6 s with one, under a load average of 7 on 2 cores.
    threadpoolctl comes with scikit-learn (the ``analysis`` extra); without it the
    default threads are used.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - depends on the environment
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _rng(seed: int | np.random.Generator) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


# ---------------------------------------------------------------------------- EVPI


@dataclass(frozen=True)
class EvpiResult:
    """EVPI and its Monte Carlo standard error (arrays over the non-draw axes).

    Attributes
    ----------
    evpi
        E[max_d net_d] - max_d E[net_d], with "not fund" (net = 0) among the options.
    se
        Monte Carlo standard error: sd of the per-draw opportunity loss / sqrt(n).
    best
        Index of the option with the highest mean (-1 = "not fund").
    """

    evpi: FloatArray
    se: FloatArray
    best: NDArray[np.intp]


def _with_zero_option(net: FloatArray, option_axis: int | None) -> FloatArray:
    """Stack "not fund" (0) as the last option on axis 0; draws on the last axis."""
    opts = net[np.newaxis] if option_axis is None else np.moveaxis(net, option_axis, 0)
    zero = np.zeros((1, *opts.shape[1:]))
    return np.concatenate([opts, zero], axis=0)


def _opportunity_loss(opts: FloatArray) -> tuple[FloatArray, NDArray[np.intp]]:
    """Per-draw loss of choosing the best-on-average option; options on axis 0.

    ``opts`` has options on axis 0 (the last one is "not fund" = 0) and draws on the last
    axis. Returns the loss, draws on the last axis, and the index of the best option
    (-1 = "not fund").
    """
    means = opts.mean(axis=-1)
    best = np.argmax(means[::-1], axis=0)  # ties -> prefer "not fund" (last option)
    best = opts.shape[0] - 1 - best
    chosen = np.take_along_axis(opts, best[np.newaxis, ..., np.newaxis], axis=0)[0]
    loss = opts.max(axis=0) - chosen
    best_label = np.where(best == opts.shape[0] - 1, -1, best).astype(np.intp)
    return loss, best_label


def evpi(net: ArrayLike, axis: int = -1, option_axis: int | None = None) -> EvpiResult:
    r"""Expected value of perfect information of funding a programme.

    .. math::

        \mathrm{EVPI} = \mathrm{E}\big[\max_d \mathrm{NB}_d\big]
        - \max_d \mathrm{E}\big[\mathrm{NB}_d\big],

    over the options *d*: "fund" (net social balance ``net``) and "not fund"
    (net = 0). With two options this is E[max(net, 0)] - max(E[net], 0) (Claxton 1999;
    the R package ``voi``'s ``evpi``, Jackson et al. 2022). Equivalently it is the mean
    opportunity loss L = max_d NB_d - NB_{d*} of the option d* that is best on average.

    Parameters
    ----------
    net
        Draws of the net social balance of funding (benefits minus costs).
    axis
        Axis of ``net`` holding the Monte Carlo draws.
    option_axis
        If given, ``net`` holds several mutually exclusive programme variants along this
        axis (each one's net balance against not funding); "not fund" = 0 is always added
        as an option. By default ``net`` is one programme.

    Returns
    -------
    EvpiResult
        ``evpi`` and ``se`` with the draw (and option) axes removed.

    Notes
    -----
    **Standard error.** Holding d* fixed, the estimate is the sample mean of the per-draw
    loss L, so its Monte Carlo standard error is sd(L) / sqrt(n) (central limit theorem;
    the delta method with d* fixed). When the best options are nearly tied on average
    (E[net] close to 0 for one programme) d* itself is uncertain, max_d E[NB_d] is not
    smooth there, the SE understates the error, and the estimate is biased downwards by
    about 0.4 sd(net)/sqrt(n) at an exact tie. Draws are assumed independent (plain
    Monte Carlo; for Latin hypercube or quasi-random draws the SE is conservative).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> res = evpi(rng.normal(1.0, 2.0, 100_000))
    >>> round(float(res.evpi), 3)  # closed form 0.396
    0.395
    """
    x = np.asarray(net, dtype=np.float64)
    if x.ndim == 0:
        raise ValueError("net must have a draws axis")
    if not np.all(np.isfinite(x)):
        raise ValueError("net has non-finite draws; resolve them before value of information")
    draw_ax = axis % x.ndim
    if option_axis is not None:
        opt_ax = option_axis % x.ndim
        if opt_ax == draw_ax:
            raise ValueError("option_axis and axis must differ")
        x = np.moveaxis(x, (opt_ax, draw_ax), (0, -1))
        opts = _with_zero_option(x, 0)
    else:
        x = np.moveaxis(x, draw_ax, -1)
        opts = _with_zero_option(x, None)
    n = opts.shape[-1]
    if n < 2:
        raise ValueError("need at least 2 draws")
    loss, best = _opportunity_loss(opts)
    value = loss.mean(axis=-1)
    se = loss.std(axis=-1, ddof=1) / np.sqrt(n)
    return EvpiResult(evpi=np.asarray(value), se=np.asarray(se), best=np.asarray(best))


# ------------------------------------------------------------- the regression step


@dataclass(frozen=True)
class ConditionalMean:
    """A fitted E[net | inputs] over the draws: the metamodel behind EVPPI.

    Attributes
    ----------
    fitted
        Fitted values g, shape ``(n_used, n_options)``.
    rows
        Indices of the draws the fit used (all draws for splines; a subsample for GP).
    method
        ``"spline"``, ``"gp"`` or ``"constant"`` (every input constant: g = mean).
    edf
        Effective degrees of freedom per option (spline; NaN for GP).
    sigma
        Residual standard deviation per option.
    draws
        For splines: fitted values on ``draw_rows`` for draws of the coefficients from
        their Bayesian posterior, shape ``(n_draw_rows, n_options, n_se_draws)``;
        ``None`` for GP and constant fits.
    draw_rows
        Indices (into the draws) of the rows in ``draws``.
    dropped
        Columns of ``inputs`` left out because they are constant.
    """

    fitted: FloatArray
    rows: NDArray[np.intp]
    method: str
    edf: FloatArray
    sigma: FloatArray
    draws: FloatArray | None
    draw_rows: NDArray[np.intp] | None
    dropped: tuple[int, ...]


def _marginal_basis(x: FloatArray, dim: int) -> tuple[FloatArray, FloatArray]:
    """Cubic B-spline basis with knots at quantiles of x, and its curvature penalty.

    Returns the dense basis (n, k) and the penalty S with b'Sb = integral of f''(u)^2 du,
    f = sum b_i B_i, on u = x rescaled to [0, 1] (O'Sullivan 1986; the penalty of mgcv's
    "cr" basis). Unlike the difference penalty of P-splines it leaves functions that are
    linear in x unpenalised with unequally spaced (quantile) knots too. With fewer
    distinct values than ``dim`` the basis shrinks (and the degree drops below 3 for
    inputs with 2 or 3 distinct values; degree 1 gets a first-derivative penalty).
    """
    lo, hi = float(x.min()), float(x.max())
    u = (x - lo) / (hi - lo)
    n_unique = np.unique(u).size
    k = min(dim, n_unique)
    degree = min(3, k - 1)
    n_interior = k - degree - 1
    interior = np.quantile(u, np.linspace(0.0, 1.0, n_interior + 2)[1:-1])
    interior = np.unique(interior[(interior > 0.0) & (interior < 1.0)])
    t = np.r_[np.zeros(degree + 1), interior, np.ones(degree + 1)]
    basis = BSpline.design_matrix(u, t, degree).toarray()
    k = basis.shape[1]
    order = min(2, degree)
    # Gauss-Legendre with `degree` points per knot interval is exact for the product of
    # two (degree - order)-degree derivative pieces
    nodes, weights = np.polynomial.legendre.leggauss(max(degree, 1))
    edges = np.unique(t)
    mid = 0.5 * (edges[1:] + edges[:-1])
    half = 0.5 * (edges[1:] - edges[:-1])
    pts = (mid[:, np.newaxis] + half[:, np.newaxis] * nodes).ravel()
    w = (half[:, np.newaxis] * weights).ravel()
    deriv = BSpline(t, np.eye(k), degree).derivative(order)(pts)  # (n_pts, k)
    penalty = deriv.T @ (w[:, np.newaxis] * deriv)
    # put the penalty on the scale of the data's Gram matrix, so margins are comparable
    gram_scale = np.trace(basis.T @ basis) / x.size
    penalty *= gram_scale / max(np.trace(penalty), 1e-300)
    return basis, penalty


def _tensor_rows(margins: list[FloatArray], rows: slice | NDArray[np.intp]) -> FloatArray:
    """Row-wise Kronecker product of the marginal bases on ``rows`` (np.kron order)."""
    out = margins[0][rows]
    for m in margins[1:]:
        b = m[rows]
        out = (out[:, :, np.newaxis] * b[:, np.newaxis, :]).reshape(out.shape[0], -1)
    return out


def _tensor_penalty(penalties: list[FloatArray]) -> FloatArray:
    """Sum over margins of I x ... x S_j x ... x I (one shared smoothing parameter)."""
    dims = [p.shape[0] for p in penalties]
    total: FloatArray = np.zeros((int(np.prod(dims)),) * 2)
    for j, s in enumerate(penalties):
        term: FloatArray = np.ones((1, 1))
        for i, dim in enumerate(dims):
            term = np.asarray(np.kron(term, s if i == j else np.eye(dim)), dtype=np.float64)
        total += term
    return total


def _fit_spline(
    y: FloatArray,
    x: FloatArray,
    rng: np.random.Generator,
    n_se_draws: int,
    se_rows: int,
    dim: int,
) -> ConditionalMean:
    """Penalised (tensor-product) regression spline, smoothing parameter by GCV."""
    n, p = x.shape
    margins, penalties = zip(*(_marginal_basis(x[:, j], dim) for j in range(p)), strict=True)
    margins_l, penalties_l = list(margins), list(penalties)
    S = _tensor_penalty(penalties_l)
    k = S.shape[0]
    y_mean = y.mean(axis=0)
    y_scale = y.std(axis=0)
    y_scale[y_scale == 0.0] = 1.0
    yc = (y - y_mean) / y_scale
    # normal equations, accumulated in chunks so a 256-column basis never lives whole
    A = np.zeros((k, k))
    b = np.zeros((k, y.shape[1]))
    for start in range(0, n, _CHUNK_ROWS):
        sl = slice(start, min(start + _CHUNK_ROWS, n))
        X = _tensor_rows(margins_l, sl)
        A += X.T @ X
        b += X.T @ yc[sl]
    c = np.einsum("ij,ij->j", yc, yc)
    # A + lam S = R'(I + lam C)R with C = R^-T S R^-1 = U diag(s) U'; a tiny ridge keeps R
    # defined where a tensor cell has no draws (those directions get huge s: shrunk away).
    jitter = 1e-9 * np.trace(A) / k
    R = np.linalg.cholesky(A + jitter * np.eye(k)).T
    Rinv = np.linalg.inv(R)
    s, U = np.linalg.eigh(Rinv.T @ S @ Rinv)
    s = np.clip(s, 0.0, None)
    z = U.T @ (Rinv.T @ b)  # (k, m)
    # GCV(lam) = n RSS / (n - edf)^2 over a log grid relative to the penalty's scale
    scale = np.median(s[s > 1e-12 * s.max()]) if np.any(s > 0) else 1.0
    lams = np.logspace(-8, 6, 141) / scale
    shrink = 1.0 / (1.0 + lams[:, np.newaxis] * s[np.newaxis, :])  # (L, k)
    edf = shrink.sum(axis=1)  # (L,)
    rss = c[np.newaxis, :] - (2.0 * shrink - shrink**2) @ (z**2)  # (L, m)
    rss = np.clip(rss, 1e-12 * c[np.newaxis, :] + 1e-300, None)
    gcv = n * rss / (n - np.minimum(edf, n - 1.0))[:, np.newaxis] ** 2
    best = np.argmin(gcv, axis=0)  # per option
    m = y.shape[1]
    beta = np.empty((k, m))
    sigma = np.empty(m)
    edf_best = edf[best]
    for j in range(m):
        sh = shrink[best[j]]
        beta[:, j] = Rinv @ (U @ (sh * z[:, j]))
        sigma[j] = np.sqrt(rss[best[j], j] / max(n - edf_best[j], 1.0))
    fitted = np.empty((n, m))
    for start in range(0, n, _CHUNK_ROWS):
        sl = slice(start, min(start + _CHUNK_ROWS, n))
        fitted[sl] = _tensor_rows(margins_l, sl) @ beta
    fitted = fitted * y_scale + y_mean
    draws = None
    draw_rows = None
    if n_se_draws > 0:
        # Bayesian posterior of the coefficients, N(beta, sigma^2 (A + lam S)^-1)
        # (Wood 2017, §6.10), sampled as beta + sigma R^-1 U diag(sqrt(shrink)) e.
        draw_rows = np.sort(rng.choice(n, size=min(n, se_rows), replace=False)).astype(np.intp)
        X = _tensor_rows(margins_l, draw_rows)
        draws = np.empty((draw_rows.size, m, n_se_draws))
        for j in range(m):
            e = rng.standard_normal((k, n_se_draws))
            half = Rinv @ (U * np.sqrt(shrink[best[j]])[np.newaxis, :])
            coef = beta[:, j : j + 1] + sigma[j] * (half @ e)
            draws[:, j, :] = (X @ coef) * y_scale[j] + y_mean[j]
    return ConditionalMean(
        fitted=fitted,
        rows=np.arange(n, dtype=np.intp),
        method="spline",
        edf=edf_best.astype(np.float64),
        sigma=sigma * y_scale,
        draws=draws,
        draw_rows=draw_rows,
        dropped=(),
    )


def _fit_gp(
    y: FloatArray, x: FloatArray, rng: np.random.Generator, max_samples: int
) -> ConditionalMean:
    """Gaussian process on a subsample; hyperparameters from its first min(30p, 250)."""
    try:
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "EVPPI for more than 4 inputs uses scikit-learn's Gaussian process; "
            "install it with: pip install 'mkba_sim[analysis]'"
        ) from exc
    n, p = x.shape
    rows = np.sort(rng.choice(n, size=min(n, max_samples), replace=False)).astype(np.intp)
    xs = x[rows]
    xs = (xs - xs.mean(axis=0)) / xs.std(axis=0)
    n_hyper = min(30 * p, 250, rows.size)
    hyper_rows = rng.choice(rows.size, size=n_hyper, replace=False)
    m = y.shape[1]
    fitted = np.empty((rows.size, m))
    sigma = np.empty(m)
    for j in range(m):
        ys = y[rows, j]
        kernel = ConstantKernel(1.0, (1e-3, 1e3)) * RBF(np.ones(p), (1e-2, 1e3)) + WhiteKernel(
            0.1, (1e-8, 1e1)
        )
        hyper = GaussianProcessRegressor(kernel, normalize_y=True, random_state=0)
        hyper.fit(xs[hyper_rows], ys[hyper_rows])
        gp = GaussianProcessRegressor(hyper.kernel_, optimizer=None, normalize_y=True)
        gp.fit(xs, ys)
        fitted[:, j] = gp.predict(xs)
        sigma[j] = float(np.std(ys - fitted[:, j], ddof=1))
    return ConditionalMean(
        fitted=fitted,
        rows=rows,
        method="gp",
        edf=np.full(m, np.nan),
        sigma=sigma,
        draws=None,
        draw_rows=None,
        dropped=(),
    )


def _as_columns(net: ArrayLike, inputs: ArrayLike) -> tuple[FloatArray, FloatArray, bool]:
    y = np.asarray(net, dtype=np.float64)
    x = np.asarray(inputs, dtype=np.float64)
    single = y.ndim == 1
    if single:
        y = y[:, np.newaxis]
    if x.ndim == 1:
        x = x[:, np.newaxis]
    if y.ndim != 2 or x.ndim != 2:
        raise ValueError(
            "net must be (n_draws,) or (n_draws, n_options); inputs (n_draws,) or "
            "(n_draws, n_inputs)"
        )
    if y.shape[0] != x.shape[0]:
        # the BCEA#53 pitfall: outputs and inputs must be the same draws, same order
        raise ValueError(
            f"net has {y.shape[0]} draws but inputs has {x.shape[0]} rows; they must be "
            "the same draws in the same order"
        )
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(x))):
        raise ValueError("net or inputs has non-finite values")
    if y.shape[0] < 10:
        raise ValueError("need at least 10 draws for a regression estimate")
    return y, x, single


def conditional_mean(
    net: ArrayLike,
    inputs: ArrayLike,
    *,
    method: Method = "auto",
    seed: int | np.random.Generator = 0,
    gp_max_samples: int = 5000,
    n_se_draws: int = 200,
    se_rows: int = 20_000,
) -> ConditionalMean:
    """Fit g(x) = E[net | inputs = x] across the draws (the EVPPI metamodel).

    Parameters
    ----------
    net
        Draws of the net balance, ``(n_draws,)`` or ``(n_draws, n_options)``.
    inputs
        The inputs of interest for the same draws, ``(n_draws,)`` or
        ``(n_draws, n_inputs)``.
    method
        ``"spline"``: penalised regression spline (1 input) or tensor-product spline
        (2-4 inputs); ``"gp"``: Gaussian process on a subsample; ``"auto"``: spline up
        to 4 inputs, GP beyond (the R package ``voi``'s default).
    seed
        Seed or Generator for the GP subsample and the coefficient draws.
    gp_max_samples
        Draws used by the GP (voi's ``maxSample``, default 5000: the GP costs O(m^3)).
    n_se_draws, se_rows
        Coefficient draws for the regression part of the EVPPI standard error, and how
        many rows (a seeded subsample) they are evaluated on.

    Notes
    -----
    **Spline.** Cubic B-splines with knots at quantiles of each input: basis dimension
    12 for one input (doubled, up to 48, while GCV uses more than 80 % of it); 5 per
    margin for 2-3 inputs and 4 for 4 inputs, as voi's ``te(..., bs="cr")``. The
    penalty is the integrated squared second derivative (O'Sullivan 1986; mgcv's "cr"
    penalty) on each input rescaled to [0, 1]; for a tensor product it is the sum of
    the marginal penalties with one shared smoothing parameter (mgcv's ``te`` has one
    per margin). Its null space holds the functions linear in each input (and their
    products), so a linear or multilinear net balance is fitted without penalty bias.
    The smoothing parameter is chosen by generalised cross-validation (Golub, Heath &
    Wahba 1979), mgcv's default for a Gaussian GAM. The normal equations are
    accumulated in chunks of rows, so all draws are used at O(n k^2) cost and a 4-input
    basis (256 columns) never sits in memory whole; GCV then costs O(k^3) once (one
    Cholesky and one eigendecomposition) and O(k) per trial smoothing parameter.

    *Why not scikit-learn's RidgeCV on a SplineTransformer basis* (the obvious library
    route)? RidgeCV penalises the coefficients towards zero (identity penalty), which
    is not a smoothness penalty: it shrinks linear trends as much as wiggles. Nor a
    P-spline difference penalty (Eilers & Marx 1996): with quantile knots its null
    space is not linear in x, and it biased a linear test case. RidgeCV also
    materialises and decomposes the whole n x k design. The basis comes from
    ``scipy.interpolate.BSpline.design_matrix`` (SciPy is a core dependency, so EVPPI
    for up to 4 inputs needs no optional package). pyGAM was ruled out: it pins
    SciPy < 1.17 (dswah/pyGAM#584); statsmodels' GLMGam is "experimental" and has no
    tensor-product smooths.

    **GP** (more than 4 inputs): scikit-learn's ``GaussianProcessRegressor`` with a
    constant x ARD squared-exponential kernel plus white noise, on standardised inputs.
    As voi does, hyperparameters are estimated by maximum marginal likelihood on
    min(30 p, 250) draws, then the GP with those hyperparameters is fitted to (and
    predicts on) a seeded subsample of at most ``gp_max_samples`` draws; EVPPI is then
    averaged over that subsample only.
    """
    y, x, _ = _as_columns(net, inputs)
    rng = _rng(seed)
    varies = np.ptp(x, axis=0) > 0
    dropped = tuple(int(i) for i in np.flatnonzero(~varies))
    x = x[:, varies]
    n, p = x.shape
    if p == 0:
        m = y.shape[1]
        return ConditionalMean(
            fitted=np.broadcast_to(y.mean(axis=0), y.shape).copy(),
            rows=np.arange(n, dtype=np.intp),
            method="constant",
            edf=np.ones(m),
            sigma=y.std(axis=0, ddof=1),
            draws=None,
            draw_rows=None,
            dropped=dropped,
        )
    chosen = method
    if method == "auto":
        chosen = "spline" if p <= _MAX_SPLINE_INPUTS else "gp"
    if chosen == "spline":
        if p > _MAX_SPLINE_INPUTS:
            raise ValueError(
                f"the tensor-product spline takes at most {_MAX_SPLINE_INPUTS} inputs "
                f"(got {p}); use method='gp'"
            )
        dim = _BASIS_DIM[p]
        while True:
            fit = _fit_spline(y, x, rng, n_se_draws, se_rows, dim)
            # one input: if GCV leaves the basis nearly unpenalised it is too small
            # (mgcv's gam.check "k-index" idea); double it, up to 48 functions
            if p > 1 or dim >= _MAX_BASIS_1D or np.all(fit.edf < 0.8 * dim):
                break
            dim *= 2
    elif chosen == "gp":
        fit = _fit_gp(y, x, rng, gp_max_samples)
    else:
        raise ValueError(f"unknown method {method!r}; choose 'auto', 'spline' or 'gp'")
    return ConditionalMean(
        fitted=fit.fitted,
        rows=fit.rows,
        method=fit.method,
        edf=fit.edf,
        sigma=fit.sigma,
        draws=fit.draws,
        draw_rows=fit.draw_rows,
        dropped=dropped,
    )


# ---------------------------------------------------------------------------- EVPPI


@dataclass(frozen=True)
class EvppiResult:
    """Partial EVPI of a set of inputs, with its standard error and checks.

    Attributes
    ----------
    evppi
        The estimate, within [0, ``evpi``] (clipped if the raw value was not).
    se
        Standard error: sqrt(se_outer^2 + se_regression^2).
    se_outer
        Monte Carlo error of averaging over the draws, with the fitted g held fixed.
    se_regression
        Error from the fitted g (spread over coefficient draws; 0 for GP: not computed).
    raw
        The estimate before clipping.
    clipped
        True when ``raw`` was above ``evpi`` and was clipped to it.
    evpi
        EVPI of the same draws (the upper bound).
    variance_share
        Var(g) / Var(net) per option: the first-order variance share of the inputs.
    method
        ``"spline"``, ``"gp"`` or ``"constant"``.
    n_used
        Draws the estimate averages over.
    edf
        Effective degrees of freedom of the fit per option (NaN for GP).
    dropped
        Constant input columns left out (they carry no information).
    """

    evppi: float
    se: float
    se_outer: float
    se_regression: float
    raw: float
    clipped: bool
    evpi: float
    variance_share: FloatArray
    method: str
    n_used: int
    edf: FloatArray
    dropped: tuple[int, ...]


def _evppi_from_fitted(g: FloatArray) -> FloatArray:
    """mean(max_d g_d) - max_d mean(g_d) with "not fund" = 0; g is (rows, options, ...)."""
    zero = np.zeros((g.shape[0], 1, *g.shape[2:]))
    opts = np.concatenate([g, zero], axis=1)
    result: FloatArray = opts.max(axis=1).mean(axis=0) - opts.mean(axis=0).max(axis=0)
    # >= 0 exactly (Jensen); floating-point rounding can leave -1e-11 where g is flat
    return np.maximum(result, 0.0)


def evppi(
    net: ArrayLike,
    inputs: ArrayLike,
    *,
    method: Method = "auto",
    seed: int | np.random.Generator = 0,
    gp_max_samples: int = 5000,
    n_se_draws: int = 200,
    se_rows: int = 20_000,
) -> EvppiResult:
    r"""Expected value of partial perfect information by nonparametric regression.

    .. math::

        \mathrm{EVPPI}(\theta) = \mathrm{E}_\theta\big[\max_d g_d(\theta)\big]
        - \max_d \mathrm{E}_\theta\big[g_d(\theta)\big],
        \qquad g_d(\theta) = \mathrm{E}[\mathrm{NB}_d \mid \theta],

    with "not fund" (NB = 0) among the options. g is estimated by regressing the draws
    of ``net`` on the draws of the inputs of interest and the expectations are averages
    of the fitted values over the same draws (Strong, Oakley & Brennan 2014). For one
    programme: EVPPI = mean(max(g, 0)) - max(mean(g), 0).

    Parameters
    ----------
    net
        Draws of the net balance of funding, ``(n_draws,)``, or of several programme
        variants against not funding, ``(n_draws, n_options)``.
    inputs
        The input(s) of interest for the same draws in the same order, ``(n_draws,)``
        or ``(n_draws, n_inputs)``; their EVPPI is joint (one group).
    method, seed, gp_max_samples, n_se_draws, se_rows
        See :func:`conditional_mean`: spline for 1-4 inputs, GP beyond.

    Returns
    -------
    EvppiResult

    Notes
    -----
    **Standard error.** Two parts, added as independent variances:

    1. *Outer Monte Carlo error* with g held fixed: the estimate is the mean of the
       per-draw loss max_d g_d - g_{d*}, so sd / sqrt(n) (as for :func:`evpi`).
    2. *Regression error*: the spread of the estimate when g is recomputed from
       ``n_se_draws`` draws of the spline coefficients from their Bayesian posterior
       N(beta, sigma^2 (X'X + lambda S)^-1) (the approach of Strong et al. 2014 and of
       voi's ``se=TRUE``; voi reports this part only). Not computed for GP (0).

    Neither part covers a wrong *form* of the regression (too stiff a basis
    underestimates EVPPI; check ``variance_share`` against the expected size of the
    effect). Noise in g biases EVPPI upwards by Jensen's inequality (E[max(g+e, 0)] >=
    max(g, 0)); the GCV penalty keeps this small for n >= 1e4.

    **Bounds.** Jensen's inequality makes the raw estimate >= 0 for any fit. It can
    exceed the EVPI of the same draws through regression noise; it is then clipped to
    EVPI, ``clipped`` is set and a ``RuntimeWarning`` is issued.

    **Speed.** One input, 1e5 draws: 0.2-0.5 s measured on a shared 2-core machine
    (up to 0.7 s when the basis is doubled twice for a wiggly g); all draws are used,
    the coefficient draws are evaluated on a 20,000-row subsample. Four inputs (256
    basis columns): about 1-2 s. The GP path costs O(``gp_max_samples``^3).

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> x = rng.normal(size=(20_000, 2))
    >>> res = evppi(0.5 + x[:, 0] + x[:, 1], x[:, 0])
    >>> round(res.evppi, 2)  # closed form 0.20
    0.2
    """
    return _regression_voi(
        net,
        inputs,
        what="EVPPI",
        method=method,
        seed=seed,
        gp_max_samples=gp_max_samples,
        n_se_draws=n_se_draws,
        se_rows=se_rows,
    )


def _regression_voi(
    net: ArrayLike,
    inputs: ArrayLike,
    *,
    what: str,
    method: Method,
    seed: int | np.random.Generator,
    gp_max_samples: int,
    n_se_draws: int,
    se_rows: int,
) -> EvppiResult:
    """mean(max_d g_d) - max_d mean(g_d) for g = E[net | inputs], its SE and checks.

    The one computation behind :func:`evppi` (inputs = model parameters) and
    :func:`evsi` (inputs = summary statistics of simulated study data); ``what`` names
    the quantity in the warning.
    """
    y, x, _ = _as_columns(net, inputs)
    rng = _rng(seed)
    with _one_blas_thread():
        fit = conditional_mean(
            y,
            x,
            method=method,
            seed=rng,
            gp_max_samples=gp_max_samples,
            n_se_draws=n_se_draws,
            se_rows=se_rows,
        )
    g = fit.fitted
    raw = float(_evppi_from_fitted(g))
    # outer Monte Carlo part: per-draw loss of the option best on average, g fixed
    zero = np.zeros((g.shape[0], 1))
    opts = np.concatenate([g, zero], axis=1).T
    loss, _ = _opportunity_loss(opts)
    se_outer = float(loss.std(ddof=1) / np.sqrt(loss.size))
    se_reg = 0.0
    if fit.draws is not None:
        reps = _evppi_from_fitted(fit.draws)
        se_reg = float(reps.std(ddof=1))
    y_used = y[fit.rows]
    total = float(evpi(y_used, axis=0, option_axis=1).evpi)
    # rounding can put a perfect fit a few ulps above EVPI: only a real excess is flagged
    clipped = raw > total + 1e-9 * (abs(total) + float(y_used.std()))
    value = min(max(raw, 0.0), total)  # >= 0 by Jensen; rounding can give -1e-14
    if clipped:
        warnings.warn(
            f"{what} estimate {raw:.6g} exceeds the EVPI {total:.6g} of the same draws; "
            "clipped to EVPI (regression noise: use more draws or fewer inputs)",
            RuntimeWarning,
            stacklevel=2,
        )
    var_y = y_used.var(axis=0)
    share = np.where(var_y > 0, g.var(axis=0) / np.where(var_y > 0, var_y, 1.0), 0.0)
    return EvppiResult(
        evppi=value,
        se=float(np.hypot(se_outer, se_reg)),
        se_outer=se_outer,
        se_regression=se_reg,
        raw=raw,
        clipped=clipped,
        evpi=total,
        variance_share=np.asarray(share, dtype=np.float64),
        method=fit.method,
        n_used=int(fit.rows.size),
        edf=fit.edf,
        dropped=fit.dropped,
    )


# ----------------------------------------------------------------- population EVPI


def population_evpi(
    evpi_per_decision: ArrayLike,
    cohorts_per_year: ArrayLike,
    years: int,
    discount_rate: ArrayLike,
) -> FloatArray:
    r"""Population EVPI: the per-decision value summed over yearly cohorts, discounted.

    .. math::

        \mathrm{EVPI}_{pop} = \mathrm{EVPI} \cdot N \sum_{t=0}^{T-1} (1 + r)^{-t}
        = \mathrm{EVPI} \cdot N \, \frac{1 - (1+r)^{-T}}{1 - (1+r)^{-1}},

    for N decisions (e.g. participants, or programme cohorts) a year over a horizon of
    T years, each year's cohort discounted to the start of the first year at rate r
    (the discrete-time form of Claxton 1999 and of Briggs, Claxton & Sculpher 2006,
    *Decision Modelling for Health Economic Evaluation*, ch. 7). The R package ``voi``'s
    ``pop_voi`` uses the continuous-time variant EVPI N (1 - e^{-rT}) / r (Jackson et
    al. 2022); the discrete sum is larger by about r in relative terms (cohorts are
    counted from the start of each year).

    Parameters
    ----------
    evpi_per_decision
        EVPI of one decision (one participant or one cohort): the unit ``net`` was in.
    cohorts_per_year
        Decisions per year (N).
    years
        Horizon T: how long the decision stands before new evidence or a new
        programme replaces it (a judgement, not a fact).
    discount_rate
        Annual real discount rate r (the Dutch MKBA guidance, Werkgroep discontovoet
        2020, uses 2.25 %).

    Returns
    -------
    ndarray
        Broadcast over the three array arguments.

    Notes
    -----
    Only needed when ``net`` is per participant or per cohort. If ``net`` is already a
    programme total over its horizon, EVPI is already the population value. The MCSE
    scales by the same factor.
    """
    if int(years) != years or years < 1:
        raise ValueError(f"years must be a positive integer, got {years}")
    v = np.asarray(evpi_per_decision, dtype=np.float64)
    n = np.asarray(cohorts_per_year, dtype=np.float64)
    r = np.asarray(discount_rate, dtype=np.float64)
    if np.any(r <= -1.0):
        raise ValueError("discount_rate must exceed -1")
    t = np.arange(int(years), dtype=np.float64)
    factor = np.sum((1.0 + r[..., np.newaxis]) ** -t, axis=-1)
    result: FloatArray = np.asarray(v * n * factor, dtype=np.float64)
    return result


# ---------------------------------------------------------------------------- EVSI


@dataclass(frozen=True)
class EvsiResult:
    """Expected value of sample information of one study size, with its standard error.

    Attributes
    ----------
    evsi
        The estimate, within [0, ``evpi``] (clipped if the raw value was not).
    se
        Standard error: sqrt(se_outer^2 + se_regression^2), as for EVPPI.
    se_outer, se_regression
        The two parts of ``se`` (see :func:`evppi`).
    raw
        The estimate before clipping.
    clipped
        True when ``raw`` was above ``evpi`` and was clipped to it.
    evpi
        EVPI of the same draws (an upper bound).
    variance_share
        Var(E[net | T]) / Var(net): the share of the variance of the net balance that
        the study's result T would explain.
    method, n_used, edf
        The regression: ``"spline"``/``"gp"``/``"constant"``, draws averaged over,
        effective degrees of freedom.
    """

    evsi: float
    se: float
    se_outer: float
    se_regression: float
    raw: float
    clipped: bool
    evpi: float
    variance_share: FloatArray
    method: str
    n_used: int
    edf: FloatArray


def evsi(
    net: ArrayLike,
    statistics: ArrayLike,
    *,
    method: Method = "auto",
    seed: int | np.random.Generator = 0,
    gp_max_samples: int = 5000,
    n_se_draws: int = 200,
    se_rows: int = 20_000,
) -> EvsiResult:
    r"""Expected value of sample information by regression on a simulated study result.

    .. math::

        \mathrm{EVSI} = \mathrm{E}_X\big[\max_d \mathrm{E}[\mathrm{NB}_d \mid X]\big]
        - \max_d \mathrm{E}\big[\mathrm{NB}_d\big],

    the expected gain from deciding after a study with data X instead of now (Raiffa &
    Schlaifer 1961; Ades, Lu & Claxton 2004). Following Strong, Oakley & Brennan
    (2015), for every kept draw of the parameters one data set X is simulated from its
    sampling distribution given that draw, reduced to a low-dimensional summary
    statistic T(X) (ideally sufficient), and E[NB | T] is estimated by regressing the
    draws of ``net`` on T with the same penalised (tensor-product) spline as EVPPI
    (:func:`conditional_mean`). For one programme:
    EVSI = mean(max(g, 0)) - max(mean(g), 0) with g the fitted values; the spline has
    an intercept, so mean(g) = mean(net).

    Parameters
    ----------
    net
        Draws of the net balance of funding, ``(n_draws,)`` or ``(n_draws, n_options)``.
    statistics
        The summary statistic(s) of the study simulated for the same draws in the same
        order, ``(n_draws,)`` or ``(n_draws, n_statistics)`` (at most 4 for the
        spline; a Gaussian process beyond).
    method, seed, gp_max_samples, n_se_draws, se_rows
        As for :func:`evppi`.

    Returns
    -------
    EvsiResult

    Notes
    -----
    Bounds: 0 <= EVSI <= EVPPI(theta) <= EVPI, with theta the parameters the study's
    data depend on, and EVSI tends to EVPPI(theta) as the study grows (the voi R
    package's checks; Jackson et al. 2022). The regression cannot know theta, so only
    EVSI <= EVPI is enforced here (clipped with a warning, as :func:`evppi`); compare
    with :func:`evppi` of theta for the other bound. The standard error has the two
    parts of :func:`evppi`. It does not include the variation from the one simulated
    data set per draw, which is part of the outer Monte Carlo error (the estimator
    averages over it). The regression's noise biases the estimate upwards, most for
    small studies whose T carries little information; a too-stiff regression biases it
    downwards.

    References
    ----------
    Strong, M., Oakley, J. E., Brennan, A. & Breeze, P. (2015). Estimating the expected
    value of sample information using the probabilistic sensitivity analysis sample: a
    fast, nonparametric regression-based method. *Medical Decision Making* 35(5),
    570-583. doi:10.1177/0272989X15575286
    Ades, A. E., Lu, G. & Claxton, K. (2004). Expected value of sample information
    calculations in medical decision modeling. *Medical Decision Making* 24(2),
    207-227. doi:10.1177/0272989X04263162

    Examples
    --------
    Normal prior theta ~ N(0.2, 1), net = theta, a study mean of 10 observations with
    noise sd 2 (closed form 0.247; the estimate is within 2 se of it):

    >>> rng = np.random.default_rng(3)
    >>> theta = rng.normal(0.2, 1.0, 50_000)
    >>> xbar = rng.normal(theta, 2.0 / np.sqrt(10))
    >>> round(evsi(theta, xbar).evsi, 2)
    0.24
    """
    r = _regression_voi(
        net,
        statistics,
        what="EVSI",
        method=method,
        seed=seed,
        gp_max_samples=gp_max_samples,
        n_se_draws=n_se_draws,
        se_rows=se_rows,
    )
    return EvsiResult(
        evsi=r.evppi,
        se=r.se,
        se_outer=r.se_outer,
        se_regression=r.se_regression,
        raw=r.raw,
        clipped=r.clipped,
        evpi=r.evpi,
        variance_share=r.variance_share,
        method=r.method,
        n_used=r.n_used,
        edf=r.edf,
    )


@dataclass(frozen=True)
class EnbsResult:
    """Expected net benefit of sampling over study sizes, and the best size.

    Attributes
    ----------
    n
        Study sizes (participants).
    population_evsi
        EVSI summed over the decisions it informs (discounted), per size.
    cost
        Study cost per size: ``cost_fixed + cost_per_participant * n``.
    enbs, se
        population_evsi - cost and its standard error (from the EVSI's; costs are
        taken as known).
    best
        Index of the size with the highest ENBS.
    n_best, enbs_best
        That size and its ENBS.
    worthwhile
        True if the highest ENBS is positive: some study of these sizes pays off.
    """

    n: NDArray[np.int64]
    population_evsi: FloatArray
    cost: FloatArray
    enbs: FloatArray
    se: FloatArray
    best: int
    n_best: int
    enbs_best: float
    worthwhile: bool


def enbs(
    evsi_per_decision: ArrayLike,
    n: ArrayLike,
    *,
    cost_fixed: float,
    cost_per_participant: float,
    cohorts_per_year: float,
    years: int,
    discount_rate: float,
    se: ArrayLike | None = None,
) -> EnbsResult:
    r"""Expected net benefit of sampling, ENBS(n) = population EVSI(n) - study cost(n).

    .. math::

        \mathrm{ENBS}(n) = \mathrm{EVSI}(n) \, N \sum_{t=0}^{T-1} (1+r)^{-t}
        - (C_\mathrm{fixed} + c \, n)

    (Ades, Lu & Claxton 2004; the R package ``voi``'s ``enbs`` with ``smooth=FALSE``).
    The population factor is that of :func:`population_evpi`. The best size is the one
    on the grid ``n`` with the highest ENBS (no interpolation between sizes); a study
    is worth doing only if that ENBS is positive.

    Parameters
    ----------
    evsi_per_decision
        EVSI of one decision for each size in ``n``.
    n
        Study sizes, increasing.
    cost_fixed, cost_per_participant
        Set-up cost of the study and its cost per participant (same currency).
    cohorts_per_year, years, discount_rate
        As for :func:`population_evpi`.
    se
        Standard errors of ``evsi_per_decision`` (default 0).

    Returns
    -------
    EnbsResult
    """
    v = np.asarray(evsi_per_decision, dtype=np.float64)
    sizes = np.asarray(n, dtype=np.int64)
    if v.shape != sizes.shape or v.ndim != 1 or v.size == 0:
        raise ValueError("evsi_per_decision and n must be 1-D arrays of the same length")
    if np.any(np.diff(sizes) <= 0) or sizes[0] < 1:
        raise ValueError("study sizes must be positive and increasing")
    if not (math.isfinite(cost_fixed) and math.isfinite(cost_per_participant)):
        raise ValueError("study costs must be finite")
    if cost_fixed < 0 or cost_per_participant < 0:
        raise ValueError("study costs must not be negative")
    s = np.zeros_like(v) if se is None else np.asarray(se, dtype=np.float64)
    factor = float(population_evpi(1.0, cohorts_per_year, years, discount_rate))
    pop = v * factor
    cost = cost_fixed + cost_per_participant * sizes.astype(np.float64)
    value = pop - cost
    best = int(np.argmax(value))
    return EnbsResult(
        n=sizes,
        population_evsi=pop,
        cost=cost,
        enbs=value,
        se=s * factor,
        best=best,
        n_best=int(sizes[best]),
        enbs_best=float(value[best]),
        worthwhile=bool(value[best] > 0.0),
    )
