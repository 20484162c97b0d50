"""The simulation engine: conservation, capacity, timers, reproducibility, policies, CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from model.cli import app
from model.lifecycle import FINAL_STATES, Contact, EventNotAllowed, TransferRules
from model.scenario import scenario_from_dict
from model.sim import simulate
from model.sim.engine import Replication

FINALS = sorted(FINAL_STATES)


def small(**overrides):
    """A two-stage centre: a front line that transfers 40 % of contacts to billing or to anna."""
    data = {
        "simulation": {"horizon": "2h", "warmup": "10m", "replications": 3, "seed": 7},
        "services": [
            {
                "name": "support",
                "entry_group": "front",
                "transfer_timeout": "45s",
                "dissuasion_timeout": "4m",
                "arrivals": {"kind": "poisson", "rate_per_hour": 150},
                "patience": {"kind": "exponential", "mean": "3m"},
                "transfer_patience": {"kind": "exponential", "mean": "2m"},
            }
        ],
        "groups": [
            {
                "name": "front",
                "agents": 6,
                "max_concurrent": 2,
                "handle_time": {"kind": "exponential", "mean": "4m"},
                "transfers": [
                    {"to": "billing", "probability": 0.3, "message": "invoice"},
                    {"to": "agent:anna", "probability": 0.1},
                ],
            },
            {
                "name": "billing",
                "agents": 2,
                "max_concurrent": 2,
                "handle_time": {"kind": "lognormal", "mean": "5m", "cv": 0.8},
                "accept_delay": {"kind": "exponential", "mean": "10s"},
                "reject_probability": 0.1,
                "offer_timeout": "25s",
                "routing": "least_busy",
            },
        ],
        "agents": [{"name": "anna", "groups": ["billing"], "max_concurrent": 1}],
    }
    for path, value in overrides.items():
        node = data
        *head, last = path.split(".")
        for k in head:
            node = node[k] if not isinstance(node, list) else next(x for x in node if x["name"] == k)
        node[last] = value
    return scenario_from_dict(data, name="small")


@pytest.fixture(scope="module")
def result():
    return simulate(small(), keep_events=True)


def test_event_log_has_one_row_per_transition_with_the_promised_columns(result):
    assert list(result.events.columns) == [
        "replication", "time", "contact", "service", "event", "from_state", "to_state", "agent", "group", "target"
    ]
    ev = result.events
    assert set(ev.event.astype(str)) >= {"arrive", "assign", "close", "request_transfer", "offer", "accept"}
    assert (ev.groupby("replication").time.apply(lambda t: t.is_monotonic_increasing)).all()


def test_every_arrival_ends_in_exactly_one_final_state_or_is_open(result):
    ev = result.events
    warm = result.scenario.simulation.warmup
    arrivals = ev[(ev.event == "arrive") & (ev.time >= warm)][["replication", "contact"]]
    finals = ev[ev.to_state.isin(FINALS)]
    per_contact = finals.groupby(["replication", "contact"], observed=True).size()
    assert per_contact.max() == 1, "a contact reached a final state twice"
    for rep, grp in arrivals.groupby("replication"):
        counted = set(grp.contact)
        ended = set(finals[finals.replication == rep].contact) & counted
        pr = result.per_replication
        get = lambda m: pr[(pr.replication == rep) & (pr.scope == "overall") & (pr.metric == m)].value.iloc[0]
        assert get("arrivals") == len(counted)
        total_finals = sum(get(m) for m in ["completed", "abandoned_queue", "dissuaded", "abandoned_transfer", "transfer_expired"])
        assert total_finals == len(ended)
        assert len(counted) - len(ended) >= 0


def test_counts_agree_with_the_event_log(result):
    ev, pr = result.events, result.per_replication
    warm = result.scenario.simulation.warmup
    counted = ev[(ev.event == "arrive") & (ev.time >= warm)][["replication", "contact"]]
    mine = ev.merge(counted, on=["replication", "contact"])
    for rep in range(result.replications):
        m = mine[mine.replication == rep]
        get = lambda k: pr[(pr.replication == rep) & (pr.scope == "overall") & (pr.metric == k)].value.iloc[0]
        assert get("transfers_requested") == (m.event == "request_transfer").sum()
        assert get("transfers_accepted") == (m.event == "accept").sum()
        assert get("transfer_expired") == (m.to_state == "transfer_expired").sum()
        assert get("abandoned_transfer") == (m.to_state == "abandoned_transfer").sum()
        assert get("dissuaded") == (m.to_state == "dissuaded").sum()


def test_no_accept_at_or_after_the_transfer_deadline(result):
    tr = result.transfers
    accepted = tr[tr.outcome == "accepted"]
    assert len(accepted) > 20
    assert (accepted.time_to_join < 45.0).all()
    ev = result.events
    req = ev[ev.event == "request_transfer"][["replication", "contact", "time"]].rename(columns={"time": "t_req"})
    acc = ev[ev.event == "accept"][["replication", "contact", "time"]]
    # each accept joins the latest transfer request of the same contact before it
    joined = pd.merge_asof(acc.sort_values("time"), req.assign(time=req.t_req).sort_values("time"),
                           on="time", by=["replication", "contact"], direction="backward")
    assert joined.t_req.notna().all()
    assert ((joined.time - joined.t_req) < 45.0).all()


def test_no_agent_ever_exceeds_max_concurrent(monkeypatch):
    seen = []
    from model.sim.agents import AgentPool

    original = AgentPool.hold

    def checked(self, a, now):
        assert a.busy < a.slots, f"{a.name} would hold {a.busy + 1} > {a.slots} slots at t={now}"
        seen.append(a.name)
        original(self, a, now)

    monkeypatch.setattr(AgentPool, "hold", checked)
    simulate(small(**{"simulation.horizon": "4h"}), replications=2, keep_events=False)
    assert len(seen) > 500


def test_every_logged_transition_is_one_the_statechart_allows(result):
    """Replay each contact's log through the python-statemachine chart itself."""
    sc = result.scenario
    targets = sc.targets()
    ev = result.events[result.events.replication == 0]
    svc = sc.services[0]
    rules = TransferRules(transfer_timeout=svc.transfer_timeout, dissuasion_timeout=svc.dissuasion_timeout,
                          on_transfer_timeout=svc.on_transfer_timeout, targets=targets)
    offers = {}
    for cid, rows in ev.groupby("contact", sort=False):
        rows = rows.sort_values("time", kind="stable")
        first = rows.iloc[0]
        assert first.event == "arrive"
        c = Contact(rules, now=float(first.time), engine="chart", auto_timers=False)
        for r in rows.iloc[1:].itertuples():
            data = {}
            if r.event in ("assign", "accept", "reject", "offer_timeout") and isinstance(r.agent, str):
                data["agent"] = r.agent
            if r.event == "request_transfer":
                data["target"] = r.target
            if r.event == "offer":
                data["agents"] = r.agent.split(",")  # an offer logs every agent it went to
            assert c.state == r.from_state, (cid, r)
            try:
                state = c.send(r.event, now=float(r.time), **data)
            except EventNotAllowed as err:  # pragma: no cover - would be a real defect
                pytest.fail(f"contact {cid}: {err}")
            assert state == r.to_state
        offers[cid] = c.data.transfer_count
    assert sum(offers.values()) == (ev.event == "accept").sum()


