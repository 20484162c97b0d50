"""Agents required for a target (``agents_required``, ``transfer-sim estimate --target``): the
estimate run backwards, as an Erlang calculator (docs/estimate.md, "Agents required for a target").
"""

from __future__ import annotations

import math
import re
import time
from typing import Any

import pytest
from typer.testing import CliRunner

from model.analytic import erlang_a, staffing_erlang_a
from model.cli import app
from model.estimate import estimate
from model.estimate_required import agents_required, parse_target
from model.scenario import scenario_from_dict

from helpers import SCENARIOS

runner = CliRunner()
HH_MM = re.compile(r"^\s*\d\d:\d\d\s")


def single(agents: Any = 10, max_concurrent: int = 1, rate_per_hour: float = 570, **service: Any):
    service.setdefault("arrivals", {"kind": "poisson", "rate_per_hour": rate_per_hour})
    """M/M/n+M: Poisson arrivals, exponential handle time 1 min, exponential patience 2 min."""
    return scenario_from_dict({
        "name": "single",
        "simulation": {"horizon": "8h", "warmup": 0, "replications": 2, "seed": 1},
        "services": [{"name": "chat", "entry_group": "agents", "patience": {"kind": "exponential", "mean": "2m"},
                      **service}],
        "groups": [{"name": "agents", "agents": agents, "max_concurrent": max_concurrent,
                    "handle_time": {"kind": "exponential", "mean": "1m"}}],
    })


@pytest.mark.parametrize("target", [0.05, 0.01, 0.2, 0.001])
def test_a_single_erlang_a_group_needs_what_staffing_erlang_a_says(target):
    df = agents_required(single(), {"metric": "queue_abandonment_rate", "max": target})
    assert list(df.columns) == ["group", "agents required", "chat slots", "offered load (erlangs)",
                                "predicted queue abandonment rate", "agents now", "note"]
    [r] = df.itertuples(index=False)
    n = staffing_erlang_a(9.5, 1.0, 0.5, target)
    assert r[1] == n and r[2] == n and r[3] == pytest.approx(9.5) and r[5] == 10 and r[6] == ""
    assert r[4] == pytest.approx(erlang_a(n, 9.5, 1.0, 0.5).p_abandon) and r[4] <= target
    assert erlang_a(n - 1, 9.5, 1.0, 0.5).p_abandon > target  # the fewest
    # the predicted figure is the estimate's at that staffing
    assert r[4] == pytest.approx(estimate(single(agents=n)).queue_p_abandon[0], rel=1e-12)


def test_percent_and_fraction_forms_agree_and_the_figure_defaults_from_the_direction():
    sc = single()
    a, b, c = (agents_required(sc, t)["agents required"][0]
               for t in ("queue_abandonment_rate<=5%", "<=0.05", " queue_abandonment_rate <= 5 % "))
    assert a == b == c == staffing_erlang_a(9.5, 1.0, 0.5, 0.05)
    assert parse_target(">=80%") == parse_target("service_level>=0.8")
    assert parse_target("<=5%").metric == "queue_abandonment_rate"
    assert parse_target("transfer_abandonment_rate<=1%").value == pytest.approx(0.01)


def test_two_chats_per_agent_need_half_the_slots_rounded_up():
    slots = staffing_erlang_a(9.5, 1.0, 0.5, 0.05)  # 12: an odd number of agents checks the rounding up
    df = agents_required(single(max_concurrent=2), "queue_abandonment_rate<=5%")
    assert df["agents required"][0] == math.ceil(slots / 2)
    assert df["chat slots"][0] == 2 * math.ceil(slots / 2)
    assert df["agents now"][0] == 10
    odd = staffing_erlang_a(9.0, 1.0, 0.5, 0.02)
    df = agents_required(single(max_concurrent=2, rate_per_hour=540), "<=2%")
    assert odd % 2 == 1 and df["agents required"][0] == (odd + 1) // 2


def test_a_busy_hour_needs_more_agents_than_a_quiet_one():
    profile = [["00:00", 60], ["09:00", 600], ["10:00", 120]]
    sc = single(agents=4, arrivals={"kind": "poisson", "profile": profile})
    sc = sc.with_changes({"simulation.start": "08:00", "simulation.horizon": "3h"})
    df = agents_required(sc, "queue_abandonment_rate<=5%", by="1h").set_index("interval")
    assert list(df.index) == ["08:00", "09:00", "10:00"]
    need = df["agents required"]
    assert need["09:00"] > need["10:00"] > need["08:00"]
    assert need["09:00"] == staffing_erlang_a(10.0, 1.0, 0.5, 0.05)
    assert need["08:00"] == staffing_erlang_a(1.0, 1.0, 0.5, 0.05)
    assert (df["agents now"] == 4).all()


def test_a_staffing_profile_shows_the_agents_now_of_each_hour():
    sc = single(agents={"profile": [["00:00", 3], ["09:00", 11], ["10:00", 3]]})
    sc = sc.with_changes({"simulation.start": "08:00", "simulation.horizon": "3h"})
    df = agents_required(sc, "<=5%", by="1h").set_index("interval")
    assert df["agents now"].to_dict() == {"08:00": 3, "09:00": 11, "10:00": 3}
    assert (df["agents required"] == staffing_erlang_a(9.5, 1.0, 0.5, 0.05)).all()


def test_a_service_level_target_is_erlang_as_service_level_at_the_threshold():
    df = agents_required(single(service_level_threshold="30s"), "service_level>=80%")
    n = int(df["agents required"][0])
    assert df.columns[4] == "predicted service level"
    sl = [erlang_a(k, 9.5, 1.0, 0.5).service_level(0.5) for k in (n - 1, n)]
    assert sl[0] < 0.8 <= sl[1] and df["predicted service level"][0] == pytest.approx(sl[1])
    # a longer threshold is easier to meet
    longer = agents_required(single(service_level_threshold="5m"), ">=80%")["agents required"][0]
    assert longer <= n


