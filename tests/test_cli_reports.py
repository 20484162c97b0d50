"""`--report` on sweep and tune writes the HTML report beside the results, and the report shows
the figures stored beside it (read back with the stdlib HTML parser, see tests/test_report.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from model.cli import app
from test_report import check_sweep_table, pct_ci, read_report, shown

runner = CliRunner()
TIMEOUT = "services.support.transfer_timeout"


def small_file(tmp_path: Path) -> Path:
    text = Path("scenarios/baseline.toml").read_text()
    path = tmp_path / "baseline.toml"
    path.write_text(text.replace('horizon = "8h"', 'horizon = "1h"').replace('warmup = "30m"', 'warmup = "10m"'))
    return path


def test_sweep_report_opens_with_the_answer_and_embeds_the_sweep_chart(tmp_path):
    out = tmp_path / "sweep"
    res = runner.invoke(app, [
        "sweep", str(small_file(tmp_path)), "--vary", f"{TIMEOUT}=30,90",
        "-r", "2", "--executor", "serial", "--out", str(out), "--report", "--target", "0.1", "--no-progress",
    ])
    assert res.exit_code == 0, res.output
    html = (out / "index.html").read_text()
    assert "data:image/png;base64," in html
    assert (out / "sweep.png").exists()
    # the report's table and opening sentence show the summary stored beside it
    summary = pd.read_parquet(out / "summary.parquet")
    page = read_report(out / "index.html")
    check_sweep_table(page, summary, TIMEOUT)
    sel = summary[(summary.scope == "target") & (summary.key == "billing") & (summary.metric == "transfer_abandonment_rate")]
    at = {int(r[TIMEOUT]): (r["mean"], r["ci_low"], r["ci_high"]) for _, r in sel.iterrows()}
    # the scenario's 60 s is not in the sweep: the sentence compares the first and the last setting
    assert page.answer[0].startswith(f"With a 30 s timeout, {pct_ci(*at[30])} of transfers to billing expire or are abandoned; "
                                     f"90 s brings that to {pct_ci(*at[90])}")


def _tune(tmp_path: Path, *extra: str) -> Path:
    out = tmp_path / "tune"
    res = runner.invoke(app, [
        "tune", str(small_file(tmp_path)), "--metric", "transfer_abandonment_rate", "--target", "0.9",
        "--param", TIMEOUT, "--range", "10..60", "--grid", "3", "-r", "2",
        "--executor", "serial", "--out", str(out), "--report", "--no-progress", *extra,
    ])
    assert res.exit_code == 0, res.output
    assert "recommended" in res.output
    return out


def test_tune_report_shows_the_explored_curve(tmp_path):
    out = _tune(tmp_path)
    html = (out / "index.html").read_text()
    assert "data:image/png;base64," in html and (out / "sweep.png").exists()
    stored = json.loads((out / "tune.json").read_text())
    assert stored["recommended"] == 10 and len(stored["explored"]) == 3
    rows = {r[0]: r[1] for r in read_report(out / "index.html").table("Tuning")["rows"]}
    assert rows["param"] == TIMEOUT and rows["metric"] == "transfer_abandonment_rate"
    assert rows["recommended"] == str(stored["recommended"]) and rows["reason"] == stored["reason"]
    assert rows["scope"] == "overall" and rows["target"] == "0.9"


def test_tune_report_on_a_target_scope_tabulates_every_explored_setting(tmp_path):
    out = _tune(tmp_path, "--scope", "target:billing")
    explored = pd.read_parquet(out / "explored.parquet")
    page = read_report(out / "index.html")
    table = page.table("Sweep")
    assert [r[0] for r in table["rows"]] == [f"{v:g}" for v in sorted(explored[TIMEOUT])]
    assert table["header"][:2] == [TIMEOUT, "transfer_abandonment_rate (billing)"]
    for row, (_, r) in zip(table["rows"], explored.sort_values(TIMEOUT).iterrows()):
        assert row[1] == f"{shown(r['mean'], '%')} ({shown(r['ci_low'], '%')} – {shown(r['ci_high'], '%')})", row


def test_tune_report_on_the_overall_scope_opens_with_an_answer_and_tabulates_the_settings(tmp_path):
    """The default scope (overall): the answer says the tuning's recommendation and compares two
    settings; the sweep table has a row per explored setting (it once only read scope 'target')."""
    out = _tune(tmp_path)
    stored = json.loads((out / "tune.json").read_text())
    explored = pd.read_parquet(out / "explored.parquet").sort_values(TIMEOUT)
    page = read_report(out / "index.html")
    assert page.answer, "the report's answer section is empty"
    assert page.answer[0] == f"Recommended support transfer timeout: {stored['recommended']} ({stored['reason']})."
    last = explored.iloc[-1]
    assert f"for all contacts is {pct_ci(last['mean'], last['ci_low'], last['ci_high'])}" in page.answer[1]
    table = page.table("Sweep")
    assert table["header"] == [TIMEOUT, "transfer_abandonment_rate (all contacts)"]
    assert [r[0] for r in table["rows"]] == [f"{v:g}" for v in explored[TIMEOUT]]
    for row, (_, r) in zip(table["rows"], explored.iterrows()):
        assert row[1] == f"{shown(r['mean'], '%')} ({shown(r['ci_low'], '%')} – {shown(r['ci_high'], '%')})", row
    assert "Target transfer abandonment: 90 %." in page.sub


def test_tune_report_of_a_time_speaks_in_seconds_not_percent(tmp_path):
    """A tuning of a time (higher is worse, unit s): the target, the answer and the table are in
    seconds, and the recommendation is the tuning's own."""
    out = tmp_path / "tune"
    res = runner.invoke(app, [
        "tune", str(small_file(tmp_path)), "--metric", "time_to_join_mean", "--target", "30",
        "--param", "groups.billing.agents", "--range", "2..4", "--grid", "3", "-r", "2", "--scope", "target:billing",
        "--executor", "serial", "--out", str(out), "--report", "--no-progress",
    ])
    assert res.exit_code == 0, res.output
    page = read_report(out / "index.html")
    assert "Target mean time to join: 30.0 s." in page.sub and "%" not in page.sub.split("Target")[1]
    table = page.table("Sweep")
    assert table["header"] == ["groups.billing.agents", "time_to_join_mean (billing)"]
    assert all(r[1].endswith(" s)") or r[1] == "- (- – -)" for r in table["rows"]), table["rows"]
    assert any("mean time to join for transfers to billing is" in a for a in page.answer), page.answer
