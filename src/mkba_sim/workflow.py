"""The one way through: a model (file) in, a :class:`~mkba_sim.results.Result` out.

Notebooks and the CLI both call :func:`simulate`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mkba_sim.engine import simulate_model
from mkba_sim.engine.plan import check_scenarios
from mkba_sim.errors import SimulationError
from mkba_sim.io.model_files import load_model
from mkba_sim.io.posteriors import needs_posteriors
from mkba_sim.io.tables import table_cache
from mkba_sim.model import Model
from mkba_sim.results import Result, make_attrs

if TYPE_CHECKING:  # the decision analysis (scipy, SALib) is imported only when used
    from mkba_sim.analysis.decision import AnalysisOptions, AnalysisResult, Study

__all__ = ["PROGRESS_STEPS", "ProgressCallback", "analyse", "make_report", "report", "simulate"]


class ProgressCallback(Protocol):
    """What :func:`simulate`, :func:`analyse` and :func:`report` call as work goes on.

    ``on_progress(step, done, total, detail)``: ``step`` is one of
    :data:`PROGRESS_STEPS`; every step starts with ``done = 0`` and, unless an error
    stops the work, ends with ``done == total``; ``detail`` is a short text (the input,
    chain or sub-model concerned; may be empty). A step may recur (one ``"compile"``
    and ``"draws"`` per simulation; the report simulates, then analyses). The callback
    is called from the calling thread only, between units of work, so it should return
    quickly; an exception it raises (e.g. ``KeyboardInterrupt``) stops the work.

    The layers below the application layer take the same callable, typed
    ``Callable[[str, int, int, str], None]``: the engine reports ``"compile"`` and
    ``"draws"``, :mod:`mkba_sim.analysis.decision` the analysis steps,
    :func:`mkba_sim.fitting.fit_or_load` ``"posterior"`` and ``"fit"``.
    """

    def __call__(self, step: str, done: int, total: int, detail: str) -> None:
        """Report that ``done`` of ``total`` units of ``step`` are done."""


#: Every step a :class:`ProgressCallback` may see, with what its units are.
PROGRESS_STEPS: dict[str, str] = {
    "posterior": "a Bayesian sub-model's posterior: loaded from the cache or fitted (1 unit)",
    "fit": "NUTS sampling of a sub-model (PyMC): draws of all chains, tuning included",
    "compile": "loading or compiling the model's kernel and running its pilot (1 unit)",
    "draws": "Monte Carlo draws of a simulation",
    "tornado": "tornado reruns: two per uncertain input and one reference",
    "evppi": "EVPPI of each uncertain input (regression on the base run's draws)",
    "delta": "Borgonovo's delta (1 unit)",
    "sobol": "Sobol' pick-freeze reruns: two, and one per input group",
    "sweep": "reruns at each point of the break-even sweep",
    "evsi": "the EVSI bound, then one regression per study size (value of a study)",
    "report": "the report's parts: simulate, analyse, render (detail names the part)",
}


def simulate(
    model: Model | str | os.PathLike[str],
    draws: int = 1_000_000,
    seed: Any = None,
    *,
    scenarios: tuple[str, ...] | list[str] | None = None,
    bayes_cache: Path | None = None,
    strict: bool = True,
    allow_outside_files: bool = False,
    on_progress: ProgressCallback | None = None,
    draws_store: str | os.PathLike[str] | None = None,
    **options: Any,
) -> Result:
    """Simulate a model file or a loaded :class:`~mkba_sim.model.Model`.

    Posterior parameters get their draws first (fitting the Bayesian sub-model if its
    cache is missing or stale); a draws file outside the model's folder is refused unless
    ``allow_outside_files``. Other keyword arguments are those of
    :func:`mkba_sim.engine.simulate_model`: ``sampler``, ``threads``, ``chunk_size``,
    ``keep_draws``, ``backend``, ``overrides``, ``target_mcse_p``, ``target_mcse_mean``,
    ``progress``. ``overrides={"salary": 98_000, "case_costs": Quantile(0.95)}`` changes
    inputs for this run only, reusing the compiled kernel, under common random numbers
    with the unchanged run.

    ``on_progress`` (a :class:`ProgressCallback`) hears of loading or fitting posteriors
    (``"posterior"``, ``"fit"``), compiling (``"compile"``) and drawing (``"draws"``).
    With ``backend="dask"`` (``scheduler=`` an address or a ``distributed.Client``, or
    ``workers=N`` for a local cluster) the blocks run on a Dask cluster, with the same
    numbers; with ``keep_draws`` and ``draws_store`` (a folder every worker can write),
    the workers write the kept draws there and the result reads them lazily
    (``docs/distributed.md``).

    Examples
    --------
    >>> import mkba_sim
    >>> res = mkba_sim.simulate("models/nazorg_plus.toml", draws=100_000, seed=1)  # doctest: +SKIP
    >>> res.summary("base")["p_net_positive"]  # doctest: +SKIP
    """
    m = model if isinstance(model, Model) else load_model(model)
    chosen = check_scenarios(m, tuple(scenarios) if scenarios else None)
    posteriors: list[dict[str, Any]] = []
    if needs_posteriors(m, chosen):
        from mkba_sim.fitting import attach_posteriors  # PyMC's side, only when needed

        m, posteriors = attach_posteriors(
            m,
            chosen,
            cache_dir=bayes_cache,
            strict=strict,
            allow_outside_files=allow_outside_files,
            on_progress=on_progress,
        )
    extra: dict[str, Any] = {}
    if draws_store is not None:
        from mkba_sim.io.draws_store import BlockStore

        if options.get("backend") != "dask" or not options.get("keep_draws"):
            raise SimulationError("draws_store needs backend='dask' and keep_draws=True")
        store = BlockStore(os.fspath(draws_store))
        store.prepare()
        options["draws_store"] = store
        extra["draws_store"] = store.path
    return simulate_model(
        m,
        draws,
        seed,
        scenarios=chosen,
        attrs={"posteriors": posteriors, **extra},
        on_progress=on_progress,
        tables=table_cache(),
        **options,
    )


def analyse(
    model: Model | str | os.PathLike[str],
    scenario: str = "base",
    draws: int = 100_000,
    seed: int = 1,
    *,
    options: AnalysisOptions | None = None,
    threads: int | None = None,
    bayes_cache: Path | None = None,
    strict: bool = True,
    on_progress: ProgressCallback | None = None,
    backend: str = "numba",
    scheduler: Any = None,
    workers: int | None = None,
) -> AnalysisResult:
    """Decision analysis of one scenario: tornado, global sensitivity, EVPI/EVPPI,
    EVSI/ENBS, break-even cost and input sweep, stakeholders
    (:mod:`mkba_sim.analysis.decision`).

    The base run keeps its ``draws``; every rerun (tornado, Sobol', sweep) uses the same
    seed and the compiled kernel of the base run, with inputs overridden or re-seeded.
    ``on_progress`` (a :class:`ProgressCallback`) hears of the posteriors and the base
    run as in :func:`simulate`, then of each analysis step (``"tornado"``, ``"evppi"``,
    ``"sobol"``, ``"delta"``, ``"sweep"``) counting its reruns or inputs; the reruns
    themselves report nothing.
    When an input of the scenario comes from a Bayesian sub-model that names a study
    (:func:`mkba_sim.fitting.study_design`), the study is simulated per kept draw from the
    posterior draw behind it, for the EVSI curve; otherwise EVSI is omitted and the
    result says why (``to_dict()["evsi"]["reason"]``).
    With ``backend="dask"`` the base run and every rerun are submitted to one cluster
    (``scheduler``: an address or a ``distributed.Client``; else a ``LocalCluster`` of
    ``workers`` processes, opened once for the whole analysis and closed after it).

    Examples
    --------
    >>> import mkba_sim
    >>> a = mkba_sim.analyse("models/nazorg_plus.toml", draws=100_000)  # doctest: +SKIP
    >>> a.to_dict()["evpi"]  # doctest: +SKIP
    """
    from mkba_sim.analysis.decision import analyse_scenario

    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SimulationError(f"seed must be a non-negative integer, got {seed!r}")
    if backend == "dask" and (scheduler is None or isinstance(scheduler, str)):
        from mkba_sim.engine.distributed import dask_client

        with dask_client(scheduler, workers, threads) as client:  # one cluster for every rerun
            return analyse(
                model,
                scenario,
                draws,
                seed,
                options=options,
                threads=threads,
                bayes_cache=bayes_cache,
                strict=strict,
                backend=backend,
                scheduler=client,
            )
    cluster: dict[str, Any] = (
        {"backend": backend, "scheduler": scheduler} if backend == "dask" else {}
    )
    m = model if isinstance(model, Model) else load_model(model)
    chosen = check_scenarios(m, (scenario,))
    posteriors: list[dict[str, Any]] = []
    if needs_posteriors(m, chosen):
        from mkba_sim.fitting import attach_posteriors  # PyMC's side, only when needed

        m, posteriors = attach_posteriors(
            m, chosen, cache_dir=bayes_cache, strict=strict, on_progress=on_progress
        )
    base = simulate_model(
        m,
        draws,
        seed,
        scenarios=chosen,
        keep_draws=True,
        threads=threads,
        attrs={"posteriors": posteriors},
        on_progress=on_progress,
        tables=table_cache(),
        **cluster,
    )

    def rerun(overrides: Any, reseed: Any, n: int, keep: bool) -> Result:
        return simulate_model(
            m,
            n,
            seed,
            scenarios=chosen,
            overrides=overrides,
            reseed=reseed,
            keep_draws=keep,
            threads=threads,
            **cluster,
        )

    a = base.dataset.attrs
    attrs = make_attrs(
        "mkba_sim.analysis",
        {
            k: a[k]
            for k in (
                "model_path",
                "model_sha256",
                "model_title",
                "price_year",
                "currency",
                "seed",
                "n_draws",
                "sampler",
                "non_finite",
                "kernel_key",
                "posteriors",
            )
            if k in a
        },
    )
    study: Study | None = None
    note = "EVSI not asked for (evsi=False)"
    if options is None or options.evsi:
        study, note = _study(m, scenario, base, rerun, draws, bayes_cache, strict)
    return analyse_scenario(
        m, scenario, base, rerun, seed, options, attrs, on_progress, study=study, study_note=note
    )


def _study(
    m: Model,
    scenario: str,
    base: Result,
    rerun: Callable[[Any, Any, int, bool], Result],
    draws: int,
    bayes_cache: Path | None,
    strict: bool,
) -> tuple[Study | None, str]:
    """The study of the scenario's Bayesian sub-model, tied to the base run's draws.

    Returns the :class:`~mkba_sim.analysis.decision.Study` (EVSI), or ``None`` and the
    reason there is none. Which posterior draw each kept draw used is read from one
    rerun in which the posterior parameter's table is replaced by the draw indices
    0, 1, ...: the same stream gives the same uniform, so the same position (checked
    against the base run's values).
    """
    import numpy as np

    from mkba_sim.analysis.decision import Study
    from mkba_sim.distributions import Posterior
    from mkba_sim.fitting import study_design
    from mkba_sim.io.posteriors import model_data_dir

    def sub_model_inputs(name: str) -> list[tuple[str, Posterior]]:
        return [
            (k, p.dist)
            for k, p in m.scenarios[name].parameters.items()
            if isinstance(p.dist, Posterior) and not p.dist.is_file
        ]

    found = sub_model_inputs(scenario)
    if not found:
        others = [s for s in m.scenarios if s != scenario and sub_model_inputs(s)]
        hint = f"; scenario {others[0]!r} has one (--scenario {others[0]})" if others else ""
        return None, f"scenario {scenario!r} has no input from a Bayesian sub-model{hint}"
    for pname, dist in found:
        design = study_design(
            dist.source,
            dist.prior,
            model=m,
            cache_dir=bayes_cache,
            data_dir=model_data_dir(m),
            strict=strict,
        )
        if design is None:
            continue
        table = dist._require()
        if table.size != design.n_posterior:
            raise SimulationError(
                f"{pname}: {table.size} posterior draws in the run but {design.n_posterior} "
                f"in the study's posterior of {dist.source!r}"
            )
        as_index = Posterior(
            dist.source, dist.variable, dist.is_file, dist.prior, np.arange(float(table.size))
        )
        run = rerun({pname: as_index}, {}, draws, True)
        index = np.asarray(run.dataset["input_draws"].sel(input=pname).values).astype(np.int64)
        kept = np.asarray(base.dataset["input_draws"].sel(input=pname).values)
        if not np.array_equal(table[index], kept):
            raise SimulationError(
                f"{pname}: cannot tell which posterior draw each kept draw used (EVSI)"
            )
        return (
            Study(
                description=design.description,
                model=design.model,
                statistics=design.statistics,
                informs=design.informs,
                parameters=design.parameters(index),
                simulate=functools.partial(_simulate_study, design, index),
                min_n=design.min_n,
                max_n=design.max_n,
            ),
            "",
        )
    names = sorted({d.source for _, d in found})
    return None, f"the Bayesian sub-model(s) {', '.join(names)} define no study to simulate"


def _simulate_study(design: Any, index: Any, n: int, rng: Any) -> Any:
    """One study of ``n`` per kept draw (``index``: its posterior draw)."""
    return design.simulate(index, n, rng)


# --- the decision report (issue 12) ------------------------------------------------------


def report(
    model: Model | str | os.PathLike[str],
    *,
    lang: str = "nl",
    scenarios: tuple[str, ...] | list[str] | None = None,
    draws: int = 200_000,
    seed: int = 1,
    analysis_draws: int = 50_000,
    out: str | os.PathLike[str] | None = None,
    threads: int | None = None,
    bayes_cache: Path | None = None,
    strict: bool = True,
    on_step: Callable[[str], None] | None = None,
    on_progress: ProgressCallback | None = None,
) -> str:
    """The decision report of a model: one self-contained HTML file, Dutch or English.

    Simulates ``scenarios`` (default: all; the first is the main scenario), runs the
    decision analysis of the main scenario (tornado, variance shares, EVPI/EVPPI,
    break-even cost; no Sobol' reruns) and replicates the study's published figures,
    then renders :func:`mkba_sim.report.html.render_html`.

    Parameters
    ----------
    model
        A model file or a loaded :class:`~mkba_sim.model.Model`.
    lang
        ``"nl"`` (default) or ``"en"``.
    scenarios
        The scenarios shown, in order; the first is the main scenario.
    draws, seed
        Size and seed of the simulation of every scenario.
    analysis_draws
        Draws of the decision analysis of the main scenario.
    out
        Write the HTML here (atomically) as well as returning it.
    threads, bayes_cache, strict
        As for :func:`simulate`.
    on_step
        Called with ``"simulate"``, ``"analyse"`` and ``"render"`` as each step starts
        (kept for callers of the first version; ``on_progress`` says the same and more).
    on_progress
        A :class:`ProgressCallback`: ``("report", i, 3, part)`` as part ``i`` of
        ``simulate``, ``analyse``, ``render`` starts (and ``("report", 3, 3, "")`` at
        the end), with the steps of :func:`simulate` and :func:`analyse` in between.

    Returns
    -------
    str
        The HTML document.

    Examples
    --------
    >>> import mkba_sim
    >>> path = "models/nazorg_plus.toml"
    >>> html = mkba_sim.make_report(path, lang="en", out="report.html")  # doctest: +SKIP
    """
    from mkba_sim.analysis.decision import AnalysisOptions
    from mkba_sim.analysis.replication import replicate
    from mkba_sim.distributions import Posterior
    from mkba_sim.errors import MkbaError
    from mkba_sim.io.atomic import write_text_atomic
    from mkba_sim.report.html import render_html
    from mkba_sim.report.locale import LANGUAGES

    if lang not in LANGUAGES:
        raise MkbaError(f"unknown report language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SimulationError(f"seed must be a non-negative integer, got {seed!r}")
    parts = ("simulate", "analyse", "render")

    def step(name: str) -> None:
        if on_step is not None:
            on_step(name)
        if on_progress is not None:
            on_progress("report", parts.index(name), len(parts), name)

    m = model if isinstance(model, Model) else load_model(model)
    chosen = check_scenarios(m, tuple(scenarios) if scenarios else None)
    step("simulate")
    result = simulate(
        m,
        draws,
        seed,
        scenarios=chosen,
        threads=threads,
        bayes_cache=bayes_cache,
        strict=strict,
        on_progress=on_progress,
    )
    step("analyse")
    analysis = analyse(
        m,
        scenario=chosen[0],
        draws=analysis_draws,
        seed=seed,
        options=AnalysisOptions(global_sensitivity=False, tornado_draws=2**14, sweep_points=5),
        threads=threads,
        bayes_cache=bayes_cache,
        strict=strict,
        on_progress=on_progress,
    )
    evsi_analysis = None
    if not analysis.dataset.attrs.get("evsi_available"):
        # the value of a follow-up study, from the first scenario shown whose inputs come
        # from a Bayesian sub-model (small tornado: only its EVSI is used)
        other = [
            n
            for n in chosen[1:]
            if any(
                isinstance(p.dist, Posterior) and not p.dist.is_file
                for p in m.scenarios[n].parameters.values()
            )
        ]
        if other:
            evsi_analysis = analyse(
                m,
                scenario=other[0],
                draws=analysis_draws,
                seed=seed,
                options=AnalysisOptions(
                    global_sensitivity=False, tornado_draws=2**10, sweep_points=2
                ),
                threads=threads,
                bayes_cache=bayes_cache,
                strict=strict,
                on_progress=on_progress,
            )
    step("render")
    html = render_html(m, result, analysis, replicate(m), lang=lang, evsi_analysis=evsi_analysis)
    if out is not None:
        try:
            write_text_atomic(out, html)
        except OSError as exc:
            raise MkbaError(f"{out}: cannot write the report ({exc.strerror or exc})") from None
    if on_progress is not None:
        on_progress("report", len(parts), len(parts), "")
    return html


#: The public name (``mkba_sim.make_report``): ``mkba_sim.report`` is the sub-package.
make_report = report
