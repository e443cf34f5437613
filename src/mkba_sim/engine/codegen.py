"""Generate and load the fused numba kernel of a model.

The model's expression trees (already validated, see :mod:`mkba_sim.model.expressions`)
are emitted as Python source by :func:`emit`, which only knows the whitelisted node
types, writes every name as an array slot or a local variable of its own (``p[3]``,
``d0_2``) and every number through ``repr(float)``. No text from the model file reaches
the generated source. The module is written to the cache directory under a name derived
from its content, so numba's on-disk cache (``cache=True``) makes the second run of the
same model start in well under a second.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from mkba_sim.engine.plan import Plan, scenario_of
from mkba_sim.kernels import sampling as ks
from mkba_sim.model.expressions import BinOp, Neg, Node, Num, Ref

__all__ = ["emit", "kernel_source", "load_kernel"]

_KERNEL_FILES = ("rng.py", "special.py", "sampling.py", "exprfuncs.py")


def emit(node: Node, slot: dict[str, str]) -> str:
    """Python source of ``node``; ``slot`` maps each name to its generated variable."""
    if isinstance(node, Num):
        return f"({float(node.value)!r})"
    if isinstance(node, Ref):
        return slot[node.name]
    if isinstance(node, Neg):
        return f"(-{emit(node.operand, slot)})"
    if isinstance(node, BinOp):
        return f"({emit(node.left, slot)} {node.op} {emit(node.right, slot)})"
    args = [emit(a, slot) for a in node.args]
    if node.func in ("min", "max"):
        f = "fmin" if node.func == "min" else "fmax"
        acc = args[0]
        for a in args[1:]:
            acc = f"{f}({acc}, {a})"
        return acc
    fname = {"abs": "abs", "exp": "math.exp", "log": "flog", "sqrt": "fsqrt"}[node.func]
    return f"{fname}({args[0]})"


def _fill_params_body(plan: Plan) -> list[str]:
    """Unrolled per-parameter loops over a sub-block of draws (no per-draw dispatch).

    A TABLE parameter is done in two passes: the bulk interpolation for every draw (a
    loop the compiler vectorises), then :func:`q_table` again for the few draws whose
    uniform lies in a tail; both give exactly ``q_table``'s value.
    """
    lines = []
    for j, code in enumerate(plan.codes):
        k = int(plan.stream_of[j])
        lines.append(f"    # parameter instance {j}")
        if code == ks.TABLE:
            lines += [
                f"    off = ipar[{j}, 0]",
                "    for t in range(n_t):",
                f"        pb[{j}, t] = q_table_bulk(ub[{k}, t], pool, off)",
                "    for t in range(n_t):",
                f"        if not (TB_EDGE <= ub[{k}, t] <= 1.0 - TB_EDGE):",
                f"            pb[{j}, t] = q_table(ub[{k}, t], pool, off)",
            ]
            continue
        if code == ks.FIXED:
            rhs = f"fpar[{j}, 0]"
        elif code == ks.UNIFORM:
            rhs = f"fpar[{j}, 0] + ub[{k}, t] * (fpar[{j}, 1] - fpar[{j}, 0])"
        elif code == ks.DISCRETE:
            rhs = f"q_discrete(ub[{k}, t], pool, ipar[{j}, 0], ipar[{j}, 1])"
        elif code == ks.POSTERIOR:
            rhs = f"q_posterior(ub[{k}, t], pool, ipar[{j}, 0], ipar[{j}, 1])"
        else:  # pragma: no cover - codes come from distributions.encode
            raise ValueError(f"unknown distribution code {code}")
        lines += ["    for t in range(n_t):", f"        pb[{j}, t] = {rhs}"]
    return lines or ["    pass"]


def _draw_stats_body(plan: Plan) -> list[str]:
    """Per-draw evaluation and accumulation, unrolled, for the inner loop of run_chunk.

    Every item value, total and block accumulator is a local scalar, so the compiler keeps
    them in registers. Benefits and costs are summed in item order starting from 0.0 and
    each statistic is accumulated as (value - shift) and its square, draw by draw, so the
    numbers are those of a plain loop over items.
    """
    ind = " " * 16
    lines = []
    for s in range(len(plan.scenarios)):
        sc = scenario_of(plan, s)
        lines.append(f"{ind}# scenario {s}")
        slot: dict[str, str] = {}
        for name, value in sc.populations.items():
            slot[name] = f"({float(value)!r})"
        for name, j in plan.instance_of[sc.name].items():
            slot[name] = f"pb[{j}, t]"
        for k, d in enumerate(sc.derived):
            var = f"d{s}_{k}"
            lines.append(f"{ind}{var} = {emit(d.expr, slot)}")
            slot[d.name] = var
        base = int(plan.item_ptr[s])
        ben, cost = ["0.0"], ["0.0"]
        for k, it in enumerate(sc.items):
            g = base + k
            lines += [
                f"{ind}v{g} = ({emit(it.expr, slot)}) * pv_weight[{g}]",
                f"{ind}x = v{g} - shift[{g}]",
                f"{ind}sa{g} += x",
                f"{ind}sq{g} += x * x",
                f"{ind}if keep:",
                f"{ind}    kept[i, n_inst + {g}] = v{g}",
            ]
            (ben if plan.is_benefit[g] else cost).append(f"v{g}")
        t = [plan.total_index(s, q) for q in ("benefits", "costs", "net", "bcr")]
        lines += [
            f"{ind}t{t[0]} = " + " + ".join(ben),
            f"{ind}t{t[1]} = " + " + ".join(cost),
            f"{ind}t{t[2]} = t{t[0]} - t{t[1]}",
            f"{ind}t{t[3]} = t{t[0]} / t{t[1]} if t{t[1]} > 0.0 else math.nan",
        ]
        for idx in t:
            lines += [
                f"{ind}if keep:",
                f"{ind}    kept[i, n_inst + {idx}] = t{idx}",
                f"{ind}if t{idx} == t{idx}:",
                f"{ind}    x = t{idx} - shift[{idx}]",
                f"{ind}    sa{idx} += x",
                f"{ind}    sq{idx} += x * x",
            ]
        lines += [
            f"{ind}if t{t[2]} > 0.0:",
            f"{ind}    c{s}_0 += 1",
            f"{ind}if t{t[3]} == t{t[3]}:",
            f"{ind}    c{s}_2 += 1",
            f"{ind}    if t{t[3]} > 1.0:",
            f"{ind}        c{s}_1 += 1",
        ]
        for h in range(2):
            v = f"t{t[2 + h]}"
            lines += [
                f"{ind}if {v} == {v}:",
                f"{ind}    f = ({v} - hist_lo[{s}, {h}]) * hist_scale[{s}, {h}]",
                f"{ind}    if f < 0.0:",
                f"{ind}        k2 = 0",
                f"{ind}    elif f >= n_bins - 2:",
                f"{ind}        k2 = n_bins - 1",
                f"{ind}    else:",
                f"{ind}        k2 = int(f) + 1",
                f"{ind}    lh[{s}, {h}, k2] += 1",
            ]
    return lines


def _block_init(plan: Plan) -> list[str]:
    ind = " " * 12
    lines = [f"{ind}sa{i} = 0.0\n{ind}sq{i} = 0.0" for i in range(plan.n_stats)]
    lines += [f"{ind}c{s}_{q} = 0" for s in range(len(plan.scenarios)) for q in range(3)]
    return lines


def _block_store(plan: Plan) -> list[str]:
    ind = " " * 12
    lines = [
        f"{ind}sums[b, {i}, 0] = sa{i}\n{ind}sums[b, {i}, 1] = sq{i}" for i in range(plan.n_stats)
    ]
    lines += [
        f"{ind}counts[b, {s}, {q}] = c{s}_{q}" for s in range(len(plan.scenarios)) for q in range(3)
    ]
    return lines


_TEMPLATE = '''\
# Generated by mkba_sim.engine.codegen for the model with sha256 {sha}.
# Do not edit: regenerated whenever the model or mkba_sim's kernels change.
import math

import numpy as np
from numba import njit, prange

from mkba_sim.kernels.exprfuncs import flog, fmax, fmin, fsqrt
from mkba_sim.kernels.rng import stream_uniform
from mkba_sim.kernels.sampling import (
    TB_EDGE,
    apply_copula,
    q_discrete,
    q_posterior,
    q_table,
    q_table_bulk,
)

SUB = 256  # draws whose uniforms are generated together (one L1-sized buffer)

@njit(cache=True, error_model="numpy")
def fill_uniforms(ub, i0, i1, start, key, streams, design):
    """Uniforms of draws start + i0 .. start + i1 - 1, one row per stream.

    Stream by stream over consecutive draws, so the counter-based generator runs as a
    vector loop; the values are those of ``stream_uniform`` (or the design's rows).
    """
    if design.shape[0] > 0:
        for k in range(streams.shape[0]):
            for i in range(i0, i1):
                ub[k, i - i0] = design[i, k]
    else:
        for k in range(streams.shape[0]):
            for i in range(i0, i1):
                ub[k, i - i0] = stream_uniform(key, streams[k], start + i)


@njit(cache=True, error_model="numpy")
def correlate(ub, n_t, corr_members, corr_ptr, chol, chol_ptr, u, z):
    """Gaussian copula on each draw (column) of the sub-block's uniforms, in place."""
    if corr_ptr.shape[0] < 2:
        return
    for t in range(n_t):
        for k in range(ub.shape[0]):
            u[k] = ub[k, t]
        apply_copula(u, corr_members, corr_ptr, chol, chol_ptr, z)
        for k in range(ub.shape[0]):
            ub[k, t] = u[k]


@njit(cache=True, error_model="numpy")
def fill_params(pb, ub, n_t, fpar, ipar, pool):
    """Parameter values pb[j, t] of the sub-block's draws from their uniforms."""
{params_body}


@njit(cache=True, error_model="numpy", parallel=True)
def run_chunk(start, n, block, n_lanes, key, streams, design, corr_members, corr_ptr, chol,
              chol_ptr, codes, fpar, ipar, pool, item_ptr, pv_weight,
              shift, hist_lo, hist_scale, sums, counts, hist, keep, kept):
    """Simulate draws start .. start + n - 1.

    sums[b, i, 0:2]: sum and sum of squares of (stat_i - shift_i) over block b;
    counts[b, s, 0:3]: net > 0, bcr > 1, bcr defined; hist[lane, s, h, bin]: histograms
    of net (h = 0) and bcr (h = 1), bin 0 and the last bin collect values out of range.
    Each block is reduced in draw order by one lane, so results do not depend on the
    number of threads.
    """
    n_blocks = (n + block - 1) // block
    n_scen = item_ptr.shape[0] - 1
    n_inst = codes.shape[0]
    n_bins = hist.shape[3]
    for lane in prange(n_lanes):
        u = np.empty(streams.shape[0] + 1)
        z = np.empty(streams.shape[0] + 1)
        pb = np.empty((n_inst + 1, SUB))
        lh = np.zeros((n_scen, 2, n_bins), dtype=np.int64)
        ub = np.empty((streams.shape[0] + 1, SUB))
        for b in range(lane, n_blocks, n_lanes):
            lo = b * block
            hi = min(lo + block, n)
{block_init}
            for i in range(lo, hi):
                t = (i - lo) % SUB
                if t == 0:
                    i1 = min(i + SUB, hi)
                    fill_uniforms(ub, i, i1, start, key, streams, design)
                    correlate(ub, i1 - i, corr_members, corr_ptr, chol, chol_ptr, u, z)
                    fill_params(pb, ub, i1 - i, fpar, ipar, pool)
                if keep:
                    for j in range(n_inst):
                        kept[i, j] = pb[j, t]
{draw_stats}
{block_store}
        hist[lane, :, :, :] = lh
'''


def kernel_source(plan: Plan) -> str:
    """The generated module's source for ``plan``."""
    return _TEMPLATE.format(
        sha=plan.model.sha256[:12],
        params_body="\n".join(_fill_params_body(plan)),
        block_init="\n".join(_block_init(plan)),
        draw_stats="\n".join(_draw_stats_body(plan)) or " " * 16 + "pass",
        block_store="\n".join(_block_store(plan)),
    )


def _kernels_fingerprint() -> str:
    here = Path(__file__).resolve().parent.parent / "kernels"
    h = hashlib.sha256()
    for name in _KERNEL_FILES:
        h.update((here / name).read_bytes())
    return h.hexdigest()


def load_kernel(plan: Plan, cache_dir: Path) -> ModuleType:
    """Write (if new) and import the generated kernel module of ``plan``."""
    source = kernel_source(plan)
    digest = hashlib.sha256((source + _kernels_fingerprint()).encode()).hexdigest()[:20]
    name = f"mkba_kernel_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"{name}.py"
    if not path.exists():
        tmp = path.with_suffix(f".{digest}.tmp")
        tmp.write_text(source, encoding="utf-8")
        tmp.replace(path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - importlib contract
        raise ImportError(f"cannot import generated kernel {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
