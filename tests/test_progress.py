"""Progress reporting: the :class:`mkba_sim.workflow.ProgressCallback` events of a run, an
analysis, a Bayesian fit and a report, in order; and the CLI's display on stderr, which
never reaches stdout (JSON and tables stay valid) and is silenced by ``--quiet``."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import mkba_sim
from conftest import REPO, run_cli
from mkba_sim.analysis.decision import AnalysisOptions, uncertain_inputs
from mkba_sim.workflow import PROGRESS_STEPS

RECLASSEREN = REPO / "models" / "reclasseren_in_de_buurt.toml"
NAZORG = REPO / "models" / "nazorg_plus.toml"

Event = tuple[str, int, int, str]


class Recorder:
    """A ProgressCallback that keeps every event."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, step: str, done: int, total: int, detail: str) -> None:
        assert isinstance(detail, str)
        self.events.append((step, done, total, detail))

    def steps(self) -> list[str]:
        """The steps in the order they started (``done == 0``)."""
        return [s for s, d, _, _ in self.events if d == 0]

    def of(self, step: str) -> list[Event]:
        return [e for e in self.events if e[0] == step]


def _check_step(events: list[Event]) -> None:
    """One run of a step: starts at 0, counts up (never down), ends with done == total."""
    assert events, "step never reported"
    assert events[0][1] == 0
    done = [e[1] for e in events]
    assert done == sorted(done)
    assert events[-1][1] == events[-1][2]
    assert all(e[1] <= e[2] for e in events)


def test_every_step_is_documented() -> None:
    steps = ("compile", "draws", "fit", "posterior", "tornado", "evppi", "sobol", "sweep", "evsi")
    for step in steps:
        assert step in PROGRESS_STEPS


def test_run_reports_compile_then_draws_chunk_by_chunk() -> None:
    rec = Recorder()
    n = 5 * 4096 + 17
    mkba_sim.simulate(RECLASSEREN, draws=n, seed=3, chunk_size=4096, on_progress=rec)
    assert rec.steps() == ["compile", "draws"]
    assert rec.of("compile")[0] == ("compile", 0, 1, "numba")
    assert [e[1:3] for e in rec.of("compile")] == [(0, 1), (1, 1)]
    draws = rec.of("draws")
    _check_step(draws)
    assert [e[1] for e in draws] == [0, 4096, 8192, 12288, 16384, 20480, n]
    assert {e[2] for e in draws} == {n}
    # compile ends before the first draw is reported
    assert rec.events.index(("compile", 1, 1, rec.of("compile")[1][3])) < rec.events.index(draws[0])


def test_a_run_stopped_by_a_precision_target_ends_its_draws_step() -> None:
    rec = Recorder()
    res = mkba_sim.simulate(
        RECLASSEREN, draws=200 * 4096, seed=3, chunk_size=8192, target_mcse_p=0.05, on_progress=rec
    )
    made = int(res.dataset.attrs["n_draws"])
    assert made < 200 * 4096  # the target is loose: the run stops early
    assert rec.of("draws")[-1][1:3] == (made, made)
    _check_step(rec.of("draws"))


def test_analyse_reports_the_base_run_then_each_step_in_order() -> None:
    rec = Recorder()
    opt = AnalysisOptions(tornado_draws=4096, sobol_draws=4096, sweep_points=4, sobol_resamples=9)
    mkba_sim.analyse(RECLASSEREN, draws=8192, seed=2, options=opt, on_progress=rec)
    # the reruns report nothing of their own: one compile, one drawing (the base run)
    assert rec.steps() == ["compile", "draws", "tornado", "evppi", "sobol", "sweep"]
    model = mkba_sim.load_model(RECLASSEREN)
    k = len(uncertain_inputs(model, "base"))
    groups = len({i.group for i in uncertain_inputs(model, "base")})
    for step, total in (("tornado", 2 * k + 1), ("evppi", k), ("sobol", 2 + groups)):
        events = rec.of(step)
        _check_step(events)
        assert [e[1] for e in events] == list(range(total + 1)), step
        assert {e[2] for e in events} == {total}
    names = {i.name for i in uncertain_inputs(model, "base")}
    assert {e[3] for e in rec.of("evppi")[1:]} == names
    sweep = rec.of("sweep")
    _check_step(sweep)
    assert sweep[-1][2] <= 4


def test_analyse_reports_the_evsi_bound_and_each_study_size() -> None:
    rec = Recorder()
    opt = AnalysisOptions(
        tornado_draws=2**10, global_sensitivity=False, sweep_points=2, evsi_sizes=(12, 30, 69)
    )
    mkba_sim.analyse(NAZORG, scenario="bayesian", draws=5_000, seed=1, options=opt, on_progress=rec)
    evsi = rec.of("evsi")
    _check_step(evsi)
    assert [e[1] for e in evsi] == [0, 1, 2, 3, 4]
    assert [e[3] for e in evsi[2:]] == ["n = 12", "n = 30", "n = 69"]
    assert rec.steps()[-1] == "evsi"


def test_analyse_without_sobol_reports_no_sobol_step() -> None:
    rec = Recorder()
    opt = AnalysisOptions(tornado_draws=4096, sweep_points=3, global_sensitivity=False)
    mkba_sim.analyse(RECLASSEREN, draws=4096, seed=2, options=opt, on_progress=rec)
    assert "sobol" not in rec.steps()
    assert rec.steps()[-1] == "sweep"


