"""The ``mkba-sim`` command: a thin shell over the public API.

Errors of the :class:`~mkba_sim.errors.MkbaError` family and bad arguments are printed
as one line on stderr, without a traceback, and the exit status is 2. Ctrl-C (SIGINT)
and SIGTERM stop a run with one line and exit status 130, leaving no partial output; a
closed pipe (``mkba-sim replicate ... | head``) ends quietly with status 141.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from types import FrameType
from typing import Any, NoReturn

import mkba_sim
from mkba_sim.errors import MkbaError, ModelFileError, ModelWarning

__all__ = ["build_parser", "main"]

REPLICATION_SCHEMA = "mkba_sim.replication/1"
VALIDATION_SCHEMA = "mkba_sim.validate/1"
MAX_CLI_DRAWS = 10**15
ESTIMATE_AFTER_SECONDS = 30.0
"""A run expected to take longer than this announces its estimated time on stderr."""

_DESCRIPTION = "Probabilistic social cost-benefit analysis (MKBA): validate, replicate, simulate."


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line naming the option."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# --------------------------------------------------------------------------- arguments


def _decimal(text: str) -> Decimal:
    t = text.strip().replace("_", "")
    if len(t) > 100:
        raise argparse.ArgumentTypeError(f"not a number: {text[:20]!r}... (too long)")
    try:
        d = Decimal(t)
    except (InvalidOperation, ArithmeticError):
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not d.is_finite():
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return d


def _integer(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number in [low, high] (``1000000``, ``1e6``, ``1_000``)."""

    def parse(text: str) -> int:
        d = _decimal(text)
        try:
            whole = d == d.to_integral_value()
        except (InvalidOperation, ArithmeticError):
            whole = False
        if not whole:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}")
        if d.is_signed() and low >= 0:
            raise argparse.ArgumentTypeError(f"must not be negative, got {text!r}")
        if d < low or d > high:
            raise argparse.ArgumentTypeError(f"must be between {low:,} and {high:,}, got {text!r}")
        return int(d)

    parse.__name__ = "integer"  # argparse names the type in some messages
    return parse


def _positive_float(text: str) -> float:
    d = _decimal(text)
    value = float(d)
    if d <= 0 or not 0.0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text!r}")
    return value


def _size(text: str) -> int:
    from mkba_sim.resources import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# --------------------------------------------------------------------------- commands


def _load(path: str) -> mkba_sim.Model:
    """Load a model and print its warnings (one line each) on stderr."""
    model = mkba_sim.load_model(path)
    for w in model.warnings:
        print(f"mkba-sim: warning: {w}", file=sys.stderr)
    return model


def _cmd_validate(args: argparse.Namespace) -> int:
    from mkba_sim.analysis.replication import check_published
    from mkba_sim.io.posteriors import check_draws_files

    try:
        model = _load(args.model)
        check_published(model)  # a non-finite value at the published values is an error
        check_draws_files(model, allow_outside_files=args.allow_outside_files)
    except MkbaError as exc:
        if args.json:
            err: dict[str, Any] = {"message": str(exc)}
            if isinstance(exc, ModelFileError):
                err = {"file": exc.path, "key": exc.key, "problem": exc.problem, **err}
            doc = {"schema": VALIDATION_SCHEMA, "model": {"path": args.model}, "valid": False}
            print(json.dumps({**doc, "error": err}, indent=2))
        raise
    if args.json:
        print(
            json.dumps(
                {
                    "schema": VALIDATION_SCHEMA,
                    "model": {"path": model.path, "title": model.title, "sha256": model.sha256},
                    "valid": True,
                    "parameters": len(model.base.parameters),
                    "items": len(model.base.items),
                    "scenarios": list(model.scenarios),
                    "warnings": list(model.warnings),
                },
                indent=2,
            )
        )
        return 0
    n_par = len(model.base.parameters)
    print(
        f"{args.model}: valid — {model.title!r}: {n_par} parameters, "
        f"{len(model.base.items)} items, scenarios: {', '.join(model.scenarios)}"
    )
    return 0


