"""The HTML report (model/report): self-contained, answer first, and it renders in a real browser."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
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


# -- reading a report back: the stdlib HTML parser, no scraping by regular expression ----------------
class ReportPage(HTMLParser):
    """What a reader sees in a report: the opening sentences (``answer``), the line under the title
    (``sub``) and every table as ``{"title": the h3 above it, "header": [...], "rows": [[...], ...]}``
    (cell texts with entities decoded and whitespace collapsed)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.answer: list[str] = []
        self.sub = ""
        self.tables: list[dict] = []
        self._h3: str | None = None
        self._last_h3 = ""
        self._text: list[str] | None = None  # the buffer of the element being read
        self._in_answer = False
        self._what = ""
        self._row: list[str] | None = None
        self._row_kind = ""
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section" and a.get("id") == "answer":
            self._in_answer = True
        elif tag == "p" and (self._in_answer or a.get("class") == "sub"):
            self._text, self._what = [], "answer" if self._in_answer else "sub"
        elif tag == "h3":
            self._text, self._what = [], "h3"
        elif tag == "table":
            self.tables.append({"title": self._last_h3, "header": [], "rows": []})
        elif tag == "tr":
            self._row, self._row_kind = [], ""
        elif tag in ("td", "th") and self._row is not None:
            self._text, self._what = [], tag
            self._row_kind = "td" if tag == "td" else (self._row_kind or "th")  # a header row has no td

    def handle_endtag(self, tag: str) -> None:
        closes = {"answer": "p", "sub": "p"}.get(self._what, self._what)
        if self._text is not None and tag == closes:
            text = " ".join("".join(self._text).split())
            self._text = None
            if self._what == "answer":
                self.answer.append(text)
            elif self._what == "sub":
                self.sub = text
            elif self._what == "h3":
                self._last_h3 = text
            else:
                self._row.append(text)
        elif tag == "section":
            self._in_answer = False
        elif tag == "tr" and self._row is not None and self.tables:
            t = self.tables[-1]
            if self._row_kind == "th" and not t["header"] and not t["rows"]:
                t["header"] = self._row
            else:
                t["rows"].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)

    def table(self, title: str) -> dict:
        found = [t for t in self.tables if t["title"] == title]
        assert len(found) == 1, f"expected one table titled {title!r}, found {[t['title'] for t in self.tables]}"
        return found[0]


def read_report(index: Path) -> ReportPage:
    return ReportPage(index.read_text(encoding="utf-8"))


# How the report shows a number (the documented formats: percentages clipped to 0-100 % with one
# decimal, seconds with one decimal, counts with one decimal under 100 and none from 100, ratios
# with two), written out here so the test does not borrow the report module's own helpers.
FIGURES = {
    "arrivals": "n", "completed": "n", "transfers_requested": "n", "transfers_accepted": "n",
    "transfer_abandonment_rate": "%", "transfer_success_rate": "%", "transfer_service_level": "%",
    "time_to_join_mean": "s", "time_to_join_p90": "s", "queue_abandonment_rate": "%",
    "abandonment_rate": "%", "service_level": "%", "wait_mean": "s", "rejects_per_transfer": "x",
    "offers_per_transfer": "x",
}
# how transfer requests ended, listed after the success row (model/results/outcomes.py)
OUTCOME_ROWS = ("transfer_joined_share", "transfer_returned_share", "transfer_expired_share", "transfer_left_share")


def shown(v: float, kind: str) -> str:
    if v != v:
        return "-"
    if kind == "%":
        return f"{100 * min(max(v, 0.0), 1.0):.1f} %"
    if kind == "s":
        return f"{v:.1f} s"
    if kind == "n":
        return f"{v:,.1f}" if abs(v) < 100 else f"{v:,.0f}"
    return f"{v:.2f}"


def pct(v: float) -> str:
    return f"{100 * min(max(v, 0.0), 1.0):.1f}"


def pct_ci(mean: float, lo: float, hi: float) -> str:
    """The headline's "7.2 % (6.5–7.9 %)"."""
    return f"{pct(mean)} % ({pct(lo)}–{pct(hi)} %)"


