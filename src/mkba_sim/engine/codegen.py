"""Generate and load the fused numba kernel of a model *structure*.

The generated function evaluates, draw by draw, every scenario's derived quantities and
items (expression trees emitted by :func:`emit`), the ledger of
:mod:`mkba_sim.model.ledger` and the statistics of :mod:`mkba_sim.engine.stats`. It holds
no number of the model: parameters are read from the sampled block ``pb``, populations
and literal constants from ``cst``, PV weights, year factors, thresholds and histogram
ranges from their arrays. So the source, and the cache key derived from it
(:func:`kernel_key`), depend on the structure only: a changed value, another scenario
of the same structure or an override reuses the compiled kernel.

Only whitelisted node types are emitted; every name becomes an array slot or a local
variable of its own (``pb[3, t]``, ``d0_2``); no text from the model file reaches the
source. The module is written to the cache directory under its key, so numba's on-disk
cache (``cache=True``) makes a second process start in well under a second.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from mkba_sim.engine.plan import Plan
from mkba_sim.model.expressions import BinOp, Call, Neg, Node, Num, Ref

__all__ = ["emit", "kernel_key", "kernel_source", "load_kernel"]

_FINGERPRINT_FILES = (
    "kernels/rng.py",
    "kernels/special.py",
    "kernels/sampling.py",
    "kernels/exprfuncs.py",
    "kernels/layout.py",
    "model/ledger.py",
)


def emit(node: Node, slot: dict[str, str], const: dict[int, str]) -> str:
    """Python source of ``node``.

    ``slot`` maps each name to its generated variable, ``const`` each literal node's
    ``id`` to its constant variable.
    """
    if isinstance(node, Num):
        return const[id(node)]
    if isinstance(node, Ref):
        return slot[node.name]
    if isinstance(node, Neg):
        return f"(-{emit(node.operand, slot, const)})"
    if isinstance(node, BinOp):
        return f"({emit(node.left, slot, const)} {node.op} {emit(node.right, slot, const)})"
    assert isinstance(node, Call)
    args = [emit(a, slot, const) for a in node.args]
    if node.func in ("min", "max"):
        f = "fmin" if node.func == "min" else "fmax"
        acc = args[0]
        for a in args[1:]:
            acc = f"{f}({acc}, {a})"
        return acc
    fname = {"abs": "abs", "exp": "math.exp", "log": "flog", "sqrt": "fsqrt"}[node.func]
    return f"{fname}({args[0]})"


def _signed_sum(terms: list[tuple[str, int]]) -> str:
    """``0.0 + a - b ...`` in term order (the ledger's order of operations)."""
    out = "0.0"
    for var, sign in terms:
        out = f"({out} {'+' if sign > 0 else '-'} {var})"
    return out


def _scenario_body(plan: Plan, s: int, ind: str) -> list[str]:
    """Per-draw code of scenario ``s``: values, finiteness check, statistics."""
    sc = plan.scenario(s)
    led = plan.ledgers[s]
    st = plan.stats
    lines = [f"{ind}# scenario {s}"]
    slot: dict[str, str] = {}
    const: dict[int, str] = {}
    for name in sc.populations:
        slot[name] = f"c{plan.pop_slot[(s, name)]}"
    for name, j in plan.instance_of[sc.name].items():
        slot[name] = f"pb[{j}, t]"
    for (s2, node_id), c in plan.num_slot.items():
        if s2 == s:
            const[node_id] = f"c{c}"
    checked = []
    for k, d in enumerate(sc.derived):
        var = f"d{s}_{k}"
        lines.append(f"{ind}{var} = {emit(d.expr, slot, const)}")
        slot[d.name] = var
        checked.append(var)
    base = int(plan.item_ptr[s])
    for k, it in enumerate(sc.items):
        var = f"v{base + k}"
        lines.append(f"{ind}{var} = {emit(it.expr, slot, const)}")
        checked.append(var)
    check = " + ".join(f"({v} - {v})" for v in checked) or "0.0"
    lines.append(f"{ind}chk = {check}")
    lines.append(f"{ind}if chk == 0.0:")
    inner = ind + "    "
    val: dict[tuple[str, str], str] = {}
    for k, name in enumerate(led.items):
        g = base + k
        lines.append(f"{inner}p{g} = v{g} * w{g}")
        val[("item", name)] = f"p{g}"
    ben = [(f"p{base + k}", 1) for k in led.benefit_items]
    cost = [(f"p{base + k}", 1) for k in led.cost_items]
    lines += [
        f"{inner}tb{s} = {_signed_sum(ben)}",
        f"{inner}tc{s} = {_signed_sum(cost)}",
        f"{inner}tn{s} = tb{s} - tc{s}",
        f"{inner}tr{s} = ledger_bcr(tb{s}, tc{s})",
    ]
    val[("total", "benefits")], val[("total", "costs")] = f"tb{s}", f"tc{s}"
    val[("total", "net")], val[("ratio", "bcr")] = f"tn{s}", f"tr{s}"
    for h, bal in enumerate(led.stakeholders):
        lines.append(
            f"{inner}sh{s}_{h} = " + _signed_sum([(f"p{base + k}", sg) for k, sg in bal.terms])
        )
        val[("stakeholder", bal.name)] = f"sh{s}_{h}"
    m = int(plan.year_ptr[s])
    for h, bal in enumerate(led.years):
        terms = []
        for k, sg in bal.terms:
            terms.append((f"(v{base + k} * yc{m})", sg))
            m += 1
        lines.append(f"{inner}y{s}_{h} = {_signed_sum(terms)}")
        val[("year", bal.name)] = f"y{s}_{h}"
    for i in range(st.scenario_ptr[s], st.scenario_ptr[s + 1]):
        se = st.series[i]
        x = val[(se.kind, se.name)]
        body = [
            f"xs = {x} - zs{i}",
            f"sa{i} += xs",
            f"sq{i} += xs * xs",
        ]
        if se.exceed >= 0:
            body += [f"if {x} > th{se.exceed}:", f"    ce{se.exceed} += 1"]
        if se.hist >= 0:
            h = se.hist
            body += [
                # bin 0 below the range, n_bins - 1 above it; branch-free clamp
                f"f = min(max(({x} - hl{h}) * hs{h}, -1.0), top)",
                f"lh[{h}, int(f + 1.0)] += 1",
            ]
        if se.defined >= 0:
            body = [f"if {x} == {x}:", f"    cd{se.defined} += 1"] + ["    " + b for b in body]
        lines += [inner + b for b in body]
        lines += [f"{inner}if keep:", f"{inner}    kept[i, n_inst + {i}] = {x}"]
    lo, hi = st.scenario_ptr[s], st.scenario_ptr[s + 1]
    lines += [
        f"{ind}else:",
        f"{ind}    cx{s} += 1",
        f"{ind}    if bad[b, {s}] < 0:",
        f"{ind}        bad[b, {s}] = i",
        f"{ind}    if keep:",
        f"{ind}        for q in range({lo}, {hi}):",
        f"{ind}            kept[i, n_inst + q] = math.nan",
    ]
    return lines


def _block_init(plan: Plan, ind: str) -> list[str]:
    st = plan.stats
    lines = [f"{ind}sa{i} = 0.0\n{ind}sq{i} = 0.0" for i in range(st.n_series)]
    lines += [f"{ind}ce{e} = 0" for e in range(st.n_exceed)]
    lines += [f"{ind}cd{e} = 0" for e in range(st.n_defined)]
    lines += [f"{ind}cx{s} = 0" for s in range(st.n_scenarios)]
    return lines


def _block_store(plan: Plan, ind: str) -> list[str]:
    st = plan.stats
    lines = [
        f"{ind}sums[b, {i}, 0] = sa{i}\n{ind}sums[b, {i}, 1] = sq{i}" for i in range(st.n_series)
    ]
    lines += [f"{ind}counts[b, {e}] = ce{e}" for e in range(st.n_exceed)]
    lines += [f"{ind}counts[b, {st.n_exceed + e}] = cd{e}" for e in range(st.n_defined)]
    lines += [f"{ind}counts[b, {st.dropped_column(s)}] = cx{s}" for s in range(st.n_scenarios)]
    return lines


def _const_loads(plan: Plan, ind: str) -> list[str]:
    """Every number the draw loop reads, loaded once into a local (a register or the
    stack), so the compiler need not reload it from its array on every draw."""
    st = plan.stats
    lines = [f"{ind}c{c} = cst[{c}]" for c in range(plan.cst_default.shape[0])]
    lines += [f"{ind}w{g} = pv_weight[{g}]" for g in range(int(plan.item_ptr[-1]))]
    lines += [f"{ind}yc{m} = year_coef[{m}]" for m in range(int(plan.year_ptr[-1]))]
    lines += [f"{ind}zs{i} = shift[{i}]" for i in range(st.n_series)]
    lines += [f"{ind}th{e} = thr[{e}]" for e in range(st.n_exceed)]
    lines += [f"{ind}hl{h} = hist_lo[{h}]\n{ind}hs{h} = hist_scale[{h}]" for h in range(st.n_hist)]
    return lines


_TEMPLATE = '''\
# Generated by mkba_sim.engine.codegen for one model structure (no numbers of the model).
# Do not edit: regenerated whenever the structure or mkba_sim's kernels change.
import math

import numpy as np
from numba import njit

from mkba_sim.kernels.exprfuncs import flog, fmax, fmin, fsqrt
from mkba_sim.kernels.sampling import correlate, fill_params, fill_uniforms
from mkba_sim.model.ledger import bcr

ledger_bcr = njit(inline="always")(bcr)

SUB = 256  # draws whose uniforms are generated together (one L1-sized buffer)


@njit(cache=True, nogil=True, error_model="numpy")
def run_blocks(b0, b1, start, n, block, key, streams, design, corr_members, corr_ptr, chol,
               chol_ptr, codes, stream_of, fpar, ipar, pool, cst, pv_weight, year_coef, thr,
               shift, hist_lo, hist_scale, sums, counts, bad, lh, keep, kept):
    """Simulate blocks b0 .. b1 - 1 of the chunk of draws start .. start + n - 1.

    sums[b, i, 0:2]: sum and sum of squares of (series_i - shift_i) over block b;
    counts[b, :]: draws above each threshold, draws where a ratio is defined, draws
    dropped per scenario; bad[b, s]: the first draw (chunk index) of block b in which
    scenario s had a non-finite value, else -1; lh[h, bin]: this thread's histograms
    (bin 0 and the last collect values out of range). Each block is reduced in draw
    order, so results do not depend on how blocks are shared between threads.
    """
    n_inst = codes.shape[0]
    n_bins = lh.shape[1]
    top = n_bins - 2.0
    u = np.empty(streams.shape[0] + 1)
    z = np.empty(streams.shape[0] + 1)
    pb = np.empty((n_inst + 1, SUB))
    ub = np.empty((streams.shape[0] + 1, SUB))
{consts}
    for b in range(b0, b1):
        lo = b * block
        hi = min(lo + block, n)
{block_init}
        for i in range(lo, hi):
            t = (i - lo) % SUB
            if t == 0:
                i1 = min(i + SUB, hi)
                fill_uniforms(ub, i, i1, start, key, streams, design)
                correlate(ub, i1 - i, corr_members, corr_ptr, chol, chol_ptr, u, z)
                fill_params(pb, ub, i1 - i, codes, stream_of, fpar, ipar, pool)
            if keep:
                for j in range(n_inst):
                    kept[i, j] = pb[j, t]
{draw}
{block_store}
'''


def kernel_source(plan: Plan) -> str:
    """The generated module's source for ``plan`` (structure only, no model numbers)."""
    draw: list[str] = []
    for s in range(len(plan.scenarios)):
        draw += _scenario_body(plan, s, " " * 12)
    return _TEMPLATE.format(
        consts="\n".join(_const_loads(plan, " " * 4)) or "    pass",
        block_init="\n".join(_block_init(plan, " " * 8)) or "        pass",
        draw="\n".join(draw) or " " * 12 + "pass",
        block_store="\n".join(_block_store(plan, " " * 8)) or "        pass",
    )


@functools.cache
def _fingerprint() -> str:
    here = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for name in _FINGERPRINT_FILES:
        h.update((here / name).read_bytes())
    return h.hexdigest()


def kernel_key(source: str) -> str:
    """Cache key of a kernel: a hash of its source (structure) and of mkba_sim's kernels."""
    return hashlib.sha256((source + _fingerprint()).encode()).hexdigest()[:20]


def load_kernel(plan: Plan, cache_dir: Path) -> tuple[ModuleType, str]:
    """Write (if new) and import the generated kernel module of ``plan``; return it and its key."""
    source = kernel_source(plan)
    key = kernel_key(source)
    name = f"mkba_kernel_{key}"
    if name in sys.modules:
        return sys.modules[name], key
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"{name}.py"
    if not path.exists():
        tmp = path.with_suffix(f".{key}.tmp")
        tmp.write_text(source, encoding="utf-8")
        tmp.replace(path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - importlib contract
        raise ImportError(f"cannot import generated kernel {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module, key
