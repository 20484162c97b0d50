"""Property-based test of the engine: any valid scenario simulates to the end and keeps the
lifecycle's invariants.

Hypothesis builds scenarios that mix every documented feature (1-3 groups, named agents in
several groups, agent targets, hand-overs inside a group, both offer modes, every routing policy,
accept delays, rejects, offer timeouts, transfer and queue patience, dissuasion, the ``return``
policy, arrival profiles, 1-3 chats per agent, short and long timeouts, light and overloaded
centres). Each replication is then checked from its event log, independently of the engine's
own bookkeeping:

* every row is a transition the statechart allows (replayed through the chart itself);
* every contact reaches at most one final state, nothing happens to it after that, and its rows'
  times never go back;
* the counts add up, per service and per transfer target, and agree with the log;
* no agent ever holds more slots (conversations plus reserved offers) than it has, except the
  documented ``return`` case (a returned transfer may take its requester over its slots).

A fixed budget in CI; ``TRANSFER_SIM_SLOW=1`` runs a larger one.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.lifecycle import FINAL_STATES, Contact, EventNotAllowed, TransferRules
from model.scenario import scenario_from_dict
from model.sim.engine import Replication

SLOW = bool(os.environ.get("TRANSFER_SIM_SLOW"))
EXAMPLES = int(os.environ.get("TRANSFER_SIM_PROPERTY_EXAMPLES") or (600 if SLOW else 100))  # mutation runs: fewer
CHART_REPLAYS = 60  # contacts per example replayed through the python-statemachine chart itself

FINAL_COUNTS = ("completed", "abandoned_queue", "dissuaded", "abandoned_transfer", "transfer_expired")
ROUTINGS = ("longest_idle", "least_busy", "round_robin", "random")


# -- scenarios ---------------------------------------------------------------------------
@st.composite
def distributions(draw: Any, low: float, high: float) -> dict[str, Any]:
    """A duration distribution with a mean in [low, high] seconds, of any documented kind."""
    mean = draw(st.floats(low, high))
    kind = draw(st.sampled_from(["exponential", "constant", "lognormal", "gamma", "uniform", "erlang"]))
    if kind == "exponential":
        return {"kind": kind, "mean": mean}
    if kind == "constant":
        return {"kind": kind, "value": mean}
    if kind in ("lognormal", "gamma"):
        return {"kind": kind, "mean": mean, "cv": draw(st.sampled_from([0.2, 0.7, 1.0, 1.5]))}
    if kind == "uniform":
        return {"kind": kind, "low": 0.0, "high": 2 * mean}
    return {"kind": kind, "mean": mean, "k": draw(st.integers(1, 4))}


def mean_of(dist: dict[str, Any]) -> float:
    if dist["kind"] == "constant":
        return dist["value"]
    if dist["kind"] == "uniform":
        return (dist["low"] + dist["high"]) / 2
    return dist["mean"]


@st.composite
def scenarios(draw: Any, hot: bool | None = None, shifty: bool = False) -> dict[str, Any]:
    n_groups = draw(st.integers(1, 3))
    groups = [f"g{i}" for i in range(n_groups)]
    named = [f"ag{i}" for i in range(draw(st.integers(0, 2)))]
    agents = [
        {"name": a, "groups": draw(st.lists(st.sampled_from(groups), min_size=1, max_size=n_groups, unique=True)),
         "max_concurrent": draw(st.integers(1, 3))}
        for a in named
    ]
    for a in agents:  # shifts that start and end within the run (it lasts at most 65 minutes)
        if shifty or draw(st.booleans()):
            a["shifts"] = draw(st.sampled_from([[["00:10", "00:30"]], [["00:00", "00:20"], ["00:40", "23:50"]],
                                                [["23:00", "00:25"]], [["00:05", "00:06"], ["00:30", "00:31"]]]))
    members = {g: sum(g in a["groups"] for a in agents) for g in groups}
    targets = groups + [f"agent:{a}" for a in named]
    group_rows = []
    # a "hot" centre: transfer targets of one or two agents who reject often, so that transfers
    # queue for them, are rejected while others wait, and customers leave meanwhile
    hot = draw(st.booleans()) if hot is None else hot
    for k, g in enumerate(groups):
        n = draw(st.integers(0 if members[g] else 1, 1 if hot and k else 4))
        # transfer rules: at most 0.8 in all, so no set of groups can bounce a contact forever
        rules = []
        budget = 0.8
        for to in draw(st.lists(st.sampled_from(targets), min_size=1 if (hot and not k) or shifty else 0, max_size=3,
                                unique=True)):
            p = draw(st.sampled_from([0.2, 0.4] if hot or shifty else [0.05, 0.2, 0.4]))
            if p <= budget + 1e-12:
                budget -= p
                rules.append({"to": to, "probability": p, "message": draw(st.sampled_from([None, "note"]))})
        rules = [{k: v for k, v in r.items() if v is not None} for r in rules]
        staffing: Any = n
        if n and (shifty or draw(st.booleans())):  # a rota whose steps fall within the run, down to nobody on shift
            staffing = {"profile": [["00:00", n], ["00:15", draw(st.integers(0, n))], ["00:35", draw(st.integers(0, n))],
                                    ["00:50", n]]}
        row: dict[str, Any] = {
            "name": g,
            "agents": staffing,
            "max_concurrent": 1 if hot and k else draw(st.integers(1, 3)),
            "handle_time": draw(distributions(200.0, 600.0) if hot and k else distributions(20.0, 400.0)),
            "routing": draw(st.sampled_from(ROUTINGS)),
            "offer_mode": draw(st.sampled_from(["sequential", "broadcast"])),
            "reject_probability": draw(st.sampled_from([0.3, 0.6] if hot and k else [0.0, 0.0, 0.2, 0.6, 1.0])),
            "transfers": rules,
        }
        if shifty:  # offers stay outstanding for minutes, so shifts end while they wait
            row["accept_delay"] = draw(distributions(60.0, 400.0))
        elif draw(st.booleans()):
            row["accept_delay"] = draw(distributions(1.0, 20.0))
        if not shifty and draw(st.booleans()):
            row["offer_timeout"] = draw(st.sampled_from([0.5, 8.0, 30.0, 90.0]))
        group_rows.append(row)
    services = []
    for i in range(draw(st.integers(1, 2))):
        entry = draw(st.sampled_from(groups))
        g = next(r for r in group_rows if r["name"] == entry)
        n_anon = g["agents"] if isinstance(g["agents"], int) else max(v for _, v in g["agents"]["profile"])
        entry_slots = n_anon * g["max_concurrent"] + sum(a["max_concurrent"] for a in agents if entry in a["groups"])
        # offered load of the entry group: light to heavily overloaded
        rho = draw(st.sampled_from([0.2, 0.6, 0.9, 1.2, 2.5]))
        rate = max(1.0, rho * entry_slots * 3600.0 / mean_of(g["handle_time"]))
        shape = draw(st.sampled_from(["flat", "profile", "constant"]))
        if shape == "flat":
            arrivals: dict[str, Any] = {"kind": "poisson", "rate_per_hour": rate}
        elif shape == "profile":
            arrivals = {"kind": "poisson", "profile": [["00:00", rate * draw(st.sampled_from([0.0, 0.5]))],
                                                        ["00:20", rate * 1.5], ["00:40", rate]]}
        else:
            arrivals = {"kind": "constant", "rate_per_hour": rate}
        svc: dict[str, Any] = {
            "name": f"s{i}",
            "entry_group": entry,
            "arrivals": arrivals,
            "transfer_timeout": draw(st.sampled_from([0.0, 0.5, 3.0, 15.0, 60.0, 180.0, 600.0])),
            "on_transfer_timeout": draw(st.sampled_from(["abandon", "return"])),
        }
        if draw(st.booleans()):
            svc["patience"] = draw(distributions(10.0, 600.0))
        if hot or draw(st.booleans()):
            svc["transfer_patience"] = draw(distributions(5.0, 300.0))
        if draw(st.booleans()):
            svc["dissuasion_timeout"] = draw(st.sampled_from([0.0, 5.0, 120.0, 600.0]))
        services.append(svc)
    return {
        "name": "property",
        "simulation": {
            "horizon": draw(st.sampled_from([600.0, 1800.0, 3600.0])),
            "warmup": draw(st.sampled_from([0.0, 300.0])),
            "seed": draw(st.integers(0, 2**31)),
            "replications": 1,
        },
        "services": services,
        "groups": group_rows,
        "agents": agents,
    }


# -- checks --------------------------------------------------------------------------------
def check_replication(sc: Any, out: Any) -> None:
    """Assert the invariants of one replication's output (see the module docstring)."""
    warmup = float(sc.simulation.warmup)
    end = warmup + float(sc.simulation.horizon)
    targets = sc.targets()
    slots = {name: mc for name, (mc, _) in sc.all_agents().items()}
    rules = {
        s.name: TransferRules(transfer_timeout=s.transfer_timeout, dissuasion_timeout=s.dissuasion_timeout,
                              on_transfer_timeout=s.on_transfer_timeout, targets=targets)
        for s in sc.services
    }
    rows = out.events
    # rows of one contact, in the order the engine logged them
    by_contact: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for r in rows:
        time, cid = r[0], r[1]
        assert 0.0 <= time <= end, f"row outside the run: {r}"
        by_contact[cid].append(r)

    counted: set[int] = set()
    service_of: dict[int, str] = {}
    for n, (cid, crow) in enumerate(by_contact.items()):
        first = crow[0]
        assert first[3] == "arrive" and first[5] == "queued", first
        service_of[cid] = first[2]
        if first[0] >= warmup:
            counted.add(cid)
        engine = "chart" if n < CHART_REPLAYS else "compiled"
        c = Contact(rules[first[2]], now=first[0], engine=engine, auto_timers=False)
        last_time = first[0]
        finals = 0
        for r in crow[1:]:
            time, _, _, event, before, after, agent, _, target = r
            assert time >= last_time, f"contact {cid}: time goes back at {r}"
            last_time = time
            assert finals == 0, f"contact {cid}: {event} after a final state"
            assert c.state == before, f"contact {cid}: logged from {before}, model is in {c.state}"
            data: dict[str, Any] = {}
            if event in ("assign", "accept", "reject", "offer_timeout", "withdraw") and agent:
                data["agent"] = agent
            if event == "request_transfer":
                data["target"] = target
            if event == "offer":
                data["agents"] = agent.split(",")
            try:
                state = c.send(event, now=time, **data)
            except EventNotAllowed as err:
                pytest.fail(f"contact {cid}: the log holds a transition the statechart refuses: {err} ({r})")
            assert state == after, f"contact {cid}: {event} led to {state}, logged {after}"
            finals += after in FINAL_STATES

    # counts per service and per target against the log
    expect_s: dict[str, Counter[str]] = {s.name: Counter() for s in sc.services}
    expect_t: dict[str, Counter[str]] = {t: Counter() for t in targets}
    open_contacts: Counter[str] = Counter()
    for cid in counted:
        crow = by_contact[cid]
        s = service_of[cid]
        expect_s[s]["arrivals"] += 1
        target = None
        for r in crow:
            event, after = r[3], r[5]
            if event == "request_transfer":
                target = r[8]
                expect_s[s]["transfers_requested"] += 1
                expect_t[target]["transfers_requested"] += 1
            elif event == "accept":
                expect_s[s]["transfers_accepted"] += 1
                expect_t[target]["transfers_accepted"] += 1
            elif event == "reject":
                expect_s[s]["rejects"] += 1
                expect_t[target]["rejects"] += 1
            elif event == "withdraw":
                expect_s[s]["withdrawals"] += 1
                expect_t[target]["withdrawals"] += 1
            elif event == "transfer_timeout" and after == "engaged":
                expect_s[s]["transfers_returned"] += 1
                expect_t[target]["transfers_returned"] += 1
            if after in FINAL_STATES:
                expect_s[s][after] += 1
                if after in ("abandoned_transfer", "transfer_expired"):
                    expect_t[target][after] += 1
        if crow[-1][5] not in FINAL_STATES:
            open_contacts[s] += 1
    for s, tally in out.by_service.items():
        cnt = tally.counts
        for key in ("arrivals", "transfers_requested", "transfers_accepted", "rejects", "transfers_returned",
                    "withdrawals", *FINAL_COUNTS):
            assert cnt[key] == expect_s[s][key], f"service {s}: {key} {cnt[key]} != {expect_s[s][key]} in the log"
        assert cnt["open"] == open_contacts[s] >= 0
        assert cnt["arrivals"] == sum(cnt[k] for k in FINAL_COUNTS) + cnt["open"]
        assert cnt["transfers_open"] >= 0
    for t, tally in out.by_target.items():
        cnt = tally.counts
        for key in ("transfers_requested", "transfers_accepted", "rejects", "transfers_returned",
                    "abandoned_transfer", "transfer_expired"):
            assert cnt[key] == expect_t[t][key], f"target {t}: {key} {cnt[key]} != {expect_t[t][key]} in the log"
        ended = sum(cnt[k] for k in ("transfers_accepted", "transfer_expired", "abandoned_transfer", "transfers_returned"))
        assert cnt["transfers_requested"] == ended + cnt["transfers_open"] and cnt["transfers_open"] >= 0
    for key in ("transfers_requested", "transfers_accepted", "abandoned_transfer", "transfer_expired"):
        assert sum(t.counts[key] for t in out.by_target.values()) == sum(s.counts[key] for s in out.by_service.values())

    # slots: conversations plus reserved offers, replayed in the engine's order
    held: Counter[str] = Counter()
    returned: Counter[str] = Counter()  # returned transfers an agent holds now
    owner: dict[int, str] = {}
    requester: dict[int, str] = {}
    was_returned: set[int] = set()
    offers: dict[int, list[str]] = {}
    shifts = sc.shifts()
    clock0 = sc.simulation.start_seconds
    for r in rows:
        time, cid, _, event, before, after, agent = r[:7]
        if event in ("assign", "offer"):  # only an agent on shift takes a contact or an offer
            for a in agent.split(","):
                assert shifts[a].on_at(clock0 + time), f"{event} to {a}, off shift at t={time}: {r}"
        if event == "withdraw":  # only the withdrawn agent's offer, at the end of its shift
            assert not shifts[agent].on_at(clock0 + time), f"withdraw from {agent}, on shift at t={time}: {r}"
            offers[cid].remove(agent)
            held[agent] -= 1
            if not offers[cid]:
                del offers[cid]
        elif before == "offered":  # leaving `offered` releases every reserved offer
            for a in offers.pop(cid, []):
                held[a] -= 1
        if before == "engaged" and event in ("close", "request_transfer", "customer_leave"):
            a = owner.pop(cid)
            held[a] -= 1
            if cid in was_returned:
                was_returned.discard(cid)
                returned[a] -= 1
            if event == "request_transfer":
                requester[cid] = a
        if event == "offer":
            offers[cid] = agent.split(",")
            for a in offers[cid]:
                held[a] += 1
        elif after == "engaged":
            a = agent if event != "transfer_timeout" else requester[cid]
            owner[cid] = a
            held[a] += 1
            if event == "transfer_timeout":
                was_returned.add(cid)
                returned[a] += 1
        for a in {agent} if event != "offer" else set(offers.get(cid, [])):
            if a:
                assert held[a] <= slots[a] + returned[a], (
                    f"{a} holds {held[a]} slots > {slots[a]} at t={time} ({returned[a]} returned transfers)"
                )
        for a, n in held.items():
            assert n >= 0, f"{a} released a slot it did not hold at t={time}"