def _cmd_replicate(args: argparse.Namespace) -> int:
    from mkba_sim.analysis.replication import check_published

    model = _load(args.model)
    check_published(model)
    rows = mkba_sim.replicate(model, scenario=args.scenario)
    cases = mkba_sim.base_case(model, scenario=args.scenario)
    if args.json:
        doc: dict[str, Any] = {
            "schema": REPLICATION_SCHEMA,
            "model": {"path": model.path, "title": model.title, "sha256": model.sha256},
            "rows": [r.as_dict() for r in rows],
            "all_match": all(r.matches for r in rows),
            "base_case": [c.as_dict() for c in cases],
            "price_conversions": [c.as_dict() for c in model.price_conversions],
        }
        print(json.dumps(doc, indent=2))
    else:
        from mkba_sim.report.text import base_case_table, replication_table

        print(base_case_table(model, cases))
        print()
        print(replication_table(model, rows))
    return 0 if all(r.matches for r in rows) else 1


_STEP_LABELS = {
    "report": "report",
    "posterior": "posterior",
    "fit": "fitting the sub-model (NUTS)",
    "compile": "compiling the kernel",
    "draws": "drawing",
    "tornado": "tornado reruns",
    "evppi": "EVPPI per input",
    "delta": "Borgonovo's delta",
    "sobol": "Sobol' reruns",
    "sweep": "break-even sweep",
    "evsi": "value of a study (EVSI)",
}
"""What the progress display calls each step of :data:`mkba_sim.workflow.PROGRESS_STEPS`."""


class _Progress:
    """The CLI's :class:`~mkba_sim.workflow.ProgressCallback`: progress on stderr.

    ``show``: rich bars, one row per running step (spinner only for one-unit steps),
    removed when the step ends and erased at the end. Independently of ``show``, unless
    ``quiet``, a run whose remaining draws are expected to take longer than
    :data:`ESTIMATE_AFTER_SECONDS` says so in one line; the rate is measured from the
    first report of the drawing (after compilation and the pilot), so it is honest.
    Used as a context manager, so the display stops on errors and Ctrl-C too.
    """

    def __init__(self, show: bool, force: bool = False, quiet: bool = False) -> None:
        self.show = show and not quiet
        self.force = force
        self.quiet = quiet
        self.bar: Any = None
        self.tasks: dict[str, Any] = {}
        self.first: tuple[float, int] | None = None
        self.announced = False

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __call__(self, step: str, done: int, total: int, detail: str) -> None:
        if step == "draws" and not self.quiet:
            self._estimate(done, total)
        if not self.show:
            return
        if self.bar is None:
            self._start()
        task = self.tasks.get(step)
        if done >= total:
            if task is not None:
                self.bar.remove_task(self.tasks.pop(step))
            return
        label = _STEP_LABELS.get(step, step)
        if step == "report":
            detail = _REPORT_STEPS.get(detail, detail)
        description = f"{label}: {detail}" if detail else label
        one = total <= 1  # a step of one unit: a spinner, no count
        fields = {"count": "" if one else f"{done:,}/{total:,}"}
        if task is None:
            self.tasks[step] = self.bar.add_task(
                description, total=None if one else total, completed=done, **fields
            )
        else:
            self.bar.update(
                task,
                description=description,
                completed=done,
                total=None if one else total,
                **fields,
            )

    def _estimate(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if done == 0 or self.first is None:
            self.first, self.announced = (now, done), False
            return
        t1, d1 = self.first
        if self.announced or done <= d1 or now <= t1 or done >= total:
            return
        self.announced = True
        rate = (done - d1) / (now - t1)
        left = (total - done) / rate
        if left > ESTIMATE_AFTER_SECONDS:
            from mkba_sim.resources import format_duration

            line = (
                f"mkba-sim: {total:,} draws will take about {format_duration(left)} more "
                f"({rate / 1e6:,.1f} M draws/s); Ctrl-C stops the run without saving"
            )
            if self.bar is not None:
                self.bar.console.print(line, markup=False, highlight=False)
            else:
                print(line, file=sys.stderr)

    def _start(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        console = Console(stderr=True, force_terminal=True if self.force else None)
        self.bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}", markup=False),  # names may hold "[...]"
            BarColumn(),
            TextColumn("{task.fields[count]}", markup=False),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            transient=True,
            console=console,
        )
        self.bar.start()

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
            self.tasks.clear()


def _progress(args: argparse.Namespace) -> _Progress:
    """The progress display a command asked for: on a terminal unless ``--quiet``, or
    wherever stderr goes with ``--progress``."""
    quiet = bool(getattr(args, "quiet", False))
    force = bool(getattr(args, "progress", False))
    try:
        tty = sys.stderr is not None and sys.stderr.isatty()
    except (ValueError, OSError):  # a closed stderr
        tty = False
    return _Progress(show=force or tty, force=force, quiet=quiet)


