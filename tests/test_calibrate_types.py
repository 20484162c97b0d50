"""Calibration per contact type (issue 18, item 5): a log with a ``service`` column and an optional
``priority`` column gives one service per type, with its own arrival profile, patience, priority
and handle time (``handle_time_by_service`` on the group), sharing the groups and their staffing.

The round trip simulates two types with known truth on one pool: VIP (priority 1, impatient:
exponential patience of mean 60 s, short chats of 120 s) and standard (priority 0, patient: lognormal
of mean 600 s, chats of 240 s), exports the simulator's log (which carries the priority column when
the services differ in it), calibrates and checks each type comes back within tolerance.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from model import scenario_from_dict, simulate
from model.calibration import Calibration, calibrate
from model.cli.main import app
from model.logs import LogError, clean_log, contacts_log, read_log
from model.scenario import load_scenario

DAYS = 8
HOURS = [["00:00", 0], ["08:00", 1], ["18:00", 0]]
RATE = {"vip": 30, "standard": 60}
PATIENCE = {"vip": 60.0, "standard": 600.0}
HANDLE = {"vip": 120.0, "standard": 240.0}


def profile(rate: float) -> list[list]:
    return [[clock, rate * on] for clock, on in HOURS]


TRUTH = {
    "simulation": {"horizon": "24h", "warmup": 0, "replications": DAYS, "seed": 3, "start": "00:00"},
    "services": [
        {"name": "vip", "entry_group": "pool", "priority": 1, "arrivals": {"kind": "poisson", "profile": profile(30)},
         "patience": {"kind": "exponential", "mean": PATIENCE["vip"]}},
        {"name": "standard", "entry_group": "pool", "arrivals": {"kind": "poisson", "profile": profile(60)},
         "patience": {"kind": "lognormal", "mean": PATIENCE["standard"], "cv": 1.0}},
    ],
    "groups": [{"name": "pool", "agents": {"profile": [["00:00", 0], ["08:00", 4], ["18:00", 0]]},
                "handle_time": {"kind": "lognormal", "mean": HANDLE["standard"], "cv": 0.8},
                "handle_time_by_service": {"vip": {"kind": "lognormal", "mean": HANDLE["vip"], "cv": 0.8}}}],
}


@pytest.fixture(scope="module")
def log() -> tuple[pd.DataFrame, pd.DataFrame]:
    return contacts_log(simulate(scenario_from_dict(TRUTH), keep_events=True))


@pytest.fixture(scope="module")
def cal(log) -> Calibration:
    contacts, transfers = log
    return calibrate(clean_log(contacts, transfers=transfers, source="two types"), "1h", name="types")


def test_the_simulators_log_carries_each_contacts_priority(log) -> None:
    contacts, _ = log
    assert set(contacts.groupby("service")["priority"].unique().map(tuple)) == {(1,), (0,)}
    one = dict(TRUTH, services=[dict(s, priority=0) for s in TRUTH["services"]])
    contacts, _ = contacts_log(simulate(scenario_from_dict(one), keep_events=True, replications=1))
    assert "priority" not in contacts.columns  # no information, no column: the format as before


def test_each_type_gets_its_own_arrival_profile(cal: Calibration) -> None:
    a = cal.arrivals
    for service, rate in RATE.items():
        mine = a[a["service"] == service]
        truth = np.array([rate if 8 <= h < 18 else 0 for h in range(24)])
        covered = mine["days"].to_numpy() > 0
        inside = (mine["low"].to_numpy() <= truth) & (truth <= mine["high"].to_numpy())
        assert inside[covered].sum() >= covered.sum() - 1, mine[~inside]
        assert abs(mine["contacts"].sum() / (rate * 10 * DAYS) - 1) < 0.05
        written = dict(cal.scenario.service(service).arrivals.profile)
        assert abs(written["12:00"] / rate - 1) < 0.3


def test_each_type_gets_its_own_patience(cal: Calibration) -> None:
    vip = cal.scenario.service("vip").patience
    standard = cal.scenario.service("standard").patience
    assert vip.kind == "exponential" and abs(vip.mean / PATIENCE["vip"] - 1) < 0.15
    assert abs(standard.mean / PATIENCE["standard"] - 1) < 0.25
    # the naive figure would mislead most for the patient type: its abandoners are the impatient few
    assert cal.km["patience standard"].naive_mean < 0.5 * PATIENCE["standard"]


def test_each_type_gets_its_own_handle_time_on_the_shared_group(cal: Calibration) -> None:
    assert cal.by_type == {"pool": ["standard", "vip"]}
    group = cal.scenario.group("pool")
    for service, mean in HANDLE.items():
        fit = cal.fits[f"handle_time pool [{service}]"]
        se = mean * 0.8 / math.sqrt(fit.n)
        assert fit.chosen == "lognormal" and abs(fit.candidate("lognormal").mean - mean) < 3.5 * se
        assert abs(group.handle_time_of(service).mean - fit.candidate("lognormal").mean) < 0.01
    assert HANDLE["vip"] < group.handle_time.mean < HANDLE["standard"]  # the pooled fit, for any other type
    assert "handle_time_by_service.vip = {" in cal.toml()


def test_each_type_gets_its_priority_and_the_scenario_loads(cal: Calibration, tmp_path: Path) -> None:
    assert {s.name: s.priority for s in cal.scenario.services} == {"standard": 0, "vip": 1}
    assert cal.priorities["vip"][0] == 1 and "most common priority" in cal.priorities["vip"][1]
    path = tmp_path / "types.toml"
    path.write_text(cal.toml())
    loaded = load_scenario(path)
    assert loaded.service("vip").priority == 1 and loaded.has_priorities
    assert len({g.name for g in loaded.groups}) == 1  # the types share the group and its staffing


def test_disagreeing_priorities_take_the_most_common_and_say_so(log) -> None:
    contacts, _ = log
    c = contacts.copy()
    vip = c.index[c["service"] == "vip"]
    c.loc[vip[:10], "priority"] = 0
    c.loc[c["service"] == "standard", "priority"] = pd.NA
    cal = calibrate(clean_log(c), "1h")
    assert cal.scenario.service("vip").priority == 1
    assert cal.scenario.service("standard").priority == 0
    said = " ".join(cal.notes)
    assert "service vip: 10 of" in said and "another priority than its most common, 1: 0 (10)" in said
    assert "service standard: no contact with a priority in the log" in said
    tie = c[c["service"] == "vip"].head(4).assign(priority=[2, 2, 3, 3])
    assert calibrate(clean_log(tie), "1h").scenario.service("vip").priority == 3  # a tie goes to the higher


def test_a_type_with_few_legs_in_a_group_takes_the_pooled_handle_time(log) -> None:
    contacts, _ = log
    few = pd.concat([contacts[contacts["service"] == "standard"], contacts[contacts["service"] == "vip"].head(12)])
    cal = calibrate(clean_log(few), "1h")
    assert cal.by_type == {}
    assert any("complete leg(s) of vip, fewer than 20" in n for n in cal.notes)
    assert cal.scenario.group("pool").handle_time_by_service is None


def test_without_service_or_priority_columns_nothing_changes(log) -> None:
    contacts, _ = log
    plain = contacts.drop(columns=["service", "priority"])
    cal = calibrate(clean_log(plain), "1h")
    assert [s.name for s in cal.scenario.services] == ["chat"]
    assert cal.priorities == {} and cal.by_type == {}
    assert "priority" not in cal.toml() and "handle_time_by_service" not in cal.toml()


def test_a_priority_column_that_is_not_whole_numbers(tmp_path: Path, log) -> None:
    contacts, _ = log
    c = contacts.head(200).copy()
    c["priority"] = c["priority"].astype(object)
    c.loc[c.index[:3], "priority"] = "x"
    bad = tmp_path / "few.csv"
    c.to_csv(bad, index=False)
    read = read_log(bad)
    assert any(what == "priority not a whole number" and n == 3 for what, n, _ in read.cleaning.lines)
    c["priority"] = "high"
    c.to_csv(bad, index=False)
    with pytest.raises(LogError) as info:
        read_log(bad)
    message = str(info.value)
    assert str(bad) in message and "'priority'" in message and "'high'" in message and "integers" in message
    out = CliRunner().invoke(app, ["calibrate", str(bad), "--out", str(tmp_path / "x.toml")])
    assert out.exit_code == 2 and "error:" in out.output and "'priority'" in out.output


def test_cli_maps_the_type_and_priority_columns(tmp_path: Path, log) -> None:
    contacts, _ = log
    theirs = contacts.rename(columns={"service": "queue_type", "priority": "prio"})
    path = tmp_path / "theirs.csv"
    theirs.to_csv(path, index=False)
    out_toml = tmp_path / "types.toml"
    out = CliRunner().invoke(app, ["calibrate", str(path), "--out", str(out_toml),
                                   "--columns", "service=queue_type,priority=prio"])
    assert out.exit_code == 0, out.output
    assert "handle_time pool [vip]: lognormal" in out.output and "priorities: standard 0, vip 1" in out.output
    sc = load_scenario(out_toml)
    assert {s.name: s.priority for s in sc.services} == {"standard": 0, "vip": 1}
    out = CliRunner().invoke(app, ["calibrate", str(path), "--out", str(tmp_path / "y.toml"),
                                   "--columns", "type=queue_type"])
    assert out.exit_code == 2 and "unknown column 'type'" in out.output and "priority" in out.output
