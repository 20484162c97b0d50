"""The backtest per service (contact type; issue 18, item 5): with several services in the log and the
run, the backtest sets them side by side per interval, in Python, the CLI, its page and the report.

The case that matters: two types share one pool from 08:00 to 11:00 (the run goes on to 12:00, so no
contact is open at its end), VIPs impatient (mean 60 s), standard patient
(900 s); a scenario that gives both the same patience gets the overall abandonment about right
while missing VIPs in every hour. Only the per-type rows show it.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from model import backtest, scenario_from_dict, simulate
from model.backtesting import per_service, service_keys, service_lines, services_chart
from model.cli.backtest import backtest_lines
from model.cli.main import app
from model.logs import clean_log, contacts_log

from test_report_services import as_toml

runner = CliRunner()


def two_types(vip_patience: float = 60, standard_patience: float = 900) -> dict:
    return {"name": "types",
            "simulation": {"horizon": "4h", "warmup": 0, "replications": 8, "seed": 1, "start": "08:00"},
            "services": [{"name": "vip", "entry_group": "pool",
                          "arrivals": {"kind": "poisson", "profile": [["08:00", 40], ["11:00", 0]]},
                          "patience": {"kind": "exponential", "mean": vip_patience}},
                         {"name": "standard", "entry_group": "pool",
                          "arrivals": {"kind": "poisson", "profile": [["08:00", 80], ["11:00", 0]]},
                          "patience": {"kind": "exponential", "mean": standard_patience}}],
            "groups": [{"name": "pool", "agents": 4, "handle_time": {"kind": "exponential", "mean": 110}}]}


@pytest.fixture(scope="module")
def truth():
    return simulate(scenario_from_dict(two_types()), seed=5, keep_events=True, interval="1h")


@pytest.fixture(scope="module")
def log(truth):
    contacts, transfers = contacts_log(truth)
    return clean_log(contacts, transfers=transfers)


@pytest.fixture(scope="module")
def pooled_patience():
    """The wrong scenario: one patience (300 s) for both types."""
    return simulate(scenario_from_dict(two_types(300, 300)), seed=9, interval="1h", keep_events=False)


def test_own_log_gives_back_each_services_arrivals_per_interval(truth, log) -> None:
    bt = backtest(log, truth)
    assert service_keys(bt) == ["standard", "vip"]
    for key in ("standard", "vip"):
        frame = per_service(bt, "arrivals")
        sim = truth.by_interval("arrivals", "service", key)["mean"]
        assert np.allclose(frame[(key, "observed")].astype(float), sim.reindex(frame.index).to_numpy(float))
        assert np.allclose(frame[(key, "simulated")].astype(float), frame[(key, "observed")].astype(float))


def test_a_type_the_overall_figure_hides_is_outside_in_every_hour(log, pooled_patience) -> None:
    bt = backtest(log, pooled_patience)
    overall = bt.outside("queue_abandonment_rate")
    vip = bt.outside("queue_abandonment_rate", "service", "vip")
    assert len(overall) <= 1 and vip == ["08:00", "09:00", "10:00"], (overall, vip)
    frame = per_service(bt, "queue_abandonment_rate")
    assert (frame[("vip", "observed")] > frame[("vip", "simulated")] + 0.1).all()
    lines = service_lines(bt)
    assert lines[0].startswith("per service (observed / simulated")
    header = lines[lines.index("queue abandonment") + 1]
    assert header.split() == ["interval", "standard", "vip"]
    rows = lines[lines.index("queue abandonment") + 2:lines.index("queue abandonment") + 5]
    assert all(r.rstrip().endswith("*") for r in rows), rows
    printed = backtest_lines(bt)
    at = printed.index(lines[0])
    assert printed[at:at + len(lines)] == lines  # the CLI prints them
    assert services_chart(bt).axes


def test_one_service_or_a_log_without_a_service_column_is_not_split(truth, log) -> None:
    one = copy.deepcopy(two_types())
    one["services"] = one["services"][1:]
    single = simulate(scenario_from_dict(one), seed=2, keep_events=True, interval="1h")
    contacts, _ = contacts_log(single)
    bt = backtest(clean_log(contacts), single)
    assert service_keys(bt) == [] and service_lines(bt) == [] and per_service(bt, "arrivals").empty
    with pytest.raises(ValueError, match="fewer than two services"):
        services_chart(bt)
    contacts, _ = contacts_log(truth)
    bt = backtest(clean_log(contacts.drop(columns=["service"])), truth)
    assert service_keys(bt) == []
    assert any("the log has service(s) the run does not: chat" in n for n in bt.notes)
    with pytest.raises(KeyError, match="compared: arrivals"):
        per_service(bt, "transfer_abandonment_rate")


def test_cli_backtest_and_report_show_each_service(tmp_path: Path) -> None:
    scenario = tmp_path / "types.toml"
    scenario.write_text(as_toml(two_types()))
    run_dir = tmp_path / "run"
    out = runner.invoke(app, ["run", str(scenario), "-r", "4", "--by", "1h", "--out", str(run_dir)])
    assert out.exit_code == 0, out.output
    out = runner.invoke(app, ["backtest", str(run_dir / "contacts.csv"), str(run_dir)])
    assert out.exit_code == 0, out.output
    assert "per service (observed / simulated" in out.output and "backtest_services.png" in out.output
    assert "[service vip]" in out.output and "[service standard]" in out.output
    page = (run_dir / "backtest" / "backtest.html").read_text(encoding="utf-8")
    assert "Per interval and service (observed / simulated)" in page and "<th>vip</th>" in page
    assert (run_dir / "backtest" / "backtest_services.png").stat().st_size > 10_000
    out = runner.invoke(app, ["report", str(run_dir), "--out", str(tmp_path / "report")])
    assert out.exit_code == 0, out.output
    html = (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    assert 'id="fig-backtest-services"' in html and "(service vip): observed" in html
