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

from helpers import SCENARIOS, write_file

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


def error_of(tmp_path: Path, text: str) -> str:
    path = write_file(tmp_path, text, "broken-scenario.toml")
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
        ('name = "support"', 'name = "support"\ntransfer_timeout = "-1s"',
         "services.support.transfer_timeout", "'-1s'"),
        ('horizon = "8h"', 'horizon = "8 hours"', "simulation.horizon", "'8 hours'"),
    ],
)
def test_bad_durations(tmp_path: Path, old: str, new: str, path: str, value: str) -> None:
    msg = error_of(tmp_path, BASE.replace(old, new))
    assert_mentions(msg, path, f"got {value}", "duration")


def test_warmup_may_be_zero(tmp_path: Path) -> None:
    s = load_scenario(write_file(tmp_path, BASE.replace('horizon = "8h"', 'horizon = "8h"\nwarmup = 0')))
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
    s = load_scenario(write_file(tmp_path, text))
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
    s = load_scenario(write_file(tmp_path, BASE.replace('to = "billing"', 'to = "frontline"')))
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
        load_scenario(write_file(tmp_path, text, "two.toml"))
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


# -- strict types: no coercion of booleans, floats or strings --------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "path", "value"),
    [
        ("agents = 2", "agents = true", "groups.billing.agents", "True"),
        ("agents = 2", "agents = 2.0", "groups.billing.agents", "2.0"),
        ("agents = 2", 'agents = "2"', "groups.billing.agents", "'2'"),
        ("agents = 2", "agents = 2\nmax_concurrent = \"3\"", "groups.billing.max_concurrent", "'3'"),
        ('horizon = "8h"', 'horizon = "8h"\nseed = 1.0', "simulation.seed", "1.0"),
        ('horizon = "8h"', 'horizon = "8h"\nreplications = false', "simulation.replications", "False"),
    ],
)
def test_int_fields_take_integers_only(tmp_path: Path, old: str, new: str, path: str, value: str) -> None:
    msg = error_of(tmp_path, BASE.replace(old, new))
    assert_mentions(msg, f"{path}: must be an integer", f"got {value}")
    assert len(msg.splitlines()) == 1


@pytest.mark.parametrize(
    ("old", "new", "path", "value"),
    [
        ("agents = 2", "agents = 2\nreject_probability = true", "groups.billing.reject_probability", "True"),
        ("agents = 2", 'agents = 2\nreject_probability = "0.5"', "groups.billing.reject_probability", "'0.5'"),
        ("probability = 0.1", "probability = true", "groups.frontline.transfers[0].probability", "True"),
        ("rate_per_hour = 240", 'rate_per_hour = "240"', "services.support.arrivals.rate_per_hour", "'240'"),
        (BILLING_HANDLE, '{ kind = "gamma", mean = "7m", cv = false }', "groups.billing.handle_time.cv", "False"),
    ],
)
def test_float_fields_refuse_booleans_and_strings(tmp_path: Path, old: str, new: str, path: str, value: str) -> None:
    msg = error_of(tmp_path, BASE.replace(old, new))
    assert_mentions(msg, f"{path}: must be a number", f"got {value}")


def test_float_fields_take_integers(tmp_path: Path) -> None:
    text = BASE.replace("probability = 0.1", "probability = 1").replace(
        "agents = 2", "agents = 2\nreject_probability = 0"
    ).replace('to = "billing"', 'to = "frontline"').replace("probability = 1", "probability = 0")
    s = load_scenario(write_file(tmp_path, text))
    assert s.group("billing").reject_probability == 0.0 and isinstance(s.group("billing").reject_probability, float)


