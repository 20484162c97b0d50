"""Service priorities and priority aging (docs/simulation.md, *priorities*; docs/scenarios.md).

The rule: a free slot takes the waiting contact of the highest *level*, a transfer before a new
contact within a level, then the oldest, then the lower contact id; a level is the service's
``priority`` plus ``floor(wait / priority_aging)`` when the service ages; nothing in progress is
interrupted. Checked four ways:

* small hand-timed centres (constant arrivals and handle times, exact in binary floating point)
  where the right order is known in advance: transfer versus new contact, across and within a
  level, a transfer keeping its service's priority, aging exactly at a level's boundary;
* a replay of random runs' event logs that says, at every assignment out of the queue, which
  contact the rule must pick (priorities, FCFS among equals, aging), independent of the engine;
* theory: two and three classes sharing one group, M/M/n with equal rates, against Cobham's mean
  waits per class (``model.analytic.cobham_waits``), and a starving low priority that aging saves;
* hostile and boundary values: negative and 64-bit priorities, aging 0 refused, one service with a
  priority (identical to none), equal priorities (identical to none), one agent.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model import simulate
from model.analytic import cobham_waits, erlang_c_wait
from model.scenario import ScenarioError, scenario_from_dict
from model.sim.engine import Replication

from test_engine_properties import check_replication, scenarios


def rate(first: float) -> float:
    """The constant ``rate_per_hour`` whose first arrival is at ``first`` s (3600 / first: exact
    for the times used here, so a boundary is a boundary)."""
    r = 3600.0 / first
    assert 3600.0 / r == first
    return r


def service(name: str, entry: str, first: float, priority: int = 0, **more: Any) -> dict[str, Any]:
    """A service whose one contact in the run arrives at ``first`` s (constant arrivals)."""
    return {"name": name, "entry_group": entry, "priority": priority, "transfer_timeout": "1h",
            "arrivals": {"kind": "constant", "rate_per_hour": rate(first)}, **more}


NEVER = {"kind": "constant", "rate_per_hour": 0.001}  # first arrival after 1000 h: never in these runs


def desk_centre(services: list[dict[str, Any]], horizon: float) -> Any:
    """A desk of one agent (handle 300 s) and a front line of one agent (handle 10 s) that
    transfers every contact to the desk."""
    return scenario_from_dict({
        "simulation": {"horizon": horizon, "replications": 1, "seed": 1},
        "services": services,
        "groups": [
            {"name": "desk", "agents": 1, "handle_time": {"kind": "constant", "value": 300}},
            {"name": "front", "agents": 1, "handle_time": {"kind": "constant", "value": 10},
             "transfers": [{"to": "desk", "probability": 1.0}]},
        ],
    })


def desk_rows(sc: Any) -> list[tuple[float, str, str]]:
    """(time, service, event) of the desk's assignments and offers, in log order."""
    ev = simulate(sc).events
    rows = ev[ev.event.isin(["assign", "offer"]) & (ev.group == "desk")]
    return [(r.time, r.service, r.event) for r in rows.itertuples()]


# -- transfers and new contacts ------------------------------------------------------------------
def test_a_higher_priority_new_contact_goes_before_a_lower_priority_transfer():
    """The desk is busy 600-900 s; a priority-0 transfer waits from 730 s, a priority-1 new contact
    from 800 s. At 900 s the new contact is taken: priority first, transfers first only within a
    level (the decision in docs/simulation.md)."""
    sc = desk_centre([service("filler", "desk", 600), service("low", "front", 720),
                      service("vip", "desk", 800, priority=1)], horizon=1250)
    assert desk_rows(sc) == [(600, "filler", "assign"), (900, "vip", "assign"), (1200, "low", "offer")]


def test_within_a_level_a_waiting_transfer_goes_before_an_older_new_contact():
    """Same desk, busy 450-750 s: a priority-0 new contact waits from 480 s, a priority-0 transfer
    from 610 s; at 750 s the transfer is offered (LIFECYCLE: the transferred customer has already
    waited), as it is without priorities at all."""
    services = [service("filler", "desk", 450), service("new0", "desk", 480), service("low", "front", 600),
                {**service("vip", "desk", 450, priority=1), "arrivals": NEVER}]
    expected = [(450, "filler", "assign"), (750, "low", "offer"), (1050, "new0", "assign")]
    assert desk_rows(desk_centre(services, horizon=1100)) == expected
    without = [{**s, "priority": 0} for s in services]
    assert desk_rows(desk_centre(without, horizon=1100)) == expected


