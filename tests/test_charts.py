"""Charts (model/charts/): each is drawn from a small simulation and checked for what it shows."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from model import charts
from model.scenario import load_scenario
from model.sim import simulate

TIMEOUT = "services.support.transfer_timeout"
AGENTS = "groups.billing.agents"


def small_scenario():
    return load_scenario("scenarios/baseline.toml").with_changes(
        {"simulation.horizon": 5400, "simulation.warmup": 600}
    )


@pytest.fixture(scope="module")
def result():
    return simulate(small_scenario(), replications=3)


@pytest.fixture(scope="module")
def sweep() -> pd.DataFrame:
    """A tidy sweep frame from model.experiments (varied paths, then the metrics columns)."""
    from model.experiments import sweep as run

    return run(small_scenario(), vary={TIMEOUT: [30, 60, 120], AGENTS: [2, 3]}, replications=3, executor="serial")


def labelled(ax) -> None:
    assert ax.get_xlabel().strip(), "x axis has no label"
    assert ax.get_ylabel().strip(), "y axis has no label"
    assert ax.get_title().strip(), "no title"


def legend_texts(ax) -> list[str]:
    leg = ax.get_legend()
    assert leg is not None, "no legend"
    return [t.get_text() for t in leg.get_texts()]


def test_palette_is_okabe_ito_and_used_once() -> None:
    assert charts.PALETTE[:3] == ("#0072B2", "#E69F00", "#009E73")
    assert len(set(charts.PALETTE)) == len(charts.PALETTE)


def test_sweep_chart_draws_both_rates_with_ci_bands_target_and_recommendation(sweep) -> None:
    fig = charts.sweep_chart(sweep, TIMEOUT, key="billing", target=0.5, fixed={AGENTS: 3})
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    labelled(ax)
    assert "timeout" in ax.get_xlabel() and "(s)" in ax.get_xlabel()
    assert "%" in ax.get_ylabel()
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2, "one 95 % CI band per rate"
    texts = legend_texts(ax)
    assert any("abandonment" in t for t in texts) and any("success" in t for t in texts)
    assert any("target 50 %" in t for t in texts)
    assert any(t.startswith("recommended") for t in texts)
    # the two rate lines go through the three timeouts, at agents = 3
    lines = [ln for ln in ax.get_lines() if len(ln.get_xdata()) == 3]
    assert len(lines) == 2
    assert list(lines[0].get_xdata()) == [30, 60, 120]
    sel = sweep[(sweep[AGENTS] == 3) & (sweep.scope == "target") & (sweep.key == "billing")
                & (sweep.metric == "transfer_abandonment_rate")].sort_values(TIMEOUT)
    assert list(lines[0].get_ydata()) == pytest.approx(list(sel["mean"]))
    # target line at 0.5 (horizontal) and recommended setting (vertical)
    flat = [ln for ln in ax.get_lines() if len(set(ln.get_ydata())) == 1 and list(ln.get_ydata())[0] == 0.5]
    assert flat, "target line missing"
    assert "agents = 3" in ax.get_title()


def test_recommended_setting_is_the_smallest_meeting_the_target_with_confidence(sweep) -> None:
    rec = charts.recommended_setting(sweep, TIMEOUT, target=1.0, key="billing")
    assert rec == 30
    assert charts.recommended_setting(sweep, TIMEOUT, target=-1.0, key="billing") is None


def test_heatmap_has_a_cell_per_pair_labelled_with_values(sweep) -> None:
    fig = charts.heatmap_chart(sweep, TIMEOUT, AGENTS, key="billing", target=0.5)
    ax = fig.axes[0]
    labelled(ax)
    img = ax.get_images()[0]
    assert img.get_array().shape == (2, 3)
    cells = [t.get_text() for t in ax.texts]
    assert len(cells) == 6 and all(t.endswith("%") for t in cells)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["30", "60", "120"]
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel(), "labelled colour bar"


def test_time_to_join_cdf_per_target_plateaus_at_success_rate_with_timeout(result) -> None:
    fig = charts.time_to_join_cdf(result)
    ax = fig.axes[0]
    labelled(ax)
    assert "(s)" in ax.get_xlabel()
    texts = legend_texts(ax)
    assert any("to billing" in t for t in texts) and any("to tech" in t for t in texts)
    assert any("timeout 60 s" in t for t in texts)
    tr = result.transfers[result.transfers.counted.astype(bool) & (result.transfers.outcome != "open")]
    billing = tr[tr.target == "billing"]
    share = (billing.outcome == "accepted").mean()
    curve = next(ln for ln, t in zip(ax.get_lines(), texts) if "to billing" in t)
    assert curve.get_ydata()[-1] == pytest.approx(share)
    assert 0 < curve.get_ydata()[-1] < 1, "the CDF over all requests levels off below 100 %"
    timeout = [ln for ln in ax.get_lines() if set(ln.get_xdata()) == {60}]
    assert timeout, "vertical timeout line at 60 s"


def test_outcomes_chart_stacks_every_ending_per_group(result) -> None:
    fig = charts.outcomes_chart(result)
    left, right = fig.axes[:2]
    for ax in (left, right):
        labelled(ax)
    assert "entry group" in left.get_title() and "target group" in right.get_title()
    assert legend_texts(left) == ["completed", "abandoned in queue", "dissuaded", "abandoned during transfer",
                                  "transfer expired"]
    assert [t.get_text() for t in left.get_yticklabels()] == ["frontline"]
    assert sorted(t.get_text() for t in right.get_yticklabels()) == ["billing", "tech"]
    # each stacked bar sums to 100 %
    widths = {}
    for p in left.patches:
        widths.setdefault(round(p.get_y(), 3), 0.0)
        widths[round(p.get_y(), 3)] += p.get_width()
    assert all(w == pytest.approx(1.0) for w in widths.values())


def test_timeline_chart_has_waiting_occupancy_and_arrivals_in_clock_hours(result) -> None:
    fig = charts.timeline_chart(result)
    waiting, occupancy, arrivals = fig.axes[:3]
    for ax in (waiting, occupancy, arrivals):
        assert ax.get_ylabel().strip()
    assert "time of day (h)" in arrivals.get_xlabel()
    assert {"billing", "tech"} <= set(legend_texts(waiting))
    assert {"frontline", "billing", "tech"} <= set(legend_texts(occupancy))
    assert "frontline" in legend_texts(arrivals)
    occ = occupancy.get_lines()[0].get_ydata()
    assert ((occ >= 0) & (occ <= 1)).all()
    x = arrivals.get_lines()[0].get_xdata()
    assert x.min() > 0 and x.max() <= 1.7, "hours since the 00:00 start, not seconds"
    # the warm-up is shaded
    assert any(isinstance(c, PolyCollection) or c.__class__.__name__ == "Rectangle" for c in
               list(waiting.collections) + list(waiting.patches))


def test_statechart_chart_draws_the_diagram_or_the_mermaid_text() -> None:
    fig = charts.statechart_chart()
    ax = fig.axes[0]
    if shutil.which("dot"):
        assert ax.get_images(), "the Graphviz drawing is shown"
        assert ax.get_images()[0].get_array().shape[0] > 100
    else:
        assert any("stateDiagram-v2" in t.get_text() for t in ax.texts)
        assert "Graphviz" in ax.get_title()


def test_statechart_chart_without_graphviz_falls_back_to_mermaid(monkeypatch) -> None:
    import model.spec

    monkeypatch.setattr(model.spec, "graphviz_available", lambda: False)
    fig = charts.statechart_chart()
    ax = fig.axes[0]
    assert not ax.get_images()
    assert any("stateDiagram-v2" in t.get_text() for t in ax.texts)
    assert "Graphviz" in ax.get_title()


def test_charts_render_to_png_without_a_display(result, tmp_path) -> None:
    path = charts.save_png(charts.outcomes_chart(result), tmp_path / "sub" / "o.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sweep_values_written_as_durations_are_read_as_seconds(sweep) -> None:
    frame = sweep.copy()
    frame[TIMEOUT] = frame[TIMEOUT].map(lambda v: f"{v}s")
    fig = charts.sweep_chart(frame, TIMEOUT, key="billing", fixed={AGENTS: 3})
    line = fig.axes[0].get_lines()[0]
    assert list(line.get_xdata()) == [30, 60, 120]


# -- what the charts read from the metric table and the lifecycle -------------------------------------
def test_the_outcome_segments_are_the_lifecycles_final_states_with_their_records(result) -> None:
    from model.lifecycle import FINAL_STATES, STATES
    from model.results.figures import figure

    assert charts.CONTACT_ENDS == tuple(s for s in STATES if s in FINAL_STATES)
    assert set(charts.CONTACT_ENDS) == set(FINAL_STATES)
    assert charts.TRANSFER_ENDS == ("transfers_accepted", "abandoned_transfer", "transfer_expired")
    fig = charts.outcomes_chart(result)
    left, right = fig.axes[:2]
    assert legend_texts(left) == [figure(s).label for s in charts.CONTACT_ENDS]
    # a transfer request ends joined, returned to its sender, with its timer expired or with the customer gone
    assert legend_texts(right) == ["successful (joined)", "returned to sender", "timer expired", "customer left"]
    handles = left.get_legend().legend_handles
    from matplotlib.colors import to_hex

    assert [to_hex(h.get_facecolor()).upper() for h in handles] == [figure(s).colour for s in charts.CONTACT_ENDS]


def test_a_sweep_chart_of_a_time_is_in_seconds_not_clipped_to_one(sweep) -> None:
    fig = charts.sweep_chart(sweep, TIMEOUT, metric="time_to_join_mean", also=None, key="billing", fixed={AGENTS: 3})
    ax = fig.axes[0]
    assert ax.get_ylabel() == "mean time to join (s)"
    assert not isinstance(ax.yaxis.get_major_formatter(), PercentFormatter)
    band = next(c for c in ax.collections if isinstance(c, PolyCollection))
    top = band.get_paths()[0].vertices[:, 1].max()
    sel = sweep[(sweep[AGENTS] == 3) & (sweep.scope == "target") & (sweep.key == "billing")
                & (sweep.metric == "time_to_join_mean")]
    assert top == pytest.approx(sel["ci_high"].max()) and top > 1, "a time band is not clipped to [0, 1]"
    assert legend_texts(ax)[-1] == "mean time to join"
    assert ax.get_title().startswith("Mean time to join against")


def test_a_heat_map_of_a_time_writes_seconds_in_its_cells(sweep) -> None:
    fig = charts.heatmap_chart(sweep, TIMEOUT, AGENTS, metric="time_to_join_p90", key="billing")
    cells = [t.get_text() for t in fig.axes[0].texts]
    assert len(cells) == 6 and all(t.endswith(" s") for t in cells), cells
    assert fig.axes[1].get_ylabel() == "time to join, 90th percentile (s)"


def test_recommended_setting_reads_the_lower_bound_when_higher_is_better(sweep) -> None:
    sel = sweep[(sweep[AGENTS] == 3) & (sweep.scope == "target") & (sweep.key == "billing")
                & (sweep.metric == "transfer_success_rate")].sort_values(TIMEOUT)
    goal = float(sel["ci_low"].iloc[-1])  # only the longest timeout's lower bound is sure to reach it
    expected = sel[sel["ci_low"] >= goal][TIMEOUT].iloc[0]
    got = charts.recommended_setting(sweep, TIMEOUT, target=goal, metric="transfer_success_rate", key="billing",
                                     fixed={AGENTS: 3})
    assert got == expected
    assert charts.recommended_setting(sweep, TIMEOUT, target=1.01, metric="transfer_success_rate", key="billing",
                                      fixed={AGENTS: 3}) is None
    assert charts.recommended_setting(sweep, TIMEOUT, target=0.0, metric="transfer_success_rate", key="billing",
                                      fixed={AGENTS: 3}) == 30


def test_a_metric_the_frame_lacks_or_the_table_lacks_is_a_clear_error(sweep) -> None:
    with pytest.raises(ValueError, match="no 'nope'"):
        charts.sweep_chart(sweep, TIMEOUT, metric="nope", key="billing")
    made_up = sweep[sweep.metric == "transfer_abandonment_rate"].assign(metric="made_up_rate")
    with pytest.raises(KeyError, match="no figure 'made_up_rate'; known: arrivals"):
        charts.sweep_chart(pd.concat([sweep, made_up]), TIMEOUT, metric="made_up_rate", also=None, key="billing")


def test_sweep_values_that_are_not_numbers_read_as_nan() -> None:
    from model.charts.frames import numeric

    got = numeric(pd.Series(["broadcast", "45s", "0s", None, "1h", "-"], dtype=object)).tolist()
    assert got[1:3] == [45.0, 0.0] and got[4] == 3600.0
    assert all(v != v for v in (got[0], got[3], got[5]))


def test_charts_of_a_run_without_transfers_draw_without_warnings(tmp_path) -> None:
    import warnings

    path = tmp_path / "quiet.toml"
    path.write_text('name = "quiet"\n[simulation]\nhorizon = "30m"\nwarmup = 0\nreplications = 1\nseed = 1\n'
                    '[[services]]\nname = "s"\nentry_group = "g"\n'
                    'arrivals = { kind = "poisson", rate_per_hour = 30 }\n'
                    '[[groups]]\nname = "g"\nagents = 1\nhandle_time = { kind = "exponential", mean = "2m" }\n')
    quiet = simulate(load_scenario(path), replications=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cdf = charts.time_to_join_cdf(quiet)
        day = charts.timeline_chart(quiet)
    assert cdf.axes[0].get_legend() is None
    assert day.axes[0].get_legend() is None and day.axes[2].get_legend().get_title().get_text() == "entry group"


# -- staffing over the day and figures per interval ------------------------------------------------------
ROTA = ('name = "rota"\n[simulation]\nhorizon = "3h"\nwarmup = "20m"\nstart = "08:00"\nreplications = 3\nseed = 5\n'
        '[[services]]\nname = "s"\nentry_group = "g"\narrivals = { kind = "poisson", rate_per_hour = 90 }\n'
        'patience = { kind = "exponential", mean = "3m" }\n'
        '[[groups]]\nname = "g"\nagents = { profile = [["00:00", 1], ["09:00", 4], ["10:30", 2]] }\n'
        'max_concurrent = 2\nhandle_time = { kind = "exponential", mean = "4m" }\n')
"""One group on a rota (1 agent until 09:00, 4 until 10:30, then 2), counted from 08:20 to 11:20."""


@pytest.fixture(scope="module")
def rota(tmp_path_factory):
    path = tmp_path_factory.mktemp("rota") / "rota.toml"
    path.write_text(ROTA)
    return load_scenario(path)


@pytest.fixture(scope="module")
def rota_result(rota):
    return simulate(rota, replications=3, interval="1h")


def test_the_day_charts_slots_on_shift_follow_the_rota(rota, rota_result) -> None:
    fig = charts.timeline_chart(rota_result)
    slots = fig.axes[3]
    assert "slots on shift" in slots.get_ylabel()
    (line,) = [ln for ln in slots.get_lines() if ln.get_label() == "g"]
    profile = rota.group("g").agents
    for hour, value in zip(line.get_xdata(), line.get_ydata()):
        assert value == profile.at(hour * 3600.0) * 2, hour  # the sample at each time: agents on shift x 2 chats
    assert set(line.get_ydata()) == {2, 8, 4}


def test_the_day_chart_reads_queue_abandonment_from_the_intervals_else_the_event_log(rota_result) -> None:
    import copy

    from model.charts.intervals import queue_abandonment_over_day

    from_intervals, source = queue_abandonment_over_day(rota_result)
    assert source == "per 1 h interval"
    no_intervals = copy.copy(rota_result)
    no_intervals.intervals = None
    from_events, source2 = queue_abandonment_over_day(no_intervals)
    assert source2 == "per clock hour, from the event log"
    # both are the figure's definition per clock hour (contacts by their arrival, over those that ended)
    assert list(from_intervals["start"]) == list(from_events["start"]) == [1200.0, 3600.0, 7200.0, 10800.0]
    assert list(from_intervals["end"]) == [3600.0, 7200.0, 10800.0, 12000.0]
    for col in ("mean", "ci_low", "ci_high"):  # the last hour: see the test below
        assert from_events[col].to_numpy()[:-1] == pytest.approx(from_intervals[col].to_numpy()[:-1], nan_ok=True), col
    iv = rota_result.intervals
    q = iv[(iv.scope == "overall") & (iv.metric == "queue_abandonment_rate")].set_index("interval")
    assert list(from_intervals["mean"]) == [q.loc[h, "mean"] for h in ("08:00", "09:00", "10:00", "11:00")]
    fig = charts.timeline_chart(rota_result)
    lost = fig.axes[4]
    assert "queue abandonment" in lost.get_ylabel()
    assert legend_texts(lost) == ["all contacts, per 1 h interval", "95 % range"]
    y = lost.get_lines()[0].get_ydata()
    assert list(y[::2]) == list(from_intervals["mean"])


def test_the_last_intervals_queue_abandonment_is_over_the_contacts_that_ended(rota_result) -> None:
    import copy

    from model.charts.intervals import queue_abandonment_over_day

    from_intervals, _ = queue_abandonment_over_day(rota_result)
    no_intervals = copy.copy(rota_result)
    no_intervals.intervals = None
    from_events, _ = queue_abandonment_over_day(no_intervals)
    assert from_events["mean"].iloc[-1] == pytest.approx(from_intervals["mean"].iloc[-1])


def test_the_day_chart_without_intervals_or_events_says_why_it_has_no_abandonment(rota) -> None:
    res = simulate(rota, replications=2, keep_events=False)
    lost = charts.timeline_chart(res).axes[4]
    assert lost.get_lines() == [] and any("run with --by 1h" in t.get_text() for t in lost.texts)


def test_the_intervals_chart_draws_arrivals_the_rota_and_both_abandonments_with_bands(rota_result) -> None:
    from matplotlib.patches import Rectangle

    from model.charts.intervals import intervals_chart, interval_rows

    rows = interval_rows(rota_result)
    assert [r.span for r in rows] == ["08:00-09:00", "09:00-10:00", "10:00-11:00", "11:00-12:00"]
    fig = intervals_chart(rota_result)
    top, mid, low = fig.axes
    bars = [p for p in top.patches if isinstance(p, Rectangle) and p.get_width() == pytest.approx(0.8)]
    assert [b.get_height() for b in bars] == pytest.approx([r.get("arrivals")[0] for r in rows])
    # 08:20-09:00 at 1 agent, 09:00-10:00 at 4, 10:00-10:30 at 4 and 10:30-11:00 at 2, then 2
    (stairs,) = [p for p in mid.patches if p.get_label() == "g"]
    assert list(stairs.get_data().values) == pytest.approx([1.0, 4.0, 3.0, 2.0])
    assert [t.get_text() for t in low.get_xticklabels()] == ["08:00", "09:00", "10:00", "11:00"]
    assert len([c for c in low.collections if isinstance(c, PolyCollection)]) >= 2  # the two 95 % bands
    assert "worst for queue abandonment" in legend_texts(low)
    for ax in fig.axes:
        assert ax.get_ylabel().strip()


def test_the_intervals_chart_of_a_run_without_intervals_is_a_clear_error(result) -> None:
    from model.charts.intervals import intervals_chart

    with pytest.raises(ValueError, match="no per-interval figures"):
        intervals_chart(result)


# -- legible: counts per simulated run, a mean per interval instead of spikes, returned transfers -------
def test_the_time_to_join_legend_counts_requests_per_simulated_run(result) -> None:
    """Next to tables per simulated run, the legend says "about N per simulated run", not the total
    over all runs."""
    texts = legend_texts(charts.time_to_join_cdf(result).axes[0])
    tr = result.transfers
    tr = tr[tr.counted.astype(bool) & (tr.outcome != "open")]
    for target in ("billing", "tech"):
        n = (tr.target == target).sum()
        line = next(t for t in texts if t.startswith(f"to {target}:"))
        assert line.endswith(f"of requests join (about {n / result.replications:,.0f} per simulated run)"), line
        assert f"{n:,}" not in line.split("(")[-1] or n == round(n / result.replications)
    assert not any("replications" in t for t in texts)


def test_the_transfers_waiting_panel_is_a_mean_per_interval(result) -> None:
    """The panel shows, per target group, the mean of the sampled waiting transfers in each 15 min
    (a run under 4 h), as steps; recomputed here from the timeline itself."""
    import numpy as np

    fig = charts.timeline_chart(result)
    waiting = fig.axes[0]
    assert "mean per 15 min" in waiting.get_ylabel()
    tl = result.timeline
    tech = tl[tl.group.astype(str) == "tech"]
    bins = np.floor(tech.time / 900) * 900
    expected = tech.groupby(bins)["waiting_transfers"].mean().sort_index()
    line = next(ln for ln, t in zip(waiting.get_lines(), legend_texts(waiting)) if t == "tech")
    assert line.get_drawstyle() == "steps-post"
    x, y = line.get_xdata(), line.get_ydata()
    assert list(np.round(np.diff(x) * 3600)) == [900.0] * (len(x) - 1)  # one step per 15 min, not per sample
    assert list(y[:-1]) == pytest.approx(list(expected))
    assert len(y) - 1 < tech.time.nunique()  # fewer points than samples: the spikes are averaged


def test_the_outcomes_chart_shows_transfers_returned_to_their_sender() -> None:
    """Policy return: a transfer whose timer runs out goes back to its sender; the bar shows that
    share (from the transfers table) and the four shares add up to 100 %."""
    sc = small_scenario().with_changes({"services.support.on_transfer_timeout": "return",
                                        "services.support.transfer_timeout": 20})
    res = simulate(sc, replications=2)
    right = charts.outcomes_chart(res).axes[1]
    tech = [t.get_text() for t in right.get_yticklabels()].index("tech")
    segments = [p for p in right.patches if round(p.get_y() + p.get_height() / 2) == tech]
    assert sum(p.get_width() for p in segments) == pytest.approx(1.0)
    tr = res.transfers
    tr = tr[tr.counted.astype(bool) & (tr.outcome != "open") & (tr.target == "tech")]
    returned = pd.Series([(g.outcome == "returned").mean() for _, g in tr.groupby("replication")]).mean()
    assert returned > 0 and segments[1].get_width() == pytest.approx(returned)