@pytest.mark.parametrize("text", ["٦٠٠", "٦٠٠s", "６０s", "१०m", "٠٨:٠٠"])
def test_durations_take_ascii_digits_only(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_duration_of_an_integer_beyond_any_float() -> None:
    with pytest.raises(ValueError, match="finite"):
        parse_duration(10**400)


def test_documented_durations_still_parse() -> None:
    for text in ["90", "45s", "5m", "8h", "1d", "1h30m", "1.5h", "1h 30m 15s", 90, 2.5]:
        assert parse_duration(text) > 0


def test_numpy_numbers_are_numbers() -> None:
    s = load_scenario(SCENARIOS / "baseline.toml")
    t = s.with_changes({"groups.billing.agents": np.int64(4), "groups.billing.reject_probability": np.float32(0.5),
                        "services.support.transfer_timeout": np.int64(45)})
    assert t.group("billing").agents == 4 and type(t.group("billing").agents) is int
    assert t.group("billing").reject_probability == 0.5
    assert t.service("support").transfer_timeout == 45.0
    with pytest.raises(ScenarioError, match="must be an integer"):
        s.with_changes({"groups.billing.agents": np.bool_(True)})


def test_integers_beyond_64_bits(tmp_path: Path) -> None:
    msg = error_of(tmp_path, BASE.replace("agents = 2", "agents = 99999999999999999999"))
    assert_mentions(msg, "groups.billing.agents", "less than or equal to 9223372036854775807")


def test_huge_agent_count_loads_without_listing_agents(tmp_path: Path) -> None:
    s = load_scenario(write_file(tmp_path, BASE.replace("agents = 2", "agents = 9223372036854775807")))
    assert s.group("billing").agents == 2**63 - 1
    # a named agent is still checked against the anonymous names, without building them
    msg = error_of(tmp_path, BASE.replace("agents = 2", "agents = 9223372036854775807")
                   + '\n[[agents]]\nname = "billing-9223372036854775807"\ngroups = ["frontline"]\n')
    assert_mentions(msg, "collides with an anonymous agent of group 'billing'")
    ok = BASE + '\n[[agents]]\nname = "billing-3"\ngroups = ["frontline"]\n'  # billing has 2 agents
    assert load_scenario(write_file(tmp_path, ok)).all_agents()["billing-3"] == (1, ("frontline",))
    ok = BASE + '\n[[agents]]\nname = "billing-01"\ngroups = ["frontline"]\n'
    assert load_scenario(write_file(tmp_path, ok)).agents_of("frontline")[-1] == "billing-01"


def test_huge_but_finite_values_are_valid(tmp_path: Path) -> None:
    """The schema takes them; the CLI's work estimate is the place that refuses to run them."""
    text = (BASE.replace('horizon = "8h"', "horizon = 1e300\nreplications = 1000000000")
            .replace("rate_per_hour = 240", "rate_per_hour = 1e300")
            .replace("agents = 2", "agents = 10000000\noffer_timeout = 1e-9"))
    s = load_scenario(write_file(tmp_path, text))
    assert s.simulation.horizon == 1e300 and s.group("billing").offer_timeout == 1e-9


# -- non-finite values and parameters that overflow -----------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "path", "text"),
    [
        ('horizon = "8h"', "horizon = inf", "simulation.horizon", "a duration must be finite"),
        ('horizon = "8h"', "horizon = nan", "simulation.horizon", "a duration must be finite"),
        ("probability = 0.1", "probability = nan", "groups.frontline.transfers[0].probability", "finite"),
        ("rate_per_hour = 240", "rate_per_hour = inf", "services.support.arrivals.rate_per_hour", "finite"),
        ("rate_per_hour = 240", "rate_per_hour = 1e-320", "services.support.arrivals.rate_per_hour",
         "out of range"),
        ("rate_per_hour = 240", 'profile = [["00:00", 1e308]]', "services.support.arrivals.profile",
         "out of range"),
        ('horizon = "8h"', "horizon = 1e308\nwarmup = 1e308", "simulation.warmup", "warmup + horizon"),
        (BILLING_HANDLE, '{ kind = "exponential", mean = 1.7e308 }', "groups.billing.handle_time",
         "draws that are not finite"),
        (BILLING_HANDLE, '{ kind = "erlang", mean = "7m", k = 1.0 }', "groups.billing.handle_time.k",
         "must be an integer"),
    ],
)
def test_non_finite_and_overflowing_values(tmp_path: Path, old: str, new: str, path: str, text: str) -> None:
    msg = error_of(tmp_path, BASE.replace(old, new))
    assert_mentions(msg, f"{path}: ", text)
    assert len(msg.splitlines()) == 1


