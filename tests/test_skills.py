"""Skill levels, ``routing = "highest_skill"`` and a group's ``handle_time_by_service``
(docs/scenarios.md; docs/simulation.md, *routing policies* and *handle time per service*).

* A named agent lists its groups as names or as ``{ name = ..., level = n }`` (level 1 by default;
  anonymous agents have level 1). A ``highest_skill`` group gives a new contact, or a transfer
  offer, to the free agent with the highest level there; ties go to the longest idle. Replayed
  from the event log, independently of the engine, like tests/test_routing.py does.
* ``handle_time_by_service`` replaces the group's ``handle_time`` for contacts of that service,
  wherever the group's handle time applies (new contacts, accepted transfers): read back from the
  conversations in the event log.
* Validation names the field and what is allowed; a scenario round-trips with its levels.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from model import simulate
from model.scenario import ScenarioError, scenario_from_dict
from model.sim.routing import POLICIES

LEVELS = {"spec-1": 1, "spec-2": 1, "sol": 3, "max": 2, "ana": 1, "lee": 2}


def skilled_centre(rate: float, routing: str = "highest_skill", seed: int = 3, slots: int = 1) -> Any:
    """A "spec" group of two anonymous agents and four named ones with levels 3, 2, 1 and 2."""
    return scenario_from_dict({
        "simulation": {"horizon": "6h", "replications": 2, "seed": seed},
        "services": [{"name": "chat", "entry_group": "spec", "arrivals": {"rate_per_hour": rate},
                      "patience": {"kind": "exponential", "mean": "10m"}}],
        "groups": [{"name": "spec", "agents": 2, "routing": routing, "max_concurrent": slots,
                    "handle_time": {"kind": "lognormal", "mean": "5m", "cv": 1.0}},
                   {"name": "other", "agents": 1, "handle_time": {"kind": "exponential", "mean": "1m"}}],
        "agents": [{"name": "sol", "groups": ["other", {"name": "spec", "level": 3}], "max_concurrent": slots},
                   {"name": "max", "groups": [{"name": "spec", "level": 2}], "max_concurrent": slots},
                   {"name": "ana", "groups": [{"name": "spec"}], "max_concurrent": slots},
                   {"name": "lee", "groups": [{"name": "spec", "level": 2}], "max_concurrent": slots}],
    })


def replay_highest_skill(events: Any, slots: int) -> list[tuple[list[str], str]]:
    """Walk one replication's rows: every new contact must go to the free agent with the highest
    level, the longest idle of those on a tie. Returns (free agents in idle order, chosen)."""
    members = list(LEVELS)
    busy = dict.fromkeys(members, 0)
    free = list(members)  # idle order: a release moves an agent to the end
    arrived: dict[int, float] = {}
    seen = []
    for row in events.itertuples(index=False):
        if row.event == "arrive":
            arrived[row.contact] = row.time
        elif row.event == "assign":
            a = str(row.agent)
            if arrived[row.contact] == row.time:
                candidates = [x for x in free if busy[x] < slots]
                expected = max(candidates, key=LEVELS.__getitem__)
                assert a == expected, f"t={row.time}: picked {a}, expected {expected} (free in idle order: {candidates})"
                seen.append((candidates, a))
            busy[a] += 1
            if busy[a] >= slots:
                free.remove(a)
        elif row.event == "close":
            a = str(row.agent)
            busy[a] -= 1
            if a in free:
                free.remove(a)
            free.append(a)
    return seen


@pytest.mark.parametrize(("rate", "slots"), [(30, 1), (60, 1), (100, 2)])
def test_highest_skill_gives_a_new_contact_to_the_free_agent_with_the_highest_level(rate, slots):
    ev = simulate(skilled_centre(rate, slots=slots), timeline_step=None).events
    picks = [p for _, rows in ev.groupby("replication", observed=True) for p in replay_highest_skill(rows, slots)]
    # real choices: between levels, and ties within a level settled by idle order
    assert sum(len({LEVELS[c] for c in cands}) > 1 for cands, _ in picks) > 50
    assert sum(sum(LEVELS[c] == LEVELS[a] for c in cands) > 1 for cands, a in picks) > 20


def test_the_replay_catches_a_policy_that_ignores_levels():
    ev = simulate(skilled_centre(60, routing="longest_idle"), timeline_step=None).events
    with pytest.raises(AssertionError, match="expected"):
        for _, rows in ev.groupby("replication", observed=True):
            replay_highest_skill(rows, 1)


def test_highest_skill_with_every_level_1_is_longest_idle():
    def plain(routing: str) -> Any:
        sc = skilled_centre(60, routing=routing).to_dict()
        for a in sc["agents"]:
            a["groups"] = [g["name"] if isinstance(g, dict) else g for g in a["groups"]]
        return simulate(scenario_from_dict(sc), timeline_step=None).events

    assert plain("highest_skill").equals(plain("longest_idle"))


def test_a_transfer_is_offered_to_the_highest_level_free_agent_first():
    """Every front contact is transferred to "spec" (sequential offers); the first transfers find
    everybody idle and go to sol (3), then max (2, listed before lee), then lee (2)."""
    sc = scenario_from_dict({
        "simulation": {"horizon": 400, "replications": 1, "seed": 1},
        "services": [{"name": "chat", "entry_group": "front", "transfer_timeout": "1h",
                      "arrivals": {"kind": "constant", "rate_per_hour": 36}}],  # every 100 s
        "groups": [{"name": "front", "agents": 3, "handle_time": {"kind": "constant", "value": 10},
                    "transfers": [{"to": "spec", "probability": 1.0}]},
                   {"name": "spec", "agents": 1, "routing": "highest_skill",
                    "handle_time": {"kind": "constant", "value": 1000}}],
        "agents": [{"name": "lee", "groups": [{"name": "spec", "level": 2}]},
                   {"name": "ana", "groups": ["spec"]},
                   {"name": "max", "groups": [{"name": "spec", "level": 2}]},
                   {"name": "sol", "groups": [{"name": "spec", "level": 3}]}],
    })
    ev = simulate(sc).events
    offers = ev[ev.event == "offer"]
    assert list(offers.agent.astype(str)) == ["sol", "lee", "max"]


# -- handle time per service -----------------------------------------------------------------------
def two_services(front_by: dict[str, Any] | None, spec_by: dict[str, Any] | None, kind: str = "constant") -> Any:
    def dist(mean: float) -> dict[str, Any]:
        return {"kind": "constant", "value": mean} if kind == "constant" else {"kind": "exponential", "mean": mean}

    return scenario_from_dict({
        "simulation": {"horizon": "8h", "replications": 2, "seed": 5},
        "services": [{"name": "vip", "entry_group": "front", "priority": 1, "transfer_timeout": "1h",
                      "arrivals": {"rate_per_hour": 20}},
                     {"name": "standard", "entry_group": "front", "transfer_timeout": "1h",
                      "arrivals": {"rate_per_hour": 40}}],
        "groups": [{"name": "front", "agents": 8, "handle_time": dist(100),
                    "handle_time_by_service": {k: dist(v) for k, v in (front_by or {}).items()} or None,
                    "transfers": [{"to": "spec", "probability": 0.5}]},
                   {"name": "spec", "agents": 8, "handle_time": dist(200),
                    "handle_time_by_service": {k: dist(v) for k, v in (spec_by or {}).items()} or None}],
    })


def conversations(events: Any) -> Any:
    """One row per conversation: (replication, contact, service, group, seconds), from the log:
    from ``assign`` or ``accept`` to the next ``close`` or ``request_transfer`` of that contact."""
    ev = events[events.event.isin(["assign", "accept", "close", "request_transfer"])]
    rows = []
    for (rep, cid), c in ev.groupby(["replication", "contact"], observed=True):
        start = None
        for r in c.itertuples(index=False):
            if r.event in ("assign", "accept"):
                start, group = r.time, r.group
            elif start is not None:
                rows.append((rep, cid, str(r.service), str(group), r.time - start))
                start = None
    return pd.DataFrame(rows, columns=["replication", "contact", "service", "group", "seconds"])


def test_handle_time_by_service_sets_each_services_conversation_length():
    conv = conversations(simulate(two_services({"vip": 250}, {"vip": 400})).events)
    got = conv.groupby(["group", "service"]).seconds.agg(["min", "max", "count"])
    expected = {("front", "vip"): 250, ("front", "standard"): 100, ("spec", "vip"): 400, ("spec", "standard"): 200}
    for key, seconds in expected.items():
        assert got.loc[key, "count"] > 50
        assert got.loc[key, "min"] == pytest.approx(seconds) and got.loc[key, "max"] == pytest.approx(seconds), key


def test_handle_time_by_service_means_read_back_from_the_event_log():
    """Exponential handle times: each (group, service) mean from the log within 4 standard errors
    of the configured mean."""
    conv = conversations(simulate(two_services({"vip": 250}, {"standard": 50}, kind="exponential")).events)
    expected = {("front", "vip"): 250, ("front", "standard"): 100, ("spec", "vip"): 200, ("spec", "standard"): 50}
    for (group, svc), mean in expected.items():
        s = conv[(conv.group == group) & (conv.service == svc)].seconds
        assert len(s) > 100
        assert abs(s.mean() - mean) < 4 * mean / len(s) ** 0.5, (group, svc, s.mean(), mean)


def test_without_handle_time_by_service_the_run_is_unchanged():
    """A group without overrides draws from its one stream as before (the pinned digests say the
    same for richer scenarios); an empty override table is no override."""
    a = simulate(two_services(None, None, kind="exponential")).events
    b = simulate(two_services({}, {}, kind="exponential")).events
    assert a.equals(b)


def test_the_returned_transfer_takes_the_requesting_groups_time_for_its_service():
    sc = two_services({"vip": 250}, None).with_changes({
        "services.vip.on_transfer_timeout": "return", "services.vip.transfer_timeout": "1s",
        "groups.spec.accept_delay": {"kind": "constant", "value": 5}})
    ev = simulate(sc).events
    back = ev[(ev.event == "transfer_timeout") & (ev.to_state == "engaged")]
    assert len(back) > 20
    closes = ev[ev.event == "close"].set_index(["replication", "contact"]).time
    returned = back.set_index(["replication", "contact"]).time
    returned = returned[returned.index.isin(closes.index)]  # (not those still talking at the horizon)
    assert len(returned) > 20
    assert ((closes.loc[returned.index] - returned) - 250).abs().max() < 1e-9


# -- the scenario format ---------------------------------------------------------------------------------
def test_levels_round_trip_and_read_as_plain_group_names():
    sc = skilled_centre(60)
    sol = next(a for a in sc.agents if a.name == "sol")
    assert sol.groups == ["other", "spec"] and sol.level_in("spec") == 3 and sol.level_in("other") == 1
    assert sc.skill_levels("spec") == LEVELS
    assert sc.agents_of("spec") == list(LEVELS)
    data = sc.to_dict()
    assert data["agents"][0]["groups"] == ["other", {"name": "spec", "level": 3}]
    assert scenario_from_dict(data) == sc
    assert sc.with_changes({"agents.sol.max_concurrent": 2}).agents[0].level_in("spec") == 3
    lower = sc.with_changes({"agents.sol.groups": ["other", {"name": "spec", "level": 2}]})
    assert lower != sc and lower.skill_levels("spec")["sol"] == 2
    # level 1 written out is the same as the name alone
    ana = scenario_from_dict({**data, "agents": [*data["agents"][:2], {"name": "ana", "groups": [{"name": "spec", "level": 1}]},
                                                 data["agents"][3]]})
    assert ana == sc


def test_highest_skill_is_a_routing_policy_of_the_schema_and_the_engine():
    from typing import get_args

    from model.scenario import Group

    assert get_args(Group.model_fields["routing"].annotation) == POLICIES


BASE: dict[str, Any] = {
    "simulation": {"horizon": "1h"},
    "services": [{"name": "vip", "entry_group": "front", "arrivals": {"rate_per_hour": 10}}],
    "groups": [{"name": "front", "agents": 1, "handle_time": {"kind": "exponential", "mean": 60}},
               {"name": "billing", "agents": 1, "handle_time": {"kind": "exponential", "mean": 60}}],
}


@pytest.mark.parametrize(("change", "message"), [
    ({"agents": [{"name": "sam", "groups": ["front", {"name": "billing", "level": 0}]}]},
     "agents.sam.groups.billing.level: a skill level must be at least 1; got 0; allowed: an integer >= 1"),
    ({"agents": [{"name": "sam", "groups": [{"name": "billing", "level": -2}]}]}, "at least 1; got -2"),
    ({"agents": [{"name": "sam", "groups": [{"name": "billing", "level": 2.0}]}]},
     "agents.sam.groups.billing.level: must be an integer"),
    ({"agents": [{"name": "sam", "groups": [{"name": "billing", "level": True}]}]}, "must be an integer"),
    ({"agents": [{"name": "sam", "groups": [{"name": "billing", "level": 2**63}]}]}, "less than or equal"),
    ({"agents": [{"name": "sam", "groups": ["front", {"name": "tech", "level": 2}]}]},
     "agents.sam.groups[1]: unknown group; got 'tech'; allowed: 'front', 'billing'"),
    ({"agents": [{"name": "sam", "groups": [{"name": "billing", "levle": 2}]}]},
     "agents.sam.groups.billing.levle: unknown field; allowed: 'name', 'level'"),
    ({"agents": [{"name": "sam", "groups": [{"level": 2}]}]}, "agents.sam.groups[0].name: required field is missing"),
    ({"agents": [{"name": "sam", "groups": ["billing", {"name": "billing", "level": 2}]}]},
     "agents.sam.groups[1]: group listed twice; got 'billing'"),
    ({"groups": [{**BASE["groups"][0], "handle_time_by_service": {"gold": {"kind": "exponential", "mean": 9}}},
                 BASE["groups"][1]]},
     "groups.front.handle_time_by_service.gold: unknown service; got 'gold'; allowed: 'vip'"),
    ({"groups": [{**BASE["groups"][0], "handle_time_by_service": {"vip": {"kind": "weibull", "mean": 9}}},
                 BASE["groups"][1]]}, "groups.front.handle_time_by_service.vip.kind: unknown kind"),
    ({"groups": [{**BASE["groups"][0], "handle_time_by_service": [1]}, BASE["groups"][1]]},
     "groups.front.handle_time_by_service: must be a table"),
    ({"groups": [{**BASE["groups"][0], "routing": "highest_level"}, BASE["groups"][1]]},
     "'random' or 'highest_skill'; got 'highest_level'"),
])
def test_bad_skills_and_handle_times_are_refused_naming_the_field(change, message):
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict({**BASE, **change})
    assert message in str(err.value)


def test_highest_skill_without_levels_and_levels_without_highest_skill_are_valid():
    sc = scenario_from_dict({**BASE, "groups": [{**BASE["groups"][0], "routing": "highest_skill"}, BASE["groups"][1]],
                             "agents": [{"name": "sam", "groups": [{"name": "billing", "level": 5}]}]})
    assert sc.skill_levels("front") == {"front-1": 1} and sc.skill_levels("billing") == {"billing-1": 1, "sam": 5}
    assert simulate(sc, replications=1).metric("arrivals")[0] > 0
