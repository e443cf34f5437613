"""The ``mkba-sim`` command: a thin shell over the public API.

Errors of the :class:`~mkba_sim.errors.MkbaError` family are printed as one line on
stderr, without a traceback, and the exit status is 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import mkba_sim
from mkba_sim.errors import MkbaError

__all__ = ["main"]

REPLICATION_SCHEMA = "mkba_sim.replication/1"


def _cmd_validate(args: argparse.Namespace) -> int:
    from mkba_sim.analysis.replication import check_published

    model = mkba_sim.load_model(args.model)
    check_published(model)  # a non-finite value at the published values is an error
    n_par = len(model.base.parameters)
    print(
        f"{args.model}: valid — {model.title!r}: {n_par} parameters, "
        f"{len(model.base.items)} items, scenarios: {', '.join(model.scenarios)}"
    )
    return 0


def _cmd_replicate(args: argparse.Namespace) -> int:
    from mkba_sim.analysis.replication import check_published

    model = mkba_sim.load_model(args.model)
    check_published(model)
    rows = mkba_sim.replicate(model, scenario=args.scenario)
    if args.json:
        doc: dict[str, Any] = {
            "schema": REPLICATION_SCHEMA,
            "model": {"path": model.path, "title": model.title, "sha256": model.sha256},
            "rows": [r.as_dict() for r in rows],
            "all_match": all(r.matches for r in rows),
        }
        print(json.dumps(doc, indent=2))
    else:
        from mkba_sim.report.text import replication_table

        print(replication_table(model, rows))
    return 0 if all(r.matches for r in rows) else 1


def _progress(enabled: bool) -> Any:
    """A rich progress bar on stderr that appears only once a run takes over a second."""
    if not enabled or not sys.stderr.isatty():
        return None
    import time

    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("simulating"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} draws"),
        TimeRemainingColumn(),
        transient=True,
    )
    state: dict[str, Any] = {"t0": time.perf_counter(), "task": None}

    def update(done: int, total: int) -> None:
        if state["task"] is None:
            if time.perf_counter() - state["t0"] < 1.0 or done >= total:
                return
            bar.start()
            state["task"] = bar.add_task("run", total=total)
        bar.update(state["task"], completed=done)
        if done >= total:
            bar.stop()

    update.stop = bar.stop  # type: ignore[attr-defined]
    return update


def _cmd_run(args: argparse.Namespace) -> int:
    from mkba_sim.report.text import run_summary

    progress = _progress(not args.json)
    try:
        result = mkba_sim.simulate(
            args.model,
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
            progress=progress,
            strict=not args.no_strict,
        )
    finally:
        if progress is not None:
            progress.stop()
    if args.out:
        mkba_sim.save_result(result, args.out)
    if args.json:
        doc = result.to_dict()
        doc["output"] = args.out
        print(json.dumps(doc, indent=2))
    else:
        print(_tables(result, args.format) if args.format != "text" else run_summary(result))
        if args.out:
            print(f"\nSaved to {args.out}")
    return 0


def _cmd_analyse(args: argparse.Namespace) -> int:
    from mkba_sim.analysis.decision import AnalysisOptions
    from mkba_sim.report.text import analysis_summary

    options = AnalysisOptions(
        sweep_input=args.sweep,
        cohorts_per_year=args.cohorts,
        years=args.years,
        global_sensitivity=not args.no_sobol,
        delta=args.delta,
    )
    try:
        result = mkba_sim.analyse(
            args.model,
            scenario=args.scenario,
            draws=args.draws,
            seed=args.seed,
            options=options,
            threads=args.threads,
            strict=not args.no_strict,
        )
    except ValueError as exc:  # e.g. an unknown sweep input, named with a suggestion
        raise MkbaError(f"{args.model}: {exc}") from None
    if args.out:
        from mkba_sim.io.netcdf import save_dataset

        try:
            save_dataset(result.dataset, args.out)
        except OSError as exc:
            raise MkbaError(f"{args.out}: cannot write ({exc.strerror or exc})") from None
    if args.json:
        doc = result.to_dict()
        doc["output"] = args.out
        print(json.dumps(doc, indent=2))
    else:
        print(_tables(result, args.format) if args.format != "text" else analysis_summary(result))
        if args.out:
            print(f"\nSaved to {args.out}")
    return 0


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
    status = _report_status()
    try:
        html = _make_report(args, status)
    finally:
        if status is not None:
            status.stop()
    size = len(html.encode("utf-8"))
    print(f"Report written to {args.out} ({size / 1024:,.0f} kB, {time.perf_counter() - t0:.1f} s)")
    return 0


_REPORT_STEPS = {
    "simulate": "simulating every scenario",
    "analyse": "decision analysis of the main scenario",
    "render": "writing the report",
}


def _report_status() -> Any:
    """A rich status line on stderr (only on a terminal) naming the report's current step."""
    if not sys.stderr.isatty():
        return None
    from rich.console import Console

    status = Console(stderr=True).status("loading the model")
    status.start()
    return status


