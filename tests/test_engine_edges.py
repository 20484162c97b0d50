"""The engine at its boundaries: ties between a timer and an event, degenerate settings.

Constant distributions put two things at exactly the same instant, which is where a ``<`` written
as ``<=`` (or a timer scheduled at the wrong priority) shows. LIFECYCLE: a timer due at an instant
fires before any event at that instant, so an event at exactly the deadline loses.
"""

from __future__ import annotations

import pytest

from model import simulate
from model.scenario import scenario_from_dict


def _scenario(**over: object) -> object:
    """One service, a front group that transfers every contact to ``back``; constant times."""
    service = {
        "name": "chat", "entry_group": "front", "transfer_timeout": 30,
        "arrivals": {"kind": "constant", "rate_per_hour": 60},
        "patience": {"kind": "constant", "value": 10_000},
    }
    front = {"name": "front", "agents": 50, "handle_time": {"kind": "constant", "value": 100},
             "transfers": [{"to": "back", "probability": 1.0}]}
    back = {"name": "back", "agents": 50, "handle_time": {"kind": "constant", "value": 100},
            "accept_delay": {"kind": "constant", "value": 5}}
    sim = {"horizon": "2h", "warmup": 0, "replications": 1, "seed": 3}
    for path, value in over.items():
        table, key = path.split("__")
        where = {"service": service, "front": front, "back": back, "sim": sim}[table]
        if value is None:
            where.pop(key)  # unset: the schema's default
        else:
            where[key] = value
    return scenario_from_dict({"simulation": sim, "services": [service], "groups": [front, back]})


def _outcomes(res) -> dict[str, int]:
    return res.transfers.outcome.value_counts().to_dict()


@pytest.mark.parametrize(("patience", "expected"), [
    (30.0, "transfer_expired"),  # the customer would leave exactly at the deadline: the timer wins
    (30.5, "transfer_expired"),
    (29.5, "abandoned_transfer"),
])
def test_transfer_patience_against_the_transfer_timer(patience, expected):
    res = simulate(_scenario(service__transfer_patience={"kind": "constant", "value": patience},
                             back__accept_delay={"kind": "constant", "value": 1000}), timeline_step=None)
    out = _outcomes(res)
    assert set(out) <= {expected, "open"} and out[expected] > 50


@pytest.mark.parametrize(("delay", "expected"), [(30.0, "transfer_expired"), (29.0, "accepted")])
def test_an_accept_at_exactly_the_transfer_deadline_loses_to_the_timer(delay, expected):
    res = simulate(_scenario(back__accept_delay={"kind": "constant", "value": delay}), timeline_step=None)
    out = _outcomes(res)
    assert set(out) <= {expected, "open"} and out[expected] > 50


@pytest.mark.parametrize(("delay", "event"), [(20.0, "offer_timeout"), (19.0, "accept"), (25.0, "offer_timeout")])
def test_an_offer_timeout_at_the_instant_of_the_click_wins(delay, event):
    res = simulate(_scenario(back__accept_delay={"kind": "constant", "value": delay}, back__offer_timeout=20,
                             service__transfer_timeout=3600), timeline_step=None)
    decided = res.events[res.events.event.isin(["accept", "offer_timeout", "reject"])].event
    assert set(decided) == {event}
    if event == "offer_timeout":  # 20 s after each offer, and the transfer is offered again
        ev = res.events
        offers = ev[ev.event == "offer"].groupby("contact", observed=True).size()
        assert (offers > 1).mean() > 0.9


@pytest.mark.parametrize(("patience", "expected"), [(600.0, "dissuaded"), (600.5, "dissuaded"), (599.5, "abandoned_queue")])
def test_queue_patience_against_the_dissuasion_timer(patience, expected):
    """Nobody free at the front: every contact waits until it leaves or is dissuaded at 600 s."""
    res = simulate(_scenario(front__agents=1, front__handle_time={"kind": "constant", "value": 7200},
                             service__dissuasion_timeout=600,
                             service__patience={"kind": "constant", "value": patience}), timeline_step=None)
    ev = res.events
    ends = ev[ev.event.isin(["dissuade", "customer_leave"])]
    assert set(ends.to_state) == {expected} and len(ends) > 50
    # found lazily, but recorded at their own time: arrival + the earlier of patience and 600 s
    arrived = ev[ev.event == "arrive"].set_index("contact").time
    waited = ends.set_index("contact").time - arrived.reindex(ends.contact).to_numpy()
    assert (waited == min(patience, 600.0)).all()
    m = res.metrics.set_index(["scope", "key", "metric"])["mean"]
    assert m[("overall", "all", "queue_abandonment_rate")] > 0.9  # (dissuaded contacts included)
    assert m[("overall", "all", "dissuaded")] == (len(ends) if expected == "dissuaded" else 0)


@pytest.mark.parametrize(("p", "rejects"), [(0.0, False), (1.0, True)])
def test_reject_probability_zero_and_one(p, rejects):
    res = simulate(_scenario(back__reject_probability=p), timeline_step=None)
    ev = res.events
    if rejects:  # everyone rejects: each agent once, then the transfer waits for its timer
        assert (ev.event == "accept").sum() == 0 and (ev.event == "reject").sum() > 50
        assert set(_outcomes(res)) <= {"transfer_expired", "open"}
    else:
        assert (ev.event == "reject").sum() == 0 and (ev.event == "accept").sum() > 50