def figure_row(frame: pd.DataFrame, scope: str, key: str, metric: str) -> pd.Series | None:
    """One row of a tidy metrics frame, read directly (not through SimulationResult.metric)."""
    sel = frame[(frame["scope"] == scope) & (frame["key"].astype(str) == key) & (frame["metric"] == metric)]
    assert len(sel) <= 1, (scope, key, metric)
    return None if sel.empty else sel.iloc[0]


def mean_ci(frame: pd.DataFrame, scope: str, key: str, metric: str) -> tuple[float, float, float]:
    r = figure_row(frame, scope, key, metric)
    assert r is not None, (scope, key, metric)
    return float(r["mean"]), float(r["ci_low"]), float(r["ci_high"])


def transfer_targets(frame: pd.DataFrame) -> list[str]:
    """The targets that received transfers, most transfers first (the report's column order)."""
    sel = frame[(frame.scope == "target") & (frame.metric == "transfers_requested") & (frame["mean"] > 0)]
    return [str(k) for k in sel.sort_values("mean", ascending=False, kind="stable")["key"]]


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
    assert answer < html.index('id="scenario"') < html.index('id="charts"') < html.index('id="tables"') \
        < html.index('id="meanings"') < html.index('id="appendix"') < html.index('id="fig-statechart"')
    first = read_report(report).answer[0]
    # the interval read from the metrics frame itself, clipped to 0-100 % as the report promises
    m = result.metrics
    row = m[(m.scope == "target") & (m.key == "billing") & (m.metric == "transfer_abandonment_rate")].iloc[0]
    lo, hi = max(row["ci_low"], 0.0), min(row["ci_high"], 1.0)
    assert first.startswith("As configured, with the 60 s transfer timeout, ")
    assert f"{100 * row['mean']:.1f} % ({100 * lo:.1f}–{100 * hi:.1f} %) of transfers to billing" in first
    assert "are lost before an agent joins" in first
    assert "bottleneck" in html


def outcome_shares(result, target: str) -> dict[str, tuple[float, float, float]]:
    """How the transfers to ``target`` ended, per replication from the transfers table (not from the
    metrics the report reads): mean and 95 % t interval of each ending's share of the ended requests."""
    from scipy import stats

    tr = result.transfers
    tr = tr[tr.counted.astype(bool) & (tr.outcome != "open") & (tr.target == target)]
    out = {}
    for name, outcome in zip(OUTCOME_ROWS, ("accepted", "returned", "transfer_expired", "abandoned_transfer")):
        x = np.array([(g.outcome == outcome).mean() for _, g in tr.groupby("replication")])
        half = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
        out[name] = (x.mean(), max(x.mean() - half, 0.0), min(x.mean() + half, 1.0))
    return out


