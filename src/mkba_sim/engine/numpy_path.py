"""The plain NumPy reference path: the same draws as the numba kernel, vectorised.

Same counter-based uniforms, same quantile formulas (including the quantile tables),
same expression trees (evaluated by :func:`mkba_sim.model.expressions.evaluate` with the
run's constants), the same ledger (:func:`mkba_sim.model.ledger.evaluate_ledger`), and
the same statistics plan and block layout of the summaries. Tests check it agrees with
the numba path; the benchmark uses it as the vectorised-NumPy baseline.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mkba_sim.distributions.base import scipy_special
from mkba_sim.distributions.dependent import quantile as dependent_quantile
from mkba_sim.engine.plan import Numbers, Plan
from mkba_sim.kernels import sampling as ks
from mkba_sim.model.evaluate import evaluate_item
from mkba_sim.model.expressions import evaluate
from mkba_sim.model.ledger import LedgerWeights, evaluate_ledger

__all__ = [
    "fill_dependent",
    "quantile_numpy",
    "run_chunk_numpy",
    "sample_numpy",
    "scenario_values",
    "stream_uniform_numpy",
]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def stream_uniform_numpy(key: np.uint64, stream: np.uint64, draws: np.ndarray) -> np.ndarray:
    """Vectorised :func:`mkba_sim.kernels.rng.stream_uniform`."""
    d = draws.astype(np.uint64)
    z = (np.uint64(key) ^ np.uint64(stream)) + (d + np.uint64(1)) * _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    z = z ^ (z >> np.uint64(31))
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) * (1.0 / 9007199254740992.0)


def quantile_numpy(
    code: int, u: np.ndarray, fpar: np.ndarray, ipar: np.ndarray, pool: np.ndarray
) -> np.ndarray:
    """Vectorised :func:`mkba_sim.kernels.sampling.quantile`."""
    if code == ks.TABLE:
        off = int(ipar[0])
        bulk = pool[off : off + ks.TB_N + 1]
        x = (u - ks.TB_EDGE) * (ks.TB_N / (1.0 - 2.0 * ks.TB_EDGE))
        k = np.clip(x.astype(np.int64), 0, ks.TB_N - 1)
        a = bulk[k]
        out = a + (x - k) * (bulk[k + 1] - a)
        tails = np.flatnonzero((u < ks.TB_EDGE) | (u > 1.0 - ks.TB_EDGE))
        if tails.size:
            ut = u[tails]
            tail = pool[off + ks.TB_N + 1 : off + ks.TB_N + 1 + ks.QT_SIZE]
            x = (np.log(ut / (1.0 - ut)) + ks.QT_LIMIT) / (2.0 * ks.QT_LIMIT / (ks.QT_SIZE - 1))
            kt = np.clip(x.astype(np.int64), 0, ks.QT_SIZE - 2)
            w = np.clip(x - kt, 0.0, 1.0)
            out[tails] = tail[kt] + w * (tail[kt + 1] - tail[kt])
        return out
    if code == ks.FIXED:
        return np.full(u.shape, fpar[0])
    if code == ks.UNIFORM:
        return fpar[0] + u * (fpar[1] - fpar[0])
    if code == ks.DISCRETE:
        n = int(ipar[1])
        values = pool[ipar[0] : ipar[0] + n]
        cdf = pool[ipar[0] + n : ipar[0] + 2 * n]
        return values[np.minimum(np.searchsorted(cdf, u, side="left"), n - 1)]
    if code == ks.POSTERIOR:
        n = int(ipar[1])
        k = np.minimum((u * n).astype(np.int64), n - 1)
        return pool[ipar[0] + k]
    if code == ks.EXPR:  # computed afterwards (fill_dependent); NaN as fill_params writes
        return np.full(u.shape, np.nan)
    raise ValueError(f"unknown distribution code {code}")


def sample_numpy(
    num: Numbers,
    key: np.uint64,
    draws: np.ndarray,
    design: np.ndarray,
    plan: Plan | None = None,
) -> np.ndarray:
    """Parameter values [n, n_instances] for the given draw indices (design rows if any).

    With ``plan``, parameters whose distribution keys are expressions are computed too,
    in dependency order, as the generated kernel does (:func:`fill_dependent`).
    """
    n = draws.shape[0]
    n_streams = num.streams.shape[0]
    if design.shape[0] > 0:
        u = np.asfortranarray(design[:, :n_streams])
    else:
        u = np.empty((n, n_streams), order="F")
        for k in range(n_streams):
            u[:, k] = stream_uniform_numpy(key, num.streams[k], draws)
    for b in range(num.corr_ptr.shape[0] - 1):
        members = num.corr_members[num.corr_ptr[b] : num.corr_ptr[b + 1]]
        m = members.shape[0]
        chol = num.chol[num.chol_ptr[b] : num.chol_ptr[b] + m * m].reshape(m, m)
        special = scipy_special()  # imported here: the pilot of every run imports this module
        z = special.ndtri(u[:, members]) @ chol.T
        u[:, members] = np.clip(special.ndtr(z), 5e-324, 1.0 - 1.1102230246251565e-16)
    n_inst = num.codes.shape[0]
    p = np.empty((n, n_inst), order="F")
    for j in range(n_inst):
        k = num.stream_of[j]
        uj = np.full(n, 0.5) if k < 0 else u[:, k]
        p[:, j] = quantile_numpy(int(num.codes[j]), uj, num.fpar[j], num.ipar[j], num.pool)
    if plan is not None:
        fill_dependent(plan, num, p, u)
    return p


def fill_dependent(plan: Plan, num: Numbers, p: np.ndarray, u: np.ndarray) -> None:
    """Parameters with expression-valued distribution keys, in place: for each (in
    dependency order) whose code is still ``EXPR`` (not overridden), evaluate its
    arguments with its scenario's names and apply
    :func:`mkba_sim.distributions.dependent.quantile` to its stream's uniforms."""
    for j, s in plan.dependent:
        if int(num.codes[j]) != ks.EXPR:
            continue
        dist = plan._params[j].dist
        env, consts = _scenario_env(plan, num, s, p)
        args = [evaluate(a, env, consts) for a in dist.args]
        k = int(num.stream_of[j])
        uj = np.full(p.shape[0], 0.5) if k < 0 else u[:, k]
        p[:, j] = np.broadcast_to(dependent_quantile(dist.kind, uj, *args), (p.shape[0],))