@pytest.mark.parametrize(
    ("kind", "cv", "text"),
    [
        ("gamma", "inf", "must be a finite number"),
        ("gamma", "nan", "must be a finite number"),
        ("gamma", "1e-300", "the shape 1/cv^2 overflows"),
        ("gamma", "1e-160", "the shape 1/cv^2"),
        ("gamma", "1e200", "overflows"),
        ("lognormal", "1e300", "sigma^2 = ln(1 + cv^2) overflows"),
        ("lognormal", "1e-170", "sigma^2 = ln(1 + cv^2) would be 0"),
        ("lognormal", "inf", "must be a finite number"),
    ],
)
def test_cv_edge_values_are_refused(tmp_path: Path, kind: str, cv: str, text: str) -> None:
    msg = error_of(tmp_path, BASE.replace(BILLING_HANDLE, f'{{ kind = "{kind}", mean = "7m", cv = {cv} }}'))
    assert_mentions(msg, "groups.billing.handle_time.cv", text, f"got {float(cv)!r}")
    if "out of range" in msg:
        assert "allowed: " in msg


@pytest.mark.parametrize(("kind", "cv"), [("gamma", 1e-100), ("gamma", 1e100), ("lognormal", 1e-100),
                                          ("lognormal", 1e100), ("gamma", 1e-9), ("lognormal", 50.0)])
def test_cv_extreme_but_sound_values_load_and_draw_finite(kind: str, cv: float) -> None:
    dist = Distribution.from_data({"kind": kind, "mean": 60, "cv": cv})
    draws = dist.sample(np.random.default_rng(1), 10_000)
    assert np.isfinite(draws).all() and (draws >= 0).all()


def test_gamma_scale_overflow() -> None:
    with pytest.raises(Exception, match="the scale mean"):
        Distribution.from_data({"kind": "gamma", "mean": 1e300, "cv": 1e10})


# -- routing: transfers that can never end ------------------------------------------------------------

TECH = '\n[[groups]]\nname = "tech"\nagents = 2\nhandle_time = { kind = "exponential", mean = "9m" }\n'


def _routing(billing: str, tech: str, extra: str = "") -> str:
    return (BASE.replace(BILLING_HANDLE, f"{BILLING_HANDLE}\ntransfers = [{billing}]")
            + TECH + f"transfers = [{tech}]\n" + extra)


def test_transfer_cycle_with_probability_one_is_refused(tmp_path: Path) -> None:
    text = _routing('{ to = "tech", probability = 1 }', '{ to = "billing", probability = 1.0 }')
    msg = error_of(tmp_path, text)
    assert_mentions(msg, "groups.billing.transfers: endless transfers: 'billing' -> 'tech' -> 'billing'",
                    "never completes", "got ['billing', 'tech']", "allowed: transfer probabilities summing to < 1")
    assert len(msg.splitlines()) == 1


def test_transfer_cycle_split_over_rules_is_refused(tmp_path: Path) -> None:
    text = _routing('{ to = "tech", probability = 0.3 }, { to = "billing", probability = 0.7 }',
                    '{ to = "billing", probability = 0.9 }, { to = "tech", probability = 0.1 }')
    assert_mentions(error_of(tmp_path, text), "endless transfers", "'billing' -> 'tech' -> 'billing'")