def test_no_arrival_at_all_counts_nothing_and_leaves_nothing_open():
    # the profile's only busy hour is after the run's end
    res = simulate(_scenario(service__arrivals={"kind": "poisson", "profile": [["00:00", 0], ["23:00", 60]]}),
                   timeline_step=600.0)
    counts = res.per_replication
    assert len(res.events) == 0
    got = counts[(counts.scope == "service") & counts.metric.isin(["arrivals", "completed", "transfers_requested"])]
    assert (got.value == 0).all() and len(got) == 3
    # a rate of nothing is undefined, not 0 (nor a division by a negative count of open contacts)
    rates = counts[counts.metric.str.endswith("_rate")]
    assert len(rates) and rates.value.isna().all()
    assert (res.timeline.arrivals == 0).all() and (res.timeline.busy_slots == 0).all()


def test_the_timeline_samples_every_step_strictly_inside_the_run():
    res = simulate(_scenario(sim__horizon=3600, sim__warmup=600), timeline_step=605.0)  # run ends at 4200
    times = sorted(set(res.timeline.time))
    assert times == [605.0 * k for k in range(1, 7)]  # 7 * 605 > 4200: no sample at or after the end
    # arrivals per sample: one a minute (warm-up included), each in the first sample after it
    ev = res.events
    per_sample = res.timeline[res.timeline.group == "front"].set_index("time").arrivals
    arrive = ev[ev.event == "arrive"].time
    assert list(per_sample) == [((arrive > t - 605.0) & (arrive < t)).sum() for t in times]
    assert set(res.timeline.group) == {"front", "back"} and (res.timeline.slots == 50).all()


def _chain(**over: object) -> object:
    """front -> back -> back2, constant times: each contact is transferred twice."""
    sc = _scenario(**over).to_dict()
    sc["groups"][1]["transfers"] = [{"to": "back2", "probability": 1.0}]
    sc["groups"].append({"name": "back2", "agents": 50, "handle_time": {"kind": "constant", "value": 100},
                         "accept_delay": {"kind": "constant", "value": 1000}})
    return scenario_from_dict(sc)


def test_an_earlier_transfers_timer_does_not_end_the_next_transfer():
    """Transfer 1 joins after 5 s and its conversation lasts 6 s: transfer 2 starts while transfer
    1's timer (due 30 s after request 1) is still pending; that stale timer must not touch it."""
    res = simulate(_chain(back__handle_time={"kind": "constant", "value": 6}), timeline_step=None)
    tr = res.transfers.sort_values(["contact", "requested_at"])
    second = tr[tr.target == "back2"]
    assert len(second) > 50 and set(second.outcome) <= {"transfer_expired", "open"}
    ended = second[second.outcome == "transfer_expired"]
    assert ((ended.ended_at - ended.requested_at) == 30.0).all()  # its own deadline, not the stale one
    first = tr[tr.target == "back"]
    assert set(first.outcome) == {"accepted"}


def test_no_offer_at_the_instant_a_transfer_times_out():
    """An agent frees a slot at exactly a waiting transfer's deadline: the timer fires first
    (LIFECYCLE: timers due at an instant come before events at that instant), so nothing is offered.

    One back agent, one chat: contact 1 joins at 70 s and holds the agent 90 s, to 160 s; contact 2
    requests at 130 s and waits; its deadline is 160 s."""
    res = simulate(_scenario(back__agents=1, back__accept_delay=None,  # (no delay: accepted when offered)
                             back__handle_time={"kind": "constant", "value": 90},
                             front__handle_time={"kind": "constant", "value": 10}), timeline_step=None)
    ev = res.events
    expired = ev[ev.event == "transfer_timeout"]
    assert len(expired) > 20
    offers = ev[ev.event == "offer"]
    at_deadline = offers.merge(expired[["contact", "time"]], on=["contact", "time"])
    assert at_deadline.empty, at_deadline


@pytest.mark.parametrize(("dissuasion", "patience", "ends"), [
    (40, 10_000, "dissuaded"),         # the dissuasion timer is due as the agent frees: it wins
    (None, 40, "abandoned_queue"),     # the customer's exit time has come: it has left
])
def test_a_queued_contact_leaving_at_the_instant_an_agent_frees_is_not_served(dissuasion, patience, ends):
    """One front agent: contact 1 (arrived 60 s) holds it until 160 s; contact 2 arrives at 120 s
    and would leave at exactly 160 s. An agent looking for work skips what has left by now."""
    over = {"front__agents": 1, "front__handle_time": {"kind": "constant", "value": 100},
            "front__transfers": [], "service__patience": {"kind": "constant", "value": patience},
            "sim__horizon": 200}
    if dissuasion is not None:
        over["service__dissuasion_timeout"] = dissuasion
    ev = simulate(_scenario(**over), timeline_step=None).events
    two = ev[ev.contact == 1]
    assert list(two.event) == ["arrive", "dissuade" if ends == "dissuaded" else "customer_leave"]
    assert list(two.time) == [120.0, 160.0] and two.to_state.iloc[-1] == ends