def test_the_headline_states_the_runs_figures(report: Path, result) -> None:
    """Every number in the opening sentences, recomputed here from the result's frames."""
    m = result.metrics
    page = read_report(report)
    assert len(page.answer) == 6, page.answer
    targets = transfer_targets(m)
    assert targets == ["billing", "tech"]  # the baseline transfers to both; billing gets more
    timeout = result.scenario.services[0].transfer_timeout
    rates = {t: mean_ci(m, "target", t, "transfer_abandonment_rate") for t in targets}
    first = (f"As configured, with the {timeout:g} s transfer timeout, "
             + " and ".join(f"{pct_ci(*rates[t])} of transfers to {t}" for t in targets)
             + " are lost before an agent joins. Against the 10 % target: "
             + "; ".join(f"transfers to {t} {'meet' if rates[t][2] <= 0.1 else 'miss'} it (upper 95 % bound "
                         f"{shown(rates[t][2], '%')})" for t in targets) + ".")
    assert page.answer[0] == first
    # what it costs: agent-hours per simulated run (agents x the 1 h horizon) and occupancy
    cost = page.answer[1]
    for t in targets:
        g = result.scenario.group(t)
        occ = mean_ci(m, "group", t, "agent_occupancy")
        assert f"{g.agents} agent-hour{'s' if g.agents != 1 else ''} of {t} per simulated run, " \
               f"{t}'s chat slots busy {pct_ci(*occ)} of the time" in cost, cost
    if any(rates[t][2] > 0.1 for t in targets):
        worst = max((t for t in targets if rates[t][2] > 0.1), key=lambda t: rates[t][0])
        assert f"To find how many {worst} agents meet the target" in cost
    # how the transfers ended, from the transfers table
    for line, t in zip(page.answer[2:4], targets):
        shares = outcome_shares(result, t)
        assert line == (f"Of transfers to {t}: successful (joined) {pct_ci(*shares['transfer_joined_share'])}, "
                        f"timer expired {pct_ci(*shares['transfer_expired_share'])}, "
                        f"customer left {pct_ci(*shares['transfer_left_share'])}."), line

    worst = max(targets, key=lambda t: rates[t][0])
    g = result.scenario.group(worst)
    occ = mean_ci(m, "group", worst, "agent_occupancy")
    assert page.answer[4] == (
        f"The bottleneck is {worst}: it loses {pct(rates[worst][0])} % of the transfers sent to it, "
        f"with its chat slots busy {pct_ci(*occ)} of the time "
        f"({g.agents} agent{'s' if g.agents != 1 else ''} x {g.max_concurrent} chat{'s' if g.max_concurrent != 1 else ''})."
    )
    arrivals = mean_ci(m, "overall", "all", "arrivals")[0]
    assert arrivals > 100
    lost = mean_ci(m, "overall", "all", "abandonment_rate")
    assert page.answer[5].startswith(f"Of about {arrivals:,.0f} contacts per simulated run, {pct_ci(*lost)} do not end completed")


def test_the_figures_table_shows_the_results_means_and_intervals(report: Path, result) -> None:
    """A row per figure (its label; its name in a data attribute), a column per scope; each cell
    "mean (low – high)" of the metrics frame. After the success row, how the requests ended."""
    from model.results.figures import figure
    from model.results.outcomes import OUTCOME_FIGURES

    m = result.metrics
    html = report.read_text()
    table = read_report(report).table("Figures, mean (95 % range)")
    targets = transfer_targets(m)
    scopes = [("overall", "all")] + [("target", t) for t in targets]
    assert table["header"] == ["figure", "All contacts"] + [f"Transfers to {t}" for t in targets]
    order = list(FIGURES)
    at = order.index("transfer_success_rate") + 1
    order[at:at] = OUTCOME_ROWS
    labels = [f"of which {OUTCOME_FIGURES[n].label}" if n in OUTCOME_FIGURES else figure(n).label for n in order]
    assert [r[0] for r in table["rows"]] == labels  # every figure, in the documented order, in words
    body = html[html.index("<h3>Figures, mean (95 % range)</h3>"):]
    assert re.findall(r'data-metric="([a-z_0-9]+)">', body[: body.index("</table>")]) == order
    checked = 0
    for name, row in zip(order, table["rows"]):
        cells = row[1:]
        assert len(cells) == len(scopes), row
        if name in OUTCOME_FIGURES:
            continue  # checked against the transfers table below
        for (scope, key), cell in zip(scopes, cells):
            r = figure_row(m, scope, key, name)
            if r is None:  # e.g. arrivals has no per-target figure: the cell is left blank
                assert cell == "", (name, key, cell)
                continue
            kind = FIGURES[name]
            assert cell == f"{shown(r['mean'], kind)} ({shown(r['ci_low'], kind)} – {shown(r['ci_high'], kind)})", (name, key)
            checked += 1
    # the run has transfers to both targets: most cells hold a number
    assert checked >= len(FIGURES) + 9 * len(targets)
    rows = dict(zip(order, table["rows"]))
    assert rows["transfer_joined_share"][1:] == rows["transfer_success_rate"][1:]  # the same share, two ways
    for t, col in zip(targets, range(2, 2 + len(targets))):
        shares = outcome_shares(result, t)
        for name in ("transfer_expired_share", "transfer_left_share"):
            mean, lo, hi = shares[name]
            assert rows[name][col] == f"{shown(mean, '%')} ({shown(lo, '%')} – {shown(hi, '%')})", (t, name)