def test_bayes_fit_reports_every_nuts_draw_then_the_cache_reports_none(tmp_path: Path) -> None:
    from mkba_sim.bayes import SamplerSettings
    from mkba_sim.fitting import fit_or_load

    tiny = SamplerSettings(draws=15, tune=10, chains=2, cores=1)
    kwargs = {"cache_dir": tmp_path, "data_dir": REPO / "models" / "data", "strict": False}
    rec = Recorder()
    with pytest.warns(RuntimeWarning, match="convergence"):  # 15 draws: not strict
        fit_or_load("nazorg_plus_recidivism", settings=tiny, on_progress=rec, **kwargs)
    assert rec.steps() == ["posterior", "fit"]
    assert rec.events[0] == ("posterior", 0, 1, "nazorg_plus_recidivism (prior mixture)")
    fit = rec.of("fit")
    total = 2 * (15 + 10)
    assert [e[1] for e in fit] == list(range(total + 1))  # every draw of every chain
    assert {e[2] for e in fit} == {total}
    assert sum("tuning" in e[3] for e in fit) == 2 * 10
    assert {e[3].split()[1] for e in fit[1:]} == {"1/2", "2/2"}
    assert rec.events[-1] == ("posterior", 1, 1, "fitted")

    again = Recorder()
    with pytest.warns(RuntimeWarning, match="convergence"):
        fit_or_load("nazorg_plus_recidivism", settings=tiny, on_progress=again, **kwargs)
    assert again.events == [
        ("posterior", 0, 1, "nazorg_plus_recidivism (prior mixture)"),
        ("posterior", 1, 1, "from cache"),
    ]


def test_report_reports_its_parts_around_the_simulation_and_analysis(tmp_path: Path) -> None:
    rec = Recorder()
    names: list[str] = []
    mkba_sim.make_report(
        RECLASSEREN,
        lang="en",
        draws=8192,
        analysis_draws=4096,
        out=tmp_path / "r.html",
        on_step=names.append,
        on_progress=rec,
    )
    assert names == ["simulate", "analyse", "render"]
    parts = rec.of("report")
    assert [e[1:] for e in parts] == [
        (0, 3, "simulate"),
        (1, 3, "analyse"),
        (2, 3, "render"),
        (3, 3, ""),
    ]
    order = [e[0] for e in rec.events if e[1] == 0 or e[0] == "report"]
    first_analysis = order.index("tornado")
    assert order.index("report") == 0
    assert "draws" in order[:first_analysis]  # the simulation before the analysis
    assert rec.events[-1] == ("report", 3, 3, "")


# --- the CLI --------------------------------------------------------------------------------


def test_cli_forced_progress_goes_to_stderr_and_json_stays_valid() -> None:
    args = ("--draws", "50000", "--seed", "1", "--json", "--progress")
    proc = run_cli("run", str(RECLASSEREN), *args)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # nothing but the JSON on stdout
    assert doc["run"]["draws"] == 50_000
    assert "compiling the kernel" in proc.stderr
    assert "drawing" in proc.stderr
    assert "\x1b[" not in proc.stdout


def test_cli_without_a_terminal_shows_no_progress_and_quiet_wins() -> None:
    plain = run_cli("analyse", str(RECLASSEREN), "--draws", "4096", "--no-sobol", "--format", "csv")
    assert plain.returncode == 0, plain.stderr
    assert plain.stderr == ""  # stderr is a pipe here: no progress unless forced
    assert "\x1b[" not in plain.stdout
    assert plain.stdout.splitlines()[0].count(",") >= 1  # CSV tables
    both = run_cli("run", str(RECLASSEREN), "--quiet", "--progress")
    assert both.returncode == 2
    assert "not allowed with" in both.stderr


def test_cli_progress_display_removes_finished_steps() -> None:
    from mkba_sim.cli import _Progress

    with _Progress(show=True, force=True) as p:
        p("compile", 0, 1, "numba")
        p("draws", 0, 10, "")
        assert set(p.tasks) == {"compile", "draws"}
        p("compile", 1, 1, "0.1 s")
        p("draws", 5, 10, "")
        assert set(p.tasks) == {"draws"}
        p("draws", 10, 10, "")
        assert p.tasks == {}
    assert p.bar is None
    quiet = _Progress(show=True, force=True, quiet=True)
    quiet("draws", 0, 10, "")
    assert quiet.bar is None


def test_rich_is_imported_only_by_the_cli() -> None:
    src = REPO / "src" / "mkba_sim"
    for path in src.rglob("*.py"):
        if path.name == "cli.py" and path.parent == src:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            mods = []
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                mods = [node.module]
            assert not any(m.split(".")[0] == "rich" for m in mods), path


def test_cli_progress_shows_names_with_brackets_verbatim(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from mkba_sim.cli import _Progress

    with _Progress(show=True, force=True) as p:  # rich writes to the (captured) stderr
        p("evppi", 0, 3, "")
        p("evppi", 1, 3, "exposure[case 3]")
        p.bar.refresh()
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "EVPPI per input: exposure[case 3]" in captured.err
    assert "1/3" in captured.err


def test_cli_time_estimate_of_a_long_run_and_quiet_silences_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import time

    from mkba_sim.cli import _Progress

    total = 10**12  # one draw per millisecond: hours left, far above the 30 s threshold
    for quiet in (False, True):
        p = _Progress(show=False, quiet=quiet)
        p("draws", 0, total, "")
        time.sleep(0.01)
        p("draws", 1, total, "")
        p("draws", 2, total, "")  # announced once
        err = capsys.readouterr().err
        if quiet:
            assert err == ""
        else:
            assert err.count("will take about") == 1 and "Ctrl-C" in err