def test_self_transfer_split_over_rules_is_refused(tmp_path: Path) -> None:
    text = BASE.replace(BILLING_HANDLE, BILLING_HANDLE + '\ntransfers = [{ to = "billing", probability = 0.5 },'
                        ' { to = "billing", probability = 0.5 }]')
    assert_mentions(error_of(tmp_path, text), "groups.billing.transfers", "'billing' -> 'billing'")


def test_float_sum_of_one_counts_as_one(tmp_path: Path) -> None:
    rules = ", ".join(['{ to = "tech", probability = 0.1 }'] * 10)  # sums to 0.9999999999999999
    text = _routing(rules, '{ to = "billing", probability = 1 }')
    assert_mentions(error_of(tmp_path, text), "endless transfers")


def test_transfer_cycle_with_an_exit_is_fine(tmp_path: Path) -> None:
    s = load_scenario(write_file(tmp_path, _routing('{ to = "tech", probability = 1 }',
                                               '{ to = "billing", probability = 0.99 }')))
    assert s.group("tech").transfers[0].probability == 0.99


def test_cycle_through_an_agent_target_uses_the_agents_first_group(tmp_path: Path) -> None:
    # tech always transfers to anna, who works in billing (not tech); billing always transfers to tech
    anna = '\n[[agents]]\nname = "anna"\ngroups = ["billing"]\n'
    text = _routing('{ to = "tech", probability = 1 }', '{ to = "agent:anna", probability = 1 }', anna)
    msg = error_of(tmp_path, text)
    assert_mentions(msg, "endless transfers", "'billing' -> 'tech' -> 'billing'")
    # the agent closes a contact rather than transferring it to herself: a group she works in that
    # always transfers to her can complete (model/sim/engine.py, _on_conversation_end)
    for groups in ('["tech", "billing"]', '["billing", "tech"]'):
        anna_in_tech = f'\n[[agents]]\nname = "anna"\ngroups = {groups}\n'
        ok = _routing('{ to = "tech", probability = 1 }', '{ to = "agent:anna", probability = 1 }', anna_in_tech)
        assert load_scenario(write_file(tmp_path, ok)).group("tech").transfers[0].to == "agent:anna"


def test_unreached_cycle_is_refused_too(tmp_path: Path) -> None:
    """No service enters billing or tech here; a change of entry group would, so it is refused anyway."""
    text = _routing('{ to = "tech", probability = 1 }', '{ to = "billing", probability = 1 }').replace(
        '[{ to = "billing", probability = 0.1 }]', "[]")
    assert_mentions(error_of(tmp_path, text), "endless transfers")


def test_cycle_is_refused_by_with_changes() -> None:
    s = load_scenario(SCENARIOS / "baseline.toml")
    with pytest.raises(ScenarioError, match="endless transfers: 'billing' -> 'tech' -> 'billing'"):
        s.with_changes({"groups.billing.transfers": [{"to": "tech", "probability": 1.0}],
                        "groups.tech.transfers": [{"to": "billing", "probability": 1.0}]})


# -- the file itself: BOM, encodings, nesting, emptiness, directories ----------------------------------


def test_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "baseline.toml"
    path.write_bytes(b"\xef\xbb\xbf" + (SCENARIOS / "baseline.toml").read_bytes())
    assert load_scenario(path) == load_scenario(SCENARIOS / "baseline.toml")


def test_bom_then_an_error_reports_the_error(tmp_path: Path) -> None:
    path = tmp_path / "broken-scenario.toml"
    path.write_bytes(b"\xef\xbb\xbf" + BASE.replace("agents = 2", "agents = -2").encode())
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert_mentions(str(info.value), "groups.billing.agents", "got -2")


def test_utf16_and_binary_files(tmp_path: Path) -> None:
    path = tmp_path / "utf16.toml"
    path.write_bytes(BASE.encode("utf-16"))
    with pytest.raises(ScenarioError, match="utf16.toml: the file is UTF-16 text; save it as UTF-8"):
        load_scenario(path)
    path = tmp_path / "binary.toml"
    path.write_bytes(bytes(range(256)))
    with pytest.raises(ScenarioError, match="binary.toml: not UTF-8 text"):
        load_scenario(path)


