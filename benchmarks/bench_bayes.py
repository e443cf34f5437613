"""Benchmark of a cold Bayesian fit (issue 10) against the code before issues 7-13.

Run from the repository root (about 10 minutes on a 2-core machine)::

    .venv/bin/python benchmarks/bench_bayes.py [--rounds N] [--no-warm] [--json FILE] [--check]

Issue 10 asks for a cold fit of the recidivism model in at most 20 s on 2 cores, where
"today" (the code at commit ``BASELINE_COMMIT``, the last one before issues 7-13) took
28-29 s on the machine the issue was filed on. Seconds measured on another machine
cannot be compared with that, so the target is stated as a ratio measured in one run:
the current cold fit takes at most ``TARGET_RATIO`` = 20/29 of the baseline's cold fit
(29 s: the stricter end of "28-29 s"), in wall time.

A *cold fit* is the command a user runs, ``mkba-sim bayes models/nazorg_plus.toml
--prior mixture --json`` (one fit: without ``--prior`` both versions also fit every
prior of the sensitivity table), in a fresh process whose mkba_sim cache
(``MKBA_SIM_CACHE``: posteriors, numba), PyTensor compile directory
(``PYTENSOR_FLAGS=compiledir=...``) and numba cache (``NUMBA_CACHE_DIR``) are new, empty
directories. Each version (``src`` and ``models`` of the baseline from ``git archive``,
the current ``src`` and ``models`` copied from this checkout) lives in a temporary
directory with its bytecode compiled beforehand, as an installed package has it. The
two versions are run alternately, round by round, so that both see the same machine;
the report gives medians, wall time (``time.perf_counter`` around the child) and CPU
time (user + sys of the child and everything it waited for: PyMC's chain processes,
g++), and the fit's own ``fit_seconds`` from its JSON. With ``--warm`` (the default),
one more fit of each version keeps the PyTensor compile directory of its last cold fit
and empties the posterior cache: the difference to the cold fit is what compiling costs.

The target is printed as PASS/FAIL; the exit status is 0 unless ``--check`` is given
and the target fails (or a fit fails: then always 1). The load average is printed and
recorded. Every directory lives under one temporary directory, removed at the end. See
``benchmarks/README.md`` and ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def _load_bench_engine() -> ModuleType:
    """``benchmarks/bench_engine.py`` as a module (the helpers every benchmark shares;
    it imports numpy only, nothing that writes to the user's home)."""
    spec = importlib.util.spec_from_file_location("bench_engine", HERE / "bench_engine.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _load_bench_engine()
SCHEMA = "mkba_sim.bench_bayes/1"

#: The code "today" in issue 10: the last commit before issues 7-13 were worked on.
BASELINE_COMMIT = "325138b"
#: Issue 10: cold fit ≤ 20 s where today's took 28-29 s (29: the stricter end).
TARGET_SECONDS = 20.0
BASELINE_SECONDS = 29.0
TARGET_RATIO = TARGET_SECONDS / BASELINE_SECONDS
MODEL = "models/nazorg_plus.toml"  # relative to each version's directory
SUBMODEL = "nazorg_plus_recidivism"
PRIOR = "mixture"
DRAWS = 4 * 1_000  # 4 chains × 1,000 draws in both versions
VERSIONS = ("baseline", "current")

#: Child: what the ``mkba-sim`` console script does (``from mkba_sim.cli import main``),
#: after saying on stderr which mkba_sim it imported.
_CHILD = """
import sys
from mkba_sim.cli import main
import mkba_sim
print("bench_bayes: mkba_sim from " + mkba_sim.__file__, file=sys.stderr, flush=True)
sys.exit(main(sys.argv[1:]))
"""
_MARKER = "bench_bayes: mkba_sim from "

#: Environment variables of the user's that would point a child at other caches,
#: settings or code.
_DROP = (
    "PYTENSOR_FLAGS",
    "PYTENSORRC",
    "PYTHONPYCACHEPREFIX",
    "PYTHONPATH",
    "MKBA_SIM_CACHE",
    "NUMBA_CACHE_DIR",
)


class BenchError(RuntimeError):
    """A version could not be prepared or one of its fits failed."""


def command(model: Path) -> list[str]:
    """The arguments of ``mkba-sim`` for one fit of ``model`` (the user's command)."""
    return ["bayes", str(model), "--prior", PRIOR, "--json"]


def fit_env(src: Path, cache: Path, compiledir: Path) -> dict[str, str]:
    """The child's environment: this process's, without the user's caches and settings,
    with ``src`` as the only extra import path and every cache in the given directories."""
    env = {k: v for k, v in os.environ.items() if k not in _DROP}
    env.update(
        {
            "PYTHONPATH": str(src),
            "MKBA_SIM_CACHE": str(cache),
            "NUMBA_CACHE_DIR": str(cache / "numba"),
            "PYTENSOR_FLAGS": f"compiledir={compiledir}",
        }
    )
    return env


def extract_baseline(work: Path) -> Path | str:
    """The baseline's ``src`` and ``models`` from git under ``work``, or the reason they
    are not available (no git, or a clone without that commit)."""
    return bench.git_archive(BASELINE_COMMIT, ["src", "models"], work / "baseline")


def copy_current(work: Path) -> Path:
    """This checkout's ``src`` and ``models`` (as they are, committed or not) under
    ``work``, without bytecode or other caches."""
    dest = work / "current"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", "*.egg-info")
    for part in ("src", "models"):
        shutil.copytree(REPO / part, dest / part, ignore=ignore)
    return dest


def compile_bytecode(src: Path) -> None:
    """Bytecode next to the sources, as ``pip install`` leaves it (not timed)."""
    env = {k: v for k, v in os.environ.items() if k not in _DROP}
    proc = subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(src)],
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise BenchError(f"compileall {src} failed: {proc.stdout}{proc.stderr}".strip())


def check_output(stdout: str, stderr: str, src: Path) -> dict[str, Any]:
    """The fit's figures from the child's output; :class:`BenchError` unless it ran the
    code under ``src`` and printed a posterior summary of a fresh fit."""
    tail = stderr.strip()[-2000:]
    imported = [ln[len(_MARKER) :] for ln in stderr.splitlines() if ln.startswith(_MARKER)]
    if not imported or not Path(imported[0]).resolve().is_relative_to(src.resolve()):
        raise BenchError(f"the child imported mkba_sim from {imported or 'nowhere'}, not {src}")
    try:
        doc = json.loads(stdout)
        sub = doc["submodels"][SUBMODEL]
        cache, variables = sub["cache"], sub["variables"]
        draws, prior = int(sub["draws"]), sub["prior"]["name"]
    except (ValueError, KeyError, TypeError) as exc:
        msg = f"no posterior summary in the output ({exc!r}); stdout {stdout[:500]!r}; {tail}"
        raise BenchError(msg) from None
    if cache["from_cache"]:
        raise BenchError(f"the posterior came from a cache ({cache['path']}): not a fit")
    if draws != DRAWS or prior != PRIOR or not variables:
        msg = f"unexpected summary: {draws} draws, prior {prior!r}, {len(variables)} variables"
        raise BenchError(msg)
    means = {v: float(s["mean"]) for v, s in variables.items()}
    return {"fit_seconds": float(cache["fit_seconds"]), "draws": draws, "means": means}


def cold_fit(src: Path, model: Path, cache: Path, compiledir: Path) -> dict[str, Any]:
    """One fit in a fresh process with the given caches: wall and CPU seconds, and what
    :func:`check_output` reads from its output."""
    env = fit_env(src, cache, compiledir)
    args = [sys.executable, "-c", _CHILD, *command(model)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(args, env=env, capture_output=True, text=True, cwd=model.parents[1])
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise BenchError(
            f"mkba-sim {' '.join(command(model))} (PYTHONPATH={src}) exited with "
            f"{proc.returncode}: {proc.stderr.strip()[-3000:]}"
        )
    user = after.ru_utime - before.ru_utime
    system = after.ru_stime - before.ru_stime
    return {
        "wall_seconds": wall,
        "cpu_seconds": user + system,
        "user_seconds": user,
        "sys_seconds": system,
        "load_average": os.getloadavg(),
        **check_output(proc.stdout, proc.stderr, src),
    }


def summarise(runs: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Medians of a version's runs."""
    keys = ("wall_seconds", "cpu_seconds", "fit_seconds")
    return {k: statistics.median(float(r[k]) for r in runs) for k in keys}


def measure(rounds: int, warm: bool, work: Path, log: Callable[[str], None]) -> dict[str, Any]:
    """Alternating cold fits of both versions, then (``warm``) one warm-compile fit each."""
    base = extract_baseline(work)
    if isinstance(base, str):
        return {"skipped": base}
    roots = {"baseline": base, "current": copy_current(work)}
    for root in roots.values():
        compile_bytecode(root / "src")
    cold: dict[str, list[dict[str, Any]]] = {v: [] for v in VERSIONS}
    compiledirs: dict[str, Path] = {}
    for rnd in range(rounds):
        # alternate which version goes first, so neither always follows the other
        order = VERSIONS if rnd % 2 == 0 else VERSIONS[::-1]
        for v in order:
            run_dir = work / f"{v}-cold-{rnd + 1}"
            compiledirs[v] = run_dir / "pytensor"
            log(f"  round {rnd + 1}: {v}, cold fit")
            row = cold_fit(roots[v] / "src", roots[v] / MODEL, run_dir / "cache", compiledirs[v])
            log(f"    {row['wall_seconds']:.1f} s wall, {row['cpu_seconds']:.1f} CPU-s")
            cold[v].append(row)
    out: dict[str, Any] = {
        "commit": BASELINE_COMMIT,
        "command": "mkba-sim " + " ".join(command(Path(MODEL))),
        "rounds": rounds,
        "cold": {v: {**summarise(cold[v]), "runs": cold[v]} for v in VERSIONS},
    }
    if warm:
        out["warm"] = {}
        for v in VERSIONS:
            log(f"  {v}: fit with the PyTensor compile directory of its last cold fit")
            cache = work / f"{v}-warm" / "cache"
            row = cold_fit(roots[v] / "src", roots[v] / MODEL, cache, compiledirs[v])
            log(f"    {row['wall_seconds']:.1f} s wall, {row['cpu_seconds']:.1f} CPU-s")
            out["warm"][v] = row
    out["ratio"] = ratios(out)
    return out


def ratios(res: Mapping[str, Any]) -> dict[str, float]:
    """Current / baseline of the cold fits' medians (and of the warm fits, if any)."""
    c, b = res["cold"]["current"], res["cold"]["baseline"]
    out = {
        "wall": c["wall_seconds"] / b["wall_seconds"],
        "cpu": c["cpu_seconds"] / b["cpu_seconds"],
        "fit": c["fit_seconds"] / b["fit_seconds"],
    }
    if "warm" in res:
        wc, wb = res["warm"]["current"], res["warm"]["baseline"]
        out["warm_wall"] = wc["wall_seconds"] / wb["wall_seconds"]
        out["warm_cpu"] = wc["cpu_seconds"] / wb["cpu_seconds"]
    return out


def targets(doc: Mapping[str, Any]) -> list[dict[str, str]]:
    """Issue 10's speed target as a same-run ratio (N/A when the baseline is missing)."""
    name = (
        f"cold fit ≤ {TARGET_SECONDS:.0f}/{BASELINE_SECONDS:.0f} = {TARGET_RATIO:.2f}× the "
        f"cold fit of commit {BASELINE_COMMIT}, wall time, same run"
    )
    res = doc["fit"]
    if "skipped" in res:
        return [bench.check(name, None, f"not measured: {res['skipped']}")]
    r = res["ratio"]
    c, b = res["cold"]["current"], res["cold"]["baseline"]
    detail = (
        f"{r['wall']:.2f}× ({c['wall_seconds']:.1f} s against {b['wall_seconds']:.1f} s, "
        f"medians of {res['rounds']}); CPU {r['cpu']:.2f}×; at the issue's 29 s that is "
        f"{r['wall'] * BASELINE_SECONDS:.1f} s"
    )
    return [bench.check(name, r["wall"] <= TARGET_RATIO, detail)]


def machine_info() -> dict[str, Any]:
    """Date, CPU, cores, memory and the versions that matter for a fit (read from the
    installed packages' metadata: importing PyTensor here would create its compile
    directory in the user's home)."""
    git = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "src", "models"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": bench.cpu_name(),
        "cores": os.cpu_count(),
        "memory_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
        "python": platform.python_version(),
        **{name: metadata.version(name) for name in ("numpy", "pymc", "pytensor", "arviz")},
        "cxx": shutil.which("g++") or "",
        "git_commit": git.stdout.strip(),
        "src_or_models_modified": bool(dirty.stdout.strip()),
    }


def _loads(xs: Sequence[float]) -> str:
    return ", ".join(f"{x:.2f}" for x in xs)


def report(doc: Mapping[str, Any]) -> str:
    """The human-readable report."""
    m = doc["machine"]
    out = [
        "mkba_sim cold Bayesian fit benchmark (issue 10): the recidivism model of "
        f"{MODEL}, prior {PRIOR}",
        f"{m['date']}; {m['cpu']}, {m['cores']} cores; load average at start "
        f"{_loads(doc['load_average_start'])}, at end {_loads(doc['load_average_end'])}",
        f"Python {m['python']}, numpy {m['numpy']}, PyMC {m['pymc']}, PyTensor "
        f"{m['pytensor']}, ArviZ {m['arviz']}; current code {m['git_commit']}"
        + (" (src or models modified)" if m["src_or_models_modified"] else ""),
        "",
    ]
    res = doc["fit"]
    if "skipped" in res:
        out.append(f"skipped: {res['skipped']}")
    else:
        out += [
            f"{res['command']}, fresh process, empty caches; baseline = commit "
            f"{res['commit']}; {res['rounds']} alternating rounds, medians",
            f"   {'':<22}{'wall s':>9}{'CPU s':>9}{'fit s':>9}",
        ]
        for kind in ("cold", "warm"):
            for v in VERSIONS:
                if kind not in res:
                    continue
                row = res[kind][v]
                label = f"{v}, {kind}" + (" compile" if kind == "warm" else "")
                out.append(
                    f"   {label:<22}{row['wall_seconds']:>9.1f}{row['cpu_seconds']:>9.1f}"
                    f"{row['fit_seconds']:>9.1f}"
                )
        r = res["ratio"]
        line = f"   current/baseline, cold: wall {r['wall']:.2f}×, CPU {r['cpu']:.2f}×"
        if "warm_wall" in r:
            line += f"; warm compile: wall {r['warm_wall']:.2f}×, CPU {r['warm_cpu']:.2f}×"
        out.append(line)
        walls = {v: [f"{x['wall_seconds']:.1f}" for x in res["cold"][v]["runs"]] for v in VERSIONS}
        out.append(
            "   every cold run, wall s: "
            + "; ".join(f"{v} {', '.join(w)}" for v, w in walls.items())
        )
    out += ["", "Targets"]
    out += [f"   [{c['status']}] {c['name']}: {c['detail']}" for c in doc["checks"]]
    return "\n".join(out)


def positive_int(text: str) -> int:
    """``--rounds``'s value: a whole number ≥ 1."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 1, got {text!r}")
    return n


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument(
        "--rounds",
        type=positive_int,
        default=2,
        help="alternating rounds, each one cold fit of each version (default 2)",
    )
    p.add_argument(
        "--warm",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also one fit of each with its compiled code kept (default: on)",
    )
    p.add_argument("--json", type=Path, help="also write every number to this JSON file")
    p.add_argument("--check", action="store_true", help="exit 1 if the target fails")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; exit status 1 with ``--check`` and a failed target, or when a
    fit fails."""
    args = parse_args(argv)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    work = Path(tempfile.mkdtemp(prefix="mkba_bench_bayes_"))
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "target_ratio": TARGET_RATIO,
        "load_average_start": os.getloadavg(),
    }
    try:
        doc["machine"] = machine_info()
        log(f"cold fits, current code against commit {BASELINE_COMMIT} ({work})")
        doc["fit"] = measure(args.rounds, args.warm, work, log)
    except BenchError as exc:
        log(f"FAILED: {exc}")
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return int(bench.finish(doc, args, targets, report, log))


if __name__ == "__main__":
    sys.exit(main())