def test_a_transferred_contact_keeps_its_services_priority():
    """Two transfers wait for the busy desk: priority 0 from 610 s, priority 1 from 730 s. The
    later, priority-1 transfer is offered first."""
    services = [service("filler", "desk", 450), service("low", "front", 600),
                service("vip", "front", 720, priority=1)]
    rows = desk_rows(desk_centre(services, horizon=1100))
    assert rows == [(450, "filler", "assign"), (750, "vip", "offer"), (1050, "low", "offer")]


# -- aging ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("aging", "first"), [
    (90.0, "lo"),        # 180 s waited / 90 = level 0 + 2 = 2: a tie with hi at 2, lo is older
    (90.001, "hi"),      # just under 2 steps: level 1 < 2
    (180.0, "hi"),       # one step: level 1
    (None, "hi"),        # no aging
])
def test_aging_adds_one_level_per_whole_step_of_waiting(aging, first):
    """The desk is busy 600-900 s; lo (priority 0) waits from 720 s, hi (priority 2) from 800 s.
    At 900 s lo has waited exactly 180 s: level 0 + floor(180 / aging)."""
    lo = service("lo", "desk", 720)
    if aging is not None:
        lo["priority_aging"] = aging
    sc = desk_centre([service("filler", "desk", 600), lo, service("hi", "desk", 800, priority=2)], horizon=1190)
    rows = desk_rows(sc)
    assert rows[:2] == [(600, "filler", "assign"), (900, first, "assign")]


def test_non_preemptive_a_conversation_in_progress_is_never_interrupted():
    """Constant handle times: every conversation lasts exactly its handle time, also those of
    priority 0 held while priority-1 contacts queue (which they do, often)."""
    sc = scenario_from_dict({
        "simulation": {"horizon": "3h", "replications": 2, "seed": 4},
        "services": [{"name": "hi", "entry_group": "g", "priority": 1, "arrivals": {"rate_per_hour": 50}},
                     {"name": "lo", "entry_group": "g", "arrivals": {"rate_per_hour": 30}}],
        "groups": [{"name": "g", "agents": 2, "handle_time": {"kind": "constant", "value": 120}}],
    })
    ev = simulate(sc).events
    start = ev[ev.event == "assign"].set_index(["replication", "contact"]).time
    end = ev[ev.event == "close"].set_index(["replication", "contact"]).time
    assert (end - start.loc[end.index]).sub(120).abs().max() < 1e-9
    waited = ev[(ev.event == "assign") & (ev.service == "hi")].merge(
        ev[ev.event == "arrive"][["replication", "contact", "time"]], on=["replication", "contact"])
    assert (waited.time_x > waited.time_y).sum() > 20, "hi never queued behind a lo conversation"


# -- the rule, replayed from random runs ---------------------------------------------------------
def mixed_centre(seed: int, aging: dict[str, float] | None = None, priorities: dict[str, int] | None = None) -> Any:
    """One group of 3 agents with 2 slots each, overloaded by four services; patience and a
    dissuasion timer make contacts leave the queue while others are taken."""
    priorities = priorities if priorities is not None else {"a": 2, "b": 1, "c": 1, "d": -1}
    aging = aging or {}
    services = []
    for name, r in (("a", 40), ("b", 60), ("c", 50), ("d", 60)):
        s: dict[str, Any] = {"name": name, "entry_group": "g", "priority": priorities[name],
                             "arrivals": {"rate_per_hour": r}, "patience": {"kind": "exponential", "mean": "3m"}}
        if name in aging:
            s["priority_aging"] = aging[name]
        if name == "c":
            s["dissuasion_timeout"] = "2m"
        services.append(s)
    return scenario_from_dict({
        "simulation": {"horizon": "2h", "warmup": "10m", "replications": 3, "seed": seed},
        "services": services,
        "groups": [{"name": "g", "agents": 3, "max_concurrent": 2, "routing": "least_busy",
                    "handle_time": {"kind": "lognormal", "mean": "3m", "cv": 1.0}}],
    })


