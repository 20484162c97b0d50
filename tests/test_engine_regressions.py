"""Named regressions: valid scenarios that once crashed the engine, kept as they were reported."""

from __future__ import annotations

from pathlib import Path

from model import load_scenario, simulate
from model.sim.engine import Replication

PEAK = Path(__file__).resolve().parent.parent / "scenarios" / "peak-hour.toml"


def busy_hours(tech_agents: int = 6, timeout: str = "180s", billing_agents: int = 3):
    """The issue's repro: peak-hour.toml for the busy hours, a long transfer timeout."""
    return load_scenario(PEAK).with_changes(
        {
            "simulation.start": "08:00",
            "simulation.warmup": "1h",
            "simulation.horizon": "3h",
            "groups.tech.agents": tech_agents,
            "groups.billing.agents": billing_agents,
            "services.support.transfer_timeout": timeout,
        }
    )


def test_busy_hours_with_a_long_transfer_timeout_runs_to_the_end():
    # An agent looking for work passed over a waiting transfer it had rejected and took the next
    # entry of the waiting list without checking it was still waiting: its customer had left,
    # and the engine offered a contact in `abandoned_transfer`.
    result = simulate(busy_hours(), replications=5, keep_events=False)
    assert result.metric("transfers_requested", "target", "billing")[0] > 0


def test_the_exact_crashing_replication_now_ends_with_every_contact_final_or_open():
    sc = busy_hours(tech_agents=5, timeout="300s", billing_agents=3)
    out = Replication(sc, seed=3, replication=0, keep_events=True, timeline_step=300.0).run()
    # the crash came from a waiting transfer rejected by the agent at the head of the list:
    # this replication must really exercise that path (rejects while transfers wait)
    assert out.by_target["billing"].counts["rejects"] > 0
    assert out.by_target["billing"].counts["abandoned_transfer"] > 0
    last_state: dict[int, str] = {}
    for row in out.events:
        last_state[row[1]] = row[5]
    offered_after_end = [
        row for row in out.events if row[3] == "offer" and row[4] in ("abandoned_transfer", "transfer_expired")
    ]
    assert offered_after_end == []
    assert set(last_state.values()) <= {
        "completed", "abandoned_queue", "dissuaded", "abandoned_transfer", "transfer_expired",
        "queued", "engaged", "routing", "offered",
    }


def test_a_huge_rate_outside_the_simulated_hours_costs_nothing(monkeypatch):
    # Thinning against the day's highest rate drew (highest / current rate) candidate gaps per
    # arrival: with 1e300 per hour at night, a valid scenario that never ended, without a word.
    # 1e6 keeps a regression finite: ~8000 look-ups per arrival, far over the bound below.
    from model.scenario.arrivals import Arrivals

    sc = load_scenario(PEAK).with_changes(
        {
            "simulation.start": "08:00",
            "simulation.warmup": "10m",
            "simulation.horizon": "1h",
            "services.support.arrivals.profile": [["00:00", 1e6], ["07:00", 120.0], ["20:00", 50.0]],
        }
    )
    calls = 0
    rate_at = Arrivals.rate_at

    def counted(self, t):
        nonlocal calls
        calls += 1
        return rate_at(self, t)

    monkeypatch.setattr(Arrivals, "rate_at", counted)
    out = Replication(sc, seed=1, replication=0, keep_events=False, timeline_step=None).run()
    arrivals = out.by_service["support"].counts["arrivals"]
    assert 80 < arrivals < 180  # 120 per hour over the counted hour
    assert calls < 5 * (arrivals + 50), f"{calls} rate look-ups for {arrivals} arrivals"
