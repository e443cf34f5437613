"""Break-even points of a sweep, and acceptability: the chance that the balance is positive.

References
----------
Van Hout, B. A., Al, M. J., Gordon, G. S. & Rutten, F. F. H. (1994). Costs, effects and
C/E-ratios alongside a clinical trial. *Health Economics* 3(5), 309-319.
doi:10.1002/hec.4730030505 (the acceptability curve).
Fenwick, E., Claxton, K. & Sculpher, M. (2001). Representing uncertainty: the role of
cost-effectiveness acceptability curves. *Health Economics* 10(8), 779-787.
doi:10.1002/hec.635
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "Acceptability",
    "BreakEven",
    "acceptability",
    "acceptability_curve",
    "break_even",
]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class BreakEven:
    """Where a swept quantity crosses a level.

    Attributes
    ----------
    value
        The crossing when there is exactly one, else NaN.
    status
        ``"once"``, ``"none"`` (never crosses within the sweep) or ``"several"``.
    crossings
        Every crossing, ascending.
    directions
        +1 where y rises through the level, -1 where it falls, per crossing.
    touches
        x values where y reaches the level without crossing it (including at the ends
        of the sweep).
    """

    value: float
    status: Literal["once", "none", "several"]
    crossings: FloatArray
    directions: NDArray[np.int8]
    touches: FloatArray


def break_even(x: ArrayLike, y: ArrayLike, level: float = 0.0) -> BreakEven:
    """The x where a sweep y(x) crosses ``level``, by linear interpolation.

    Typical use: x = programme cost or a shadow price, y = E[net] (level 0) or
    P(net > 0) (level 0.5, or a decision maker's required certainty) at each x.

    Parameters
    ----------
    x
        Sweep values, strictly increasing.
    y
        The quantity at each x (finite).
    level
        The level to cross.

    Returns
    -------
    BreakEven
        ``value`` is NaN unless ``status == "once"``; every crossing is in
        ``crossings``.

    Notes
    -----
    y is read as the piecewise-linear curve through the points. A crossing is a change
    of sign of y - level: inside a segment it is interpolated linearly; if y equals the
    level on one or more grid points between opposite signs the crossing is the first
    such point. Reaching the level without a sign change is a touch, not a crossing.
    Accuracy: the interpolation error is O(h^2 y'') for grid step h; the Monte Carlo
    error of y moves the crossing by about se(y) / |y'| (the sweep should share common
    random numbers so the curve is smooth in x).
    """
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    if xs.ndim != 1 or xs.shape != ys.shape or xs.size < 2:
        raise ValueError("x and y must be 1-D of the same length (at least 2)")
    if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ys))):
        raise ValueError("x and y must be finite")
    if np.any(np.diff(xs) <= 0):
        raise ValueError("x must be strictly increasing")
    d = ys - level
    sign = np.sign(d)
    crossings: list[float] = []
    directions: list[int] = []
    touches: list[float] = []
    nonzero = np.flatnonzero(sign != 0)
    # zeros before the first / after the last nonzero point, or everywhere: touches
    if nonzero.size == 0:
        touches = list(xs)
    else:
        touches += list(xs[: nonzero[0]])
        touches += list(xs[nonzero[-1] + 1 :])
    for i, j in itertools.pairwise(nonzero):
        if j == i + 1:
            if sign[i] != sign[j]:
                crossings.append(float(xs[i] - d[i] * (xs[j] - xs[i]) / (d[j] - d[i])))
                directions.append(int(sign[j]))
        else:  # a run of exact zeros between points i and j
            if sign[i] != sign[j]:
                crossings.append(float(xs[i + 1]))
                directions.append(int(sign[j]))
                touches += list(xs[i + 2 : j])
            else:
                touches += list(xs[i + 1 : j])
    arr = np.asarray(crossings, dtype=np.float64)
    status: Literal["once", "none", "several"]
    status = "none" if arr.size == 0 else ("once" if arr.size == 1 else "several")
    return BreakEven(
        value=float(arr[0]) if arr.size == 1 else float("nan"),
        status=status,
        crossings=arr,
        directions=np.asarray(directions, dtype=np.int8),
        touches=np.sort(np.asarray(touches, dtype=np.float64)),
    )


@dataclass(frozen=True)
class Acceptability:
    """A probability estimated from Monte Carlo draws, with its standard error."""

    prob: FloatArray
    se: FloatArray


def acceptability(net: ArrayLike, level: float = 0.0, axis: int = -1) -> Acceptability:
    """P(net > level) from the draws, with the binomial Monte Carlo standard error.

    The "chance that benefits exceed costs" of WSIPP's benefit-cost pages with
    ``level = 0``. SE = sqrt(p (1 - p) / n) for independent draws (0 when p is 0 or 1:
    then report "< 1/n" rather than 0).

    Parameters
    ----------
    net
        Draws of the net balance.
    level
        Threshold (strictly exceeded).
    axis
        Axis of the draws.
    """
    x = np.asarray(net, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("net has non-finite draws")
    n = x.shape[axis]
    p = np.mean(x > level, axis=axis)
    return Acceptability(prob=np.asarray(p), se=np.asarray(np.sqrt(p * (1.0 - p) / n)))


def acceptability_curve(
    benefit: ArrayLike, cost: ArrayLike, price: ArrayLike, axis: int = -1
) -> Acceptability:
    """P(price * benefit - cost > 0) for each price: the acceptability curve.

    The MKBA analogue of the cost-effectiveness acceptability curve (van Hout et al.
    1994; Fenwick, Claxton & Sculpher 2001): ``benefit`` in natural units (e.g. offences
    avoided) valued at a shadow ``price`` per unit, against ``cost``. For a sweep over
    the programme cost c instead, use ``acceptability(b[:, None] - c_grid, axis=0)``
    with b the draws of the benefits.

    Parameters
    ----------
    benefit, cost
        Draws (same draws, same order), broadcast against each other.
    price
        Grid of prices, shape ``(m,)``.
    axis
        Axis of the draws in ``benefit`` and ``cost``.

    Returns
    -------
    Acceptability
        ``prob`` and ``se`` with the draw axis replaced by a trailing price axis.

    Notes
    -----
    With common random numbers the curve is monotone in the price only when the benefit
    has one sign in every draw. Feed the curve to :func:`break_even` (level 0.5, or the
    decision maker's required certainty) for the price at which funding becomes more
    likely than not to pay off.
    """
    b_all, c_all = np.broadcast_arrays(
        np.asarray(benefit, dtype=np.float64), np.asarray(cost, dtype=np.float64)
    )
    b = np.moveaxis(b_all, axis, -1)
    c = np.moveaxis(c_all, axis, -1)
    pr = np.asarray(price, dtype=np.float64)
    if pr.ndim != 1:
        raise ValueError("price must be 1-D")
    net = pr * b[..., np.newaxis] - c[..., np.newaxis]  # (..., n, m)
    return acceptability(net, 0.0, axis=-2)