def replay_queue_order(sc: Any, events: Any) -> int:
    """Walk each replication's log; at every assignment of a contact that waited, assert it is the
    best waiting contact by the rule. Returns how many such assignments were checked."""
    prio = {s.name: s.priority for s in sc.services}
    aging = {s.name: s.priority_aging for s in sc.services}

    def key(cid: int, t: float, arrived: dict[int, float], svc: dict[int, str]) -> tuple[float, float, int]:
        p, a = prio[svc[cid]], aging[svc[cid]]
        level = p if a is None else p + math.floor((t - arrived[cid]) / a)
        return (-level, arrived[cid], cid)

    checked = 0
    for _, rep in events.groupby("replication", observed=True):
        arrived: dict[int, float] = {}
        svc: dict[int, str] = {}
        queued: set[int] = set()
        for r in rep.itertuples(index=False):
            if r.event == "arrive":
                arrived[r.contact], svc[r.contact] = r.time, str(r.service)
                queued.add(r.contact)
            elif r.from_state == "queued":
                queued.discard(r.contact)
                if r.event == "assign" and r.time > arrived[r.contact]:
                    best = min([*queued, r.contact], key=lambda c: key(c, r.time, arrived, svc))
                    assert best == r.contact, (
                        f"t={r.time}: took contact {r.contact} ({svc[r.contact]}), but {best} ({svc[best]}, "
                        f"arrived {arrived[best]}) was waiting with a better key")
                    checked += 1
    return checked


@pytest.mark.parametrize("seed", [1, 2])
def test_a_freed_slot_takes_the_highest_priority_first_come_first_served_among_equals(seed):
    sc = mixed_centre(seed)
    assert replay_queue_order(sc, simulate(sc).events) > 200


def test_the_replay_of_the_rule_agrees_with_first_come_first_served_without_priorities():
    """The replay is the rule: with equal priorities it must accept the engine's plain FIFO path."""
    sc = mixed_centre(3, priorities=dict.fromkeys("abcd", 0))
    assert not sc.has_priorities
    assert replay_queue_order(sc, simulate(sc).events) > 200


@pytest.mark.parametrize("seed", [1, 2])
def test_aging_in_random_runs_follows_the_floor_rule(seed):
    sc = mixed_centre(seed, aging={"d": 45.0, "b": 100.0})
    ev = simulate(sc).events
    assert replay_queue_order(sc, ev) > 200
    # aging changes who is taken (else the replay would prove nothing about it)
    plain = simulate(mixed_centre(seed)).events
    assert not ev[ev.event == "assign"].contact.reset_index(drop=True).equals(
        plain[plain.event == "assign"].contact.reset_index(drop=True))


def test_the_replay_catches_a_wrong_order():
    """The checker must be able to fail: the same log read with the priorities reversed."""
    sc = mixed_centre(1)
    ev = simulate(sc).events
    reversed_ = mixed_centre(1, priorities={"a": -1, "b": 1, "c": 1, "d": 2})
    with pytest.raises(AssertionError, match="better key"):
        replay_queue_order(reversed_, ev)


# -- theory: Cobham's mean waits per class ------------------------------------------------------------
def classes_centre(n: int, lambdas: list[float], mean: float, horizon: float, seed: int) -> Any:
    """``len(lambdas)`` services (per second, highest priority first) sharing one group of ``n``
    agents, exponential handle time of ``mean`` s, no abandonment."""
    k = len(lambdas)
    return scenario_from_dict({
        "simulation": {"horizon": horizon, "warmup": 20 * mean, "replications": 12, "seed": seed},
        "services": [{"name": f"class{i + 1}", "entry_group": "g", "priority": k - i,
                      "arrivals": {"rate_per_hour": lam * 3600}} for i, lam in enumerate(lambdas)],
        "groups": [{"name": "g", "agents": n, "handle_time": {"kind": "exponential", "mean": mean}}],
    })