def test_same_scenario_and_seed_give_the_same_event_log_bit_for_bit():
    a = simulate(small(), replications=2)
    b = simulate(small(), replications=2)
    pd.testing.assert_frame_equal(a.events, b.events, check_exact=True)
    pd.testing.assert_frame_equal(a.metrics, b.metrics, check_exact=True)
    c = simulate(small(), replications=2, seed=8)
    assert not a.events.equals(c.events)


def test_keeping_the_event_log_does_not_change_the_metrics():
    a = simulate(small(), replications=2, keep_events=True)
    b = simulate(small(), replications=2, keep_events=False)
    assert b.events is None and b.transfers is None
    pd.testing.assert_frame_equal(a.metrics, b.metrics, check_exact=True)


def test_changing_one_setting_does_not_shift_other_streams():
    """Arrivals and front-line handle times come from their own streams: a billing change
    leaves the front line's first conversations untouched."""
    a = simulate(small(), replications=1)
    b = simulate(small(**{"groups.billing.reject_probability": 0.5}), replications=1)
    pick = lambda r: r.events[(r.events.event == "arrive")].time.to_numpy()
    np.testing.assert_array_equal(pick(a), pick(b))


def transfer_only(offer_mode: str, timeout: str = "60s", routing: str = "longest_idle"):
    return small(**{
        "groups.front.transfers": [{"to": "billing", "probability": 0.5}],
        "groups.billing.offer_mode": offer_mode,
        "groups.billing.routing": routing,
        "groups.billing.agents": 4,
        "groups.billing.max_concurrent": 1,
        "groups.billing.offer_timeout": None,
        "groups.billing.accept_delay": {"kind": "exponential", "mean": "20s"},
        "services.support.transfer_timeout": timeout,
        "agents": [],
        "simulation.horizon": "3h",
    })