def test_the_report_shows_the_run_and_scenario_it_was_built_from(report: Path, result) -> None:
    page = read_report(report)
    assert page.sub.startswith(f"Each figure is the mean of {result.replications} simulated runs (seed {result.seed}), "
                               "with its 95 % range in brackets")
    assert "Target: transfer abandonment 10 %." in page.sub
    sc = result.scenario
    services = page.table("Services")
    assert [r[0] for r in services["rows"]] == [s.name for s in sc.services]
    for row, s in zip(services["rows"], sc.services):
        assert row[1] == s.entry_group and row[3] == f"{s.transfer_timeout:g} s" and row[5] == s.on_transfer_timeout
    groups = page.table("Groups")
    assert [(r[0], int(r[1]), int(r[2])) for r in groups["rows"]] == [(g.name, g.agents, g.max_concurrent) for g in sc.groups]
    assert all("_" not in r[4] for r in groups["rows"])  # "sequential, longest idle", not a code name
    occupancy = page.table("Agent occupancy")
    m = result.metrics
    occ = m[(m.scope == "group") & (m.metric == "agent_occupancy")]
    assert len(occ) == len(sc.groups)
    hours = sc.simulation.horizon / 3600
    assert occupancy["header"] == ["group", "mean", "95 % range", "agent-hours per simulated run"]
    assert occupancy["rows"] == [[str(r.key), f"{pct(r.mean)} %", f"{pct(r.ci_low)} % – {pct(r.ci_high)} %",
                                  f"{sc.group(r.key).agents * hours:,.0f}"] for r in occ.itertuples()]


def test_headline_names_each_target_and_the_bottleneck(result) -> None:
    lines = headline(result)
    assert "transfers to billing" in lines[0] and "transfers to tech" in lines[0] and "target" not in lines[0]
    assert any(line.startswith("The bottleneck is ") for line in lines)
    only = headline(result, 0.5, scopes=["target:tech"])
    assert "transfers to tech" in only[0] and "billing" not in only[0]


def test_sweep_headline_compares_timeouts(sweep) -> None:
    sc = small_scenario()
    lines = sweep_headline(sweep, sc, key="billing")
    sel = sweep[(sweep.scope == "target") & (sweep.key == "billing") & (sweep.metric == "transfer_abandonment_rate")]
    at90 = sel[sel[TIMEOUT] == 90].iloc[0]
    assert lines[0].startswith("With a 60 s timeout, ")
    assert f"90 s brings that to {100 * at90['mean']:.1f} %" in lines[0]


def check_sweep_table(page: ReportPage, frame: pd.DataFrame, path: str, scope: str = "overall", key: str = "all",
                      who: str = "all transfers", target: float | None = None) -> None:
    """The sweep table against the sweep summary: a row per point, the varied value then three
    transfer figures ("mean (low – high)") of the scope, and whether the first meets the target."""
    from model.charts.frames import param_label
    from model.results.figures import figure

    wanted = {"transfer_abandonment_rate": "%", "transfer_success_rate": "%", "time_to_join_p90": "s"}
    table = page.table(f"Every setting of the sweep: {who}")
    header = [param_label(path)] + [figure(w).label for w in wanted]
    header += [f"meets the {100 * target:g} % target"] if target is not None else []
    assert table["header"][: len(header)] == header
    values = sorted(frame[path].unique())
    assert len(values) >= 2 and [r[0] for r in table["rows"]] == [f"{v:g}" for v in values]
    for row, v in zip(table["rows"], values):
        at = frame[frame[path] == v]
        expected = []
        for w, kind in wanted.items():
            mean, lo, hi = mean_ci(at, scope, key, w)
            expected.append(f"{shown(mean, kind)} ({shown(lo, kind)} – {shown(hi, kind)})")
        if target is not None:
            expected.append("yes" if mean_ci(at, scope, key, "transfer_abandonment_rate")[2] <= target else "no")
        assert row[1: len(expected) + 1] == expected, (v, row)


