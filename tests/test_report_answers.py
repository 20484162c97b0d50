"""Reports that answer (issue 16, item 2): what to set, what it achieves with its 95 % range, what it
costs; the cheapest setting meeting a target or, when none does, the closest; the scope asked (or
derived), rates typed as percents, transfers returned to their sender, and pages without code names.

The sweep answers are checked on hand-made sweep frames (every number chosen here), the commands
on small scenarios run serially."""

from __future__ import annotations

import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from helpers import TINY
from model.cli import app
from model.report import build_report, sweep_answer, sweep_headline, tune_answer
from model.report.answers import best_point, sweep_points
from model.results.scopes import UnknownScope
from model.scenario import load_scenario

runner = CliRunner()
TAR = "transfer_abandonment_rate"
AG = "groups.tech.agents"
TO = "services.support.transfer_timeout"
GRID = [(a, t) for a in (2, 3, 4) for t in (30, 60, 120)]


def baseline():
    """The baseline: tech has 2 agents all day, 8 h measured: a tech agent costs 8 agent-hours a run."""
    return load_scenario("scenarios/baseline.toml")


def frame(his: dict[tuple[int, int], float], metric: str = TAR, means: float = 0.03) -> pd.DataFrame:
    """A sweep frame over tech agents x timeout: ``metric`` for transfers to tech with the given
    upper bounds (lower bounds for a higher-is-better metric) and tech's occupancy 50 % (45-55 %)."""
    rows = []
    for (a, t), bound in his.items():
        lo, hi = (bound, min(1.0, bound + 0.02)) if metric == "transfer_success_rate" else (max(0.0, bound - 0.02), bound)
        mean = math.nan if bound != bound else (lo + hi) / 2 if metric == "transfer_success_rate" else min(means, hi)
        rows += [
            {AG: a, TO: t, "scope": "target", "key": "tech", "metric": metric, "mean": mean, "ci_low": lo,
             "ci_high": hi, "n": 6},
            {AG: a, TO: t, "scope": "target", "key": "tech", "metric": "transfers_requested", "mean": 100.0,
             "ci_low": 90.0, "ci_high": 110.0, "n": 6},
            {AG: a, TO: t, "scope": "group", "key": "tech", "metric": "agent_occupancy", "mean": 0.5,
             "ci_low": 0.45, "ci_high": 0.55, "n": 6},
        ]
    return pd.DataFrame(rows)


def answer(his, target=0.05, **kw) -> list[str]:
    return sweep_answer(frame(his, **kw), baseline(), "target", "tech", metric=kw.get("metric", TAR), target=target)


# -- the sweep's answer --------------------------------------------------------------------------------
def test_the_cheapest_setting_meeting_the_target_is_recommended_with_its_cost() -> None:
    his = {p: 0.2 for p in GRID} | {(3, 120): 0.049, (4, 30): 0.04, (4, 60): 0.03, (4, 120): 0.02}
    lines = answer(his)
    assert lines[0] == ("Set tech agents to 3 and the support transfer timeout to 2 min: 3.0 % of transfers to tech "
                        "are lost before an agent joins (95 % range 2.9–4.9 %), within the 5 % target even at the "
                        "upper end of that range (4.9 %).")
    assert lines[1] == ("It takes 24 agent-hours of tech per simulated run, tech's chat slots busy 50.0 % (45.0–55.0 %) "
                        "of the time. 4 of the 9 settings meet the 5 % target with 95 % confidence; this is the cheapest.")


def test_among_equally_staffed_settings_the_shortest_timeout_is_recommended() -> None:
    his = {p: 0.2 for p in GRID} | {(4, 60): 0.03, (4, 120): 0.02}
    assert answer(his)[0].startswith("Set tech agents to 4 and the support transfer timeout to 60 s:")


def test_a_bound_exactly_at_the_target_meets_it_and_a_hair_above_does_not() -> None:
    his = {p: 0.2 for p in GRID} | {(2, 30): 0.05}
    assert answer(his)[0].startswith("Set tech agents to 2 and the support transfer timeout to 30 s:")
    his[(2, 30)] = 0.05 + 1e-9
    assert answer(his)[0].startswith("No setting in the sweep meets")