def test_transfers_into_a_group_are_searched_with_the_entry_group_as_staffed():
    sc = scenario_from_dict({
        "name": "two", "simulation": {"horizon": "4h", "warmup": 0, "replications": 2, "seed": 1},
        "services": [{"name": "chat", "entry_group": "front", "transfer_timeout": "60s",
                      "arrivals": {"kind": "poisson", "rate_per_hour": 60},
                      "patience": {"kind": "exponential", "mean": "3m"}}],
        "groups": [{"name": "front", "agents": 6, "handle_time": {"kind": "exponential", "mean": "5m"},
                    "transfers": [{"to": "back", "probability": 0.3}]},
                   {"name": "back", "agents": 1, "handle_time": {"kind": "exponential", "mean": "6m"}}],
    })
    df = agents_required(sc, "transfer_abandonment_rate<=5%").set_index("group")
    n = int(df.loc["back", "agents required"])
    assert df.loc["back", "predicted transfer abandonment rate"] <= 0.05
    staffed = estimate(sc.with_changes({"groups.back.agents": n - 1})).set_index("group")
    assert staffed.loc["back", "transfer_p_abandon"] > 0.05  # one fewer would not do
    assert math.isnan(df.loc["front", "agents required"]) and "no transfers into" in df.loc["front", "note"]


def test_a_target_no_staffing_meets_says_so_and_stops():
    start = time.perf_counter()
    df = agents_required(single(), "queue_abandonment_rate<=0%")
    assert time.perf_counter() - start < 20
    assert math.isnan(df["agents required"][0]) and math.isnan(df["chat slots"][0])
    assert "no staffing up to" in df["note"][0] and df["predicted queue abandonment rate"][0] > 0


def test_without_patience_nobody_abandons_once_the_queue_is_stable():
    df = agents_required(single(patience=None), "queue_abandonment_rate<=0%")
    assert df["agents required"][0] == 10  # 9.5 erlangs: the fewest with n mu > lambda


@pytest.mark.parametrize("bad", ["foo<=5%", "queue_abandonment_rate<5", "queue_abandonment_rate<=150%",
                                 "queue_abandonment_rate<=5", "service_level<=80%", "", "<=-1%",
                                 {"metric": "service_level"}, {"metric": "nope", "max": 0.1}])
def test_a_bad_target_is_refused_naming_the_figures_and_forms(bad):
    with pytest.raises(ValueError) as err:
        agents_required(single(), bad)
    text = str(err.value)
    assert "queue_abandonment_rate, transfer_abandonment_rate, service_level" in text
    assert '"service_level>=80%"' in text and "percent" in text


def test_cli_target_prints_one_row_per_interval_and_group_in_words():
    res = runner.invoke(app, ["estimate", str(SCENARIOS / "day.toml"), "--target", "queue_abandonment_rate<=5%",
                              "--by", "1h"])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert "agents required per group for queue_abandonment_rate<=5%" in lines[0]
    assert re.search(r"interval\s+group\s+agents required\s+chat slots\s+offered load \(erlangs\)"
                     r"\s+predicted queue abandonment rate\s+agents now", lines[1]), lines[1]
    rows = [line.split()[:2] for line in lines if HH_MM.match(line)]
    assert len(rows) == 13 * 2 and {g for _, g in rows} == {"front", "specialists"}
    assert len(set(map(tuple, rows))) == len(rows)
    front = {line.split()[0]: int(line.split()[2]) for line in lines if HH_MM.match(line) and " front " in line}
    assert front["10:00"] > front["07:00"]  # 120 vs 40 contacts an hour


def test_cli_target_without_by_prints_one_row_per_group():
    res = runner.invoke(app, ["estimate", str(SCENARIOS / "single-group.toml"), "--target", ">=80%"])
    assert res.exit_code == 0, res.output
    [line] = [ln for ln in res.stdout.splitlines() if ln.split()[:1] == ["agents"]]
    assert re.match(r"^agents\s+\d+\s+\d+\s+9\.50\s+\d+\.\d %\s+10$", line), line


@pytest.mark.parametrize("bad", ["foo<=5%", "queue_abandonment_rate<5", "queue_abandonment_rate<=150%"])
def test_cli_a_bad_target_exits_2_with_one_line(bad):
    res = runner.invoke(app, ["estimate", str(SCENARIOS / "single-group.toml"), "--target", bad])
    assert res.exit_code == 2, res.output
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --target"), res.stderr
    assert "service_level" in lines[0] and "Traceback" not in res.output


def test_cli_plain_estimate_shows_agents_next_to_chat_slots():
    res = runner.invoke(app, ["estimate", str(SCENARIOS / "peak-hour.toml")])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert re.search(r"group\s+service\s+agents\s+chat slots\s+handle time \(s\)\s+new contacts/h", lines[1]), lines[1]
    assert "servers" not in lines[1] and "rho" not in lines[1] and "queue abandonment" in lines[1]
    # frontline: 2 chats per agent, 18 slots on average (rounded down) -> 9 agents
    assert re.match(r"^\s*frontline\s+support\s+9\s+18\s", lines[2]), lines[2]


@pytest.mark.parametrize("first", ["model.estimate_required", "model.estimate", "model.cli"])
def test_imports_in_any_order_in_a_fresh_process(first: str) -> None:
    """estimate_required builds on estimate, which offers agents_required lazily: no import cycle,
    whichever is imported first (a test process has imported both long before)."""
    import subprocess
    import sys

    code = f"import {first}\nfrom model.estimate import agents_required\nfrom model.estimate_required import parse_target"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