def test_sweep_report_has_the_sweep_chart_and_table(sweep, tmp_path) -> None:
    """A sweep of the timeout alone is about all transfers (the timeout is the service's): the
    answer is the shortest timeout whose upper bound meets the target, or the closest."""
    index = build_report(small_scenario(), tmp_path / "sw", sweep=sweep, target=0.2)
    html = index.read_text()
    assert (tmp_path / "sw" / "sweep.png").exists()
    assert external_refs(html) == []
    page = read_report(index)
    check_sweep_table(page, sweep, TIMEOUT, target=0.2)
    sel = sweep[(sweep.scope == "overall") & (sweep.metric == "transfer_abandonment_rate")]
    at = {int(r[TIMEOUT]): (r["mean"], r["ci_low"], r["ci_high"]) for _, r in sel.iterrows()}
    meets = sorted(t for t, (_, _, hi) in at.items() if hi <= 0.2)
    if meets:
        x = meets[0]
        assert page.answer[0] == (f"Set the support transfer timeout to {x} s: {pct(at[x][0])} % of all transfers are "
                                  f"lost before an agent joins (95 % range {pct(at[x][1])}–{pct(at[x][2])} %), within "
                                  f"the 20 % target even at the upper end of that range ({shown(at[x][2], '%')}).")
    else:
        x = min(at, key=lambda t: (at[t][2], t))
        assert page.answer[0].startswith("No setting in the sweep meets the 20 % target for all transfers")
        assert f"The closest is the support transfer timeout at {x} s: {pct(at[x][0])} %" in page.answer[0]
    # a scope chosen instead: the same sweep read for the transfers to billing
    index = build_report(small_scenario(), tmp_path / "billing", sweep=sweep, target=0.2, scopes=["target:billing"])
    page = read_report(index)
    check_sweep_table(page, sweep, TIMEOUT, "target", "billing", "transfers to billing", target=0.2)
    assert "transfers to billing" in page.answer[0]


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


def _check_failed_report(html: str, summary: pd.DataFrame, target: float | None) -> None:
    page = ReportPage(html)
    # the answer first (about billing: its staffing was varied), then the failed points said
    assert "transfers to billing" in page.answer[0]
    said = [i for i, a in enumerate(page.answer) if a.startswith("1 of 4 points failed")]
    assert said == [2 if target is not None else 1], page.answer  # right after the answer
    # the table: the failed point's figures read "failed", the others are numbers
    title = "Every setting of the sweep: transfers to billing"
    rows = re.findall(r"<tr>(<td[^\n]*)</tr>", html[html.index(f"<h3>{title}</h3>"):])
    failed = [r for r in rows if "failed" in r]
    figures = 3 + (target is not None) + 1  # three transfer figures, meets the target, billing occupancy
    assert len(failed) == 1 and re.findall(r"<td[^>]*>([^<]*)</td>", failed[0]) == ["90", "4"] + ["failed"] * figures
    assert failed[0].count('class="num failed"') == figures
    assert len(rows) == 4
    # the three points that ran show the summary's figures for billing
    table = page.table(title)
    assert table["header"][:5] == ["support transfer timeout (s)", "billing agents",
                                   "transfer abandonment (expired or abandoned)", "transfer success (joined)",
                                   "time to join, 90th percentile"]
    assert table["header"][-1] == "agent occupancy: billing"
    ran = [r for r in table["rows"] if "failed" not in r]
    assert [(int(r[0]), int(r[1])) for r in ran] == [(30, 3), (30, 4), (90, 3)]
    for r in ran:
        at = summary[(summary[TIMEOUT] == int(r[0])) & (summary[AGENTS] == int(r[1]))]
        expected = []
        for w, kind in (("transfer_abandonment_rate", "%"), ("transfer_success_rate", "%"), ("time_to_join_p90", "s")):
            mean, lo, hi = mean_ci(at, "target", "billing", w)
            expected.append(f"{shown(mean, kind)} ({shown(lo, kind)} – {shown(hi, kind)})")
        assert r[2:5] == expected, r
        occ = mean_ci(at, "group", "billing", "agent_occupancy")
        assert r[-1] == f"{shown(occ[0], '%')} ({shown(occ[1], '%')} – {shown(occ[2], '%')})"
    # the list of failed points, with the reason, under the charts
    listed = html.index('id="failed-points"')
    assert html.index('id="fig-heatmap"') < listed < html.index('id="tables"')
    section = html[listed: html.index("</section>", listed)]
    assert "point p0003" in section and "The support transfer timeout at 90 s and billing agents at 4" in section
    assert REASON in section


