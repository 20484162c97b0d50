"""``transfer-sim whatif`` and ``model.whatif``: the what-if page's data, its contract, its refusals.

The page is read back with the stdlib HTML parser (sliders, figures, their intervals, the embedded
data); the expected numbers come from ``run_sweep`` and ``simulate`` run here, and the expected texts
are written out here (one decimal, ``%`` or ``s``), not borrowed from the code under test. The real
browser test (sliders moved, figures checked, no network) is tests/test_whatif_browser.py.
"""

from __future__ import annotations

import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from helpers import AGENTS, TIMEOUT, VARY
from model.cli import app
from model.experiments import ExperimentError, run_sweep
from model.sim import simulate
from model.whatif import MAX_POINTS, WhatIf, WhatIfFailed, whatif

runner = CliRunner()
REPS = 3
SEED = 5
PARAMS = [TIMEOUT, AGENTS]
DEFAULT_SCOPES = ["overall", "target:billing", "group:frontline", "group:billing"]
HEADLINE = {"overall": ["transfer_abandonment_rate", "queue_abandonment_rate", "transfer_success_rate",
                        "time_to_join_mean", "service_level"],
            "target": ["transfer_abandonment_rate", "transfer_success_rate", "time_to_join_mean"],
            "group": ["agent_occupancy"]}
SECONDS = {"time_to_join_mean"}


def shown(x: float, metric: str) -> str:
    """How the page writes a figure: a proportion as ``"4.2 %"`` (clipped to 0-100 %), a time as
    ``"31.5 s"``, ``"-"`` without a value."""
    if x is None or math.isnan(x):
        return "-"
    if metric in SECONDS:
        return f"{x + 0.0:.1f} s"
    return f"{100 * min(max(x, 0.0), 1.0) + 0.0:.1f} %"