def _add_progress(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--progress",
        action="store_true",
        help="show progress on stderr even when it is not a terminal",
    )
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress and no time estimate on stderr (errors and warnings still)",
    )


def _cmd_run(args: argparse.Namespace) -> int:
    from mkba_sim.io.posteriors import draws_files
    from mkba_sim.io.results import check_output_path, model_inputs
    from mkba_sim.report.text import run_summary

    model = _load(args.model)
    if args.out:
        inputs = model_inputs(model.path, draws_files(model))
        try:
            check_output_path(args.out, inputs=inputs, force=args.force, make_parents=False)
        except MkbaError as exc:
            raise MkbaError(f"--out {exc}") from None
    if args.keep_draws and args.draws_store is None:  # a draws store holds them on disk
        from mkba_sim.resources import check_kept_draws

        check_kept_draws(model, args.draws, args.scenario, args.memory_limit)
    with _progress(args) as progress:
        result = mkba_sim.simulate(
            model,
            draws=args.draws,
            seed=args.seed,
            threads=args.threads,
            sampler=args.sampler,
            scenarios=args.scenario or None,
            keep_draws=args.keep_draws,
            chunk_size=args.chunk_size,
            target_mcse_p=args.target_mcse_p,
            target_mcse_mean=args.target_mcse_mean,
            backend=args.backend,
            overrides=dict(args.overrides or []),
            on_progress=progress,
            **_cluster_options(args),
            strict=not args.no_strict,
            allow_outside_files=args.allow_outside_files,
        )
    if args.out:
        mkba_sim.save_result(result, args.out, force=args.force, make_parents=False)
        args.saved = True
    if args.json:
        doc = result.to_dict()
        doc["output"] = args.out
        print(json.dumps(doc, indent=2))
    else:
        if args.format != "text":
            print(_tables(result, args.format))
        else:
            print(run_summary(result))
            note = _precision_note(args, result.to_dict())
            if note:
                print(note)
        if args.out:
            print(f"\nSaved to {args.out}")
    return 0


def _precision_note(args: argparse.Namespace, doc: dict[str, Any]) -> str:
    """One line saying whether precision targets were met when the run used every draw."""
    targets = []
    if args.target_mcse_p is not None:
        targets.append(f"MCSE of P(net > 0) ≤ {args.target_mcse_p:g}")
    if args.target_mcse_mean is not None:
        targets.append(f"MCSE of the mean net balance ≤ {args.target_mcse_mean:g}")
    if not targets:
        return ""
    done = int(doc["run"]["draws"])
    what = " and ".join(targets)
    if done < args.draws:
        return ""  # run_summary says "Stopped early: ..."
    met = all(
        (args.target_mcse_p is None or (s["p_net_positive_mcse"] or 0.0) <= args.target_mcse_p)
        and (args.target_mcse_mean is None or (s["net"]["mcse"] or 0.0) <= args.target_mcse_mean)
        for s in doc["scenarios"].values()
    )
    if met:
        return f"Precision target ({what}) reached at the maximum of {done:,} draws."
    return f"Precision target ({what}) NOT reached within {done:,} draws; raise --draws."


def _add_cluster(p: argparse.ArgumentParser, *, backend: bool) -> None:
    """The Dask options (docs/distributed.md); ``backend`` adds ``--backend`` too."""
    if backend:
        p.add_argument(
            "--backend",
            choices=("numba", "dask"),
            default="numba",
            help="numba: local threads (default); dask: reruns on a Dask cluster",
        )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="with --backend dask: the scheduler to use, e.g. tcp://10.0.0.5:8786",
    )
    p.add_argument(
        "--workers",
        type=_integer(1, 4096),
        default=None,
        metavar="N",
        help="with --backend dask and no --scheduler: a local cluster of N worker "
        "processes (default 2; --threads threads each, default 1)",
    )
    if not backend:
        p.add_argument(
            "--draws-store",
            default=None,
            metavar="DIR",
            help="with --backend dask --keep-draws: the workers write the kept draws to "
            "NetCDF files in DIR (a new folder they can all reach), read back lazily",
        )