REPLICATIONS = 3  # per scenario: rare paths depend on the draws as much as on the settings


def run_one(data: dict[str, Any]) -> None:
    sc = scenario_from_dict(data)
    for rep in range(REPLICATIONS):
        out = Replication(sc, seed=sc.simulation.seed, replication=rep, keep_events=True, timeline_step=None).run()
        check_replication(sc, out)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=not SLOW)
@given(scenarios())
def test_any_valid_scenario_simulates_to_the_end_and_keeps_the_invariants(data):
    run_one(data)


@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=not SLOW)
@given(scenarios(hot=True))
def test_transfers_waiting_for_busy_agents_who_reject_keep_the_invariants(data):
    """Where the engine once failed: transfers wait for one or two busy agents, who reject some
    of them; customers leave while they wait (an agent offered a contact that had left)."""
    run_one(data)


@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=not SLOW)
@given(scenarios(shifty=True))
def test_shifts_that_end_while_offers_wait_keep_the_invariants(data):
    """Staffing over the day: agents go off shift holding chats and outstanding offers (which are
    withdrawn), groups step down to nobody on shift, transfers wait for the next shift."""
    run_one(data)


def test_the_checks_catch_a_log_that_breaks_the_lifecycle():
    """The checker itself must be able to fail: feed it a log with an offer after the end."""
    data = {
        "name": "tiny",
        "simulation": {"horizon": 1800.0, "warmup": 0.0, "seed": 1, "replications": 1},
        "services": [{"name": "s0", "entry_group": "g0", "arrivals": {"kind": "poisson", "rate_per_hour": 300.0},
                      "transfer_patience": {"kind": "exponential", "mean": 5.0}}],
        "groups": [{"name": "g0", "agents": 2, "handle_time": {"kind": "exponential", "mean": 60.0},
                    "transfers": [{"to": "g1", "probability": 0.5}]},
                   {"name": "g1", "agents": 1, "handle_time": {"kind": "exponential", "mean": 300.0}}],
    }
    sc = scenario_from_dict(data)
    out = Replication(sc, seed=1, replication=0, keep_events=True, timeline_step=None).run()
    check_replication(sc, out)  # the real log passes
    left = next(r for r in out.events if r[5] == "abandoned_transfer")
    broken = Replication(sc, seed=1, replication=0, keep_events=True, timeline_step=None).run()
    broken.events.append((left[0] + 1.0, left[1], left[2], "offer", "abandoned_transfer", "offered", "g1-1", "g1", "g1"))
    with pytest.raises(AssertionError, match="after a final state"):
        check_replication(sc, broken)
    over = Replication(sc, seed=1, replication=0, keep_events=True, timeline_step=None).run()
    over.by_service["s0"].counts["completed"] += 1
    with pytest.raises(AssertionError, match="completed"):
        check_replication(sc, over)
