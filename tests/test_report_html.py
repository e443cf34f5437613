"""The HTML decision report, checked in a real browser (headless Debian chromium).

Each report is rendered, a probe script is added that records script errors and
measures the page, chromium loads it at A4 width (794 CSS px) and dumps the DOM; the test
then reads the probe's findings and the key figures from the dumped page and compares
them with the JSON documents of the same run. Without chromium the browser tests skip
with the reason, except under ``CI=true``, where they fail (``make browser`` installs it).

``MKBA_SIM_UPDATE_SCREENSHOTS=1`` also writes the first-page screenshots to ``docs/``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

import mkba_sim
from conftest import REPO, run_cli
from mkba_sim.report.locale import VERDICT_BANDS, Formatter, verdict
from mkba_sim.report.tables import analysis_tables, format_tables, run_tables

A4_WIDTH = 794  # CSS px: 210 mm at 96 dpi
A4_HEIGHT = 1123
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NAZORG = str(REPO / "models" / "nazorg_plus.toml")
RIB = str(REPO / "models" / "reclasseren_in_de_buurt.toml")
FAST = ("base", "variant_b", "variant_a_n12", "variant_b_n12")  # nazorg_plus without PyMC

PROBE_HEAD = """<script>
window.__errors = [];
window.addEventListener("error", function (e) { window.__errors.push(String(e.message)); });
(function () {
  var orig = console.error;
  console.error = function () {
    window.__errors.push(Array.prototype.join.call(arguments, " "));
    return orig.apply(console, arguments);
  };
})();
</script>"""

PROBE_BODY = """<script>
(function () {
  var out = {};
  try {
    JSON.parse(document.getElementById("mkba-data").textContent);
    out.figures = Array.prototype.map.call(document.querySelectorAll("figure"), function (f) {
      var s = f.querySelector("svg");
      var r = s ? s.getBoundingClientRect() : {width: 0, height: 0};
      return {name: f.getAttribute("data-figure"), width: r.width, height: r.height};
    });
    out.scrollWidth = document.documentElement.scrollWidth;
    out.clientWidth = document.documentElement.clientWidth;
    out.lang = document.documentElement.lang;
    out.wide = Array.prototype.filter.call(document.querySelectorAll("body *"), function (el) {
      return el.getBoundingClientRect().right > document.documentElement.clientWidth + 1;
    }).map(function (el) { return el.tagName + "#" + el.id; }).slice(0, 5);
  } catch (e) { window.__errors.push("probe: " + e.message); }
  out.errors = window.__errors;
  var pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"""


def _need_browser() -> str:
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed and CI=true: run `make browser` first")
        pytest.skip("chromium is not installed (apt-get install chromium, or `make browser`)")
    return CHROMIUM


def _chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    browser = _need_browser()
    cmd = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--disable-extensions",
        f"--user-data-dir={profile}",
        f"--window-size={A4_WIDTH},{A4_HEIGHT}",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


class _Page(HTMLParser):
    """Elements with an id or data- attributes, with their text, from a dumped DOM."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.by_id: dict[str, dict[str, Any]] = {}
        self.rows: list[dict[str, Any]] = []
        self._open: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        rec = {"tag": tag, "attrs": a, "text": ""}
        if tag in ("br", "img", "meta", "link", "input", "hr"):
            return
        self._open.append(rec)
        if a.get("id"):
            self.by_id[str(a["id"])] = rec
        if tag == "tr" and any(k.startswith("data-") for k in a):
            self.rows.append(rec)

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            rec = self._open.pop()
            if rec["tag"] == tag:
                break

    def handle_data(self, data: str) -> None:
        for rec in self._open:
            rec["text"] += data


def _text(rec: dict[str, Any]) -> str:
    return " ".join(rec["text"].split())


def _render(tmp: Path, model: str, lang: str, scenarios: tuple[str, ...] | None) -> Path:
    path = tmp / f"report-{Path(model).stem}-{lang}.html"
    html = mkba_sim.make_report(
        model,
        lang=lang,
        scenarios=scenarios,
        draws=50_000,
        analysis_draws=20_000,
        seed=3,
        out=path,
    )
    assert path.read_text(encoding="utf-8") == html
    return path


def _probe(path: Path, tmp: Path) -> tuple[dict[str, Any], _Page]:
    html = path.read_text(encoding="utf-8")
    probed = tmp / ("probed-" + path.name)
    probed.write_text(
        html.replace("<head>", "<head>" + PROBE_HEAD, 1).replace(
            "</body>", PROBE_BODY + "</body>", 1
        ),
        encoding="utf-8",
    )
    proc = _chromium("--dump-dom", probed.as_uri(), profile=tmp / "profile-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    page = _Page()
    page.feed(proc.stdout)
    assert "probe" in page.by_id, "the probe did not run: " + proc.stdout[:500]
    return json.loads(_text(page.by_id["probe"])), page


CASES = [
    # (model, lang, scenarios, phrase of that language, screenshot name)
    (NAZORG, "nl", None, "Kans op een positief saldo", "report-nazorg_plus-nl.png"),
    (NAZORG, "en", FAST, "Chance of a positive balance", "report-nazorg_plus-en.png"),
    (RIB, "nl", None, "Wie wint, wie betaalt?", None),
    (RIB, "en", None, "Who gains, who pays?", None),
]


@pytest.mark.parametrize(
    ("model", "lang", "scenarios", "phrase", "shot"),
    CASES,
    ids=[f"{Path(c[0]).stem}-{c[1]}" for c in CASES],
)
def test_report_in_browser(
    tmp_path: Path,
    model: str,
    lang: str,
    scenarios: tuple[str, ...] | None,
    phrase: str,
    shot: str | None,
) -> None:
    _need_browser()
    t0 = time.perf_counter()
    path = _render(tmp_path, model, lang, scenarios)
    seconds = time.perf_counter() - t0
    size = path.stat().st_size
    assert size <= 2 * 1024 * 1024, f"report is {size:,} bytes"
    html = path.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "external asset"
    probe, page = _probe(path, tmp_path)

    # no script errors; every figure laid out with a size; nothing wider than A4
    assert probe["errors"] == []
    assert len(probe["figures"]) >= 4
    for f in probe["figures"]:
        assert f["width"] > 100 and f["height"] > 50, f
    assert probe["scrollWidth"] <= probe["clientWidth"], probe["wide"]
    assert probe["clientWidth"] <= A4_WIDTH

    # the language
    assert probe["lang"] == lang
    assert phrase in " ".join(_text(r) for r in page.by_id.values()) or phrase in html
    other = "Kans op een positief saldo" if lang == "en" else "Chance of a positive balance"
    assert other not in html

    # key figures equal the JSON of the run they were made from, formatted per language
    data = json.loads(_text(page.by_id["mkba-data"]))
    run, analysis = data["run"], data["analysis"]
    main = next(iter(run["scenarios"]))
    s = run["scenarios"][main]
    fmt = Formatter(lang, run["model"]["currency"])
    p_el, net_el = page.by_id["p-positive"], page.by_id["net-mean"]
    assert float(p_el["attrs"]["data-value"]) == s["p_net_positive"]
    assert _text(p_el) == fmt.pct(s["p_net_positive"])
    assert float(net_el["attrs"]["data-value"]) == s["net"]["mean"]
    assert _text(net_el) == fmt.money(s["net"]["mean"])
    iv = page.by_id["net-interval"]["attrs"]
    assert [float(iv["data-low"]), float(iv["data-high"])] == s["net"]["interval90"]
    band, sentence = verdict(s["p_net_positive"], lang)
    assert page.by_id["verdict"]["attrs"]["data-band"] == band
    assert _text(page.by_id["verdict"]).startswith(sentence)
    assert float(page.by_id["evpi"]["attrs"]["data-value"]) == analysis["evpi"]["per_decision"]
    # the value of a follow-up study: from the main analysis, or from the scenario whose
    # inputs come from a Bayesian sub-model (nazorg_plus: bayesian); RIB has none
    evsi = (data["evsi_analysis"] or analysis)["evsi"]
    ev = page.by_id["evsi"]
    if evsi["available"]:
        assert float(ev["attrs"]["data-value"]) == evsi["sizes"][-1]["evsi"]
        assert fmt.money(evsi["sizes"][-1]["cost"]) in _text(ev)
        assert "enbs" in [f["name"] for f in probe["figures"]]
    else:
        assert "data-value" not in ev["attrs"] and "EVSI" in _text(ev)
    assert evsi["available"] == (Path(model).stem == "nazorg_plus" and scenarios is None)
    assert (
        float(page.by_id["break-even"]["attrs"]["data-value"])
        == (analysis["break_even"]["cost_mean"])
    )
    if lang == "nl":  # Dutch separators: 12,3% and 1.234
        assert re.fullmatch(r"\d{1,3},\d%", _text(p_el))
        assert "." in _text(net_el) or abs(s["net"]["mean"]) < 1000
    else:
        assert re.fullmatch(r"\d{1,3}\.\d%", _text(p_el))
    rows = {r["attrs"]["data-scenario"]: r for r in page.rows if "data-scenario" in r["attrs"]}
    assert list(rows) == list(run["scenarios"])  # every scenario, in order
    for name, r in rows.items():
        assert float(r["attrs"]["data-net-mean"]) == run["scenarios"][name]["net"]["mean"]
    stake = [r for r in page.rows if "data-stakeholder" in r["attrs"]]
    assert [r["attrs"]["data-stakeholder"] for r in stake] == list(s["stakeholders"])
    # the three inputs that matter most, from the tornado
    drivers = page.by_id.get("drivers")
    if analysis["tornado"]:
        assert drivers is not None
        top = [r["input"].replace("_", " ") for r in analysis["tornado"][:3]]
        assert all(name in _text(drivers) for name in top)
    # PM items and the assumptions table
    m = mkba_sim.load_model(model)
    for pm in m.pm:
        assert pm.name in html
    inputs = [
        r["attrs"]["data-input"]
        for r in page.rows
        if "data-input" in r["attrs"] and r["tag"] == "tr"
    ]
    assert inputs == list(m.scenarios[main].parameters)
    assert run["model"]["sha256"] in _text(page.by_id["provenance"])
    if any(p.get("model") for p in run["posteriors"]):
        assert "posterior-1" in page.by_id
        assert "R-hat" in _text(page.by_id["posterior-1"])

    if shot is not None:  # the first page as a reader sees it, and the printed PDF
        target = tmp_path / shot
        proc = _chromium(f"--screenshot={target}", path.as_uri(), profile=tmp_path / "p2")
        assert proc.returncode == 0 and target.stat().st_size > 20_000, proc.stderr[-500:]
        assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        if os.environ.get("MKBA_SIM_UPDATE_SCREENSHOTS") == "1":
            shutil.copy(target, REPO / "docs" / shot)
        pdf = tmp_path / "report.pdf"
        proc = _chromium(
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf}",
            path.as_uri(),
            profile=tmp_path / "p3",
        )
        assert proc.returncode == 0, proc.stderr[-500:]
        assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 20_000
    print(f"{Path(model).stem} {lang}: report {seconds:.1f} s, {size / 1024:.0f} kB")


def test_report_figures_match_a_plain_run(tmp_path: Path) -> None:
    """The page's figures are those of ``mkba_sim.simulate`` with the same seed and draws."""
    steps: list[str] = []
    html = mkba_sim.make_report(
        NAZORG,
        lang="en",
        scenarios=("variant_b",),
        draws=20_000,
        analysis_draws=5_000,
        seed=9,
        on_step=steps.append,
    )
    assert steps == ["simulate", "analyse", "render"]
    res = mkba_sim.simulate(NAZORG, draws=20_000, seed=9, scenarios=["variant_b"])
    s = res.summary("variant_b")
    page = _Page()
    page.feed(html)
    assert float(page.by_id["p-positive"]["attrs"]["data-value"]) == s["p_net_positive"]
    assert float(page.by_id["net-mean"]["attrs"]["data-value"]) == s["net"]["mean"]


# --- formats, verdicts, tables, CLI (no browser) ----------------------------------------


def test_number_formats_per_language() -> None:
    nl, en = Formatter("nl"), Formatter("en")
    assert nl.number(1_234_567) == "1.234.567"
    assert en.number(1_234_567) == "1,234,567"
    assert nl.pct(0.123) == "12,3%"
    assert en.pct(0.123) == "12.3%"
    assert nl.money(-36_125.4) == "€ -36.125"
    assert en.money(-36_125.4) == "-€36,125"
    assert nl.money(-0.3) == "€ 0"
    assert nl.number(float("nan")) == "n.v.t." and en.money(None) == "n/a"
    assert nl.number(1.2961, 2) == "1,30"
    with pytest.raises(ValueError, match="unknown language"):
        Formatter("de")


@pytest.mark.parametrize(
    ("p", "band"),
    [
        (1.0, "almost_certain"),
        (0.95, "almost_certain"),
        (0.9499, "probable"),
        (0.80, "probable"),
        (0.5, "uncertain"),
        (0.20, "uncertain"),
        (0.1999, "improbable"),
        (0.05, "improbable"),
        (0.01, "almost_certainly_not"),
        (0.0, "almost_certainly_not"),
        (None, "undefined"),
    ],
)
def test_verdict_thresholds(p: float | None, band: str) -> None:
    assert verdict(p, "nl")[0] == band
    assert verdict(p, "en")[0] == band
    assert VERDICT_BANDS[0][1] == "almost_certain"


def test_verdict_wording() -> None:
    assert verdict(0.5, "nl")[1] == "Het is onzeker of de baten de kosten overtreffen"
    assert verdict(0.97, "nl")[1] == "De baten overtreffen vrijwel zeker de kosten"
    assert verdict(0.85, "en")[1] == "The benefits probably exceed the costs"


@pytest.fixture(scope="module")
def small_run() -> Any:
    return mkba_sim.simulate(NAZORG, draws=10_000, seed=1, scenarios=["base", "variant_b"])


def test_tables_md_and_csv(small_run: Any) -> None:
    import csv
    import io

    tables = run_tables(small_run)
    md = format_tables(tables, "md")
    assert md.startswith("### summary")
    assert "| base |" in md and "| variant_b |" in md
    text = format_tables(tables, "csv")
    summary_block = text.split("\n\n")[0]
    rows = list(csv.DictReader(io.StringIO(summary_block)))
    s = small_run.summary("base")
    assert rows[0]["scenario"] == "base"
    assert float(rows[0]["net"]) == pytest.approx(s["net"]["mean"], abs=0.006)
    assert float(rows[0]["p_net_positive"]) == pytest.approx(s["p_net_positive"], rel=1e-5)
    with pytest.raises(ValueError, match="unknown table format"):
        format_tables(tables, "xlsx")


def test_analysis_tables() -> None:
    a = mkba_sim.analyse(
        NAZORG,
        draws=5_000,
        seed=1,
        options=mkba_sim.AnalysisOptions(
            tornado_draws=2**11, global_sensitivity=False, sweep_points=3
        ),
    )
    tables = analysis_tables(a)
    assert [t.title for t in tables] == ["summary", "tornado", "stakeholders", "perspectives"]
    persp = dict((r[0], r[1]) for r in tables[3].rows)
    stake = dict((r[0], r[1]) for r in tables[2].rows)
    assert persp["municipal"] == pytest.approx(
        stake["municipalities"] + stake["municipalities (welfare)"]
    )
    tornado = tables[1]
    assert [r[0] for r in tornado.rows] == [str(x) for x in a.dataset["input"].values]
    md = format_tables(tables, "md")
    assert "### tornado" in md
    opts = mkba_sim.AnalysisOptions(
        tornado_draws=2**10, global_sensitivity=False, sweep_points=2, evsi_sizes=(12, 69)
    )
    b = mkba_sim.analyse(NAZORG, scenario="bayesian", draws=5_000, seed=1, options=opts)
    tables = analysis_tables(b)
    titles = [t.title for t in tables]
    assert titles == ["summary", "tornado", "stakeholders", "perspectives", "evsi"]
    evsi = b.to_dict()["evsi"]["sizes"]
    rows = tables[titles.index("evsi")].rows
    assert [r[0] for r in rows] == ["12", "69"]
    assert [r[5] for r in rows] == [r["enbs"] for r in evsi]
    assert "### evsi" in format_tables(tables, "md")


def test_cli_formats_and_report(tmp_path: Path) -> None:
    out = run_cli(
        "run", NAZORG, "--draws", "5000", "--seed", "1", "--scenario", "base", "--format", "csv"
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("scenario,benefits,costs,net,")
    target = tmp_path / "sub" / "r.html"
    out = run_cli(
        "report",
        RIB,
        "--lang",
        "en",
        "--draws",
        "5000",
        "--analysis-draws",
        "2000",
        "--out",
        str(target),
    )
    assert out.returncode == 0, out.stderr
    assert "Report written to" in out.stdout
    assert '<html lang="en">' in target.read_text(encoding="utf-8")
    assert not list(target.parent.glob(".*.part"))  # written atomically


def test_cli_report_bad_input_is_one_line(tmp_path: Path) -> None:
    out = run_cli("report", NAZORG, "--scenario", "nope", "--out", str(tmp_path / "x.html"))
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert "nope" in out.stderr
    assert not (tmp_path / "x.html").exists()
    missing = run_cli("report", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "y.html"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