def _make_report(args: argparse.Namespace, status: Any) -> str:
    def on_step(name: str) -> None:
        if status is not None:
            status.update(_REPORT_STEPS.get(name, name))

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
        on_step=on_step,
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
        "--draws", type=_positive_int, default=200_000, help="draws per scenario (2e5)"
    )
    rep.add_argument(
        "--analysis-draws",
        type=_positive_int,
        default=50_000,
        help="draws of the decision analysis of the main scenario (5e4)",
    )
    rep.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    rep.add_argument("--threads", type=_positive_int, default=None, help="worker threads")
    rep.add_argument("--out", default="report.html", help="the HTML file (default report.html)")
    rep.add_argument(
        "--no-strict",
        action="store_true",
        help="use a posterior even if it fails the convergence diagnostics (reported)",
    )
    rep.set_defaults(func=_cmd_report)


def _cmd_bayes(args: argparse.Namespace) -> int:
    from mkba_sim.io.posteriors import model_data_dir, submodel_variables

    model = mkba_sim.load_model(args.model)
    names = sorted({name for name, _ in submodel_variables(model)})
    if not names:
        raise MkbaError(
            f"{args.model}: no parameter uses a Bayesian sub-model "
            '(dist = "posterior" with model = ...)'
        )
    from mkba_sim import bayes

    data_dir = model_data_dir(model)
    docs = {
        n: bayes.bayes_summary_json(
            n, prior=args.prior, strict=not args.no_strict, data_dir=data_dir
        )
        for n in names
    }
    if args.json:
        print(
            json.dumps({"schema": bayes.SCHEMA, "model": args.model, "submodels": docs}, indent=2)
        )
    else:
        print("\n\n".join(bayes.format_summary(doc) for doc in docs.values()))
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(float(text)) if "e" in text.lower() else int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used to document the CLI)."""
    p = argparse.ArgumentParser(prog="mkba-sim", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"mkba_sim {mkba_sim.__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    v = sub.add_parser("validate", help="check a model file")
    v.add_argument("model")
    v.set_defaults(func=_cmd_validate)

    r = sub.add_parser(
        "replicate", help="every parameter at its published value, beside the study's figures"
    )
    r.add_argument("model")
    r.add_argument("--scenario", default=None, help="only this scenario's figures")
    r.add_argument("--json", action="store_true", help=f"JSON ({REPLICATION_SCHEMA})")
    r.set_defaults(func=_cmd_replicate)

    run = sub.add_parser("run", help="Monte Carlo simulation of every scenario")
    run.add_argument("model")
    run.add_argument(
        "--draws",
        type=_positive_int,
        default=1_000_000,
        help="number of draws (maximum, with precision targets); default 1e6",
    )
    run.add_argument(
        "--seed",
        type=int,
        default=None,
        help="random seed (default: fresh, recorded in the output)",
    )
    run.add_argument("--threads", type=_positive_int, default=None, help="worker threads")
    run.add_argument("--sampler", choices=("mc", "lhs", "sobol"), default="mc")
    run.add_argument("--scenario", action="append", help="only this scenario (repeatable)")
    run.add_argument("--out", default=None, help="save the result as NetCDF")
    run.add_argument("--json", action="store_true", help="JSON summary (mkba_sim.run/2)")
    run.add_argument(
        "--keep-draws",
        action="store_true",
        help="keep every draw (exact quantiles; memory grows with --draws)",
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
    run.add_argument("--chunk-size", type=_positive_int, default=None, help=argparse.SUPPRESS)
    run.add_argument(
        "--target-mcse-p",
        type=float,
        default=None,
        help="stop once the MCSE of P(net > 0) is below this",
    )
    run.add_argument(
        "--target-mcse-mean",
        type=float,
        default=None,
        help="stop once the MCSE of the mean net balance is below this (euros)",
    )
    run.add_argument(
        "--backend", choices=("numba", "numpy"), default="numba", help=argparse.SUPPRESS
    )
    run.add_argument(
        "--no-strict",
        action="store_true",
        help="use a posterior even if it fails the convergence diagnostics (reported)",
    )
    _add_format(run)
    run.set_defaults(func=_cmd_run)

    an = sub.add_parser(
        "analyse",
        help="decision analysis of one scenario: tornado, global sensitivity, value of "
        "information (EVPI, EVPPI), break-even cost and input sweep, stakeholders",
    )
    an.add_argument("model")
    an.add_argument("--scenario", default="base", help="the scenario analysed (default base)")
    an.add_argument(
        "--draws", type=_positive_int, default=100_000, help="draws of the base run (1e5)"
    )
    an.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    an.add_argument("--threads", type=_positive_int, default=None, help="worker threads")
    an.add_argument(
        "--sweep",
        default=None,
        metavar="INPUT",
        help="the input swept for break-even (default: the one with the largest swing)",
    )
    an.add_argument(
        "--cohorts",
        type=float,
        default=1.0,
        help="decisions (cohorts) a year for the population EVPI (default 1)",
    )
    an.add_argument(
        "--years",
        type=_positive_int,
        default=10,
        help="years of cohorts for the population EVPI (default 10)",
    )
    an.add_argument(
        "--delta",
        action="store_true",
        help="also Borgonovo's delta (SALib; slow: minutes for many inputs)",
    )
    an.add_argument("--no-sobol", action="store_true", help="skip the Sobol' reruns")
    an.add_argument("--json", action="store_true", help="JSON (mkba_sim.analysis/1)")
    an.add_argument("--out", default=None, help="save the analysis as NetCDF")
    an.add_argument(
        "--no-strict",
        action="store_true",
        help="use a posterior even if it fails the convergence diagnostics (reported)",
    )
    _add_format(an)
    an.set_defaults(func=_cmd_analyse)

    b = sub.add_parser(
        "bayes",
        help="fit (or load) the Bayesian sub-models a model uses; posterior summary and "
        "prior sensitivity (case data from the 'data' directory next to the model file)",
    )
    b.add_argument("model")
    b.add_argument(
        "--prior",
        default=None,
        help="only this reference prior (mixture, support_need, very_active); "
        "default: mixture, with every prior in the sensitivity table",
    )
    b.add_argument("--json", action="store_true", help="JSON (mkba_sim.bayes/1)")
    b.add_argument(
        "--no-strict",
        action="store_true",
        help="report instead of refusing a fit that fails the convergence diagnostics",
    )
    b.set_defaults(func=_cmd_bayes)
    _add_report_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mkba-sim`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except MkbaError as exc:
        print(f"mkba-sim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mkba-sim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