@pytest.mark.parametrize("text", ["a = " + "[" * 10_000 + "]" * 10_000,
                                  "a = " + "{ b = " * 3_000 + "1" + " }" * 3_000])
def test_deep_nesting_is_one_error_line(tmp_path: Path, text: str) -> None:
    msg = error_of(tmp_path, text)
    assert_mentions(msg, "nested too deeply")
    assert len(msg.splitlines()) == 1


def test_moderate_nesting_under_a_known_field(tmp_path: Path) -> None:
    msg = error_of(tmp_path, BASE.replace('name = "support"', 'name = ' + "[" * 200 + "]" * 200))
    assert_mentions(msg, "services[0].name", "must be a string")
    assert len(msg.splitlines()) == 1 and len(msg) < 400


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    assert_mentions(error_of(tmp_path, text), "the file is empty", "[simulation]", "[[services]]", "[[groups]]")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=": is a directory, not a scenario file"):
        load_scenario(tmp_path)


# -- messages stay one short line --------------------------------------------------------------------


def test_services_as_a_table(tmp_path: Path) -> None:
    msg = error_of(tmp_path, BASE.replace("[[services]]", "[services]"))
    assert_mentions(msg, "services: services must be an array of tables ([[services]]), got a table")
    assert "rate_per_hour" not in msg and len(msg.splitlines()) == 1


@pytest.mark.parametrize(
    ("old", "new", "text"),
    [
        ('transfers = [{ to = "billing", probability = 0.1 }]', 'transfers = { to = "billing", probability = 0.1 }',
         "transfers must be an array of inline tables"),
        ('transfers = [{ to = "billing", probability = 0.1 }]', 'transfers = "billing"',
         "transfers must be an array of inline tables (transfers = [{ to = ..., probability = ... }]), got a string"),
    ],
)
def test_lists_given_as_something_else(tmp_path: Path, old: str, new: str, text: str) -> None:
    assert_mentions(error_of(tmp_path, BASE.replace(old, new, 1)), text)


def test_groups_as_a_table(tmp_path: Path) -> None:
    text = BASE.split("[[groups]]")[0] + '[groups]\nname = "frontline"\nagents = 4\nhandle_time = { kind = "constant", value = 1 }\n'
    msg = error_of(tmp_path, text)
    assert_mentions(msg, "groups: groups must be an array of tables ([[groups]]), got a table")
    assert "handle_time" not in msg


def test_long_values_are_cut_to_one_short_line(tmp_path: Path) -> None:
    long_name = "support." * 1000
    msg = error_of(tmp_path, BASE.replace('name = "support"', f'name = "{long_name}"'))
    (line,) = msg.splitlines()
    assert_mentions(line, "services[0].name", "got 'support.support.", "...")
    assert len(line) < len(str(tmp_path)) + 300


def test_control_characters_are_escaped(tmp_path: Path) -> None:
    msg = error_of(tmp_path, BASE.replace("agents = 2", 'agents = 2\n"bad\\nkey\\u2028" = 1'))
    (line,) = msg.splitlines()
    assert_mentions(line, "groups.billing.bad\\nkey\\u2028: unknown field")


def test_problem_line_shortens_value() -> None:
    from model.scenario import Problem

    line = Problem("a.b", "is wrong", {"k": "v" * 500}, "x").line("f.toml")
    assert line.startswith("f.toml: a.b: is wrong; got {'k': 'vvv") and "...; allowed: x" in line
    assert len(line) < 150


def test_endless_or_huge_input_is_not_read_whole(tmp_path: Path) -> None:
    if Path("/dev/zero").exists():
        with pytest.raises(ScenarioError, match="/dev/zero: larger than 16 MiB"):
            load_scenario("/dev/zero")
    with pytest.raises(ScenarioError, match="cannot read the file"):
        load_scenario(str(tmp_path / "a\0b.toml"))


