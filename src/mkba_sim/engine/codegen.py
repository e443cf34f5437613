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
import os
import sys
import threading
from pathlib import Path
from types import ModuleType

from mkba_sim.engine.plan import Plan
from mkba_sim.kernels.layout import EXPR
from mkba_sim.model import Item
from mkba_sim.model.expressions import (
    FUNCTION_DEFS,
    YEAR,
    BinOp,
    Call,
    Compare,
    Logic,
    Neg,
    Node,
    Not,
    Num,
    Ref,
    fold,
)

__all__ = ["emit", "kernel_key", "kernel_source", "load_kernel", "load_kernel_source"]

_FINGERPRINT_FILES = (
    "kernels/rng.py",
    "kernels/special.py",
    "kernels/sampling.py",
    "kernels/exprfuncs.py",
    "kernels/layout.py",
    "kernels/reduce.py",
    "model/ledger.py",
)


_GROUP = {"+": 0, "-": 0, "*": 1, "/": 1, "**": 2}


def emit(node: Node, slot: dict[str, str], const: dict[int, str]) -> str:
    """Python source of ``node``, without recursion (:func:`expressions.fold`).

    ``slot`` maps each name to its generated variable, ``const`` each literal node's
    ``id`` to its constant variable. A left operand that is a chain of operators of the
    same precedence (``+ -`` or ``* /``) is written without parentheses: Python groups it
    to the left exactly as the tree does, so a 1,000-term sum stays a flat expression
    (Python's parser allows only about 200 nested parentheses).
    """

    def combine(n: Node, kids: list[tuple[str, int]]) -> tuple[str, int]:
        # value: (source, precedence group of a flat chain, or -1 when atomic/parenthesised)
        if isinstance(n, Num):
            return const[id(n)], -1
        if isinstance(n, Ref):
            return slot[n.name], -1
        if isinstance(n, Neg):
            return f"(-{kids[0][0]})", -1
        if isinstance(n, BinOp):
            (left, lg), (right, _) = kids
            g = _GROUP[n.op]
            if g < 2 and lg == g:
                return f"{left} {n.op} {right}", g  # continue a flat left-grouped chain
            return f"{_close(left, lg)} {n.op} {right}", g if g < 2 else -1
        args = [_close(src, grp) for src, grp in kids]
        if isinstance(n, Compare):
            return f"({args[0]} {n.op} {args[1]})", -1
        if isinstance(n, Logic):
            return "(" + f" {n.op} ".join(args) + ")", -1
        if isinstance(n, Not):
            return f"(not {args[0]})", -1
        assert isinstance(n, Call)
        if n.func == "where":
            return f"({args[1]} if {args[0]} else {args[2]})", -1
        fname = FUNCTION_DEFS[n.func].kernel
        if n.func in ("min", "max"):
            acc = args[0]
            for x in args[1:]:
                acc = f"{fname}({acc}, {x})"
            return acc, -1
        if n.func == "round" and len(args) == 1:
            args.append("0.0")
        return f"{fname}({', '.join(args)})", -1

    def wrap(n: Node, kids: list[tuple[str, int]]) -> tuple[str, int]:
        src, grp = combine(n, kids)
        if isinstance(n, BinOp) and n.op == "**":
            return f"({src})", -1
        return src, grp

    def fix(n: Node, kids: list[tuple[str, int]]) -> tuple[str, int]:
        # a right operand of a binary operator is always parenthesised
        if isinstance(n, BinOp):
            (left, lg), (right, rg) = kids
            kids = [(left, lg), (_close(right, rg), -1)]
        return wrap(n, kids)

    src, grp = fold(node, fix)
    return _close(src, grp)


def _close(src: str, group: int) -> str:
    """Parenthesise an open chain so it can be used as an operand."""
    return f"({src})" if group >= 0 else src


def _signed_sum(terms: list[tuple[str, int]]) -> str:
    """``(0.0 + a - b ...)`` in term order (the ledger's order of operations): Python
    groups the flat chain to the left, as the ledger adds."""
    return "(0.0" + "".join(f" {'+' if sign > 0 else '-'} {var}" for var, sign in terms) + ")"