def test_when_no_setting_meets_the_target_the_answer_says_so_and_names_the_closest() -> None:
    his = {p: 0.3 - 0.01 * i for i, p in enumerate(GRID)}  # the last, 4 agents and 2 min, comes closest
    lines = answer(his)
    assert lines[0] == ("No setting in the sweep meets the 5 % target for transfers to tech with 95 % confidence. "
                        "The closest is tech agents at 4 and the support transfer timeout at 2 min: 3.0 % of transfers "
                        "to tech are lost before an agent joins (95 % range 20.0–22.0 %); its upper 95 % bound "
                        "(22.0 %) misses the 5 % target.")
    assert lines[1].startswith("That takes 32 agent-hours of tech per simulated run") and "Widen the sweep" in lines[1]


def test_when_every_setting_meets_the_target_the_cheapest_is_recommended() -> None:
    lines = answer({p: 0.01 for p in GRID})
    assert lines[0].startswith("Set tech agents to 2 and the support transfer timeout to 30 s:")
    assert lines[1].endswith("Every setting of the sweep meets the 5 % target; this is the cheapest.")


def test_points_without_a_figure_neither_meet_nor_come_closest() -> None:
    his = {p: math.nan for p in GRID} | {(4, 120): 0.3}
    points = sweep_points(frame(his), baseline(), "target", "tech", TAR, 0.05)
    assert [p.meets for p in points].count(False) == 9
    best, meets = best_point(points, "lower")
    assert not meets and best.setting == {AG: 4, TO: 120}
    assert best_point(sweep_points(frame({p: math.nan for p in GRID}), baseline(), "target", "tech", TAR, 0.05),
                      "lower") == (None, False)


def test_a_higher_is_better_figure_is_judged_by_its_lower_bound() -> None:
    his = {p: 0.5 for p in GRID} | {(3, 60): 0.9, (2, 120): 0.89}
    lines = answer(his, 0.9, metric="transfer_success_rate")
    assert lines[0].startswith("Set tech agents to 3 and the support transfer timeout to 60 s: transfer success "
                               "(joined) for transfers to tech is 91.0 % (90.0–92.0 %), within the 90 % target even "
                               "at the lower end of that range (90.0 %).")


def test_without_a_target_the_answer_spans_the_sweep_and_asks_for_one() -> None:
    his = {p: 0.3 - 0.01 * i for i, p in enumerate(GRID)}
    (line,) = answer(his, None)
    assert line.startswith("Across the 9 settings of the sweep, transfer abandonment (expired or abandoned) for "
                           "transfers to tech runs from ")
    assert line.endswith("Give a target (e.g. --target 5%) for the cheapest setting that meets it.")


def test_a_sweep_frame_without_the_scope_says_so() -> None:
    assert sweep_answer(frame({(2, 30): 0.1}), baseline(), "target", "billing", target=0.05) == [
        "The sweep has no transfer abandonment (expired or abandoned) for transfers to billing."]


# -- the tuning's answer ---------------------------------------------------------------------------------
def tuning(recommended, explored, **extra) -> dict:
    return {"param": AG, "metric": TAR, "target": 0.05, "direction": "lower", "scope": "target", "key": "tech",
            "recommended": recommended, "chosen": extra.pop("chosen", recommended), "reason": "r",
            "explored": explored, "agent_hours": {"tech": 32.0, "frontline": 112.0},
            "occupancy": {"tech": [0.4, 0.35, 0.45], "frontline": [0.9, 0.8, 1.0]}, **extra}


def ex(a: int, hi: float) -> dict:
    return {AG: a, "mean": hi - 0.01, "ci_low": hi - 0.02, "ci_high": hi, "n": 6, "meets": hi <= 0.05, "stage": "grid"}


def test_a_tuning_answers_with_what_to_set_and_its_cost() -> None:
    lines = tune_answer(tuning(4, [ex(1, 0.3), ex(4, 0.04), ex(8, 0.01)]))
    assert lines[0] == ("Set tech agents to 4: 3.0 % of transfers to tech are lost before an agent joins (95 % range "
                        "2.0–4.0 %), within the 5 % target even at the upper end of that range (4.0 %).")
    # the cost of the tuned group only (not frontline's)
    assert lines[1] == ("It takes 32 agent-hours of tech per simulated run, tech's chat slots busy 40.0 % (35.0–45.0 %) "
                        "of the time. It is the smallest value of tech agents from 1 to 8 that meets the target (the "
                        "tuning assumes more is never worse).")