@pytest.mark.parametrize(("n", "loads"), [
    (4, [0.3, 0.55]),           # two classes, heavy (rho 0.85)
    (3, [0.2, 0.3, 0.25]),      # three classes, rho 0.75
    (1, [0.3, 0.4]),            # one agent (M/M/1, rho 0.7)
])
def test_mean_waits_per_class_match_cobhams_formula(n, loads):
    """Non-preemptive priority M/M/n, equal service rates: W_k = C / (n mu (1 - s_{k-1})(1 - s_k))
    with C Erlang C of the total load and s_k the load of the classes of priority k or higher
    (Cobham 1954; Gross et al., Fundamentals of Queueing Theory, 3.4): each class's simulated
    mean wait holds the exact one in its 95 % interval over replications, and the first and last
    classes' intervals exclude the first-come-first-served wait (the check can tell them apart)."""
    mean = 60.0
    mu = 1 / mean
    lambdas = [rho * n * mu for rho in loads]
    sc = classes_centre(n, lambdas, mean, horizon=4000 * mean, seed=17)
    res = simulate(sc, keep_events=False, timeline_step=None)
    exact = cobham_waits(n, lambdas, mu)
    fcfs = erlang_c_wait(n, sum(lambdas), mu)
    for i, w in enumerate(exact):
        m, lo, hi = res.metric("wait_mean", "service", f"class{i + 1}")
        assert lo <= w <= hi, f"class {i + 1}: Cobham {w:.2f} s outside [{lo:.2f}, {hi:.2f}] (mean {m:.2f})"
        if i in (0, len(exact) - 1):
            assert not lo <= fcfs <= hi, f"class {i + 1}: FCFS {fcfs:.2f} s inside [{lo:.2f}, {hi:.2f}]"


def test_low_priority_starves_under_heavy_high_priority_load_and_aging_saves_it():
    """hi alone overloads the group 2.5 times (its patience keeps the queue finite); without aging a
    lo contact waits until the hi queue is empty, which hardly happens (most lo contacts are still
    waiting at the end); with 1 minute of waiting worth a level, every one is served within 10 min."""
    base = {
        "simulation": {"horizon": "4h", "warmup": "20m", "replications": 4, "seed": 8},
        "services": [
            {"name": "hi", "entry_group": "g", "priority": 1, "arrivals": {"rate_per_hour": 300},
             "patience": {"kind": "exponential", "mean": "2m"}},
            {"name": "lo", "entry_group": "g", "arrivals": {"rate_per_hour": 6}, "service_level_threshold": "10m"},
        ],
        "groups": [{"name": "g", "agents": 2, "handle_time": {"kind": "exponential", "mean": "1m"}}],
    }
    starved = simulate(scenario_from_dict(base), keep_events=False, timeline_step=None)
    aged = simulate(scenario_from_dict(base).with_changes({"services.lo.priority_aging": "1m"}),
                    keep_events=False, timeline_step=None)
    lo = {name: {m: r.metric(m, "service", "lo")[0] for m in ("service_level", "wait_mean", "completed", "arrivals")}
          for name, r in (("starved", starved), ("aged", aged))}
    assert lo["starved"]["service_level"] < 0.05 and lo["starved"]["completed"] < 0.5 * lo["starved"]["arrivals"]
    assert lo["aged"]["service_level"] > 0.99 and lo["aged"]["wait_mean"] < 180
    assert lo["starved"]["wait_mean"] > 10 * lo["aged"]["wait_mean"]


# -- boundaries and hostile values ---------------------------------------------------------------------
def _events(sc: Any) -> Any:
    return simulate(sc, replications=2).events


def test_one_service_with_a_priority_runs_exactly_as_without(tiny):
    assert not tiny.with_changes({"services.support.priority": 7}).has_priorities
    with_priority = _events(tiny.with_changes({"services.support.priority": 7}))
    assert with_priority.equals(_events(tiny))


def test_equal_priorities_run_exactly_as_none():
    base = mixed_centre(5, priorities=dict.fromkeys("abcd", 0))
    three = mixed_centre(5, priorities=dict.fromkeys("abcd", 3))
    assert not three.has_priorities
    assert _events(three).equals(_events(base))