def test_broadcast_joins_faster_than_sequential_with_the_same_staff():
    seq = simulate(transfer_only("sequential"), replications=4, keep_events=False)
    bro = simulate(transfer_only("broadcast"), replications=4, keep_events=False)
    s_mean, s_lo, s_hi = seq.metric("time_to_join_mean", "target", "billing")
    b_mean, b_lo, b_hi = bro.metric("time_to_join_mean", "target", "billing")
    assert b_mean < s_mean
    assert bro.metric("offers_per_transfer", "target", "billing")[0] > seq.metric("offers_per_transfer", "target", "billing")[0]


def test_a_longer_timeout_never_raises_transfer_expired_under_common_random_numbers():
    expired = []
    for timeout in ("20s", "45s", "90s"):
        r = simulate(transfer_only("sequential", timeout), replications=5, keep_events=False)
        pr = r.per_replication
        expired.append(pr[(pr.scope == "overall") & (pr.metric == "transfer_expired")].value.sum())
    assert expired[0] >= expired[1] >= expired[2]
    assert expired[0] > expired[2]


def test_return_policy_gives_the_contact_back_to_the_requester():
    sc = small(**{"services.support.on_transfer_timeout": "return", "services.support.transfer_timeout": "5s"})
    r = simulate(sc, replications=1)
    tr = r.transfers
    returned = tr[tr.outcome == "returned"]
    assert len(returned) > 0
    assert r.metric("transfer_expired")[0] == 0
    ev = r.events
    back = ev[(ev.event == "transfer_timeout")]
    assert (back.to_state == "engaged").all()


def test_dissuasion_and_patience_end_queued_contacts():
    sc = small(**{"groups.front.agents": 1, "groups.front.max_concurrent": 1, "services.support.dissuasion_timeout": "60s"})
    r = simulate(sc, replications=1)
    assert r.metric("dissuaded")[0] > 0 and r.metric("abandoned_queue")[0] > 0
    ev = r.events
    arrive = ev[ev.event == "arrive"].set_index("contact").time
    dissuaded = ev[ev.event == "dissuade"].set_index("contact").time
    assert np.allclose(dissuaded - arrive.loc[dissuaded.index], 60.0)


@pytest.mark.parametrize("routing", ["longest_idle", "least_busy", "round_robin", "random"])
def test_every_routing_policy_runs_and_serves_transfers(routing):
    r = simulate(transfer_only("sequential", routing=routing), replications=1, keep_events=False)
    assert r.metric("transfers_accepted", "target", "billing")[0] > 0


def test_piecewise_arrival_profile_follows_the_rate():
    sc = small(**{
        "services.support.arrivals": {"kind": "poisson", "profile": [["00:00", 60], ["01:00", 600]]},
        "simulation.warmup": 0, "simulation.horizon": "2h",
    })
    r = simulate(sc, replications=4)
    ev = r.events
    arr = ev[ev.event == "arrive"]
    first = (arr.time < 3600).sum() / 4
    second = (arr.time >= 3600).sum() / 4
    assert 40 < first < 80 and 520 < second < 680


runner = CliRunner()