# -- as_scenario: what a "scenario argument" may be --------------------------------------------------
class _PathLike:
    def __init__(self, path: object) -> None:
        self.path = path

    def __fspath__(self) -> object:
        return self.path


def test_as_scenario_takes_a_scenario_as_is_and_loads_a_path(tmp_path: Path) -> None:
    from model.scenario import as_scenario

    sc = load_scenario(SCENARIOS / "baseline.toml")
    assert as_scenario(sc) is sc
    for given in (SCENARIOS / "baseline.toml", str(SCENARIOS / "baseline.toml"),
                  _PathLike(str(SCENARIOS / "baseline.toml"))):
        assert as_scenario(given) == sc
    assert as_scenario(write_file(tmp_path, BASE, "mine.toml")).name == "mine"  # named after its file


def test_as_scenario_refuses_a_bad_path_as_a_scenario_error(tmp_path: Path) -> None:
    from model.scenario import as_scenario

    with pytest.raises(ScenarioError, match="nope.toml: file not found"):
        as_scenario(tmp_path / "nope.toml")
    with pytest.raises(ScenarioError, match="broken.toml: .*TOML syntax error"):
        as_scenario(write_file(tmp_path, "[simulation\n", "broken.toml"))


@pytest.mark.parametrize("given, named", [
    (None, "NoneType"),
    (42, "int"),
    ({"simulation": {"horizon": "1h"}}, "dict"),
    (b"scenarios/baseline.toml", "bytes"),
    (_PathLike(b"scenarios/baseline.toml"), "_PathLike"),
    ([SCENARIOS / "baseline.toml"], "list"),
], ids=["none", "int", "dict", "bytes", "bytes-pathlike", "list"])
def test_as_scenario_refuses_anything_else_with_a_type_error(given: object, named: str) -> None:
    from model.scenario import as_scenario

    with pytest.raises(TypeError, match=rf"a scenario must be a Scenario or the path of a TOML file .*got {named}$"):
        as_scenario(given)


# -- one owner for the agent: prefix and the timeout policies: model.lifecycle ------------------------
def _code_strings(path: Path) -> list[tuple[int, str]]:
    """The string constants of ``path``'s code (f-string parts included, docstrings left out)."""
    import ast

    tree = ast.parse(path.read_text())
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings]


@pytest.mark.parametrize("module", ["model.scenario.schema", "model.scenario.graph", "model.workload",
                                    "model.estimate", "model.validation"])
def test_no_module_spells_the_agent_prefix_itself(module: str) -> None:
    import importlib

    path = Path(importlib.import_module(module).__file__)
    spelled = [(line, text) for line, text in _code_strings(path) if text.startswith("agent:")]
    assert spelled == [], f"{path.name} spells 'agent:' itself; use model.lifecycle.AGENT_PREFIX / agent_target"


def test_the_scenario_uses_the_lifecycles_agent_targets_and_timeout_policies() -> None:
    from typing import get_args

    import model.scenario.schema as schema
    from model.lifecycle import AGENT_PREFIX, OnTransferTimeout, agent_target
    from model.scenario import Service

    assert schema.AGENT_PREFIX is AGENT_PREFIX  # imported, not a second definition
    assert Service.model_fields["on_transfer_timeout"].annotation is OnTransferTimeout
    assert get_args(OnTransferTimeout) == ("abandon", "return")
    s = load_scenario(SCENARIOS / "peak-hour.toml")
    named = [a.name for a in s.agents]
    assert named and all(agent_target(n) in s.targets() for n in named)


def test_an_unknown_timeout_policy_lists_the_lifecycles_policies(tmp_path: Path) -> None:
    msg = error_of(tmp_path, BASE.replace('entry_group = "frontline"',
                                          'entry_group = "frontline"\non_transfer_timeout = "bounce"'))
    assert_mentions(msg, "services.support.on_transfer_timeout", "'abandon' or 'return'", "'bounce'")
