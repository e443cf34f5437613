"""The one way through: a model (file) in, a :class:`~mkba_sim.results.Result` out.

Notebooks and the CLI both call :func:`simulate`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mkba_sim.engine import simulate_model
from mkba_sim.engine.plan import check_scenarios
from mkba_sim.errors import SimulationError
from mkba_sim.fitting import attach_posteriors
from mkba_sim.io.model_files import load_model
from mkba_sim.io.posteriors import needs_posteriors
from mkba_sim.model import Model
from mkba_sim.results import Result, make_attrs

if TYPE_CHECKING:  # the decision analysis (scipy, SALib) is imported only when used
    from mkba_sim.analysis.decision import AnalysisOptions, AnalysisResult

__all__ = ["analyse", "make_report", "report", "simulate"]


def simulate(
    model: Model | str | os.PathLike[str],
    draws: int = 1_000_000,
    seed: Any = None,
    *,
    scenarios: tuple[str, ...] | list[str] | None = None,
    bayes_cache: Path | None = None,
    strict: bool = True,
    allow_outside_files: bool = False,
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
        m, posteriors = attach_posteriors(
            m, chosen, cache_dir=bayes_cache, strict=strict, allow_outside_files=allow_outside_files
        )
    return simulate_model(
        m, draws, seed, scenarios=chosen, attrs={"posteriors": posteriors}, **options
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
) -> AnalysisResult:
    """Decision analysis of one scenario: tornado, global sensitivity, EVPI/EVPPI,
    break-even cost and input sweep, stakeholders (:mod:`mkba_sim.analysis.decision`).

    The base run keeps its ``draws``; every rerun (tornado, Sobol', sweep) uses the same
    seed and the compiled kernel of the base run, with inputs overridden or re-seeded.

    Examples
    --------
    >>> import mkba_sim
    >>> a = mkba_sim.analyse("models/nazorg_plus.toml", draws=100_000)  # doctest: +SKIP
    >>> a.to_dict()["evpi"]  # doctest: +SKIP
    """
    from mkba_sim.analysis.decision import analyse_scenario

    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SimulationError(f"seed must be a non-negative integer, got {seed!r}")
    m = model if isinstance(model, Model) else load_model(model)
    chosen = check_scenarios(m, (scenario,))
    posteriors: list[dict[str, Any]] = []
    if needs_posteriors(m, chosen):
        m, posteriors = attach_posteriors(m, chosen, cache_dir=bayes_cache, strict=strict)
    base = simulate_model(
        m,
        draws,
        seed,
        scenarios=chosen,
        keep_draws=True,
        threads=threads,
        attrs={"posteriors": posteriors},
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
    return analyse_scenario(m, scenario, base, rerun, seed, options, attrs)


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
        (the CLI shows it as a status line).

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
    from mkba_sim.errors import MkbaError
    from mkba_sim.io.atomic import write_text_atomic
    from mkba_sim.report.html import render_html
    from mkba_sim.report.locale import LANGUAGES

    if lang not in LANGUAGES:
        raise MkbaError(f"unknown report language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SimulationError(f"seed must be a non-negative integer, got {seed!r}")
    step = on_step or (lambda _name: None)
    m = model if isinstance(model, Model) else load_model(model)
    chosen = check_scenarios(m, tuple(scenarios) if scenarios else None)
    step("simulate")
    result = simulate(
        m, draws, seed, scenarios=chosen, threads=threads, bayes_cache=bayes_cache, strict=strict
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
    )
    step("render")
    html = render_html(m, result, analysis, replicate(m), lang=lang)
    if out is not None:
        try:
            write_text_atomic(out, html)
        except OSError as exc:
            raise MkbaError(f"{out}: cannot write the report ({exc.strerror or exc})") from None
    return html


#: The public name (``mkba_sim.make_report``): ``mkba_sim.report`` is the sub-package.
make_report = report
