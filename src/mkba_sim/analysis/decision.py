"""Decision analysis of one scenario: tornado, global sensitivity, value of information,
break-even and stakeholders — the questions after "is the balance positive?".

The functions here never call the engine themselves: they take the base run (a
:class:`~mkba_sim.results.Result` with kept draws) and a ``rerun`` callable that
simulates the same scenario with overrides and/or re-seeded inputs. The application
layer (:func:`mkba_sim.workflow.analyse`) passes one that runs locally; a distributed
backend can pass one that submits to a cluster. Every rerun uses the base run's seed,
so reruns differ from the base only by what was changed (common random numbers), and
reuses the compiled kernel (numbers are data).

Methods and citations are in the estimators' modules (:mod:`.voi`, :mod:`.sensitivity`,
:mod:`.breakeven`) and in ``docs/analysis.md``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from mkba_sim.analysis.breakeven import acceptability, break_even
from mkba_sim.analysis.sensitivity import borgonovo_delta, group_sobol
from mkba_sim.analysis.voi import enbs, evpi, evppi, evsi, population_evpi
from mkba_sim.distributions import Dependent, Distribution, Posterior
from mkba_sim.model import Model
from mkba_sim.model.dependent import complete_inputs, dependent_refs
from mkba_sim.model.evaluate import evaluate_scenario
from mkba_sim.model.expressions import names
from mkba_sim.model.overrides import Quantile
from mkba_sim.results import Result

__all__ = [
    "ANALYSIS_SCHEMA",
    "AnalysisOptions",
    "AnalysisResult",
    "Input",
    "Rerun",
    "Study",
    "analyse_scenario",
    "uncertain_inputs",
]

ANALYSIS_SCHEMA = "mkba_sim.analysis/1"
LEVELS = (0.5, 0.8, 0.95)

# rerun(overrides, reseed, draws, keep_draws) -> Result of the one scenario analysed
Rerun = Callable[[Mapping[str, Any], Mapping[str, int], int, bool], Result]
# on_progress(step, done, total, detail): the protocol of mkba_sim.workflow.ProgressCallback
StepProgress = Callable[[str, int, int, str], None]


def _no_progress(step: str, done: int, total: int, detail: str) -> None:
    """The progress callback that shows nothing."""


@dataclass(frozen=True)
class AnalysisOptions:
    """Sizes and switches of :func:`analyse_scenario` (defaults: the CLI's)."""

    tornado_draws: int = 2**16
    sobol_draws: int = 2**14
    delta_draws: int = 2_000
    sweep_points: int = 11
    sweep_input: str | None = None
    cohorts_per_year: float = 1.0
    years: int = 10
    tornado_low: float = 0.05
    tornado_high: float = 0.95
    global_sensitivity: bool = True  # Sobol' indices of groups (reruns)
    delta: bool = False  # Borgonovo's delta (SALib; slow: about 1-2 s per input per 100 draws)
    sobol_resamples: int = 199
    # EVSI of a study the scenario's Bayesian sub-model can simulate (see Study)
    evsi: bool = True
    evsi_sizes: tuple[int, ...] | None = None  # default: EVSI_POINTS sizes, min_n..max_n
    study_cost_fixed: float = 25_000.0  # set-up, analysis and report (an assumption)
    study_cost_per_client: float = 250.0  # consent, record linkage, file review per client


#: Study sizes on the default EVSI curve (evenly spaced from the study's min_n to max_n).
EVSI_POINTS = 8


@dataclass(frozen=True)
class Study:
    """A study whose outcome can be simulated for every kept draw of the base run (EVSI).

    Built by the application layer from a Bayesian sub-model's study design
    (:func:`mkba_sim.fitting.study_design`) and the posterior draw behind each kept draw.

    Attributes
    ----------
    description
        What the study does, in a sentence.
    model
        The sub-model that predicts its data.
    statistics
        Names of the summary statistics ``simulate`` returns.
    informs
        Names of the parameters the study's data depend on.
    parameters
        Their values per kept draw, ``(n_draws, len(informs))``: EVSI <= their EVPPI.
    simulate
        ``simulate(n, rng) -> (n_draws, len(statistics))``: one study of ``n``
        participants per kept draw, from its predictive distribution given that draw.
        The statistics must be sums over participants (counts, totals): the EVSI curve
        builds a larger study as a smaller one plus more participants.
    min_n, max_n
        The default range of sizes (the original sample to a whole cohort).
    """

    description: str
    model: str
    statistics: tuple[str, ...]
    informs: tuple[str, ...]
    parameters: np.ndarray
    simulate: Callable[[int, np.random.Generator], np.ndarray]
    min_n: int
    max_n: int


@dataclass(frozen=True)
class Input:
    """One uncertain input of the scenario and the group it is varied with."""

    name: str
    dist: Distribution
    published: float | None
    published_low: float | None
    published_high: float | None
    group: str  # copula block, posterior source, or the input itself


def uncertain_inputs(model: Model, scenario: str) -> list[Input]:
    """The random inputs that ``scenario``'s ledger uses, in file order, with their groups.

    Inputs in one correlation block form one group, and so do posterior variables drawn
    jointly from one source; every other input is a group of its own. Groups are
    independent of each other, as group Sobol' indices require.
    """
    sc = model.scenarios[scenario]
    derived = {d.name: d.expr for d in sc.derived}
    used: set[str] = set()
    for expr in [e for it in sc.items for e in it.expressions]:
        used |= names(expr)
    while True:  # what the items use through derived quantities and dependent parameters
        more = set(used)
        for n in used:
            if n in derived:
                more |= names(derived[n])
            if n in sc.parameters:
                more |= set(dependent_refs(sc.parameters[n].dist))
        if more == used:
            break
        used = more
    block_of: dict[str, str] = {}
    for i, block in enumerate(sc.correlations):
        for n in block.names:
            block_of[n] = f"correlated block {i + 1} ({', '.join(block.names)})"
    out = []
    for name, p in sc.parameters.items():
        if not p.dist.is_random or name not in used or isinstance(p.dist, Dependent):
            continue  # fixed, not used by this scenario's ledger, or dependent on others
        group = block_of.get(name, name)
        if isinstance(p.dist, Posterior):
            group = f"posterior {p.dist.source}"
        out.append(Input(name, p.dist, p.published, p.published_low, p.published_high, group))
    return out


def _point_inputs(model: Model, scenario: str) -> dict[str, float]:
    """Every parameter at its published value, or at its median where none is given."""
    out = {}
    for name, p in model.scenarios[scenario].parameters.items():
        if p.published is not None:
            out[name] = p.published
        elif not isinstance(p.dist, Dependent):
            out[name] = float(p.dist.ppf(np.array([0.5]))[0])
    return out  # a dependent parameter without a published value follows its inputs (_net)


def _net(model: Model, scenario: str, values: Mapping[str, float]) -> float:
    sc = model.scenarios[scenario]
    return float(evaluate_scenario(sc, complete_inputs(sc, values)).net)


def _tornado(
    model: Model,
    scenario: str,
    inputs: Sequence[Input],
    base: Result,
    rerun: Rerun,
    opt: AnalysisOptions,
    on_progress: StepProgress = _no_progress,
) -> dict[str, Any]:
    point = _point_inputs(model, scenario)
    det_base = _net(model, scenario, point)
    k = len(inputs)
    value = np.full((k, 2), np.nan)
    det = np.full((k, 2), np.nan)
    pub = np.full((k, 2), np.nan)
    mean = np.full((k, 2), np.nan)
    mcse = np.full((k, 2), np.nan)
    p_pos = np.full((k, 2), np.nan)
    levels = (opt.tornado_low, opt.tornado_high)
    n_runs = 2 * k + 1
    on_progress("tornado", 0, n_runs, "")
    for i, inp in enumerate(inputs):
        value[i] = inp.dist.ppf(np.array(levels))
        for e in range(2):
            det[i, e] = _net(model, scenario, {**point, inp.name: float(value[i, e])})
            res = rerun({inp.name: Quantile(levels[e])}, {}, opt.tornado_draws, False)
            on_progress("tornado", 2 * i + e + 1, n_runs, inp.name)
            s = res.summary(scenario)
            mean[i, e] = s["net"]["mean"] if s["net"]["mean"] is not None else np.nan
            mcse[i, e] = s["net"]["mcse"] if s["net"]["mcse"] is not None else np.nan
            p_pos[i, e] = s["p_net_positive"] if s["p_net_positive"] is not None else np.nan
        for e, v in enumerate((inp.published_low, inp.published_high)):
            if v is not None:
                pub[i, e] = _net(model, scenario, {**point, inp.name: v})
    ref = rerun({}, {}, opt.tornado_draws, False).summary(scenario)
    on_progress("tornado", n_runs, n_runs, "")
    swing = np.abs(mean[:, 1] - mean[:, 0])
    order = np.argsort(-swing, kind="stable")
    crosses = (np.minimum(mean[:, 0], mean[:, 1]) < 0) & (np.maximum(mean[:, 0], mean[:, 1]) > 0)
    det_crosses = (np.minimum(det[:, 0], det[:, 1]) < 0) & (np.maximum(det[:, 0], det[:, 1]) > 0)
    has_pub = np.isfinite(pub).all(axis=1)
    reversed_ = np.where(has_pub, pub[:, 0] > pub[:, 1], det[:, 0] > det[:, 1])
    return {
        "order": order,
        "tornado_input_value": value,
        "tornado_net_point": det,
        "tornado_net_published": pub,
        "tornado_net_mean": mean,
        "tornado_net_mcse": mcse,
        "tornado_p_positive": p_pos,
        "tornado_swing": swing,
        "tornado_crosses_zero": crosses | det_crosses,
        "tornado_low_gives_higher": reversed_,
        "point_net": det_base,
        "tornado_reference_mean": ref["net"]["mean"],
        "tornado_reference_p": ref["p_net_positive"],
    }


def _input_matrix(base: Result, names: Sequence[str]) -> np.ndarray:
    ds = base.dataset
    return np.asarray(ds["input_draws"].sel(input=list(names)).values, dtype=np.float64)


def _global(
    scenario: str,
    inputs: Sequence[Input],
    base: Result,
    rerun: Rerun,
    opt: AnalysisOptions,
    seed: int,
    on_progress: StepProgress = _no_progress,
) -> dict[str, Any]:
    net = base.draws(scenario, "net")
    ok = np.isfinite(net)
    net = net[ok]
    X = _input_matrix(base, [i.name for i in inputs])[ok]
    k = len(inputs)
    ev = np.full(k, np.nan)
    ev_se = np.full(k, np.nan)
    share = np.full(k, np.nan)
    on_progress("evppi", 0, k, "")
    for j in range(k):
        r = evppi(net, X[:, [j]], seed=seed)
        ev[j], ev_se[j], share[j] = r.evppi, r.se, float(np.ravel(r.variance_share)[0])
        on_progress("evppi", j + 1, k, inputs[j].name)
    out: dict[str, Any] = {"evppi": ev, "evppi_se": ev_se, "variance_share": share}
    # groups: EVPPI of each multi-input group, Sobol' indices of every group
    groups: dict[str, list[int]] = {}
    for j, inp in enumerate(inputs):
        groups.setdefault(inp.group, []).append(j)
    names = list(groups)
    g_ev = np.full(len(names), np.nan)
    g_se = np.full(len(names), np.nan)
    for gi, g in enumerate(names):
        cols = groups[g]
        if len(cols) == 1:
            g_ev[gi], g_se[gi] = ev[cols[0]], ev_se[cols[0]]
        elif len(cols) <= 4:
            r = evppi(net, X[:, cols], seed=seed)
            g_ev[gi], g_se[gi] = r.evppi, r.se
    out.update(
        group=names,
        group_members=[[inputs[j].name for j in groups[g]] for g in names],
        group_evppi=g_ev,
        group_evppi_se=g_se,
    )
    if opt.delta:
        n_delta = min(opt.delta_draws, net.shape[0])
        on_progress("delta", 0, 1, f"{n_delta:,} draws")
        d = borgonovo_delta(net[:n_delta], X[:n_delta], seed=seed)
        on_progress("delta", 1, 1, "")
        out.update(delta=d.delta, delta_ci_low=d.ci_low, delta_ci_high=d.ci_high)
    if not opt.global_sensitivity:
        return out
    # Sobol' indices of groups by pick-freeze reruns (re-keyed streams)
    other = seed + 1
    n_runs = 2 + len(names)
    on_progress("sobol", 0, n_runs, "")
    f_a = rerun({}, {}, opt.sobol_draws, True).draws(scenario, "net")
    on_progress("sobol", 1, n_runs, "")
    f_b = rerun({}, {i.name: other for i in inputs}, opt.sobol_draws, True).draws(scenario, "net")
    on_progress("sobol", 2, n_runs, "")

    def pick_freeze(gi: int, g: str) -> np.ndarray:
        out = rerun({}, {inputs[j].name: other for j in groups[g]}, opt.sobol_draws, True)
        on_progress("sobol", 3 + gi, n_runs, g)
        return out.draws(scenario, "net")

    f_ab = np.stack([pick_freeze(gi, g) for gi, g in enumerate(names)])
    keep = np.isfinite(f_a) & np.isfinite(f_b) & np.isfinite(f_ab).all(axis=0)
    s = group_sobol(f_a[keep], f_b[keep], f_ab[:, keep], seed=seed, n_resamples=opt.sobol_resamples)
    out.update(
        sobol_first=s.first,
        sobol_first_se=s.first_se,
        sobol_total=s.total,
        sobol_total_se=s.total_se,
    )
    return out


def _cost_curve(scenario: str, base: Result) -> dict[str, Any]:
    """E[net] and P(net > 0) if the programme's total cost were x instead of its costs."""
    ben = base.draws(scenario, "benefits")
    cost = base.draws(scenario, "costs")
    ok = np.isfinite(ben) & np.isfinite(cost)
    ben, cost = ben[ok], cost[ok]
    hi = max(2.0 * float(np.mean(cost)), float(np.quantile(ben, 0.99)), 1.0)
    x = np.linspace(0.0, hi, 101)
    acc = acceptability(ben[np.newaxis, :] - x[:, np.newaxis], axis=-1)
    p = np.asarray(acc.prob)
    levels = np.array(LEVELS)
    return {
        "cost": x,
        "cost_net_mean": float(np.mean(ben)) - x,
        "cost_p_positive": p,
        "cost_p_positive_mcse": np.asarray(acc.se),
        "break_even_cost_mean": float(np.mean(ben)),
        "break_even_cost": np.quantile(ben, 1.0 - levels),
        "current_cost_mean": float(np.mean(cost)),
    }


def _sweep(
    scenario: str,
    inp: Input,
    rerun: Rerun,
    opt: AnalysisOptions,
    on_progress: StepProgress = _no_progress,
) -> dict[str, Any]:
    probs = np.linspace(0.01, 0.99, opt.sweep_points)
    xs = np.unique(inp.dist.ppf(probs))
    mean = np.full(xs.shape, np.nan)
    p = np.full(xs.shape, np.nan)
    on_progress("sweep", 0, xs.size, inp.name)
    for i, v in enumerate(xs):
        s = rerun({inp.name: float(v)}, {}, opt.tornado_draws, False).summary(scenario)
        on_progress("sweep", i + 1, xs.size, inp.name)
        mean[i] = np.nan if s["net"]["mean"] is None else s["net"]["mean"]
        p[i] = np.nan if s["p_net_positive"] is None else s["p_net_positive"]
    be = break_even(xs, mean, 0.0) if xs.size > 1 and np.isfinite(mean).all() else None
    levels = []
    for lv in LEVELS:
        if xs.size > 1 and np.isfinite(p).all():
            levels.append(break_even(xs, p, lv).value)
        else:
            levels.append(math.nan)
    return {
        "sweep_input": inp.name,
        "sweep_value": xs,
        "sweep_net_mean": mean,
        "sweep_p_positive": p,
        "sweep_break_even_mean": be.value if be is not None else math.nan,
        "sweep_break_even_status": be.status if be is not None else "none",
        "sweep_break_even_p": np.array(levels),
    }


def _study_sizes(study: Study, opt: AnalysisOptions) -> np.ndarray:
    if opt.evsi_sizes is not None:
        sizes = np.unique(np.asarray(opt.evsi_sizes, dtype=np.int64))
        if sizes.size == 0 or sizes[0] < 1:
            raise ValueError(f"study sizes must be positive integers, got {opt.evsi_sizes}")
        return sizes
    grid = np.linspace(study.min_n, max(study.max_n, study.min_n), EVSI_POINTS)
    return np.unique(np.round(grid).astype(np.int64))


def _evsi(
    model: Model,
    scenario: str,
    base_net: np.ndarray,
    study: Study,
    opt: AnalysisOptions,
    seed: int,
    on_progress: StepProgress = _no_progress,
) -> dict[str, Any]:
    """EVSI per study size (Strong et al. 2015), the EVPPI bound, and the ENBS curve;
    ``on_progress("evsi", done, total, "n = N")`` after the bound and each size."""
    ok = np.isfinite(base_net)
    net = base_net[ok]
    theta = np.asarray(study.parameters, dtype=np.float64)[ok]
    sizes = _study_sizes(study, opt)
    on_progress("evsi", 0, sizes.size + 1, "bound: EVPPI of " + ", ".join(study.informs))
    bound = evppi(net, theta, seed=seed)
    on_progress("evsi", 1, sizes.size + 1, "bound")
    value = np.empty(sizes.size)
    se = np.empty(sizes.size)
    raw = np.empty(sizes.size)
    share = np.empty(sizes.size)
    rng = np.random.default_rng([seed, 0x5E51])
    stats = np.zeros((base_net.size, len(study.statistics)))
    done = 0
    for i, n in enumerate(sizes):
        # nested studies: the study of n is the previous one plus n - done more
        # participants (the statistics are sums over participants), so the curve's
        # points share their randomness and EVSI(n) is smooth in n
        stats = stats + np.asarray(study.simulate(int(n) - done, rng), dtype=np.float64)
        done = int(n)
        r = evsi(net, stats[ok], seed=seed)
        value[i], se[i], raw[i] = r.evsi, r.se, r.raw
        share[i] = float(np.ravel(r.variance_share)[0])
        on_progress("evsi", i + 2, sizes.size + 1, f"n = {int(n)}")
    # EVSI <= EVPPI(theta): regression noise can put a small study's estimate above it
    clipped = raw > bound.evppi
    value = np.minimum(value, bound.evppi)
    e = enbs(
        value,
        sizes,
        cost_fixed=opt.study_cost_fixed,
        cost_per_participant=opt.study_cost_per_client,
        cohorts_per_year=opt.cohorts_per_year,
        years=opt.years,
        discount_rate=model.scenarios[scenario].settings.discount_rate,
        se=se,
    )
    return {
        "study_size": sizes,
        "evsi": value,
        "evsi_se": se,
        "evsi_raw": raw,
        "evsi_clipped": clipped,
        "evsi_variance_share": share,
        "evsi_population": e.population_evsi,
        "study_cost": e.cost,
        "enbs": e.enbs,
        "enbs_se": e.se,
        "enbs_best_n": e.n_best,
        "enbs_best": e.enbs_best,
        "enbs_worthwhile": e.worthwhile,
        "evsi_bound": bound.evppi,
        "evsi_bound_se": bound.se,
    }


def analyse_scenario(
    model: Model,
    scenario: str,
    base: Result,
    rerun: Rerun,
    seed: int,
    options: AnalysisOptions | None = None,
    attrs: Mapping[str, Any] | None = None,
    on_progress: StepProgress | None = None,
    *,
    study: Study | None = None,
    study_note: str = "",
) -> AnalysisResult:
    """Every decision analysis of ``scenario`` from its base run (kept draws) and reruns.

    Parameters
    ----------
    model
        The model (posterior draws attached).
    scenario
        The scenario analysed.
    base
        The base run of that scenario with ``keep_draws=True``.
    rerun
        ``rerun(overrides, reseed, draws, keep_draws)``: the same scenario and seed with
        inputs fixed (tornado, sweep) or re-seeded (Sobol'); see the module docstring.
    seed
        The seed of the base run (the estimators' bootstraps are seeded from it).
    options
        Sizes and switches; :class:`AnalysisOptions` defaults otherwise.
    attrs
        Provenance attributes for the result (from :func:`mkba_sim.results.make_attrs`).
    on_progress
        Called as ``on_progress(step, done, total, detail)``
        (:class:`mkba_sim.workflow.ProgressCallback`) for the steps ``"tornado"``
        (``2k + 1`` reruns), ``"evppi"`` (``k`` inputs), ``"sobol"`` (2 + one rerun per
        group; only with ``global_sensitivity``), ``"delta"`` (Borgonovo's delta, one step; only
        with ``delta``), ``"sweep"`` (its points) and ``"evsi"`` (the bound and each study
        size; only with a study), each from
        ``done = 0`` to ``done = total``; ``detail`` names the input just done.
    study
        A study whose data can be simulated per kept draw: EVSI over study sizes and
        the expected net benefit of sampling (:class:`Study`); ``None``: EVSI omitted.
    study_note
        Why there is no study (recorded with the result when ``study`` is ``None``).
    """
    opt = options or AnalysisOptions()
    report = on_progress or _no_progress
    inputs = uncertain_inputs(model, scenario)
    summary = base.summary(scenario)
    net = base.draws(scenario, "net")
    e = evpi(net[np.isfinite(net)])
    pop = float(
        population_evpi(
            e.evpi,
            opt.cohorts_per_year,
            opt.years,
            model.scenarios[scenario].settings.discount_rate,  # a scenario may set its own
        )
    )
    parts: dict[str, Any] = {}
    if inputs:
        parts.update(_tornado(model, scenario, inputs, base, rerun, opt, report))
        parts.update(_global(scenario, inputs, base, rerun, opt, seed, report))
        choice = opt.sweep_input
        if choice is None:
            choice = inputs[int(parts["order"][0])].name
        chosen = [i for i in inputs if i.name == choice]
        if not chosen:
            from mkba_sim.errors import did_you_mean

            raise ValueError(
                f"sweep input {choice!r} is not an uncertain input of scenario "
                f"{scenario!r}{did_you_mean(choice, [i.name for i in inputs])}"
            )
        parts.update(_sweep(scenario, chosen[0], rerun, opt, report))
    parts.update(_cost_curve(scenario, base))
    if study is not None and opt.evsi:
        parts.update(_evsi(model, scenario, net, study, opt, seed, report))
        parts["evsi_study"] = study
    else:
        parts["evsi_note"] = (
            "EVSI not asked for (evsi=False)"
            if not opt.evsi
            else (study_note or "no study to simulate was given")
        )
    ds = _dataset(model, scenario, inputs, parts, summary, e, pop, opt)
    ds.attrs.update(dict(attrs or {}))
    return AnalysisResult(ds)


def _dataset(
    model: Model,
    scenario: str,
    inputs: Sequence[Input],
    parts: Mapping[str, Any],
    summary: Mapping[str, Any],
    e: Any,
    pop: float,
    opt: AnalysisOptions,
) -> xr.Dataset:
    cur = model.settings.currency
    order = parts.get("order", np.arange(len(inputs)))
    names = [inputs[int(i)].name for i in order]

    def by_input(key: str) -> Any:
        return np.asarray(parts[key])[order] if key in parts else None

    def v(dims: tuple[str, ...], data: Any, units: str | None, long: str) -> Any:
        a: dict[str, Any] = {"long_name": long}
        if units is not None:
            a["units"] = units
        return (dims, data, a)

    data: dict[str, Any] = {
        "evpi": v((), e.evpi, cur, "expected value of perfect information (per decision)"),
        "evpi_mcse": v((), e.se, cur, "Monte Carlo standard error of EVPI"),
        "population_evpi": v(
            (),
            pop,
            cur,
            f"EVPI over {opt.years} yearly cohorts of {opt.cohorts_per_year:g}, discounted",
        ),
        "p_net_positive": v(
            (),
            summary["p_net_positive"] if summary["p_net_positive"] is not None else np.nan,
            "1",
            "P(net > 0) of the base run",
        ),
        "net_mean": v(
            (),
            summary["net"]["mean"] if summary["net"]["mean"] is not None else np.nan,
            cur,
            "mean net balance of the base run",
        ),
    }
    coords: dict[str, Any] = {
        "end": v(("end",), ["low", "high"], None, "end of the tornado bar"),
        "level": v(("level",), np.array(LEVELS), "1", "required P(net > 0)"),
    }
    if inputs:
        coords["input"] = v(("input",), names, None, "uncertain input (sorted by swing)")
        coords["input_group"] = v(
            ("input",),
            [inputs[int(i)].group for i in order],
            None,
            "independent group of the input",
        )
        ie = ("input", "end")
        data.update(
            tornado_input_value=v(
                ie,
                by_input("tornado_input_value"),
                None,
                f"input at its {opt.tornado_low:g} / {opt.tornado_high:g} quantile",
            ),
            tornado_net_point=v(
                ie,
                by_input("tornado_net_point"),
                cur,
                "net with the others at their published values",
            ),
            tornado_net_published=v(
                ie,
                by_input("tornado_net_published"),
                cur,
                "net with this input at published_low / published_high",
            ),
            tornado_net_mean=v(
                ie,
                by_input("tornado_net_mean"),
                cur,
                "E[net] with the others at their distributions",
            ),
            tornado_net_mcse=v(ie, by_input("tornado_net_mcse"), cur, "MCSE of E[net]"),
            tornado_p_positive=v(
                ie,
                by_input("tornado_p_positive"),
                "1",
                "P(net > 0) with the others at their distributions",
            ),
            tornado_swing=v(
                ("input",), by_input("tornado_swing"), cur, "|E[net](high) - E[net](low)|"
            ),
            tornado_crosses_zero=v(
                ("input",),
                by_input("tornado_crosses_zero").astype(np.int8),
                "1",
                "the bar crosses zero (1) or not (0)",
            ),
            tornado_low_gives_higher=v(
                ("input",),
                by_input("tornado_low_gives_higher").astype(np.int8),
                "1",
                "the low input gives the higher balance (1)",
            ),
            evppi=v(("input",), by_input("evppi"), cur, "partial EVPI of the input"),
            evppi_se=v(("input",), by_input("evppi_se"), cur, "standard error of EVPPI"),
            variance_share=v(
                ("input",),
                by_input("variance_share"),
                "1",
                "first-order variance share Var(E[net|X]) / Var(net)",
            ),
        )
        if "delta" in parts:
            data.update(
                delta=v(("input",), by_input("delta"), "1", "Borgonovo's delta"),
                delta_ci_low=v(("input",), by_input("delta_ci_low"), "1", "delta, CI low"),
                delta_ci_high=v(("input",), by_input("delta_ci_high"), "1", "delta, CI high"),
            )
        coords["group"] = v(("group",), list(parts["group"]), None, "independent input group")
        data.update(
            group_members=v(
                ("group",),
                [json.dumps(m) for m in parts["group_members"]],
                None,
                "inputs of the group (JSON list)",
            ),
            group_evppi=v(("group",), parts["group_evppi"], cur, "partial EVPI of the group"),
            group_evppi_se=v(("group",), parts["group_evppi_se"], cur, "standard error"),
        )
        if "sobol_first" in parts:
            data.update(
                sobol_first=v(("group",), parts["sobol_first"], "1", "Sobol' first-order index"),
                sobol_first_se=v(("group",), parts["sobol_first_se"], "1", "bootstrap se"),
                sobol_total=v(("group",), parts["sobol_total"], "1", "Sobol' total index"),
                sobol_total_se=v(("group",), parts["sobol_total_se"], "1", "bootstrap se"),
            )
        coords["sweep"] = v(("sweep",), np.arange(len(parts["sweep_value"])), "1", "sweep point")
        data.update(
            sweep_value=v(
                ("sweep",),
                parts["sweep_value"],
                None,
                f"value of {parts['sweep_input']} (1st to 99th percentile)",
            ),
            sweep_net_mean=v(("sweep",), parts["sweep_net_mean"], cur, "E[net]"),
            sweep_p_positive=v(("sweep",), parts["sweep_p_positive"], "1", "P(net > 0)"),
            sweep_break_even_mean=v(
                (), parts["sweep_break_even_mean"], None, "input value where E[net] = 0"
            ),
            sweep_break_even_p=v(
                ("level",),
                parts["sweep_break_even_p"],
                None,
                "input value where P(net > 0) = level",
            ),
            point_net=v((), parts["point_net"], cur, "net with every input at its published value"),
        )
    coords["cost"] = v(
        ("cost",), parts["cost"], cur, "total programme cost replacing the model's costs"
    )
    data.update(
        cost_net_mean=v(("cost",), parts["cost_net_mean"], cur, "E[net] at that cost"),
        cost_p_positive=v(("cost",), parts["cost_p_positive"], "1", "P(net > 0) at that cost"),
        cost_p_positive_mcse=v(("cost",), parts["cost_p_positive_mcse"], "1", "MCSE"),
        break_even_cost_mean=v(
            (), parts["break_even_cost_mean"], cur, "total cost at which E[net] = 0"
        ),
        break_even_cost=v(
            ("level",), parts["break_even_cost"], cur, "total cost at which P(net > 0) = level"
        ),
        current_cost_mean=v((), parts["current_cost_mean"], cur, "mean of the model's costs"),
    )
    stake = summary["stakeholders"]
    coords["stakeholder"] = v(("stakeholder",), list(stake), None, "stakeholder")
    data.update(
        stakeholder_mean=v(
            ("stakeholder",), [s["mean"] for s in stake.values()], cur, "mean balance"
        ),
        stakeholder_low=v(
            ("stakeholder",),
            [np.nan if s["interval90"][0] is None else s["interval90"][0] for s in stake.values()],
            cur,
            "5% quantile of the balance",
        ),
        stakeholder_high=v(
            ("stakeholder",),
            [np.nan if s["interval90"][1] is None else s["interval90"][1] for s in stake.values()],
            cur,
            "95% quantile of the balance",
        ),
        stakeholder_p_positive=v(
            ("stakeholder",), [s["p_positive"] for s in stake.values()], "1", "P(balance > 0)"
        ),
    )
    persp = summary.get("perspectives") or {}
    if persp:  # perspectives: the same four figures as the stakeholders
        coords["perspective"] = v(("perspective",), list(persp), None, "perspective")
        ends = [[np.nan if x is None else x for x in s["interval90"]] for s in persp.values()]
        data.update(
            perspective_mean=v(
                ("perspective",), [s["mean"] for s in persp.values()], cur, "mean balance"
            ),
            perspective_low=v(("perspective",), [e[0] for e in ends], cur, "5% quantile"),
            perspective_high=v(("perspective",), [e[1] for e in ends], cur, "95% quantile"),
            perspective_p_positive=v(
                ("perspective",), [s["p_positive"] for s in persp.values()], "1", "P(> 0)"
            ),
        )
    evsi_attrs = _evsi_variables(data, coords, parts, opt, cur, v)
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update(
        {
            "scenario": scenario,
            "sweep_input": parts.get("sweep_input", ""),
            "sweep_break_even_status": parts.get("sweep_break_even_status", ""),
            **evsi_attrs,
        }
    )
    return ds


def _evsi_variables(
    data: dict[str, Any],
    coords: dict[str, Any],
    parts: Mapping[str, Any],
    opt: AnalysisOptions,
    cur: str,
    v: Callable[..., Any],
) -> dict[str, Any]:
    """Add the EVSI curve to ``data``/``coords``; return the attributes describing it."""
    study: Study | None = parts.get("evsi_study")
    if study is None:
        return {"evsi_available": 0, "evsi_note": parts.get("evsi_note", "")}
    z = ("study_size",)
    coords["study_size"] = v(z, parts["study_size"], "1", "participants of the study")
    pop = f"over {opt.years} yearly cohorts of {opt.cohorts_per_year:g}, discounted"
    data.update(
        evsi=v(z, parts["evsi"], cur, "expected value of sample information (per decision)"),
        evsi_se=v(z, parts["evsi_se"], cur, "standard error of EVSI"),
        evsi_raw=v(z, parts["evsi_raw"], cur, "EVSI before clipping to its EVPPI bound"),
        evsi_variance_share=v(
            z, parts["evsi_variance_share"], "1", "Var(E[net | study result]) / Var(net)"
        ),
        evsi_population=v(z, parts["evsi_population"], cur, f"EVSI {pop}"),
        study_cost=v(z, parts["study_cost"], cur, "study cost: fixed + per participant x n"),
        enbs=v(z, parts["enbs"], cur, "expected net benefit of sampling: population EVSI - cost"),
        enbs_se=v(z, parts["enbs_se"], cur, "standard error of ENBS"),
        evsi_bound=v(
            (),
            parts["evsi_bound"],
            cur,
            f"EVPPI of the parameters the study informs ({', '.join(study.informs)})",
        ),
        evsi_bound_se=v((), parts["evsi_bound_se"], cur, "standard error of that EVPPI"),
        enbs_best=v((), parts["enbs_best"], cur, "highest ENBS over the study sizes"),
        enbs_best_n=v((), parts["enbs_best_n"], "1", "study size with the highest ENBS"),
    )
    return {
        "evsi_available": 1,
        "evsi_note": "",
        "evsi_study": study.description,
        "evsi_model": study.model,
        "evsi_statistics": json.dumps(list(study.statistics)),
        "evsi_informs": json.dumps(list(study.informs)),
        "evsi_worthwhile": int(bool(parts["enbs_worthwhile"])),
        "evsi_clipped": json.dumps([bool(c) for c in parts["evsi_clipped"]]),
        "study_cost_fixed": float(opt.study_cost_fixed),
        "study_cost_per_client": float(opt.study_cost_per_client),
    }


class AnalysisResult:
    """The decision analysis of one scenario: ``dataset`` holds it, methods read it."""

    def __init__(self, dataset: xr.Dataset) -> None:
        self.dataset = dataset

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON structure (``schema`` = ``mkba_sim.analysis/1``)."""
        ds = self.dataset

        def f(x: Any) -> float | None:
            y = float(x)
            return y if math.isfinite(y) else None

        a = ds.attrs
        doc: dict[str, Any] = {
            "schema": ANALYSIS_SCHEMA,
            "model": {
                "path": a.get("model_path"),
                "title": a.get("model_title"),
                "sha256": a.get("model_sha256"),
                "currency": a.get("currency"),
            },
            "scenario": a["scenario"],
            "run": {
                "seed": a.get("seed"),
                "draws": a.get("n_draws"),
                "created": a.get("created"),
                "mkba_sim_version": a.get("mkba_sim_version"),
            },
            "net_mean": f(ds["net_mean"]),
            "p_net_positive": f(ds["p_net_positive"]),
            "evpi": {
                "per_decision": f(ds["evpi"]),
                "mcse": f(ds["evpi_mcse"]),
                "population": f(ds["population_evpi"]),
                "population_note": ds["population_evpi"].attrs["long_name"],
            },
            "tornado": [],
            "groups": [],
            "break_even": {
                "cost_mean": f(ds["break_even_cost_mean"]),
                "cost_at_p": {str(lv): f(ds["break_even_cost"].sel(level=lv)) for lv in LEVELS},
                "current_cost_mean": f(ds["current_cost_mean"]),
            },
            "stakeholders": {
                str(k): {
                    "mean": f(ds["stakeholder_mean"].sel(stakeholder=k)),
                    "interval90": [
                        f(ds["stakeholder_low"].sel(stakeholder=k)),
                        f(ds["stakeholder_high"].sel(stakeholder=k)),
                    ],
                    "p_positive": f(ds["stakeholder_p_positive"].sel(stakeholder=k)),
                }
                for k in ds["stakeholder"].values
            },
        }
        if "perspective" in ds.coords:
            doc["perspectives"] = {
                str(k): {
                    "mean": f(ds["perspective_mean"].sel(perspective=k)),
                    "interval90": [
                        f(ds["perspective_low"].sel(perspective=k)),
                        f(ds["perspective_high"].sel(perspective=k)),
                    ],
                    "p_positive": f(ds["perspective_p_positive"].sel(perspective=k)),
                }
                for k in ds["perspective"].values
            }
        doc["evsi"] = _evsi_dict(ds, f)
        if "input" in ds.coords:
            doc["point_net"] = f(ds["point_net"])
            for name in ds["input"].values:
                r = ds.sel(input=name)
                row: dict[str, Any] = {
                    "input": str(name),
                    "group": str(r["input_group"].values),
                    "value": [f(x) for x in r["tornado_input_value"].values],
                    "net_point": [f(x) for x in r["tornado_net_point"].values],
                    "net_published": [f(x) for x in r["tornado_net_published"].values],
                    "net_mean": [f(x) for x in r["tornado_net_mean"].values],
                    "p_positive": [f(x) for x in r["tornado_p_positive"].values],
                    "swing": f(r["tornado_swing"]),
                    "crosses_zero": bool(r["tornado_crosses_zero"]),
                    "low_gives_higher": bool(r["tornado_low_gives_higher"]),
                    "evppi": f(r["evppi"]),
                    "evppi_se": f(r["evppi_se"]),
                    "variance_share": f(r["variance_share"]),
                }
                if "delta" in ds:
                    row["delta"] = f(r["delta"])
                doc["tornado"].append(row)
            for g in ds["group"].values:
                r = ds.sel(group=g)
                grow: dict[str, Any] = {
                    "group": str(g),
                    "members": json.loads(str(r["group_members"].values)),
                    "evppi": f(r["group_evppi"]),
                }
                if "sobol_first" in ds:
                    grow.update(
                        sobol_first=f(r["sobol_first"]),
                        sobol_total=f(r["sobol_total"]),
                        sobol_first_se=f(r["sobol_first_se"]),
                        sobol_total_se=f(r["sobol_total_se"]),
                    )
                doc["groups"].append(grow)
            doc["sweep"] = {
                "input": a["sweep_input"],
                "values": [f(x) for x in ds["sweep_value"].values],
                "net_mean": [f(x) for x in ds["sweep_net_mean"].values],
                "p_positive": [f(x) for x in ds["sweep_p_positive"].values],
                "break_even_mean": f(ds["sweep_break_even_mean"]),
                "break_even_status": a["sweep_break_even_status"],
                "break_even_at_p": {
                    str(lv): f(ds["sweep_break_even_p"].sel(level=lv)) for lv in LEVELS
                },
            }
        return doc


def _evsi_dict(ds: xr.Dataset, f: Callable[[Any], float | None]) -> dict[str, Any]:
    """The ``evsi`` object of the JSON (``available`` false: ``reason`` says why)."""
    a = ds.attrs
    if not a.get("evsi_available"):
        return {"available": False, "reason": str(a.get("evsi_note", ""))}
    clipped = json.loads(str(a["evsi_clipped"]))
    return {
        "available": True,
        "study": str(a["evsi_study"]),
        "model": str(a["evsi_model"]),
        "statistics": json.loads(str(a["evsi_statistics"])),
        "informs": json.loads(str(a["evsi_informs"])),
        "evppi_bound": f(ds["evsi_bound"]),
        "evppi_bound_se": f(ds["evsi_bound_se"]),
        "cost": {
            "fixed": float(a["study_cost_fixed"]),
            "per_participant": float(a["study_cost_per_client"]),
        },
        "population_note": ds["evsi_population"].attrs["long_name"],
        "sizes": [
            {
                "n": int(n),
                "evsi": f(ds["evsi"].sel(study_size=n)),
                "se": f(ds["evsi_se"].sel(study_size=n)),
                "clipped": bool(clipped[i]),
                "population": f(ds["evsi_population"].sel(study_size=n)),
                "cost": f(ds["study_cost"].sel(study_size=n)),
                "enbs": f(ds["enbs"].sel(study_size=n)),
                "enbs_se": f(ds["enbs_se"].sel(study_size=n)),
            }
            for i, n in enumerate(ds["study_size"].values)
        ],
        "best": {
            "n": int(ds["enbs_best_n"]),
            "enbs": f(ds["enbs_best"]),
            "worthwhile": bool(a["evsi_worthwhile"]),
        },
    }