def test_a_sweep_report_marks_failed_points_and_says_why(failed_sweep, tmp_path) -> None:
    index = build_report(small_scenario(), tmp_path / "rep", sweep=failed_sweep.summary,
                         failures=failed_sweep.failures, target=0.1)
    _check_failed_report(index.read_text(), failed_sweep.summary, 0.1)
    assert (tmp_path / "rep" / "heatmap.png").exists()


def test_a_sweep_folder_report_reads_its_failures(failed_sweep, tmp_path) -> None:
    index = build_report(failed_sweep.out, tmp_path / "rep")
    _check_failed_report(index.read_text(), pd.read_parquet(failed_sweep.out / "summary.parquet"), None)


def test_the_heat_map_draws_a_failed_cell_grey_with_the_word(failed_sweep) -> None:
    from model.report.failures import failed_heatmap as _failed_heatmap

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


# -- what the figures mean, and numbers in words ------------------------------------------------------------
def test_the_report_says_what_each_figure_means(report: Path, result) -> None:
    """Each figure of the table carries its plain-words meaning (on hover, and in the glossary under
    the tables, with this scenario's numbers), read from the metric table; the words the answers
    use are defined too."""
    from markupsafe import escape

    from model.results.figures import figure
    from model.results.outcomes import OUTCOME_FIGURES

    html = report.read_text()
    section = html[html.index('id="meanings"'):]
    for name in [*FIGURES, *OUTCOME_ROWS, "agent_occupancy"]:
        info = OUTCOME_FIGURES.get(name) or figure(name)
        definition = str(escape(info.definition))
        assert f'<dt data-metric="{name}">{info.label}</dt><dd>{definition}' in section, name
    assert f'title="{escape(figure("transfer_abandonment_rate").definition)}" data-metric="transfer_abandonment_rate"' in html
    threshold = result.scenario.services[0].service_level_threshold
    assert f"The threshold in this scenario: {threshold:g} s." in section
    assert "The transfer timeout in this scenario: 60 s." in section
    for term in ("simulated run", "95 % range", "upper 95 % bound", "meets the target"):
        assert f'<dt data-metric="">{term}</dt>' in section, term
    assert f"mean over {result.replications} such runs" in section


def test_numbers_in_words_at_their_boundaries() -> None:
    from model.report.words import duration_text, pct, pct_ci, seconds_text, target_text, value_ci
    from model.results.figures import figure

    nan = float("nan")
    assert pct(nan) == "-" and pct(None) == "-" and pct(0) == "0.0" and pct(1) == "100.0" and pct(-0.0) == "0.0"
    assert pct_ci(nan, 0.1, 0.2) == "- (no data)"
    assert pct_ci(0.0, -0.01, 0.0) == "0.0 % (0.0–0.0 %)" and pct_ci(1.0, 1.0, 1.02) == "100.0 % (100.0–100.0 %)"
    t = figure("time_to_join_mean")
    assert value_ci(t, 12.34, 10.0, nan) == "12.3 s (10.0 s–-)" and value_ci(t, nan, 1, 2) == "- (no data)"
    assert value_ci(figure("transfer_success_rate"), 0.5, 0.4, 0.6) == "50.0 % (40.0–60.0 %)"
    assert seconds_text(60) == "60 s" and seconds_text(120) == "2 min" and seconds_text(90) == "90 s"
    assert duration_text(None) == "none" and duration_text(0) == "0 s" and duration_text(7200) == "2 h"
    assert target_text(figure("transfer_abandonment_rate"), 0.05) == "5 %" and target_text(t, 30) == "30.0 s"