def _cluster_options(args: argparse.Namespace) -> dict[str, Any]:
    """``scheduler``/``workers`` for a Dask run, checked against ``--backend``."""
    store = getattr(args, "draws_store", None)
    if args.backend != "dask":
        if args.scheduler is not None or args.workers is not None or store is not None:
            raise MkbaError("--scheduler, --workers and --draws-store need --backend dask")
        return {}
    if args.scheduler is not None and args.workers is not None:
        raise MkbaError("give --scheduler (an existing cluster) or --workers (a local one)")
    opts: dict[str, Any] = {"scheduler": args.scheduler, "workers": args.workers}
    if args.command == "analyse":
        opts["backend"] = "dask"
    if store is not None:
        if not args.keep_draws:
            raise MkbaError("--draws-store needs --keep-draws")
        opts["draws_store"] = store
    return opts


def _cmd_analyse(args: argparse.Namespace) -> int:
    from mkba_sim.analysis.decision import AnalysisOptions
    from mkba_sim.io.atomic import atomic_path
    from mkba_sim.io.posteriors import draws_files
    from mkba_sim.io.results import check_output_path, model_inputs
    from mkba_sim.report.text import analysis_summary

    model = _load(args.model)
    if args.out:
        try:
            inputs = model_inputs(model.path, draws_files(model))
            check_output_path(args.out, inputs=inputs, force=args.force, make_parents=False)
            if not str(args.out).lower().endswith(".nc"):
                raise MkbaError(f"{args.out}: an analysis is saved as NetCDF; use a .nc name")
        except MkbaError as exc:
            raise MkbaError(f"--out {exc}") from None
    options = AnalysisOptions(
        sweep_input=args.sweep,
        cohorts_per_year=args.cohorts,
        years=args.years,
        global_sensitivity=not args.no_sobol,
        delta=args.delta,
        **_evsi_options(args),
    )
    try:
        with _progress(args) as progress:
            result = mkba_sim.analyse(
                model,
                scenario=args.scenario,
                draws=args.draws,
                seed=args.seed,
                options=options,
                threads=args.threads,
                strict=not args.no_strict,
                on_progress=progress,
                **_cluster_options(args),
            )
    except ValueError as exc:  # e.g. an unknown sweep input, named with a suggestion
        raise MkbaError(f"{args.model}: {exc}") from None
    if args.out:
        check_output_path(args.out, force=args.force, make_parents=False)
        try:
            with atomic_path(args.out, make_parents=False) as tmp:
                result.dataset.to_netcdf(tmp, engine="h5netcdf")
        except OSError as exc:
            raise MkbaError(f"{args.out}: cannot write ({exc.strerror or exc})") from None
        args.saved = True
    if args.json:
        doc = result.to_dict()
        doc["output"] = args.out
        print(json.dumps(doc, indent=2))
    else:
        print(_tables(result, args.format) if args.format != "text" else analysis_summary(result))
        if args.out:
            print(f"\nSaved to {args.out}")
    return 0


def _evsi_options(args: argparse.Namespace) -> dict[str, Any]:
    """The EVSI fields of ``AnalysisOptions`` from ``analyse``'s options (defaults there)."""
    out: dict[str, Any] = {"evsi": not args.no_evsi}
    if args.study_cost is not None:
        out["study_cost_fixed"] = args.study_cost
    if args.study_cost_per_client is not None:
        out["study_cost_per_client"] = args.study_cost_per_client
    if args.study_sizes is not None:
        out["evsi_sizes"] = args.study_sizes
    return out


def _study_sizes(text: str) -> tuple[int, ...]:
    """``--study-sizes 12,24,69``: positive integers, comma-separated."""
    try:
        sizes = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1 or max(sizes) > 10_000_000:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give positive whole numbers separated by commas, e.g. 12,24,48,69"
        )
    return tuple(sorted(set(sizes)))


def _non_negative_float(text: str) -> float:
    d = _decimal(text)
    value = float(d)
    if d < 0 or not 0.0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


# --- tables to paste and the HTML report (issue 12) ---------------------------------------


def _tables(result: Any, fmt: str) -> str:
    """``--format md|csv``: the run's or the analysis' tables (mkba_sim.report.tables)."""
    from mkba_sim.report import tables
    from mkba_sim.results import Result

    found = tables.run_tables(result) if isinstance(result, Result) else None
    return tables.format_tables(found or tables.analysis_tables(result), fmt)


def _add_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=("text", "md", "csv"),
        default="text",
        help="text summary (default), or tables to paste: Markdown (md) or CSV (csv)",
    )


