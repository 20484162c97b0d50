"""`--report` on sweep and tune writes the HTML report beside the results, and the report shows
the figures stored beside it (read back with the stdlib HTML parser, see tests/test_report.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from model.cli import app
from test_report import check_sweep_table, pct, pct_ci, read_report, shown

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
        "sweep", str(small_file(tmp_path)), "--vary", f"{TIMEOUT}=30,90", "--scope", "target:billing",
        "-r", "2", "--executor", "serial", "--out", str(out), "--report", "--target", "10%", "--no-progress",
    ])
    assert res.exit_code == 0, res.output
    html = (out / "index.html").read_text()
    assert "data:image/png;base64," in html
    assert (out / "sweep.png").exists()
    # the report's table and opening sentence show the summary stored beside it, for the scope asked
    summary = pd.read_parquet(out / "summary.parquet")
    page = read_report(out / "index.html")
    check_sweep_table(page, summary, TIMEOUT, "target", "billing", "transfers to billing", target=0.1)
    sel = summary[(summary.scope == "target") & (summary.key == "billing") & (summary.metric == "transfer_abandonment_rate")]
    at = {int(r[TIMEOUT]): (r["mean"], r["ci_low"], r["ci_high"]) for _, r in sel.iterrows()}
    meets = sorted(t for t, v in at.items() if v[2] <= 0.1)
    if meets:
        assert page.answer[0].startswith(f"Set the support transfer timeout to {meets[0]} s: {pct(at[meets[0]][0])} % "
                                         "of transfers to billing are lost")
    else:
        x = min(at, key=lambda t: (at[t][2], t))
        assert page.answer[0].startswith("No setting in the sweep meets the 10 % target for transfers to billing")
        assert f"The closest is the support transfer timeout at {x} s" in page.answer[0]
    # the command printed the same answer, and the scope's figures (not the overall ones)
    assert f"answer: {page.answer[0]}" in res.stdout
    assert "transfers to billing (target:billing, as given)" in res.stdout


def _tune(tmp_path: Path, *extra: str) -> tuple[Path, str]:
    out = tmp_path / "tune"
    res = runner.invoke(app, [
        "tune", str(small_file(tmp_path)), "--metric", "transfer_abandonment_rate", "--target", "0.9",
        "--param", TIMEOUT, "--range", "10..60", "--grid", "3", "-r", "2",
        "--executor", "serial", "--out", str(out), "--report", "--no-progress", *extra,
    ])
    assert res.exit_code == 0, res.output
    assert "recommended" in res.output
    return out, res.stdout


def test_tune_report_shows_the_explored_curve_in_words(tmp_path):
    out, printed = _tune(tmp_path)
    html = (out / "index.html").read_text()
    assert "data:image/png;base64," in html and (out / "sweep.png").exists()
    stored = json.loads((out / "tune.json").read_text())
    assert stored["recommended"] == 10 and len(stored["explored"]) == 3
    page = read_report(out / "index.html")
    facts = {r[0]: r[1] for r in page.table("How the tuning searched")["rows"]}
    # the scope is said with why: a timeout is no group's staffing, so all transfers
    assert facts["Figure"] == ("transfer abandonment (expired or abandoned), for all transfers (the support transfer "
                               "timeout is not the staffing of a group that receives transfers)")
    assert facts["Setting searched"] == "support transfer timeout (s)"
    assert facts["Target"] == "at or under 90 %, even at the upper end of the 95 % range"
    assert facts["Simulated runs per setting"].startswith(f"{stored['replications']} (seed {stored['seed']}")
    assert "&#39;explored&#39;" not in html and "{&#39;" not in html and "ci_high" not in html  # no raw record
    assert "scope: all contacts (overall, all contacts: services.support.transfer_timeout is not the staffing" in printed


def test_tune_report_on_a_target_scope_tabulates_every_explored_setting(tmp_path):
    out, printed = _tune(tmp_path, "--scope", "target:billing")
    explored = pd.read_parquet(out / "explored.parquet").sort_values(TIMEOUT)
    page = read_report(out / "index.html")
    table = page.table("Settings the tuning tried")
    assert [r[0] for r in table["rows"]] == [f"{v:g}" for v in explored[TIMEOUT]]
    assert table["header"] == ["support transfer timeout (s)",
                               "transfer abandonment (expired or abandoned), transfers to billing",
                               "meets the 90 % target", "tried in"]
    for row, (_, r) in zip(table["rows"], explored.iterrows()):
        assert row[1] == f"{shown(r['mean'], '%')} ({shown(r['ci_low'], '%')} – {shown(r['ci_high'], '%')})", row
        assert row[2] == ("yes" if r["meets"] else "no") and row[3] in ("the first, even pass", "the narrowing down")
        assert "-" not in (row[2], row[3])  # no column of dashes
    assert "scope: transfers to billing (target:billing, as given)" in printed


def test_tune_report_opens_with_what_to_set_what_it_achieves_and_what_it_costs(tmp_path):
    """The answer says the tuning's recommendation in words, its figure with the 95 % range and the
    agent-hours and occupancy there; the table has a row per explored setting."""
    out, printed = _tune(tmp_path, "--scope", "target:billing")
    stored = json.loads((out / "tune.json").read_text())
    explored = pd.read_parquet(out / "explored.parquet").sort_values(TIMEOUT)
    page = read_report(out / "index.html")
    rec = explored[explored[TIMEOUT] == stored["recommended"]].iloc[0]
    assert page.answer[0] == (
        f"Set the support transfer timeout to {stored['recommended']} s: {pct(rec['mean'])} % of transfers to billing "
        f"are lost before an agent joins (95 % range {pct(rec['ci_low'])}–{pct(rec['ci_high'])} %), within the 90 % "
        f"target even at the upper end of that range ({shown(rec['ci_high'], '%')}).")
    occ = stored["occupancy"]["billing"]
    hours = stored["agent_hours"]["billing"]
    assert page.answer[1].startswith(f"It takes {hours:,.0f} agent-hours of billing per simulated run, billing's chat "
                                     f"slots busy {pct_ci(*occ)} of the time.")
    assert f"answer: {page.answer[0]}" in printed
    assert "Target: transfer abandonment 90 %." in page.sub


def test_tune_report_of_a_time_speaks_in_seconds_not_percent(tmp_path):
    """A tuning of a time (higher is worse, unit s): the target, the answer and the table are in
    seconds, and the recommendation is the tuning's own."""
    out = tmp_path / "tune"
    res = runner.invoke(app, [
        "tune", str(small_file(tmp_path)), "--metric", "time_to_join_mean", "--target", "30",
        "--param", "groups.billing.agents", "--range", "2..4", "--grid", "3", "-r", "2",
        "--executor", "serial", "--out", str(out), "--report", "--no-progress",
    ])
    assert res.exit_code == 0, res.output
    page = read_report(out / "index.html")
    assert "Target: mean time to join 30.0 s." in page.sub and "%" not in page.sub.split("Target")[1]
    table = page.table("Settings the tuning tried")
    assert table["header"][:2] == ["billing agents", "mean time to join, transfers to billing"]
    assert all(r[1].endswith(" s)") or r[1] == "- (- – -)" for r in table["rows"]), table["rows"]
    assert any("mean time to join for transfers to billing is" in a for a in page.answer), page.answer