def _scenario_env(
    plan: Plan, num: Numbers, s: int, params: np.ndarray
) -> tuple[dict[str, Any], dict[int, float]]:
    """Scenario ``s``'s populations and parameters by name, and its constants by node."""
    sc = plan.scenario(s)
    env: dict[str, Any] = {name: num.cst[plan.pop_slot[(s, name)]] for name in sc.populations}
    env.update({name: params[:, j] for name, j in plan.instance_of[sc.name].items()})
    consts = {node_id: num.cst[c] for (s2, node_id), c in plan.num_slot.items() if s2 == s}
    return env, consts


def scenario_values(
    plan: Plan, num: Numbers, s: int, params: np.ndarray
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Derived quantities and items of scenario ``s`` (in evaluation order) and its series
    values [n, series of s], for parameter values ``params`` [n, n_instances]."""
    sc = plan.scenario(s)
    n = params.shape[0]
    env, consts = _scenario_env(plan, num, s, params)
    checked: dict[str, np.ndarray] = {}
    for d in sc.derived:
        env[d.name] = evaluate(d.expr, env, consts)
        checked[f"derived.{d.name}"] = np.broadcast_to(env[d.name], (n,))
    values: list[Any] = []
    for it in sc.items:
        got = evaluate_item(it, env, consts)
        if isinstance(got, dict):
            per = {t: np.broadcast_to(x, (n,)) for t, x in got.items()}
            values.append(per)
            checked.update({f"items.{it.name}@{t}": x for t, x in per.items()})
            continue
        v = np.broadcast_to(got, (n,))
        values.append(v)
        checked[f"items.{it.name}"] = v
    led = plan.ledgers[s]
    base, yb = int(plan.item_ptr[s]), int(plan.year_ptr[s])
    weights = LedgerWeights(
        num.pv_weight[base : base + len(led.items)],
        num.year_coef[yb : int(plan.year_ptr[s + 1])],
    )
    part = env[led.participants] if led.participants is not None else None
    out = evaluate_ledger(led, weights, values, part)
    st = plan.stats
    cols = []
    for i in range(st.scenario_ptr[s], st.scenario_ptr[s + 1]):
        se = st.series[i]
        if se.kind == "item":
            v = out["pv"][led.items.index(se.name)]
        elif se.kind in ("total", "ratio"):
            v = out[se.name]
        elif se.kind == "stakeholder":
            v = out["stakeholders"][se.name]
        elif se.kind == "perspective":
            v = out["perspectives"][se.name]
        elif se.kind == "participant":
            v = out["per_participant"][se.name]
        elif se.kind == "participant_perspective":
            v = out["per_participant"]["perspectives"][se.name]
        else:
            v = out["years"][int(se.name)]
        cols.append(np.broadcast_to(np.asarray(v, dtype=np.float64), (n,)))
    return checked, np.stack(cols, axis=1) if cols else np.empty((n, 0))


def run_chunk_numpy(
    plan: Plan,
    num: Numbers,
    start: int,
    n: int,
    block: int,
    key: np.uint64,
    design: np.ndarray,
    shift: np.ndarray,
    hist_lo: np.ndarray,
    hist_scale: np.ndarray,
    n_bins: int,
    keep: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """NumPy version of the generated ``run_blocks`` over a whole chunk.

    Returns (sums, counts, bad, hist, kept) in the kernel's layout.
    """
    st = plan.stats
    draws = np.arange(start, start + n, dtype=np.int64)
    p = sample_numpy(num, key, draws, design, plan)
    n_blocks = (n + block - 1) // block
    starts = np.arange(n_blocks) * block
    sums = np.zeros((n_blocks, st.n_series, 2))
    counts = np.zeros((n_blocks, st.n_counts), dtype=np.int64)
    bad = np.full((n_blocks, st.n_scenarios), -1, dtype=np.int64)
    hist = np.zeros((st.n_hist, n_bins), dtype=np.int64)
    series = np.full((n, st.n_series), np.nan)
    block_of = np.arange(n) // block
    for s in range(st.n_scenarios):
        checked, vals = scenario_values(plan, num, s, p)
        ok = np.ones(n, dtype=bool)
        for v in checked.values():
            ok &= np.isfinite(v)
        lo, hi = st.scenario_ptr[s], st.scenario_ptr[s + 1]
        series[:, lo:hi] = np.where(ok[:, None], vals, np.nan)
        dropped = ~ok
        counts[:, st.dropped_column(s)] = np.bincount(block_of[dropped], minlength=n_blocks)
        for b in np.unique(block_of[dropped]):
            bad[b, s] = int(np.flatnonzero(dropped & (block_of == b))[0])
        for i in range(lo, hi):
            se = st.series[i]
            x = series[:, i]
            use = ok & (x == x) if se.defined >= 0 else ok
            d = np.where(use, x - shift[i], 0.0)
            sums[:, i, 0] = np.add.reduceat(d, starts)
            sums[:, i, 1] = np.add.reduceat(d * d, starts)
            if se.defined >= 0:
                counts[:, st.n_exceed + se.defined] = np.add.reduceat(use.astype(np.int64), starts)
            if se.exceed >= 0:
                above = use & (x > num.thresholds[se.exceed])
                counts[:, se.exceed] = np.add.reduceat(above.astype(np.int64), starts)
            if se.hist >= 0:
                h = se.hist
                f = np.minimum(
                    np.maximum((x[use] - hist_lo[h]) * hist_scale[h], -1.0), n_bins - 2.0
                )
                idx = (f + 1.0).astype(np.int64)  # as the kernel: bin 0 below, n_bins - 1 above
                hist[h] += np.bincount(idx, minlength=n_bins)
    kept = np.concatenate([p, series], axis=1) if keep else None
    return sums, counts, bad, hist, kept