def test_a_tuning_that_meets_nothing_names_the_closest() -> None:
    lines = tune_answer(tuning(None, [ex(1, 0.3), ex(3, 0.12), ex(6, 0.08)], chosen=6))
    assert lines[0] == ("No value of tech agents from 1 to 6 meets the 5 % target for transfers to tech with 95 % confidence. "
                        "The closest is tech agents at 6: 7.0 % of transfers to tech are lost before an agent joins "
                        "(95 % range 6.0–8.0 %); its upper 95 % bound (8.0 %) misses the 5 % target.")
    assert lines[1].startswith("That takes 32 agent-hours of tech") and "wider range" in lines[1]
    assert tune_answer({"not": "a tuning"}) == []


# -- scopes that do not exist ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tiny") / "tiny.toml"
    path.write_text(TINY)
    return path


@pytest.fixture(scope="module")
def sweep_dir(tiny_file, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sweep") / "store"
    res = runner.invoke(app, ["sweep", str(tiny_file), "--vary", "groups.billing.agents=1,3", "-r", "2",
                              "--executor", "serial", "--no-progress", "--out", str(out)])
    assert res.exit_code == 0, res.output
    # derived from what was varied: billing's staffing -> the transfers to billing
    assert "transfers to billing (target:billing, derived from --vary groups.billing.agents" in res.stdout
    assert "answer: Across the 2 settings of the sweep" in res.stdout
    return out


def test_a_scope_the_sweep_does_not_have_is_refused_listing_those_it_has(sweep_dir, tmp_path) -> None:
    with pytest.raises(UnknownScope, match="no scope 'target:tech' in this sweep; its scopes: overall, "
                                           "service:support, target:billing"):
        build_report(sweep_dir, tmp_path / "rep", scopes=["target:tech"])
    assert not (tmp_path / "rep").exists()  # refused before anything is written
    res = runner.invoke(app, ["report", str(sweep_dir), "--out", str(tmp_path / "rep"), "--scope", "target:tech"])
    assert res.exit_code == 2 and res.stderr.startswith("error: no scope 'target:tech' in this sweep; its scopes:")
    assert len(res.stderr.splitlines()) == 1 and not (tmp_path / "rep").exists()
    res = runner.invoke(app, ["report", str(sweep_dir), "--scope", "tech"])
    assert res.exit_code == 2 and "scope must be overall, service:NAME, target:NAME or group:NAME" in res.stderr


def test_a_scope_the_scenario_does_not_have_stops_a_sweep_before_it_runs(tiny_file, tmp_path) -> None:
    out = tmp_path / "s"
    res = runner.invoke(app, ["sweep", str(tiny_file), "--vary", "groups.billing.agents=1,3", "--scope", "target:tech",
                              "--executor", "serial", "--no-progress", "--out", str(out)])
    assert res.exit_code == 2 and "the scenario 'tiny' has no such scope; its scopes: overall, service:support" in res.stderr
    assert not out.exists()


def test_a_run_report_for_a_scope_it_does_not_have_is_refused(tmp_path) -> None:
    from model.sim import simulate

    res = simulate(load_scenario("scenarios/baseline.toml").with_changes({"simulation.horizon": 1800}), replications=2)
    with pytest.raises(UnknownScope, match="target:nobody"):
        build_report(res, tmp_path / "r", scopes=["target:nobody"])
    assert not (tmp_path / "r").exists()


# -- rates typed as percents -------------------------------------------------------------------------------
def test_a_target_is_a_fraction_or_a_percent_and_a_bare_5_is_refused(sweep_dir, tiny_file, tmp_path) -> None:
    pages = []
    for typed in ("5%", "0.05", " 5 % "):
        res = runner.invoke(app, ["report", str(sweep_dir), "--out", str(tmp_path / typed.strip()), "--target", typed])
        assert res.exit_code == 0, res.output
        pages.append(Answers(tmp_path / typed.strip() / "index.html").answer)
    assert pages[0] == pages[1] == pages[2] and "5 % target" in pages[0][0]
    expected = "error: --target 5: a rate is a fraction (0.05) or a percent (5%)"
    for args in (["report", str(sweep_dir)],
                 ["sweep", str(tiny_file), "--vary", "groups.billing.agents=1,3", "--executor", "serial"],
                 ["tune", str(tiny_file), "--metric", TAR, "--param", "groups.billing.agents", "--range", "1..3"]):
        res = runner.invoke(app, [*args, "--target", "5"])
        assert res.exit_code == 2 and res.stderr.strip() == expected, (args, res.stderr)
    res = runner.invoke(app, ["report", str(sweep_dir), "--target", "500%"])
    assert res.exit_code == 2 and "from 0 to 1 (0 % to 100 %)" in res.stderr


# -- policy return -----------------------------------------------------------------------------------------
RETURN = TINY.replace('transfer_timeout = "60s"', 'transfer_timeout = "15s"\non_transfer_timeout = "return"')


def test_run_splits_transfer_outcomes_and_shows_those_returned_to_their_sender(tmp_path) -> None:
    path = tmp_path / "return.toml"
    path.write_text(RETURN)
    res = runner.invoke(app, ["run", str(path), "-r", "3", "--out", str(tmp_path / "out"), "--report"])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    at = lines.index("  transfers ended as (share of requests):")
    block = lines[at + 1: at + 5]
    labels = ["successful (joined)", "returned to sender", "timer expired", "customer left"]
    assert [line.strip().split("  ")[0] for line in block] == labels
    shares = [float(re.search(r"(\d+\.\d) %", line).group(1)) for line in block]
    assert shares[1] > 0 and shares[2] == 0.0  # the timer returns transfers; none expires
    assert sum(shares) == pytest.approx(100.0, abs=0.2)
    # the same split from the transfers table itself
    tr = pd.read_parquet(tmp_path / "out" / "transfers.parquet")
    tr = tr[tr.counted.astype(bool) & (tr.outcome != "open")]
    returned = pd.Series([(g.outcome == "returned").mean() for _, g in tr.groupby("replication")]).mean()
    assert shares[1] == pytest.approx(100 * returned, abs=0.051)
    page = Answers(tmp_path / "out" / "index.html")
    assert any(a.startswith("Of transfers to billing: successful (joined)") and "returned to sender" in a
               for a in page.answer)
    assert "returns transfers" not in page.text and "goes back to its sender instead" in page.text


# -- the pages: answer first, no code names, thresholds of the scenario --------------------------------------
class Answers(HTMLParser):
    """The answer sentences and the visible text of a report (no tags, attributes, style)."""

    def __init__(self, path: Path) -> None:
        super().__init__(convert_charrefs=True)
        self.answer: list[str] = []
        self.parts: list[str] = []
        self._in: list[str] = []
        self._p = False
        self.feed(path.read_text(encoding="utf-8"))
        self.text = " ".join(" ".join(self.parts).split())

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self._in.append(tag)
        a = dict(attrs)
        if tag == "section" and a.get("id") == "answer":
            self._p = True
        if tag == "p" and self._p:
            self.answer.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self._p = False
        if self._in:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        if "style" in self._in:
            return
        self.parts.append(data)
        if self._p and self.answer and "p" in self._in:
            self.answer[-1] = " ".join((self.answer[-1] + data).split())


CODE = re.compile(r"\b[a-z]+_[a-z_]+\b|\b(?:groups|services|agents)\.[a-z]")


def test_no_code_names_on_a_supervisors_page(sweep_dir, tiny_file, tmp_path) -> None:
    """Labels are words; metric names and paths live only in data attributes (and the CSV files)."""
    from model.sim import simulate

    run = build_report(simulate(load_scenario("scenarios/baseline.toml").with_changes({"simulation.horizon": 1800}),
                                replications=2), tmp_path / "run", target=0.05)
    sweep = build_report(sweep_dir, tmp_path / "sweep", target=0.05)
    res = runner.invoke(app, ["tune", str(tiny_file), "--metric", TAR, "--target", "5%", "--param",
                              "groups.billing.agents", "--range", "1..4", "--grid", "3", "-r", "2", "--executor",
                              "serial", "--no-progress", "--out", str(tmp_path / "tune"), "--report"])
    assert res.exit_code == 0, res.output
    for index in (run, sweep, tmp_path / "tune" / "index.html"):
        page = Answers(index)
        found = sorted(set(CODE.findall(re.sub(r"\S+\.png", "", page.text))))  # file names may stay
        assert found == [], (index, found)
        assert "replication" not in page.text.replace("(a replication)", "")  # said as simulated runs
        assert 'data-metric="transfer_abandonment_rate"' in index.read_text() or "data-key=" in index.read_text()


def test_the_glossary_states_the_scenarios_own_thresholds(tmp_path) -> None:
    from model.sim import simulate

    sc = load_scenario("scenarios/baseline.toml").with_changes(
        {"simulation.horizon": 1800, "services.support.service_level_threshold": 30,
         "services.support.transfer_timeout": 45})
    page = Answers(build_report(simulate(sc, replications=2), tmp_path / "g"))
    assert "The threshold in this scenario: 30 s." in page.text
    assert "The transfer timeout in this scenario: 45 s." in page.text
    assert "mean over 2 such runs" in page.text


def test_a_run_that_meets_the_target_says_so_and_one_without_transfers_says_that(tmp_path) -> None:
    from model.sim import simulate

    res = simulate(load_scenario("scenarios/baseline.toml").with_changes({"simulation.horizon": 1800}), replications=2)
    page = Answers(build_report(res, tmp_path / "easy", target=1.0))
    assert "transfers to billing meet it" in page.answer[0] and "transfers to tech meet it" in page.answer[0]
    assert "To find how many" not in page.answer[1]
    calm = load_scenario("scenarios/baseline.toml").with_changes(
        {"simulation.horizon": 1800, "groups.frontline.transfers": []})
    page = Answers(build_report(simulate(calm, replications=2), tmp_path / "calm", target=0.05))
    assert page.answer[0] == "No transfers were requested in this run."


# -- help at 80 columns ------------------------------------------------------------------------------------
@pytest.mark.parametrize("command, wanted, option", [
    ("sweep", ["--vary groups.tech.agents=2,3,4,5 \\", "--vary services.support.transfer_timeout=30,60,120 \\"],
     "(groups.tech.agents -> target:tech)"),
    ("tune", ["--param groups.tech.agents --range 1..10"], "(groups.tech.agents -> target:tech when tech"),
    ("report", ["transfer-sim report reports/sweeps/peak --target 5% --scope target:tech"], "service:NAME, target:NAME"),
])
def test_the_paths_of_the_examples_are_whole_at_80_columns(command, wanted, option) -> None:
    res = runner.invoke(app, [command, "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    for text in wanted:
        assert any(line.strip() == text for line in lines), (text, res.stdout)
    assert "<int range>" not in res.stdout and "<str>" not in res.stdout
    assert "\u2026" not in res.stdout  # nothing cut off with an ellipsis (rich's panels at 80 columns did)
    options = " ".join(res.stdout[res.stdout.index("Options:"):].split())
    assert option in options


def test_json_of_a_tuning_records_its_scope_and_why(tiny_file) -> None:
    res = runner.invoke(app, ["tune", str(tiny_file), "--metric", TAR, "--target", "0.9", "--param",
                              "groups.billing.agents", "--range", "1..3", "--grid", "2", "-r", "2", "--executor",
                              "serial", "--no-progress", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["scope_text"] == "target:billing" and data["scope_reason"].startswith("derived from groups.billing")
    assert data["chosen"] == data["recommended"] and data["recommended"] in (1, 2, 3)
    assert set(data["occupancy"]) == {"frontline", "billing"} and set(data["agent_hours"]) == {"frontline", "billing"}


def test_a_sweep_of_a_group_staffed_by_a_rota_reports(tmp_path) -> None:
    """peak-hour staffs tech by a profile: sweeping tech's agents (a number) is compared with the
    scenario's rota, which is no number: the report must still answer (it once crashed)."""
    from model.experiments import run_sweep

    sc = load_scenario("scenarios/peak-hour.toml").with_changes({"simulation.horizon": 7200, "simulation.start": "08:00"})
    res = run_sweep(sc, {AG: [1, 3], TO: [30, 120]}, 2, executor="serial", progress=False)
    page = Answers(build_report(sc, tmp_path / "rota", sweep=res.summary, target=0.05))
    assert "transfers to tech" in page.answer[0]
    held = sweep_headline(res.summary, sc, key="tech")  # held at the scenario's value: a rota, not a number
    assert held[0].startswith("With a 30 s timeout, ") and held[1] == "Other varied settings held at: tech agents = 1."
    assert any(a.startswith("Other varied settings held at: tech agents = ") for a in page.answer)


def test_a_named_agent_as_a_target_is_said_in_words(tmp_path) -> None:
    """peak-hour transfers to the agent anna ("agent:anna" in results): the page says "the agent anna"."""
    from model.sim import simulate

    sc = load_scenario("scenarios/peak-hour.toml").with_changes({"simulation.horizon": 4 * 3600, "simulation.start": "08:00"})
    page = Answers(build_report(simulate(sc, replications=2), tmp_path / "anna"))
    assert "agent:anna" not in page.text
    assert "Transfers to the agent anna" in page.text and "1 % to the agent anna" in page.text