def _scenario_body(plan: Plan, s: int, ind: str) -> list[str]:
    """Per-draw code of scenario ``s``: values, finiteness check, statistics."""
    sc = plan.scenario(s)
    led = plan.ledgers[s]
    st = plan.stats
    lines = [f"{ind}# scenario {s}"]
    slot, const = _scenario_slots(plan, s)
    checked = []
    for k, d in enumerate(sc.derived):
        var = f"d{s}_{k}"
        lines.append(f"{ind}{var} = {emit(d.expr, slot, const)}")
        slot[d.name] = var
        checked.append(var)
    base = int(plan.item_ptr[s])
    for k, it in enumerate(sc.items):
        var = f"v{base + k}"
        if it.per_year:
            lines += _per_year_item(it, var, slot, const, ind)
            checked += [f"{var}_{t}" for t in sorted(set(it.years))]
            continue
        lines.append(f"{ind}{var} = {emit(it.expr, slot, const)}")
        checked.append(var)
    check = " + ".join(f"({v} - {v})" for v in checked) or "0.0"
    lines.append(f"{ind}chk = {check}")
    lines.append(f"{ind}if chk == 0.0:")
    inner = ind + "    "
    val: dict[tuple[str, str], str] = {}
    index = led.year_term_index() if any(led.per_year) else {}
    ybase = int(plan.year_ptr[s])
    for k, name in enumerate(led.items):
        g = base + k
        if led.is_per_year(k):
            years = sorted(set(sc.items[k].years))
            terms = [(f"(v{g}_{t} * yc{ybase + index[(k, t)]})", 1) for t in years]
            lines.append(f"{inner}p{g} = {_signed_sum(terms)}")
        else:
            lines.append(f"{inner}p{g} = v{g} * w{g}")
        val[("item", name)] = f"p{g}"
    ben = [(f"p{base + k}", 1) for k in led.benefit_items]
    cost = [(f"p{base + k}", 1) for k in led.cost_items]
    lines += [
        f"{inner}tb{s} = {_signed_sum(ben)}",
        f"{inner}tc{s} = {_signed_sum(cost)}",
        f"{inner}tn{s} = tb{s} - tc{s}",
        f"{inner}tr{s} = ledger_ratio(tb{s}, tc{s})",
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
            v = f"v{base + k}_{bal.name}" if led.is_per_year(k) else f"v{base + k}"
            terms.append((f"({v} * yc{m})", sg))
            m += 1
        lines.append(f"{inner}y{s}_{h} = {_signed_sum(terms)}")
        val[("year", bal.name)] = f"y{s}_{h}"
    for h, bal in enumerate(led.perspectives):
        lines.append(
            f"{inner}ps{s}_{h} = " + _signed_sum([(f"p{base + k}", sg) for k, sg in bal.terms])
        )
        val[("perspective", bal.name)] = f"ps{s}_{h}"
    if led.participants is not None:
        n_part = f"c{plan.pop_slot[(s, led.participants)]}"
        for t, var in (("benefits", f"tb{s}"), ("costs", f"tc{s}"), ("net", f"tn{s}")):
            lines.append(f"{inner}pp{s}_{t} = ledger_ratio({var}, {n_part})")
            val[("participant", t)] = f"pp{s}_{t}"
        for h, bal in enumerate(led.perspectives):
            lines.append(f"{inner}pq{s}_{h} = ledger_ratio(ps{s}_{h}, {n_part})")
            val[("participant_perspective", bal.name)] = f"pq{s}_{h}"
    for i in range(st.scenario_ptr[s], st.scenario_ptr[s + 1]):
        se = st.series[i]
        lines.append(f"{inner}sv[{i}, t] = {val[(se.kind, se.name)]}")
    lines += [
        f"{inner}ok[{s}, t] = True",
        f"{ind}else:",
        f"{ind}    ok[{s}, t] = False",
        f"{ind}    cx{s} += 1",
        f"{ind}    if bad[b, {s}] < 0:",
        f"{ind}        bad[b, {s}] = i",
    ]
    return lines


def _per_year_item(
    it: Item, var: str, slot: dict[str, str], const: dict[int, str], ind: str
) -> list[str]:
    """One variable per listed year, as :func:`mkba_sim.model.evaluate.evaluate_item`."""
    lines = []
    first = min(it.years)
    if it.decay_expr is not None:
        lines.append(f"{ind}{var}_dk = {emit(it.decay_expr, slot, const)}")
    for t in sorted(set(it.years)):
        src = emit(it.value_expr(t), {**slot, YEAR: repr(float(t))}, const)
        if it.decay_expr is not None:
            src = f"({src}) * (1.0 - {var}_dk) ** {float(t - first)!r}"
        lines.append(f"{ind}{var}_{t} = {src}")
    return lines


def _scenario_slots(plan: Plan, s: int) -> tuple[dict[str, str], dict[int, str]]:
    """Variables of scenario ``s``'s populations and parameters, and of its constants."""
    sc = plan.scenario(s)
    slot = {name: f"c{plan.pop_slot[(s, name)]}" for name in sc.populations}
    slot.update({name: f"pb[{j}, t]" for name, j in plan.instance_of[sc.name].items()})
    const = {nid: f"c{c}" for (s2, nid), c in plan.num_slot.items() if s2 == s}
    return slot, const


def _dependent_body(plan: Plan, ind: str) -> list[str]:
    """Per draw, parameters whose distribution keys are expressions, in dependency
    order: ``pb[j, t] = dq_<kind>(uniform, arguments...)`` (``kernels.sampling``).

    Guarded by the instance's code, which is data: an override that fixes such a
    parameter (code FIXED) or gives it a distribution of its own leaves the value that
    ``fill_params`` wrote.
    """
    lines = []
    for j, s in plan.dependent:
        dist = plan._params[j].dist
        slot, const = _scenario_slots(plan, s)
        args = [emit(a, slot, const) for a in dist.args]
        if dist.kind == "fixed":
            value = args[0]
        else:
            value = f"dq_{dist.kind}(ub[so{j}, t], {', '.join(args)})"
        lines += [f"{ind}if cd{j} == {EXPR}:", f"{ind}    pb[{j}, t] = {value}"]
    return lines


def _const_loads(plan: Plan, ind: str) -> list[str]:
    """Every number the draw loop reads, loaded once into a local (a register or the
    stack), so the compiler need not reload it from its array on every draw."""
    lines = [f"{ind}c{c} = cst[{c}]" for c in range(plan.cst_default.shape[0])]
    lines += [f"{ind}w{g} = pv_weight[{g}]" for g in range(int(plan.item_ptr[-1]))]
    lines += [f"{ind}yc{m} = year_coef[{m}]" for m in range(int(plan.year_ptr[-1]))]
    for j, _s in plan.dependent:
        lines += [f"{ind}cd{j} = codes[{j}]", f"{ind}so{j} = stream_of[{j}]"]
    return lines


def _dropped(plan: Plan, ind: str, op: str) -> list[str]:
    n = plan.stats.n_scenarios
    if op == "init":
        return [f"{ind}cx{s} = 0" for s in range(n)]
    return [f"{ind}counts[b, {plan.stats.dropped_column(s)}] = cx{s}" for s in range(n)]


_TEMPLATE = '''\
# Generated by mkba_sim.engine.codegen for one model structure (no numbers of the model).
# Do not edit: regenerated whenever the structure or mkba_sim's kernels change.
import math

import numpy as np
from numba import njit

from mkba_sim.kernels.exprfuncs import (
    fclip, fexpit, flog, flogit, fmax, fmin, fnormcdf, fnorminv, fround, fsqrt,
)
from mkba_sim.kernels.reduce import accumulate
from mkba_sim.kernels.sampling import (
    correlate, fill_params, fill_uniforms, dq_lognormal, dq_lognormal_mean,
    dq_lognormal_median, dq_normal, dq_poisson, dq_success_rate, dq_triangular, dq_uniform,
)
from mkba_sim.model.ledger import ratio

ledger_ratio = njit(inline="always")(ratio)

SUB = 256  # draws whose uniforms are generated together (one L1-sized buffer)


@njit(cache=True, nogil=True, error_model="numpy")
def run_blocks(b0, b1, start, n, block, key, streams, design, corr_members, corr_ptr, chol,
               chol_ptr, codes, stream_of, fpar, ipar, pool, cst, pv_weight, year_coef,
               series_scenario, shift, exceed, thr, hist, hist_lo, hist_scale, defined,
               n_exceed, sums, counts, bad, lh, keep, kept):
    """Simulate blocks b0 .. b1 - 1 of the chunk of draws start .. start + n - 1.

    Per sub-block of draws: uniforms, copula, parameters, then draw by draw the model's
    values into sv[series, t] (ok[s, t] False where scenario s had a non-finite value),
    then the statistics of the plan (kernels.reduce.accumulate). sums[b, i, 0:2]: sum
    and sum of squares of (series_i - shift_i) over block b; counts[b, :]: draws above
    each threshold, draws where a ratio is defined, draws dropped per scenario;
    bad[b, s]: the first draw (chunk index) of block b in which scenario s had a
    non-finite value, else -1; lh[h, bin]: this thread's histograms. Each block is
    reduced in draw order, so results do not depend on how blocks are shared between
    threads.
    """
    n_inst = codes.shape[0]
    n_series = shift.shape[0]
    n_scen = bad.shape[1]
    u = np.empty(streams.shape[0] + 1)
    z = np.empty(streams.shape[0] + 1)
    pb = np.empty((n_inst + 1, SUB))
    ub = np.empty((streams.shape[0] + 1, SUB))
    sv = np.empty((n_series, SUB))
    ok = np.empty((n_scen, SUB), dtype=np.bool_)
    bs = np.empty((n_series, 2))
    bc = np.empty(counts.shape[1], dtype=np.int64)
{consts}
    for b in range(b0, b1):
        lo = b * block
        hi = min(lo + block, n)
        bs[:] = 0.0
        bc[:] = 0
{dropped_init}
        for i0 in range(lo, hi, SUB):
            n_t = min(SUB, hi - i0)
            fill_uniforms(ub, i0, i0 + n_t, start, key, streams, design)
            correlate(ub, n_t, corr_members, corr_ptr, chol, chol_ptr, u, z)
            fill_params(pb, ub, n_t, codes, stream_of, fpar, ipar, pool)
            for t in range(n_t):
                i = i0 + t
{draw}
            accumulate(sv, ok, n_t, series_scenario, shift, exceed, thr, hist, hist_lo,
                       hist_scale, defined, n_exceed, bs, bc, lh)
            if keep:
                for t in range(n_t):
                    for j in range(n_inst):
                        kept[i0 + t, j] = pb[j, t]
                    for q in range(n_series):
                        kept[i0 + t, n_inst + q] = (
                            sv[q, t] if ok[series_scenario[q], t] else math.nan
                        )
        for q in range(n_series):
            sums[b, q, 0] = bs[q, 0]
            sums[b, q, 1] = bs[q, 1]
        for q in range(counts.shape[1]):
            counts[b, q] = bc[q]
{dropped_store}
'''


def kernel_source(plan: Plan) -> str:
    """The generated module's source for ``plan`` (structure only, no model numbers)."""
    draw: list[str] = _dependent_body(plan, " " * 16)
    for s in range(len(plan.scenarios)):
        draw += _scenario_body(plan, s, " " * 16)
    return _TEMPLATE.format(
        consts="\n".join(_const_loads(plan, " " * 4)) or "    pass",
        dropped_init="\n".join(_dropped(plan, " " * 8, "init")) or "        pass",
        draw="\n".join(draw) or " " * 16 + "pass",
        dropped_store="\n".join(_dropped(plan, " " * 8, "store")) or "        pass",
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
    return load_kernel_source(kernel_source(plan), cache_dir)


def load_kernel_source(source: str, cache_dir: Path) -> tuple[ModuleType, str]:
    """Write (if new) and import a generated kernel module from its ``source``.

    The key is computed here, from the source and this installation's kernels, so a
    process given another's source (a Dask worker) caches it under its own key.
    """
    key = kernel_key(source)
    name = f"mkba_kernel_{key}"
    if name in sys.modules:
        return sys.modules[name], key
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"{name}.py"
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(source, encoding="utf-8")
        tmp.replace(path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - importlib contract
        raise ImportError(f"cannot import generated kernel {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module, key