def _cmd_report(args: argparse.Namespace) -> int:
    import time

    t0 = time.perf_counter()
    with _progress(args) as progress:
        html = _make_report(args, progress)
    size = len(html.encode("utf-8"))
    print(f"Report written to {args.out} ({size / 1024:,.0f} kB, {time.perf_counter() - t0:.1f} s)")
    return 0


_REPORT_STEPS = {
    "simulate": "simulating every scenario",
    "analyse": "decision analysis of the main scenario",
    "render": "writing the report",
}


def _make_report(args: argparse.Namespace, progress: _Progress) -> str:
    return mkba_sim.make_report(
        args.model,
        lang=args.lang,
        scenarios=args.scenario or None,
        draws=args.draws,
        seed=args.seed,
        analysis_draws=args.analysis_draws,
        out=args.out,
        threads=args.threads,
        strict=not args.no_strict,
        on_progress=progress,
    )


def _add_report_parser(sub: Any) -> None:
    rep = sub.add_parser(
        "report",
        help="a decision report in one self-contained HTML file (Dutch by default)",
    )
    rep.add_argument("model")
    rep.add_argument("--lang", choices=("nl", "en"), default="nl", help="language (default nl)")
    rep.add_argument(
        "--scenario",
        action="append",
        help="only this scenario (repeatable; the first is the main one; default: all)",
    )
    rep.add_argument(
        "--draws", type=_integer(2, MAX_CLI_DRAWS), default=200_000, help="draws per scenario (2e5)"
    )
    rep.add_argument(
        "--analysis-draws",
        type=_integer(2, MAX_CLI_DRAWS),
        default=50_000,
        help="draws of the decision analysis of the main scenario (5e4)",
    )
    rep.add_argument(
        "--seed", type=_integer(0, 2**63 - 1), default=1, metavar="N", help="random seed (1)"
    )
    rep.add_argument(
        "--threads", type=_integer(1, 4096), default=None, metavar="N", help="worker threads"
    )
    rep.add_argument("--out", default="report.html", help="the HTML file (default report.html)")
    rep.add_argument(
        "--no-strict",
        action="store_true",
        help="use a posterior even if it fails the convergence diagnostics (reported)",
    )
    _add_progress(rep)
    rep.set_defaults(func=_cmd_report)


def _override(text: str) -> tuple[str, Any]:
    """``NAME=NUMBER`` or ``NAME=qP`` (the input's own quantile P, 0 < P < 1)."""
    import math

    from mkba_sim.model.overrides import Quantile

    name, sep, value = text.partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not name or not value:
        raise argparse.ArgumentTypeError(
            f"expected NAME=NUMBER or NAME=qP (e.g. salary=98000, case_costs=q0.95), got {text!r}"
        )
    try:
        if value[0] in "qQ":
            p = float(value[1:])
            if not 0.0 < p < 1.0:
                raise ValueError
            return name, Quantile(p)
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{name}: {value!r} is not a number or a quantile q0.05 .. q0.95"
        ) from None
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"{name}: must be finite, got {value!r}")
    return name, number