def test_negative_and_64_bit_priorities_order_as_integers():
    """Any TOML integer: -2**63 below -1 below 0 below 2**63 - 1, exactly (also with aging, where
    a level is an exact integer however large)."""
    top, bottom = 2**63 - 1, -(2**63)
    for aging in (None, 1e-307):
        lo = service("lo", "desk", 720, priority=bottom)
        if aging:
            lo["priority_aging"] = aging  # 180 s / 1e-307 overflows a float: an infinite level
        sc = desk_centre([service("filler", "desk", 600), lo, service("hi", "desk", 800, priority=top)],
                         horizon=1190)
        assert desk_rows(sc)[1] == (900, "lo" if aging else "hi", "assign")
    sc = desk_centre([service("filler", "desk", 600), service("neg", "desk", 720, priority=-1),
                      service("zero", "desk", 800, priority=0)], horizon=1190)
    assert desk_rows(sc)[1] == (900, "zero", "assign")


@pytest.mark.parametrize(("value", "message"), [
    (0, "has no meaning"), ("0s", "has no meaning"), (-60, "must be >= 0"), (True, "got True"), ("soon", "soon")])
def test_bad_priority_aging_is_refused_naming_the_field(tiny, value, message):
    with pytest.raises(ScenarioError) as err:
        tiny.with_changes({"services.support.priority_aging": value})
    assert "services.support.priority_aging" in str(err.value) and message in str(err.value)


@pytest.mark.parametrize(("value", "message"), [
    (1.0, "must be an integer"), ("1", "must be an integer"), (True, "must be an integer"), ([1], "must be an integer"),
    (2**63, "must be less than or equal to 9223372036854775807"),
    (-(2**63) - 1, "must be greater than or equal to -9223372036854775808")])
def test_a_priority_must_be_a_64_bit_integer(tiny, value, message):
    with pytest.raises(ScenarioError, match=f"services.support.priority: {message}"):
        tiny.with_changes({"services.support.priority": value})


def test_priorities_and_skills_keep_the_engines_invariants_with_every_feature():
    """Priorities, aging, skill levels with ``highest_skill`` and handle times per service on top of
    the property test's scenarios (transfers, rejects, offer timeouts, broadcast, shifts, the return
    policy): every log still keeps the lifecycle's invariants."""

    @settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
    @given(scenarios(), st.lists(st.integers(-2, 2), min_size=2, max_size=2),
           st.lists(st.sampled_from([None, 0.5, 30.0, 300.0]), min_size=2, max_size=2),
           st.lists(st.integers(1, 3), min_size=6, max_size=6), st.lists(st.booleans(), min_size=3, max_size=3))
    def run(data: dict[str, Any], priorities: list[int], aging: list[float | None], levels: list[int],
            skilled: list[bool]) -> None:
        for svc, p, a in zip(data["services"], priorities, aging):
            svc["priority"] = p
            if a is not None:
                svc["priority_aging"] = a
        for g, by_level in zip(data["groups"], skilled):
            if by_level:
                g["routing"] = "highest_skill"
                first = data["services"][0]["name"]
                g["handle_time_by_service"] = {first: {"kind": "exponential", "mean": 30.0 + 100 * levels[0]}}
        for i, agent in enumerate(data["agents"]):
            agent["groups"] = [{"name": g, "level": levels[(i + j) % 6]} for j, g in enumerate(agent["groups"])]
        sc = scenario_from_dict(data)
        for rep in range(2):
            out = Replication(sc, seed=sc.simulation.seed, replication=rep, keep_events=True, timeline_step=None).run()
            check_replication(sc, out)

    run()


def test_scenarios_without_priorities_dump_as_before():
    """priority 0 and the unset options are left out of ``to_dict`` (whose hash names a stored sweep)."""
    from helpers import SCENARIOS
    from model.scenario import load_scenario

    data = load_scenario(SCENARIOS / "baseline.toml").to_dict()
    assert not {"priority", "priority_aging"} & {k for s in data["services"] for k in s}
    assert "handle_time_by_service" not in {k for g in data["groups"] for k in g}
    vip = load_scenario(SCENARIOS / "vip.toml")
    assert [s.get("priority") for s in vip.to_dict()["services"]] == [1, None]
    assert scenario_from_dict(vip.to_dict()) == vip
