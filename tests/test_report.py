"""The HTML report (model/report): self-contained, answer first, and it renders in a real browser."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from model.cli import app
from model.report import ReportError, build_report, headline, sweep_headline
from model.scenario import load_scenario
from model.sim import simulate

TIMEOUT = "services.support.transfer_timeout"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def small_scenario():
    return load_scenario("scenarios/baseline.toml").with_changes(
        {"simulation.horizon": 3600, "simulation.warmup": 600}
    )


@pytest.fixture(scope="module")
def result():
    return simulate(small_scenario(), replications=3)


@pytest.fixture(scope="module")
def sweep() -> pd.DataFrame:
    from model.experiments import sweep as run

    return run(small_scenario(), vary={TIMEOUT: [30, 60, 90]}, replications=3, executor="serial")


@pytest.fixture(scope="module")
def report(result, tmp_path_factory) -> Path:
    return build_report(result, tmp_path_factory.mktemp("report") / "baseline", target=0.1)


def external_refs(html: str) -> list[str]:
    refs = re.findall(r"""(?:src|href|srcset|action|poster|data)\s*=\s*["']([^"']*)["']""", html, re.I)
    refs += re.findall(r"""url\(\s*["']?([^"')]*)""", html, re.I)
    refs += re.findall(r"@import", html)
    return [r for r in refs if not r.startswith("data:") and not r.startswith("#")]


def test_report_is_one_self_contained_file_with_pngs_beside(report: Path) -> None:
    html = report.read_text()
    assert report.name == "index.html"
    assert external_refs(html) == []
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']//""", html)
    images = re.findall(r"""<img src="([^"]+)\"""", html)
    assert len(images) >= 4
    assert all(i.startswith("data:image/png;base64,") for i in images)
    for name in ("time_to_join.png", "outcomes.png", "timeline.png", "statechart.png"):
        assert (report.parent / name).read_bytes()[:4] == b"\x89PNG"
    assert "<script" not in html and "<link" not in html


def test_report_opens_with_the_answer_then_scenario_charts_tables(report: Path, result) -> None:
    html = report.read_text()
    answer = html.index('id="answer"')
    assert answer < html.index('id="scenario"') < html.index('id="charts"') < html.index('id="tables"')
    first = re.search(r'id="answer">\s*<p>([^<]+)</p>', html).group(1)
    mean, lo, hi = result.metric("transfer_abandonment_rate", "target", "billing")
    assert first.startswith("With a 60 s timeout, ")
    assert f"{100 * mean:.1f} % ({100 * max(lo, 0):.1f}–{100 * min(hi, 1):.1f} %) of transfers to billing" in first
    assert "expire or are abandoned" in first
    assert "bottleneck" in html


def test_headline_names_each_target_and_the_bottleneck(result) -> None:
    lines = headline(result)
    assert "transfers to billing" in lines[0] and "transfers to tech" in lines[0]
    assert lines[1].startswith("The bottleneck is ")


def test_sweep_headline_compares_timeouts(sweep) -> None:
    sc = small_scenario()
    lines = sweep_headline(sweep, sc, key="billing")
    sel = sweep[(sweep.scope == "target") & (sweep.key == "billing") & (sweep.metric == "transfer_abandonment_rate")]
    at90 = sel[sel[TIMEOUT] == 90].iloc[0]
    assert lines[0].startswith("With a 60 s timeout, ")
    assert f"90 s brings that to {100 * at90['mean']:.1f} %" in lines[0]


def test_sweep_report_has_the_sweep_chart_and_table(sweep, tmp_path) -> None:
    index = build_report(small_scenario(), tmp_path / "sw", sweep=sweep, target=0.2)
    html = index.read_text()
    assert (tmp_path / "sw" / "sweep.png").exists()
    assert "90 s brings that to" in html
    assert "<h3>Sweep</h3>" in html
    assert external_refs(html) == []


def test_report_command_reads_a_run_folder(result, tmp_path) -> None:
    result.to_parquet(tmp_path / "run")
    out = CliRunner().invoke(app, ["report", str(tmp_path / "run"), "--out", str(tmp_path / "rep")])
    assert out.exit_code == 0, out.output
    assert (tmp_path / "rep" / "index.html").exists()


def test_report_command_rejects_a_folder_without_results(tmp_path) -> None:
    out = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert out.exit_code == 2
    with pytest.raises(ReportError):
        build_report(tmp_path)


def test_run_report_defaults_to_reports_name(tmp_path, monkeypatch) -> None:
    scen = tmp_path / "s.toml"
    scen.write_text(Path("scenarios/baseline.toml").read_text().replace('horizon = "8h"', 'horizon = "1h"'))
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(app, ["run", str(scen), "-r", "2", "--report"])
    assert out.exit_code == 0, out.output
    name = load_scenario(scen).name
    assert (tmp_path / "reports" / name / "index.html").exists()
    assert (tmp_path / "reports" / name / "run.json").exists()


@pytest.mark.requires_tool("chromium", "chromium-browser", hint="run 'make system-deps' as root to install it")
def test_report_renders_in_headless_chromium(report: Path, tmp_path) -> None:
    shot = tmp_path / "shot.png"
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1280,2000",
        report.resolve().as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert shot.exists(), proc.stderr[-2000:]
    import matplotlib.image as mpimg

    img = mpimg.imread(shot)
    assert img.shape[0] >= 1000 and img.shape[1] >= 1000
    rgb = (img[..., :3] * 255).astype(np.uint8).reshape(-1, 3)
    assert rgb.std() > 20, "the screenshot is blank"
    colours = np.unique(rgb[:: 7], axis=0)
    assert len(colours) > 50, f"only {len(colours)} colours: nothing drawn"
    # the chart colours (Okabe-Ito blue and orange) appear on the page
    def near(hex_: str) -> bool:
        target = np.array([int(hex_[i : i + 2], 16) for i in (1, 3, 5)])
        return bool((np.abs(rgb.astype(int) - target).sum(axis=1) < 30).sum() > 200)

    assert near("#0072B2") and near("#E69F00")


# -- a sweep with failed points ------------------------------------------------------------------
AGENTS = "groups.billing.agents"


def _fails_at_90_4(scenario, seed, reps):
    from model.experiments.sweeps import run_chunk
    from model.lifecycle import EventNotAllowed

    if scenario.services[0].transfer_timeout == 90 and scenario.group("billing").agents == 4:
        raise EventNotAllowed("offer", "abandoned_transfer", "x")
    return run_chunk(scenario, seed, reps)


REASON = "EventNotAllowed: event &#39;offer&#39; is not allowed in state &#39;abandoned_transfer&#39;: x"


@pytest.fixture(scope="module")
def failed_sweep(tmp_path_factory):
    from model.experiments import SweepFailed, run_sweep

    out = tmp_path_factory.mktemp("failed") / "store"
    with pytest.raises(SweepFailed) as info:
        run_sweep(small_scenario(), {TIMEOUT: [30, 90], AGENTS: [3, 4]}, 2, executor="serial", progress=False,
                  chunk_fn=_fails_at_90_4, out=out)
    return info.value.result


def _check_failed_report(html: str) -> None:
    first = re.search(r'id="answer">\s*<p>([^<]+)</p>', html).group(1)
    assert first.startswith("1 of 4 points failed")
    # the table: the failed point's figures read "failed", the others are numbers
    rows = re.findall(r"<tr>(<td[^\n]*)</tr>", html[html.index("<h3>Sweep</h3>"):])
    failed = [r for r in rows if "failed" in r]
    assert len(failed) == 1 and re.findall(r"<td[^>]*>([^<]*)</td>", failed[0]) == ["90", "4", "failed", "failed", "failed"]
    assert failed[0].count('class="num failed"') == 3
    assert len(rows) == 4
    # the list of failed points, with the reason, under the charts
    listed = html.index('id="failed-points"')
    assert html.index('id="fig-heatmap"') < listed < html.index('id="tables"')
    section = html[listed: html.index("</section>", listed)]
    assert "p0003" in section and f"{TIMEOUT} = 90, {AGENTS} = 4" in section and REASON in section


def test_a_sweep_report_marks_failed_points_and_says_why(failed_sweep, tmp_path) -> None:
    index = build_report(small_scenario(), tmp_path / "rep", sweep=failed_sweep.summary,
                         failures=failed_sweep.failures, target=0.1)
    _check_failed_report(index.read_text())
    assert (tmp_path / "rep" / "heatmap.png").exists()


def test_a_sweep_folder_report_reads_its_failures(failed_sweep, tmp_path) -> None:
    index = build_report(failed_sweep.out, tmp_path / "rep")
    _check_failed_report(index.read_text())


def test_the_heat_map_draws_a_failed_cell_grey_with_the_word(failed_sweep) -> None:
    from model.report import _failed_heatmap

    fig = _failed_heatmap(failed_sweep.summary, failed_sweep.failures, TIMEOUT, AGENTS,
                          metric="transfer_abandonment_rate", scope="target", key="billing", target=None, fixed=None)
    ax = fig.axes[0]
    words = [t.get_position() for t in ax.texts if t.get_text() == "failed"]
    assert words == [(1, 1)]  # x = 90 (second column), y = 4 agents (second row)
    numbers = [t.get_position() for t in ax.texts if t.get_text().endswith("%")]
    assert sorted(numbers) == [(0, 0), (0, 1), (1, 0)]
    grey = [p for p in ax.patches if p.get_hatch() == "///"]
    assert len(grey) == 1 and grey[0].get_xy() == (0.5, 0.5) and grey[0].get_zorder() > max(t.get_zorder() for t in ax.texts if t.get_text().endswith("%"))
    assert "1 point failed" in ax.get_title()


def test_a_report_without_failures_mentions_none(sweep, tmp_path) -> None:
    html = build_report(small_scenario(), tmp_path / "ok", sweep=sweep, failures=[]).read_text()
    assert "points failed" not in html and 'id="failed-points"' not in html and "num failed" not in html