def test_cli_run_json_has_the_promised_shape(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(open("scenarios/single-group.toml").read().replace('horizon = "8h"', 'horizon = "1h"'))
    res = runner.invoke(app, ["run", str(path), "--replications", "2", "--seed", "3", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["replications"] == 2 and data["seed"] == 3
    m = data["metrics"]
    assert set(m) >= {"overall", "by_service", "by_target"}
    ab = m["overall"]["queue_abandonment_rate"]
    assert 0 <= ab["mean"] <= 1 and ab["ci95"][0] <= ab["mean"] <= ab["ci95"][1]


def test_cli_run_out_writes_parquet_and_csv_and_nothing_half_written(tmp_path):
    out = tmp_path / "out"
    res = runner.invoke(app, ["run", "scenarios/baseline.toml", "-r", "2", "--out", str(out)])
    assert res.exit_code == 0, res.output
    names = {p.name for p in out.iterdir()}
    assert {"events.parquet", "metrics.csv", "run.json"} <= names
    assert not [n for n in names if n.endswith(".part") or n.startswith(".")]
    back = pd.read_parquet(out / "events.parquet")
    assert len(back) > 1000


def test_cli_bad_scenario_names_file_field_value_and_allowed(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(open("scenarios/baseline.toml").read().replace('entry_group = "frontline"', 'entry_group = "nobody"'))
    res = runner.invoke(app, ["run", str(bad)])
    assert res.exit_code == 2
    msg = res.output
    assert "bad.toml" in msg and "entry_group" in msg and "nobody" in msg and "frontline" in msg
    assert not (tmp_path / "out").exists()


def test_event_log_does_not_depend_on_the_process_string_hashing(tmp_path):
    """Sweeps run replications in other processes (other PYTHONHASHSEED): same log regardless."""
    import os
    import subprocess
    import sys

    script = (
        "import hashlib;from model import load_scenario, simulate;"
        "r = simulate(load_scenario('scenarios/baseline.toml').with_changes({'simulation.horizon': '2h'}), replications=2);"
        "print(hashlib.sha256(r.events.to_csv().encode() + r.metrics.to_csv().encode()).hexdigest())"
    )
    digests = {
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONHASHSEED": str(h)}).stdout.strip()
        for h in (1, 2, 3)
    }
    assert len(digests) == 1


def test_transfers_table_has_a_row_for_every_transfer_request(result):
    tr, pr = result.transfers, result.per_replication
    for rep in range(result.replications):
        counted = tr[(tr.replication == rep) & tr.counted]
        requested = pr[(pr.replication == rep) & (pr.scope == "overall") & (pr.metric == "transfers_requested")].value.iloc[0]
        assert len(counted) == requested
        assert set(counted.outcome.astype(str)) <= {"accepted", "transfer_expired", "abandoned_transfer", "returned", "open"}


def test_customers_abandon_transfers_when_a_transfer_patience_is_set(result):
    """small() sets a transfer patience (exponential, mean 2 min) shorter than many waits for billing
    and anna: some customers leave while their transfer is routed or offered, before the deadline."""
    assert result.metric("abandoned_transfer")[0] > 0
    for target in ("billing", "agent:anna"):
        assert result.metric("abandoned_transfer", "target", target)[0] > 0, target
        assert result.metric("transfer_abandonment_rate", "target", target)[0] > 0, target
    tr = result.transfers
    assert (tr[tr.counted].outcome == "abandoned_transfer").sum() > 0
    ev = result.events
    left = ev[ev.to_state == "abandoned_transfer"]
    assert len(left) > 0 and set(left.event.astype(str)) == {"customer_leave"}
    assert set(left.from_state.astype(str)) <= {"routing", "offered"}
    # each one left before its transfer timed out (45 s after the request): patience, not the timer
    req = ev[ev.event == "request_transfer"][["replication", "contact", "time"]].rename(columns={"time": "t_req"})
    gone = pd.merge_asof(left[["replication", "contact", "time"]].sort_values("time"),
                         req.assign(time=req.t_req).sort_values("time"),
                         on="time", by=["replication", "contact"], direction="backward")
    assert gone.t_req.notna().all() and ((gone.time - gone.t_req) < 45.0).all()


def test_without_a_transfer_patience_no_transfer_is_abandoned():
    r = simulate(small(**{"services.support.transfer_patience": None}), replications=2)
    assert r.metric("transfers_requested")[0] > 0 and r.metric("transfer_expired")[0] > 0
    assert r.metric("abandoned_transfer")[0] == 0
    assert not (r.events.to_state == "abandoned_transfer").any()
