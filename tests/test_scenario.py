"""The scenario format: shipped files, durations, distributions, arrivals, errors, with_changes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from model.scenario import (
    Arrivals,
    Distribution,
    Scenario,
    ScenarioError,
    load_scenario,
    parse_duration,
    scenario_from_dict,
)

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"

BASE = """
[simulation]
horizon = "8h"

[[services]]
name = "support"
entry_group = "frontline"
arrivals = { kind = "poisson", rate_per_hour = 240 }

[[groups]]
name = "frontline"
agents = 4
handle_time = { kind = "exponential", mean = "5m" }
transfers = [{ to = "billing", probability = 0.1 }]

[[groups]]
name = "billing"
agents = 2
handle_time = { kind = "exponential", mean = "7m" }
"""


BILLING_HANDLE = '{ kind = "exponential", mean = "7m" }'


def write(tmp_path: Path, text: str, name: str = "case.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text, "broken-scenario.toml")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return str(info.value)


def assert_mentions(message: str, *parts: str) -> None:
    assert "broken-scenario.toml" in message, message
    for part in parts:
        assert part in message, f"{part!r} not in:\n{message}"


# -- shipped scenarios ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["baseline", "single-group", "peak-hour"])
def test_shipped_scenarios_load(name: str) -> None:
    scenario = load_scenario(SCENARIOS / f"{name}.toml")
    assert scenario.name == name
    assert scenario_from_dict(scenario.to_dict()) == scenario


def test_baseline_is_the_shared_example() -> None:
    shared = Path("/work/shared/examples/baseline.toml")
    if shared.exists():
        assert (SCENARIOS / "baseline.toml").read_text() == shared.read_text()


def test_baseline_values() -> None:
    s = load_scenario(SCENARIOS / "baseline.toml")
    assert s.simulation.horizon == 8 * 3600 and s.simulation.warmup == 1800
    support = s.service("support")
    assert support.transfer_timeout == 60 and support.dissuasion_timeout == 600
    assert support.patience is not None and support.patience.mean == 240
    assert s.group("billing").offer_timeout == 20
    assert s.group("frontline").transfers[0].message == "invoice question"
    assert s.agents_of("tech") == ["tech-1", "tech-2"]
    assert s.all_agents()["frontline-14"] == (2, ("frontline",))


def test_single_group_is_erlang_a() -> None:
    s = load_scenario(SCENARIOS / "single-group.toml")
    (service,) = s.services
    (group,) = s.groups
    assert service.arrivals.rate_at(0) == pytest.approx(9.5 / 60)
    assert group.agents == 10 and group.max_concurrent == 1 and group.transfers == []
    assert group.handle_time.kind == "exponential" and group.handle_time.mean == 60
    assert service.patience is not None and service.patience.kind == "exponential"
    assert service.patience.mean == 120
    assert s.simulation.horizon == 8 * 3600


def test_peak_hour_named_agent() -> None:
    s = load_scenario(SCENARIOS / "peak-hour.toml")
    targets = s.targets()
    assert targets["agent:anna"] == frozenset({"anna"})
    assert "anna" in targets["billing"] and "anna" in targets["tech"]
    assert s.agents_of("billing")[-1] == "anna"
    assert s.all_agents()["anna"] == (2, ("billing", "tech"))
    arrivals = s.service("support").arrivals
    assert arrivals.max_rate == pytest.approx(420 / 3600)
    assert arrivals.rate_at(9.5 * 3600) == arrivals.max_rate
    assert s.simulation.horizon == 24 * 3600


# -- durations -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(90, 90.0), (2.5, 2.5), ("90", 90.0), ("45s", 45.0), ("5m", 300.0), ("8h", 28800.0),
     ("1h30m", 5400.0), ("1h 30m 15s", 5415.0), ("1.5h", 5400.0), ("1d", 86400.0), ("0.5s", 0.5)],
)
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", [0, -5, "0s", "-5m", "5x", "m5", "", "h", "1m1h", True, None, [1]])
def test_parse_duration_rejects(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_parse_duration_allow_zero() -> None:
    assert parse_duration(0, allow_zero=True) == 0.0
    with pytest.raises(ValueError):
        parse_duration("-1s", allow_zero=True)


# -- distributions -------------------------------------------------------------------------------

N = 200_000


@pytest.mark.parametrize(
    ("data", "mean", "cv"),
    [
        ({"kind": "exponential", "mean": "4m"}, 240.0, 1.0),
        ({"kind": "constant", "value": "12s"}, 12.0, 0.0),
        ({"kind": "deterministic", "value": 30}, 30.0, 0.0),
        ({"kind": "lognormal", "mean": "5m", "cv": 0.9}, 300.0, 0.9),
        ({"kind": "lognormal", "mean": 12, "cv": 0.3}, 12.0, 0.3),
        ({"kind": "gamma", "mean": "9m", "cv": 0.7}, 540.0, 0.7),
        ({"kind": "gamma", "mean": 60, "cv": 1.5}, 60.0, 1.5),
        ({"kind": "uniform", "low": 0, "high": "1m"}, 30.0, 1 / math.sqrt(3)),
        ({"kind": "erlang", "mean": "2m", "k": 4}, 120.0, 0.5),
    ],
)
def test_distribution_moments(data: dict, mean: float, cv: float) -> None:
    dist = Distribution.from_data(data)
    assert isinstance(dist, Distribution)
    assert dist.mean == pytest.approx(mean)
    draws = dist.sample(np.random.default_rng(2026), N)
    assert draws.shape == (N,) and draws.dtype == float and (draws >= 0).all()
    assert draws.mean() == pytest.approx(mean, rel=0.02)
    assert draws.std() / draws.mean() == pytest.approx(cv, rel=0.05, abs=1e-9)


def test_sampler_matches_sample_and_is_seeded() -> None:
    dist = Distribution.from_data({"kind": "gamma", "mean": 60, "cv": 0.5})
    draw = dist.sampler(np.random.default_rng(3))
    values = [draw() for _ in range(10_000)]  # crosses block boundaries
    assert all(isinstance(v, float) for v in values[:5])
    expected = np.concatenate([dist.sample(np.random.default_rng(3), 4096) for _ in range(1)])
    assert values[:4096] == expected.tolist()
    assert np.mean(values) == pytest.approx(60, rel=0.03)
    again = dist.sampler(np.random.default_rng(3))
    assert [again() for _ in range(10_000)] == values


def test_constant_sampler() -> None:
    draw = Distribution.from_data({"kind": "constant", "value": "5s"}).sampler(np.random.default_rng(0))
    assert {draw() for _ in range(10)} == {5.0}


# -- arrivals ------------------------------------------------------------------------------------


def test_profile_wraps_and_repeats_daily() -> None:
    a = Arrivals(kind="poisson", profile=[("06:00", 60), ("09:00", 360), ("12:00", 120)])
    per_hour = [a.rate_at(h * 3600) * 3600 for h in (0, 5.99, 6, 8.5, 9, 11.99, 12, 23.9, 24, 33)]
    assert per_hour == pytest.approx([120, 120, 60, 60, 360, 360, 120, 120, 120, 360])
    assert a.max_rate == pytest.approx(360 / 3600)
    day = (6 * 120 + 3 * 60 + 3 * 360 + 12 * 120) / 24 / 3600
    assert a.mean_rate(86400) == pytest.approx(day)
    assert a.mean_rate(3 * 86400) == pytest.approx(day)
    assert a.next_change(0) == 6 * 3600 and a.next_change(6 * 3600) == 9 * 3600


def test_profile_follows_simulation_start() -> None:
    data = load_scenario(SCENARIOS / "peak-hour.toml").to_dict()
    data["simulation"]["start"] = "09:00"
    s = scenario_from_dict(data)
    arrivals = s.service("support").arrivals
    assert arrivals.rate_at(0) * 3600 == pytest.approx(420)
    assert arrivals.rate_at(2 * 3600) * 3600 == pytest.approx(260)
    assert arrivals.next_change(0) == 2 * 3600


def test_constant_and_flat_arrivals() -> None:
    c = Arrivals(kind="constant", rate_per_hour=120)
    assert c.interarrival == 30 and c.rate_at(1e6) == pytest.approx(120 / 3600)
    p = Arrivals(rate_per_hour=240)
    assert p.mean_rate(1000) == p.max_rate == pytest.approx(240 / 3600)
    assert math.isinf(p.next_change(5.0))


# -- errors: file name, field path, bad value, allowed values -------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="nowhere.toml: file not found"):
        load_scenario(tmp_path / "nowhere.toml")


def test_toml_syntax_error(tmp_path: Path) -> None:
    text = BASE + "\n[[groups]\nname = 'x'\n"
    bad_line = text.splitlines().index("[[groups]") + 1
    msg = error_of(tmp_path, text)
    assert_mentions(msg, "TOML syntax error", f"line {bad_line}")


def test_unknown_entry_group(tmp_path: Path) -> None:
    msg = error_of(tmp_path, BASE.replace('entry_group = "frontline"', 'entry_group = "frontlne"'))
    assert_mentions(msg, "services.support.entry_group", "'frontlne'", "allowed: 'frontline', 'billing'")


def test_unknown_transfer_group(tmp_path: Path) -> None:
    msg = error_of(tmp_path, BASE.replace('to = "billing"', 'to = "biling"'))
    assert_mentions(msg, "groups.frontline.transfers[0].to", "'biling'", "'billing'", "'frontline'")


def test_unknown_named_agent(tmp_path: Path) -> None:
    text = BASE.replace('to = "billing"', 'to = "agent:bob"') + (
        '\n[[agents]]\nname = "anna"\ngroups = ["billing"]\n'
    )
    msg = error_of(tmp_path, text)
    assert_mentions(msg, "groups.frontline.transfers[0].to", "'agent:bob'", "allowed: 'agent:anna'")


def test_unknown_group_of_named_agent(tmp_path: Path) -> None:
    msg = error_of(tmp_path, BASE + '\n[[agents]]\nname = "anna"\ngroups = ["billing", "tek"]\n')
    assert_mentions(msg, "agents.anna.groups[1]", "'tek'", "'frontline', 'billing'")


@pytest.mark.parametrize(
    ("old", "new", "path", "value"),
    [
        ('horizon = "8h"', 'horizon = "0s"', "simulation.horizon", "'0s'"),
        ('horizon = "8h"', "horizon = -5", "simulation.horizon", "-5"),
        ('mean = "7m"', 'mean = "-7m"', "groups.billing.handle_time.mean", "'-7m'"),
        ('name = "support"', 'name = "support"\ntransfer_timeout = 0',
         "services.support.transfer_timeout", "0"),
        ('horizon = "8h"', 'horizon = "8 hours"', "simulation.horizon", "'8 hours'"),
    ],
)
def test_bad_durations(tmp_path: Path, old: str, new: str, path: str, value: str) -> None:
    msg = error_of(tmp_path, BASE.replace(old, new))
    assert_mentions(msg, path, f"got {value}", "duration")


def test_warmup_may_be_zero(tmp_path: Path) -> None:
    s = load_scenario(write(tmp_path, BASE.replace('horizon = "8h"', 'horizon = "8h"\nwarmup = 0')))
    assert s.simulation.warmup == 0


@pytest.mark.parametrize("p", ["1.5", "-0.1"])
def test_probability_outside_unit_interval(tmp_path: Path, p: str) -> None:
    msg = error_of(tmp_path, BASE.replace("probability = 0.1", f"probability = {p}"))
    assert_mentions(msg, "groups.frontline.transfers[0].probability", f"got {p}", "0")
    assert ("must be less than or equal to 1" in msg) or ("must be greater than or equal to 0" in msg)


def test_reject_probability_outside_unit_interval(tmp_path: Path) -> None:
    msg = error_of(tmp_path, BASE.replace('mean = "7m" }', 'mean = "7m" }\nreject_probability = 2'))
    assert_mentions(msg, "groups.billing.reject_probability", "got 2", "less than or equal to 1")


def test_probabilities_sum_above_one(tmp_path: Path) -> None:
    text = BASE.replace(
        '[{ to = "billing", probability = 0.1 }]',
        '[{ to = "billing", probability = 0.7 }, { to = "frontline", probability = 0.4 }]',
    )
    msg = error_of(tmp_path, text)
    assert_mentions(msg, "groups.frontline.transfers", "sum to more than 1", "got 1.1", "allowed: a sum <= 1")


def test_group_without_agents(tmp_path: Path) -> None:
    msg = error_of(tmp_path, BASE.replace("agents = 2", "agents = 0"))
    assert_mentions(msg, "groups.billing.agents", "no agent", "got 0", "agents >= 1")


def test_group_with_only_named_agents_is_fine(tmp_path: Path) -> None:
    text = BASE.replace("agents = 2", "agents = 0") + '\n[[agents]]\nname = "anna"\ngroups = ["billing"]\n'
    s = load_scenario(write(tmp_path, text))
    assert s.agents_of("billing") == ["anna"]


def test_unknown_distribution_kind(tmp_path: Path) -> None:
    msg = error_of(tmp_path, BASE.replace(BILLING_HANDLE, '{ kind = "weibull", mean = 3 }'))
    assert_mentions(
        msg, "groups.billing.handle_time.kind", "'weibull'", "'exponential'", "'lognormal'", "'erlang'"
    )


def test_bad_distribution_parameter(tmp_path: Path) -> None:
    msg = error_of(tmp_path, BASE.replace(BILLING_HANDLE, '{ kind = "gamma", mean = 3, cv = 0 }'))
    assert_mentions(msg, "groups.billing.handle_time.cv", "got 0", "greater than 0")


def test_self_transfer_with_probability_one(tmp_path: Path) -> None:
    text = BASE.replace('{ to = "billing", probability = 0.1 }', '{ to = "frontline", probability = 1 }')
    msg = error_of(tmp_path, text)
    assert_mentions(msg, "groups.frontline.transfers[0].probability", "own group", "got 1", "< 1")


def test_self_transfer_below_one_is_allowed(tmp_path: Path) -> None:
    s = load_scenario(write(tmp_path, BASE.replace('to = "billing"', 'to = "frontline"')))
    assert s.group("frontline").transfers[0].to == "frontline"


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ("agents = 2", "agnets = 2", "groups.billing.agnets"),
        ('horizon = "8h"', 'horizon = "8h"\nhorizn = 3', "simulation.horizn"),
        ('mean = "7m" }', 'mean = "7m", cv = 1 }', "groups.billing.handle_time.cv"),
    ],
)
def test_unknown_field(tmp_path: Path, old: str, new: str, path: str) -> None:
    msg = error_of(tmp_path, BASE.replace(old, new))
    assert_mentions(msg, path, "unknown field", "allowed:")


def test_unknown_field_lists_allowed_fields(tmp_path: Path) -> None:
    msg = error_of(tmp_path, BASE.replace("agents = 2", "agnets = 2"))
    assert_mentions(msg, "'agents'", "'max_concurrent'", "'handle_time'", "'offer_mode'")


@pytest.mark.parametrize(
    ("extra", "path", "value"),
    [
        ('\n[[groups]]\nname = "billing"\nagents = 1\nhandle_time = { kind = "constant", value = 1 }\n',
         "groups[2].name", "'billing'"),
        ('\n[[services]]\nname = "support"\nentry_group = "billing"\narrivals = { rate_per_hour = 1 }\n',
         "services[1].name", "'support'"),
        ('\n[[agents]]\nname = "ann"\ngroups = ["billing"]\n'
         '[[agents]]\nname = "ann"\ngroups = ["frontline"]\n',
         "agents[1].name", "'ann'"),
    ],
)
def test_duplicate_names(tmp_path: Path, extra: str, path: str, value: str) -> None:
    msg = error_of(tmp_path, BASE + extra)
    assert_mentions(msg, path, "duplicate", f"got {value}", "allowed:")


def test_named_agent_colliding_with_anonymous(tmp_path: Path) -> None:
    msg = error_of(tmp_path, BASE + '\n[[agents]]\nname = "billing-2"\ngroups = ["frontline"]\n')
    assert_mentions(msg, "agents.billing-2.name", "anonymous", "'billing-2'")


def test_bad_choice_lists_allowed(tmp_path: Path) -> None:
    msg = error_of(tmp_path, BASE.replace("agents = 2", 'agents = 2\noffer_mode = "shout"'))
    assert_mentions(msg, "groups.billing.offer_mode", "'shout'", "'sequential'", "'broadcast'")


def test_arrivals_need_exactly_one_source(tmp_path: Path) -> None:
    text = BASE.replace("rate_per_hour = 240", 'rate_per_hour = 240, profile = [["00:00", 5]]')
    msg = error_of(tmp_path, text)
    assert_mentions(msg, "services.support.arrivals", "exactly one of rate_per_hour or profile")


def test_bad_profile(tmp_path: Path) -> None:
    msg = error_of(tmp_path, BASE.replace("rate_per_hour = 240", 'profile = [["08:00", 5], ["07:00", 9]]'))
    assert_mentions(msg, "services.support.arrivals.profile", "strictly increasing", "'07:00'")


def test_missing_required_field(tmp_path: Path) -> None:
    msg = error_of(tmp_path, BASE.replace('handle_time = { kind = "exponential", mean = "7m" }', ""))
    assert_mentions(msg, "groups.billing.handle_time", "required")


def test_one_line_per_problem(tmp_path: Path) -> None:
    text = BASE.replace("agents = 2", "agnets = 2").replace('horizon = "8h"', 'horizon = "0s"')
    with pytest.raises(ScenarioError) as info:
        load_scenario(write(tmp_path, text, "two.toml"))
    lines = str(info.value).splitlines()
    assert len(lines) == len(info.value.problems) == 2
    assert all(line.startswith(str(tmp_path / "two.toml") + ": ") for line in lines)


def test_scenario_from_dict_error_without_file() -> None:
    with pytest.raises(ScenarioError, match="simulation: required field is missing"):
        scenario_from_dict({"services": [], "groups": []})


# -- with_changes and to_dict --------------------------------------------------------------------


def test_to_dict_round_trip() -> None:
    s = load_scenario(SCENARIOS / "peak-hour.toml")
    data = s.to_dict()
    assert data["simulation"]["horizon"] == 86400.0
    assert data["groups"][1]["offer_timeout"] == 20.0
    assert scenario_from_dict(data) == s


def test_with_changes() -> None:
    s = load_scenario(SCENARIOS / "baseline.toml")
    t = s.with_changes(
        {
            "services.support.transfer_timeout": 45,
            "groups.billing.agents": 4,
            "groups.billing.offer_mode": "broadcast",
            "simulation.seed": 9,
            "services.support.arrivals.rate_per_hour": 300,
            "groups.tech.offer_timeout": "30s",
            "groups.frontline.transfers.0.probability": 0.2,
            "services.support.patience": {"kind": "constant", "value": "1m"},
        }
    )
    assert isinstance(t, Scenario) and t != s
    assert t.service("support").transfer_timeout == 45.0
    assert t.group("billing").agents == 4 and t.group("billing").offer_mode == "broadcast"
    assert t.simulation.seed == 9
    assert t.service("support").arrivals.rate_per_hour == 300
    assert t.group("tech").offer_timeout == 30.0
    assert t.group("frontline").transfers[0].probability == 0.2
    assert t.service("support").patience is not None and t.service("support").patience.mean == 60
    # the original is untouched, and undoing the changes gives it back
    assert s.service("support").transfer_timeout == 60 and s.group("billing").agents == 3
    back = t.with_changes(
        {
            "services.support.transfer_timeout": 60,
            "groups.billing.agents": 3,
            "groups.billing.offer_mode": "sequential",
            "simulation.seed": 2026,
            "services.support.arrivals.rate_per_hour": 240,
            "groups.tech.offer_timeout": None,
            "groups.frontline.transfers.0.probability": 0.12,
            "services.support.patience": s.service("support").patience,
        }
    )
    assert back == s


def test_with_changes_start_moves_profile() -> None:
    s = load_scenario(SCENARIOS / "peak-hour.toml").with_changes({"simulation.start": "09:00"})
    assert s.service("support").arrivals.rate_at(0) * 3600 == pytest.approx(420)


@pytest.mark.parametrize(
    ("path", "named", "allowed"),
    [
        ("groups.bill.agents", "groups.bill", "'frontline', 'billing', 'tech'"),
        ("groups.billing.agentz", "groups.billing.agentz", "'offer_mode'"),
        ("simulaton.seed", "simulaton", "'simulation', 'services', 'groups'"),
        ("simulation.seed.x", "simulation.seed.x", "simulation.seed"),
        ("groups.frontline.transfers.7.probability", "groups.frontline.transfers.7", "'0', '1'"),
        ("groups.tech.offer_timeout.x", "groups.tech.offer_timeout", "set the whole value"),
    ],
)
def test_with_changes_bad_path(path: str, named: str, allowed: str) -> None:
    s = load_scenario(SCENARIOS / "baseline.toml")
    with pytest.raises(ScenarioError) as info:
        s.with_changes({path: 1})
    msg = str(info.value)
    assert named in msg and allowed in msg and "baseline.toml" in msg


def test_with_changes_invalid_value() -> None:
    s = load_scenario(SCENARIOS / "baseline.toml")
    with pytest.raises(ScenarioError) as info:
        s.with_changes({"groups.billing.agents": 0, "services.support.entry_group": "nobody"})
    msg = str(info.value)
    assert "groups.billing.agents" in msg
    assert "services.support.entry_group: unknown group; got 'nobody'" in msg


def test_lookup_errors() -> None:
    s = load_scenario(SCENARIOS / "baseline.toml")
    with pytest.raises(KeyError, match="billing"):
        s.group("nope")
    with pytest.raises(KeyError, match="support"):
        s.service("nope")


def test_bad_profile_entry(tmp_path: Path) -> None:
    msg = error_of(tmp_path, BASE.replace("rate_per_hour = 240", 'profile = [["00:00", 5], ["7:00", -9]]'))
    assert_mentions(msg, "services.support.arrivals.profile[1][0]", "'7:00'", "'HH:MM'")
    assert_mentions(msg, "services.support.arrivals.profile[1][1]", "got -9", "greater than or equal to 0")