def _cmd_bayes(args: argparse.Namespace) -> int:
    from mkba_sim.io.posteriors import submodel_variables

    model = _load(args.model)
    names = sorted({name for name, _ in submodel_variables(model)} | set(model.evidence))
    if not names:
        raise MkbaError(
            f"{args.model}: no parameter uses a Bayesian sub-model "
            '(dist = "posterior" with model = ...) and there is no [evidence] block'
        )
    from mkba_sim import fitting
    from mkba_sim.bayes import format_summary

    with _progress(args) as progress:
        docs = {
            n: fitting.bayes_summary_json(
                n,
                prior=args.prior,
                strict=not args.no_strict,
                model=model,
                on_progress=progress,
            )
            for n in names
        }
    if args.json:
        print(
            json.dumps({"schema": fitting.SCHEMA, "model": args.model, "submodels": docs}, indent=2)
        )
    else:
        print("\n\n".join(format_summary(doc) for doc in docs.values()))
    return 0


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used to document the CLI)."""
    p = _Parser(prog="mkba-sim", description=_DESCRIPTION)
    p.add_argument("--version", action="version", version=f"mkba_sim {mkba_sim.__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    model_help = "the model file (TOML; see docs/model-format.md)"

    v = sub.add_parser("validate", help="check a model file and the draws files it names")
    v.add_argument("model", help=model_help)
    v.add_argument("--json", action="store_true", help=f"JSON ({VALIDATION_SCHEMA})")
    v.add_argument(
        "--allow-outside-files",
        action="store_true",
        help="accept draws files outside the model file's folder",
    )
    v.set_defaults(func=_cmd_validate)

    r = sub.add_parser(
        "replicate", help="every parameter at its published value, beside the study's figures"
    )
    r.add_argument("model", help=model_help)
    r.add_argument("--scenario", default=None, metavar="NAME", help="only this scenario's figures")
    r.add_argument("--json", action="store_true", help=f"JSON ({REPLICATION_SCHEMA})")
    r.set_defaults(func=_cmd_replicate)

    run = sub.add_parser("run", help="Monte Carlo simulation of every scenario")
    run.add_argument("model", help=model_help)
    run.add_argument(
        "--draws",
        type=_integer(2, MAX_CLI_DRAWS),
        default=1_000_000,
        metavar="N",
        help="number of draws (maximum, with precision targets); default 1e6",
    )
    run.add_argument(
        "--seed",
        type=_integer(0, 2**128),
        default=None,
        metavar="N",
        help="random seed (default: fresh, recorded in the output)",
    )
    run.add_argument(
        "--threads", type=_integer(1, 4096), default=None, metavar="N", help="worker threads"
    )
    run.add_argument("--sampler", choices=("mc", "lhs", "sobol"), default="mc")
    run.add_argument(
        "--scenario", action="append", metavar="NAME", help="only this scenario (repeatable)"
    )
    run.add_argument(
        "--out",
        default=None,
        metavar="FILE",
        help="save the result: .nc (NetCDF, everything), .json or .csv (summary); "
        "the folder must exist",
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="let --out replace an existing file that mkba-sim did not write "
        "(never the model or its data)",
    )
    run.add_argument("--json", action="store_true", help="JSON summary (mkba_sim.run/2)")
    run.add_argument(
        "--keep-draws",
        action="store_true",
        help="keep every draw (exact quantiles; memory grows with --draws and is checked "
        "before the run)",
    )
    run.add_argument(
        "--set",
        dest="overrides",
        type=_override,
        action="append",
        metavar="NAME=VALUE",
        help="for this run only, fix an input at a number (salary=98000) or at its own "
        "quantile (case_costs=q0.95), in every scenario (repeatable)",
    )
    run.add_argument(
        "--memory-limit",
        type=_size,
        default=None,
        metavar="SIZE",
        help="memory --keep-draws may use, e.g. 8G (default: the memory available)",
    )
    run.add_argument("--chunk-size", type=_integer(1, 2**31), default=None, help=argparse.SUPPRESS)
    run.add_argument(
        "--target-mcse-p",
        type=_positive_float,
        default=None,
        metavar="X",
        help="stop once the MCSE of P(net > 0) is below X",
    )
    run.add_argument(
        "--target-mcse-mean",
        type=_positive_float,
        default=None,
        metavar="X",
        help="stop once the MCSE of the mean net balance is below X (euros)",
    )
    run.add_argument(
        "--backend",
        choices=("numba", "numpy", "dask"),
        default="numba",
        help="numba: local threads (default); dask: a Dask cluster (--scheduler or "
        "--workers), the same numbers",
    )
    _add_cluster(run, backend=False)
    run.add_argument(
        "--no-strict",
        action="store_true",
        help="use a posterior even if it fails the convergence diagnostics (reported)",
    )
    run.add_argument(
        "--allow-outside-files",
        action="store_true",
        help="read draws files outside the model file's folder",
    )
    _add_format(run)
    _add_progress(run)
    run.set_defaults(func=_cmd_run)

    an = sub.add_parser(
        "analyse",
        help="decision analysis of one scenario: tornado, global sensitivity, value of "
        "information (EVPI, EVPPI), break-even cost and input sweep, stakeholders",
    )
    an.add_argument("model", help=model_help)
    an.add_argument(
        "--scenario", default="base", metavar="NAME", help="the scenario analysed (default base)"
    )
    an.add_argument(
        "--draws",
        type=_integer(2, MAX_CLI_DRAWS),
        default=100_000,
        metavar="N",
        help="draws of the base run (1e5)",
    )
    an.add_argument(
        "--seed", type=_integer(0, 2**63 - 1), default=1, metavar="N", help="random seed (1)"
    )
    an.add_argument(
        "--threads", type=_integer(1, 4096), default=None, metavar="N", help="worker threads"
    )
    an.add_argument(
        "--sweep",
        default=None,
        metavar="INPUT",
        help="the input swept for break-even (default: the one with the largest swing)",
    )
    an.add_argument(
        "--cohorts",
        type=_positive_float,
        default=1.0,
        metavar="X",
        help="decisions (cohorts) a year for the population EVPI (default 1)",
    )
    an.add_argument(
        "--years",
        type=_integer(1, 1000),
        default=10,
        metavar="N",
        help="years of cohorts for the population EVPI (default 10)",
    )
    an.add_argument(
        "--delta",
        action="store_true",
        help="also Borgonovo's delta (SALib; slow: minutes for many inputs)",
    )
    an.add_argument("--no-sobol", action="store_true", help="skip the Sobol' reruns")
    an.add_argument(
        "--study-cost",
        type=_non_negative_float,
        default=None,
        metavar="EUR",
        help="fixed cost of the evaluation study for the ENBS (default: "
        "AnalysisOptions.study_cost_fixed; the summary prints the costs used)",
    )
    an.add_argument(
        "--study-cost-per-client",
        type=_non_negative_float,
        default=None,
        metavar="EUR",
        help="its cost per client followed (default: AnalysisOptions.study_cost_per_client)",
    )
    an.add_argument(
        "--study-sizes",
        type=_study_sizes,
        default=None,
        metavar="N,N,...",
        help="study sizes for EVSI (default: 8 sizes from the original sample to a cohort)",
    )
    an.add_argument(
        "--no-evsi", action="store_true", help="skip the value of sample information (EVSI)"
    )
    _add_cluster(an, backend=True)
    an.add_argument("--json", action="store_true", help="JSON (mkba_sim.analysis/1)")
    an.add_argument("--out", default=None, metavar="FILE", help="save the analysis as NetCDF (.nc)")
    an.add_argument(
        "--force",
        action="store_true",
        help="let --out replace an existing file that mkba-sim did not write",
    )
    an.add_argument(
        "--no-strict",
        action="store_true",
        help="use a posterior even if it fails the convergence diagnostics (reported)",
    )
    _add_format(an)
    _add_progress(an)
    an.set_defaults(func=_cmd_analyse)

    b = sub.add_parser(
        "bayes",
        help="fit (or load) the Bayesian sub-models a model uses; posterior summary and "
        "prior sensitivity (case data from the 'data' folder next to the model file)",
    )
    b.add_argument("model", help=model_help)
    b.add_argument(
        "--prior",
        default=None,
        metavar="NAME",
        help="only this prior or sensitivity variant (e.g. mixture, support_need, "
        "very_active); default: the sub-model's default, with every variant in the "
        "sensitivity table",
    )
    b.add_argument("--json", action="store_true", help="JSON (mkba_sim.bayes/2)")
    b.add_argument(
        "--no-strict",
        action="store_true",
        help="report instead of refusing a fit that fails the convergence diagnostics",
    )
    _add_progress(b)
    b.set_defaults(func=_cmd_bayes)
    _add_report_parser(sub)
    return p


# --------------------------------------------------------------------------- main


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _quiet_stdout() -> None:
    """After a closed pipe: send further output (and the final flush) nowhere."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mkba-sim`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.saved = False
    previous = None
    with contextlib.suppress(ValueError):  # not the main thread
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ModelWarning)  # printed by _load, one line each
            status = int(args.func(args))
        sys.stdout.flush()
        return status
    except MkbaError as exc:
        print(f"mkba-sim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        what = "" if args.saved else "; nothing was saved"
        print(f"mkba-sim: interrupted{what}", file=sys.stderr)
        if argv is None and threading.active_count() > 1:
            # as a command: end now. Worker threads of the interrupted run may wait for
            # buffers the main thread no longer returns, and Python's exit would wait for
            # them forever. Temporary output files were removed on the way here.
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(130)
        return 130
    except BrokenPipeError:
        _quiet_stdout()
        return 141
    except (RecursionError, SyntaxError):
        # the model layer accepts chains of up to 1,000 terms; the kernel generator
        # (engine/codegen.py) cannot yet emit a chain (or a ledger) longer than about 190
        print(
            f"mkba-sim: error: {getattr(args, 'model', '')}: the model is too large for the "
            "generated kernel (an expression chain or a ledger of more than about 190 terms); "
            "split long expressions into [derived] quantities",
            file=sys.stderr,
        )
        return 2
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