def test_the_sweep_table_of_a_frame_with_one_figure_shows_that_figure(sweep) -> None:
    from model.report.tables import sweep_table

    one = sweep[sweep.metric == "time_to_join_mean"]
    t = sweep_table(one, "billing")
    assert t["header"] == ["support transfer timeout (s)", "mean time to join"]
    assert t["ids"] == [TIMEOUT, "time_to_join_mean"] and t["title"] == "Every setting of the sweep: transfers to billing"
    assert [r[0] for r in t["rows"]] == ["30", "60", "90"] and all(r[1].endswith(" s)") for r in t["rows"])
    t = sweep_table(sweep[sweep.scope == "overall"], "all", scope="overall")
    assert t["ids"][1:] == ["transfer_abandonment_rate", "transfer_success_rate", "time_to_join_p90"]
    overall = sweep[(sweep.scope == "overall") & (sweep.metric == "transfer_abandonment_rate")].sort_values(TIMEOUT)
    assert [r[1] for r in t["rows"]] == [f"{shown(r.mean, '%')} ({shown(r.ci_low, '%')} – {shown(r.ci_high, '%')})"
                                         for r in overall.itertuples()]


def test_a_sweep_headline_for_a_scope_without_the_figure_says_so(sweep) -> None:
    assert sweep_headline(sweep, small_scenario(), key="nobody") == [
        "The sweep has no transfer_abandonment_rate for transfers to nobody."]
    with pytest.raises(KeyError, match="no figure 'made_up'"):
        sweep_headline(sweep, small_scenario(), key="billing", metric="made_up")


# -- the per-interval view ----------------------------------------------------------------------------
def test_a_report_without_intervals_has_no_per_interval_section(report: Path) -> None:
    html = report.read_text()
    assert 'id="intervals"' not in html and not (report.parent / "intervals.png").exists()
    assert "worst interval" not in html.lower()


def test_the_interval_title_says_the_length() -> None:
    from model.report.intervals import interval_title

    assert interval_title(3600.0) == "Hour by hour"
    assert interval_title(900.0) == "Every 15 min" and interval_title(7200.0) == "Every 2 h"
    assert interval_title(86400.0) == "Every 24 h" and interval_title(None) == "By interval of the clock"


def test_a_report_per_interval_says_when_nothing_was_lost_and_when_nothing_was_transferred(tmp_path) -> None:
    """No patience and a large staff: no contact leaves the queue, nothing is transferred. The section
    says so in words; no transfer sentence, no blank cell left unexplained ("-")."""
    from helpers import one_group

    res = simulate(one_group(**{"groups.g.agents": 6}), interval="30m")
    index = build_report(res, tmp_path / "calm")
    page = read_report(index)
    html = index.read_text()
    assert '<h2 id="intervals">Every 30 min</h2>' in html
    assert page.answer[-1] == "Queue abandonment is 0.0 % in every interval."
    assert "For transfers" not in html
    table = page.table("Per interval, mean (95 % CI)")
    assert [r[0] for r in table["rows"]] == ["00:00-00:30", "00:30-01:00"]
    col = table["header"].index("transfer abandonment")
    assert table["header"][:3] == ["interval", "arrivals", "agents on shift: g"]
    assert all(r[col] == "-" for r in table["rows"])  # no transfer requested: no figure


def test_a_report_of_a_single_interval_does_not_invent_its_end(tmp_path) -> None:
    """One interval: the result keeps its length; a result without it (written before the length
    was kept) cannot read it off one start time, so the report says "from"."""
    from helpers import one_group

    res = simulate(one_group(**{"simulation.horizon": 1200}), interval="1h")
    page = read_report(build_report(res, tmp_path / "one"))
    assert [r[0] for r in page.table("Per interval, mean (95 % CI)")["rows"]] == ["00:00-01:00"]
    res.interval = None
    page = read_report(build_report(res, tmp_path / "old"))
    assert [r[0] for r in page.table("Per interval, mean (95 % CI)")["rows"]] == ["from 00:00"]