# -- reading the page back ---------------------------------------------------------------------------
class Page(HTMLParser):
    """What a reader (and the script) of the page finds: the title, the h1, every slider and its
    value text, every figure (``(metric, scope) -> text``) and its interval text, the glossary's
    terms, the visible text, the URLs it refers to, and the embedded data."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.title = self.h1 = ""
        self.sliders: list[dict[str, str]] = []
        self.outputs: dict[str, str] = {}
        self.figures: dict[tuple[str, str], str] = {}
        self.cis: dict[tuple[str, str], str] = {}
        self.terms: list[str] = []
        self.visible: list[str] = []
        self.urls: list[str] = []
        self.data: dict = {}
        self._stack: list[tuple[str, dict[str, str]]] = []
        self._buf: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = {k: v or "" for k, v in attrs}
        for k in ("src", "href", "action", "data", "poster"):
            if k in a:
                self.urls.append(a[k])
        if tag == "input" and a.get("type") == "range":
            self.sliders.append(a)
        if tag in ("input", "meta", "link", "br", "img"):
            return
        self._stack.append((tag, a))
        self._buf = []

    def handle_endtag(self, tag: str) -> None:
        if not self._stack:
            return
        name, a = self._stack.pop()
        text = " ".join("".join(self._buf).split())
        if name == "title":
            self.title = text
        elif name == "h1":
            self.h1 = text
        elif name == "output":
            self.outputs[a["data-value-for"]] = text
        elif "data-metric" in a:
            self.figures[(a["data-metric"], a["data-scope"])] = text
        elif "data-ci-metric" in a:
            self.cis[(a["data-ci-metric"], a["data-ci-scope"])] = text
        elif name == "dt":
            self.terms.append(text)
        elif name == "script" and a.get("id") == "whatif-data":
            self.data = json.loads("".join(self._buf))
        self._buf = []

    def handle_data(self, data: str) -> None:
        self._buf.append(data)
        if not self._stack or self._stack[-1][0] not in ("script", "style"):
            self.visible.append(data)


@pytest.fixture(scope="module")
def page(tiny) -> WhatIf:
    return whatif(tiny, VARY, REPS, seed=SEED, executor="serial", progress=False)


@pytest.fixture(scope="module")
def hourly(tiny) -> WhatIf:
    return whatif(tiny, VARY, REPS, seed=SEED, by="30m", executor="serial", progress=False)


def grid_points() -> list[dict]:
    return [{TIMEOUT: t, AGENTS: a} for t in VARY[TIMEOUT] for a in VARY[AGENTS]]


def figure_index(data: dict) -> dict[tuple[str, str], int]:
    return {(f["scope"], f["metric"]): j for j, f in enumerate(data["figures"])}


# -- the data -------------------------------------------------------------------------------------
def test_the_embedded_figures_are_the_sweeps_at_every_point(page, tiny) -> None:
    data = Page(page.html()).data
    sweep = run_sweep(tiny, VARY, REPS, seed=SEED, executor="serial", progress=False).summary
    at = figure_index(data)
    assert sorted({s for s, _ in at}) == sorted(DEFAULT_SCOPES)
    assert len(data["values"]) == 4
    for p, point in enumerate(grid_points()):
        rows = sweep[(sweep[TIMEOUT] == point[TIMEOUT]) & (sweep[AGENTS] == point[AGENTS])]
        for (scope, metric), j in at.items():
            kind, _, key = scope.partition(":")
            r = rows[(rows.scope == kind) & (rows.key == (key or "all")) & (rows.metric == metric)].iloc[0]
            expected = [None if math.isnan(v) else v for v in (r["mean"], r["ci_low"], r["ci_high"])]
            assert data["values"][p][j] == expected, (point, scope, metric)
            assert data["texts"][p][j][0] == shown(r["mean"], metric)
            assert data["texts"][p][j][1] == f"95 % CI {shown(r['ci_low'], metric).split(' ')[0]} - " \
                                             f"{shown(r['ci_high'], metric)}"


def test_the_csv_frame_holds_the_same_figures_as_the_page(page) -> None:
    data = Page(page.html()).data
    at = figure_index(data)
    f = page.frame
    assert list(f.columns) == ["point", *PARAMS, "interval", "scope", "metric", "mean", "ci_low", "ci_high", "n"]
    assert set(f.interval) == {"all"} and set(f.n) == {REPS}
    assert len(f) == 4 * len(at)
    for r in f.itertuples(index=False):
        assert data["values"][r.point][at[(r.scope, r.metric)]][0] == (None if math.isnan(r.mean) else r.mean)
        assert grid_points()[r.point] == {TIMEOUT: r[1], AGENTS: r[2]}


def test_with_by_each_point_is_simulate_with_intervals(hourly, tiny) -> None:
    data = Page(hourly.html()).data
    at = figure_index(data)
    assert data["intervals"]["starts"] == ["00:00", "00:30"] == hourly.starts
    assert data["intervals"]["spans"] == ["00:00-00:30", "00:30-01:00"]
    for p, point in enumerate(grid_points()):
        res = simulate(tiny.with_changes(point), replications=REPS, seed=SEED, interval="30m", keep_events=False)
        for (scope, metric), j in at.items():
            kind, _, key = scope.partition(":")
            mean, lo, hi = res.metric(metric, kind, key or "all")
            assert data["values"][p][j][0] == (None if math.isnan(mean) else mean)
            assert data["texts"][p][j][0] == shown(mean, metric)
            per = res.by_interval(metric, kind, key or "all")
            for k, start in enumerate(data["intervals"]["starts"]):
                got = data["intervals"]["values"][p][j][k]
                want = per.loc[start, ["mean", "ci_low", "ci_high"]].tolist()
                for g, w in zip(got, want):
                    assert (g is None and math.isnan(w)) or g == pytest.approx(w, rel=1e-3, abs=1e-9)
    rows = hourly.frame[hourly.frame.interval != "all"]
    assert set(rows.interval) == {"00:00", "00:30"} and len(rows) == 2 * len(hourly.frame[hourly.frame.interval == "all"])


def test_whole_run_figures_are_the_same_with_and_without_by(page, hourly) -> None:
    a = page.frame
    b = hourly.frame[hourly.frame.interval == "all"].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


# -- the page's contract ------------------------------------------------------------------------------
def test_the_page_has_a_slider_per_setting_and_every_headline_figure(page) -> None:
    html = page.html()
    doc = Page(html)
    assert [s["data-param"] for s in doc.sliders] == PARAMS
    for s, n in zip(doc.sliders, (2, 2)):
        assert (s["min"], s["max"], s["step"]) == ("0", str(n - 1), "1")
    # the scenario's own timeout (60 s) is not on the grid: the first value; its billing agents (2) neither
    assert doc.outputs == {TIMEOUT: "30 s", AGENTS: "1 agent"}
    assert doc.data["params"][0]["texts"] == ["30 s", "90 s"] and doc.data["params"][1]["texts"] == ["1 agent", "3 agents"]
    expected = {(m, s) for s in DEFAULT_SCOPES for m in HEADLINE[s.partition(":")[0]]}
    assert set(doc.figures) == expected == set(doc.cis)
    first = page.frame[(page.frame.point == 0)]
    for r in first.itertuples(index=False):
        assert doc.figures[(r.metric, r.scope)] == shown(r.mean, r.metric)
        assert re.fullmatch(r"95 % CI [\d.]+ - [\d.]+ (%|s)", doc.cis[(r.metric, r.scope)])
    assert doc.title == "What if: tiny (3 replications per point)" and doc.h1 == "What if: tiny"
    assert {"Transfer abandonment", "Queue abandonment", "Time to join", "Service level", "Agent occupancy"} <= set(doc.terms)
    visible = " ".join(" ".join(doc.visible).split())
    assert "threshold is 20 s" in visible and "3 replications per point" in visible
    for name in ("transfer_abandonment_rate", "queue_abandonment_rate", "time_to_join_mean", "agent_occupancy",
                 "service_level"):
        assert name not in visible, f"{name}: a code name shown to the reader"


def test_the_page_needs_no_network(page) -> None:
    html = page.html()
    doc = Page(html)
    assert all(u.startswith(("data:", "#")) for u in doc.urls), doc.urls
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/|@import|url\(", html, re.IGNORECASE)
    assert "<script src" not in html and "fetch(" not in html and "XMLHttpRequest" not in html


def test_scopes_given_are_added_to_overall(tiny) -> None:
    w = whatif(tiny, {AGENTS: [1, 2]}, 2, scopes=["service:support", "target:billing", "target:billing"],
               executor="serial", progress=False)
    assert w.scopes == ["overall", "service:support", "target:billing"]
    doc = Page(w.html())
    assert {s for _, s in doc.figures} == {"overall", "service:support", "target:billing"}
    assert ("queue_abandonment_rate", "service:support") in doc.figures
    assert ("queue_abandonment_rate", "target:billing") not in doc.figures


def test_one_value_is_a_slider_of_one_step(tiny) -> None:
    w = whatif(tiny, {TIMEOUT: ["45s"]}, 2, executor="serial", progress=False)
    doc = Page(w.html())
    assert len(doc.sliders) == 1 and doc.sliders[0]["max"] == "0"
    assert doc.outputs == {TIMEOUT: "45 s"} and len(doc.data["values"]) == 1
    assert set(w.frame.point) == {0}


def test_the_same_seed_gives_the_same_bytes(page, tiny) -> None:
    again = whatif(tiny, VARY, REPS, seed=SEED, executor="serial", progress=False)
    assert again.html().encode() == page.html().encode()
    other = whatif(tiny, VARY, REPS, seed=SEED + 1, executor="serial", progress=False)
    assert other.html() != page.html()


def test_write_puts_the_page_and_its_csv_and_nothing_else(page, tmp_path) -> None:
    index = page.write(tmp_path / "w")
    assert index == tmp_path / "w" / "index.html"
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == ["index.html", "whatif.csv"]
    assert index.read_text(encoding="utf-8") == page.html()
    back = pd.read_csv(tmp_path / "w" / "whatif.csv", keep_default_na=False, na_values=[""])
    pd.testing.assert_frame_equal(back, page.frame, check_dtype=False)
    assert [p.name for p in tmp_path.iterdir()] == ["w"]


def test_a_failed_write_leaves_the_folder_as_it_was(page, tiny, tmp_path, monkeypatch) -> None:
    import model.results.result as result

    out = tmp_path / "w"
    other = whatif(tiny, {AGENTS: [1]}, 2, executor="serial", progress=False)
    other.write(out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def full(tmp, final):
        raise OSError(28, "No space left on device", str(final))

    monkeypatch.setattr(result, "replace_folder", full)
    with pytest.raises(OSError, match="No space"):
        page.write(out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["w"], "a temporary folder was left behind"
    with pytest.raises(OSError):
        page.write(tmp_path / "new")
    assert [p.name for p in tmp_path.iterdir()] == ["w"]


# -- refusals ----------------------------------------------------------------------------------------
def test_a_grid_above_the_bound_is_refused_before_anything_runs(tiny) -> None:
    with pytest.raises(ExperimentError, match=f"at most {MAX_POINTS} points"):
        whatif(tiny, {TIMEOUT: list(range(1, 22)), AGENTS: list(range(1, 21))}, 1, executor="serial")


def test_a_point_that_fails_names_itself_and_nothing_is_written(tiny, tmp_path, monkeypatch) -> None:
    import model.whatif.grid as grid

    def broken(scenario, seed, replications, step):
        raise RuntimeError("boom")

    monkeypatch.setattr(grid, "simulate_point", broken)
    with pytest.raises(WhatIfFailed, match=r"point 0 .*RuntimeError: boom"):
        whatif(tiny, VARY, 2, by="1h", executor="serial", progress=False, out=tmp_path / "w")
    assert list(tmp_path.iterdir()) == []


def cli(*args: str):
    return runner.invoke(app, ["whatif", *args])


def test_the_command_writes_the_page(tiny_file, tmp_path) -> None:
    out = tmp_path / "page"
    res = cli(str(tiny_file), "--vary", f"{TIMEOUT}=30,90", "--vary", f"{AGENTS}=1..2", "-r", "2", "--seed", "3",
              "--by", "30m", "-j", "1", "--out", str(out))
    assert res.exit_code == 0, res.stderr
    assert f"wrote {out}/index.html" in res.stdout
    doc = Page((out / "index.html").read_text(encoding="utf-8"))
    assert [s["data-param"] for s in doc.sliders] == PARAMS and doc.data["intervals"] is not None
    csv = pd.read_csv(out / "whatif.csv")
    assert set(csv.point) == {0, 1, 2, 3} and set(csv.n) == {2}
    assert doc.data["seed"] == 3 and doc.title == "What if: tiny (2 replications per point)"
    res = cli(str(tiny_file), "--vary", f"{AGENTS}=1", "-r", "2", "-j", "1", "--out", str(out))
    assert res.exit_code == 2 and "--force" in res.stderr
    res = cli(str(tiny_file), "--vary", f"{AGENTS}=1", "-r", "2", "-j", "1", "--out", str(out), "--force")
    assert res.exit_code == 0, res.stderr
    assert set(pd.read_csv(out / "whatif.csv").point) == {0}


@pytest.mark.parametrize(("args", "words"), [
    (["--vary", "services.support.nope=1,2"], ["--vary", "services.support.nope", "no such field",
                                                "transfer_timeout"]),
    (["--vary", f"{AGENTS}=a,b"], ["--vary", AGENTS, "must be an integer", "'a'"]),
    (["--vary", f"{AGENTS}=-1"], ["--vary", AGENTS, "greater than or equal to 0"]),
    (["--vary", f"{AGENTS}="], ["--vary", AGENTS, "no values"]),
    (["--vary", f"{AGENTS}"], ["--vary", "PATH=V1,V2"]),
    (["--vary", f"{AGENTS}=1", "--vary", f"{AGENTS}=2"], ["--vary", AGENTS, "twice"]),
    (["--vary", f"{TIMEOUT}=1..21", "--vary", f"{AGENTS}=1..20"], ["--vary", "420 points", "at most 400"]),
    (["--vary", f"{AGENTS}=1", "--scope", "target:nobody"], ["--scope", "target:nobody", "target:billing",
                                                              "group:frontline"]),
    (["--vary", f"{AGENTS}=1", "--scope", "team:x"], ["--scope", "team:x", "service:support"]),
    (["--vary", f"{AGENTS}=1", "--by", "7m"], ["--by", "7m", "15m"]),
    (["--vary", f"{AGENTS}=1", "--by", "soon"], ["--by", "soon"]),
    (["--vary", f"{AGENTS}=1", "-r", "0"], ["--replications", "1"]),
    ([], ["--vary"]),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(tiny_file, tmp_path, args, words) -> None:
    out = tmp_path / "never"
    res = cli(str(tiny_file), *args, "-j", "1", "--out", str(out))
    assert res.exit_code == 2, (args, res.stdout, res.stderr)
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert "Traceback" not in res.stdout + res.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_an_out_folder_of_something_else_is_refused(tiny_file, tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    res = cli(str(tiny_file), "--vary", f"{AGENTS}=1", "-j", "1", "--out", str(tmp_path))
    assert res.exit_code == 2 and "--out" in res.stderr and "notes.txt" in res.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    res = cli(str(tiny_file), "--vary", f"{AGENTS}=1", "-j", "1", "--out", str(tmp_path / "notes.txt"))
    assert res.exit_code == 2 and "is a file" in res.stderr


def test_a_failing_point_exits_1_and_writes_nothing(tiny_file, tmp_path, monkeypatch) -> None:
    import model.whatif.grid as grid

    def broken(scenario, seed, replications, step):
        raise RuntimeError("boom")

    monkeypatch.setattr(grid, "simulate_point", broken)
    res = cli(str(tiny_file), "--vary", f"{AGENTS}=1,2", "-r", "2", "--by", "1h", "-j", "1", "--out",
              str(tmp_path / "w"))
    assert res.exit_code == 1 and "RuntimeError: boom" in res.stderr and "nothing was written" in res.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_slider_starts_at_the_scenarios_own_value_when_it_is_on_the_grid(tiny) -> None:
    w = whatif(tiny, {TIMEOUT: [30, "1m", 90], AGENTS: [1, 2]}, 2, executor="serial", progress=False)
    doc = Page(w.html())
    assert doc.outputs == {TIMEOUT: "60 s", AGENTS: "2 agents"}  # tiny has 60 s and 2 billing agents
    start = w.frame[w.frame.point == 1 * 2 + 1]
    assert {(r.metric, r.scope): shown(r.mean, r.metric) for r in start.itertuples(index=False)} == doc.figures
