"""``transfer-sim run --by INTERVAL``: the figures per interval of the clock, as printed, written
(intervals.csv, run.json, --json) and reported (the report's per-interval section).

The expected values are read back from what the run wrote (intervals.csv), with pandas, not
through the code that prints them; the worst interval is recomputed here from that file.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from model.cli import app
from test_report import read_report

runner = CliRunner()

ROTA = """
name = "rota"

[simulation]
horizon = "3h"
warmup = "30m"
start = "07:45"
replications = 3
seed = 11

[[services]]
name = "support"
entry_group = "frontline"
transfer_timeout = "45s"
arrivals = { kind = "poisson", rate_per_hour = 100 }
patience = { kind = "exponential", mean = "3m" }
transfer_patience = { kind = "exponential", mean = "2m" }

[[groups]]
name = "frontline"
agents = { profile = [["00:00", 2], ["09:00", 6], ["11:00", 3]] }
max_concurrent = 2
handle_time = { kind = "exponential", mean = "5m" }
transfers = [{ to = "billing", probability = 0.3 }]

[[groups]]
name = "billing"
agents = 2
handle_time = { kind = "exponential", mean = "5m" }
accept_delay = { kind = "exponential", mean = "10s" }
"""
"""Counted from 08:15 to 11:15: the 08:00 and 11:00 hours are covered in part. Frontline's rota:
2 agents until 09:00, 6 until 11:00, then 3."""

COLUMNS = ["interval", "scope", "key", "metric", "mean", "ci_low", "ci_high", "n"]
"""The documented columns of intervals.csv (docs/report.md)."""


def write(tmp_path: Path, text: str = ROTA, name: str = "rota.toml", **changes: str) -> Path:
    for old, new in changes.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text)
    return path


def run(*args: str, width: int = 200) -> object:
    return runner.invoke(app, ["run", *args], env={"COLUMNS": str(width)})


def rows_of(output: str) -> list[str]:
    """The table's body rows: lines that start with a span ``HH:MM-HH:MM``."""
    return [line.strip() for line in output.splitlines() if re.match(r"\s+\d\d:\d\d-\d\d:\d\d\s", line)]


def pct(x: float) -> str:
    return f"{100 * min(max(x, 0.0), 1.0):.1f}"


def overall(csv: pd.DataFrame, metric: str) -> pd.DataFrame:
    return csv[(csv.scope == "overall") & (csv.metric == metric)].set_index("interval")


@pytest.fixture(scope="module")
def rota_run(tmp_path_factory) -> tuple[object, Path]:
    """``run ROTA --by 1h --out D``: the output and D."""
    tmp = tmp_path_factory.mktemp("rota")
    out = tmp / "out"
    res = run(str(write(tmp)), "--by", "1h", "--out", str(out))
    assert res.exit_code == 0, res.output
    return res, out


def test_by_1h_prints_one_row_per_covered_hour_with_the_rota(rota_run) -> None:
    res, out = rota_run
    rows = rows_of(res.output)
    assert [r.split()[0] for r in rows] == ["08:00-09:00", "09:00-10:00", "10:00-11:00", "11:00-12:00"]
    csv = pd.read_csv(out / "intervals.csv", dtype={"interval": str})
    staffed = csv[(csv.scope == "group") & (csv.metric == "staffed_agents")].pivot(index="interval", columns="key",
                                                                                   values="mean")
    # the rota itself: 2 agents before 09:00, 6 until 11:00, then 3; billing 2 all day
    assert list(staffed["frontline"]) == [2.0, 6.0, 6.0, 3.0] and list(staffed["billing"]) == [2.0] * 4
    arrivals = overall(csv, "arrivals")["mean"]
    for row, (start, r) in zip(rows, staffed.iterrows()):
        cells = row.split()
        assert cells[2:4] == [f"{r['frontline']:.1f}", f"{r['billing']:.1f}"], row
        assert cells[1] == (f"{arrivals[start]:,.1f}" if arrivals[start] < 100 else f"{arrivals[start]:,.0f}")
        q = overall(csv, "queue_abandonment_rate").loc[start]
        assert f"{pct(q['mean'])} % ({pct(q['ci_low'])}-{pct(q['ci_high'])})" in row
    # the header says what the group columns are
    assert "agents on shift" in res.output and "every 1 h of the clock" in res.output


def test_by_1h_names_the_worst_interval_recomputed_from_the_csv(rota_run) -> None:
    res, out = rota_run
    csv = pd.read_csv(out / "intervals.csv", dtype={"interval": str})
    q = overall(csv, "queue_abandonment_rate")
    start = q["mean"].idxmax()
    end = f"{int(start[:2]) + 1:02d}:00"
    w = q.loc[start]
    assert f"worst interval: {start}-{end}, queue abandonment {pct(w['mean'])} % ({pct(w['ci_low'])} - {pct(w['ci_high'])} %)" \
        in res.output.splitlines()
    t = overall(csv, "transfer_abandonment_rate")
    ts = t["mean"].idxmax()
    assert any(line.startswith(f"worst interval for transfers: {ts}-") for line in res.output.splitlines())


def test_run_prints_service_level_wait_and_agents_on_shift_per_group(rota_run) -> None:
    res, out = rota_run
    metrics = pd.read_csv(out / "metrics.csv")
    lines = res.output.splitlines()
    for name, unit in (("service_level", "%"), ("wait_mean", "s")):
        r = metrics[(metrics.scope == "overall") & (metrics.metric == name)].iloc[0]
        shown = f"{pct(r['mean'])} %" if unit == "%" else f"{r['mean']:.1f} s"
        assert any(line.split()[:1] == [name] and shown in line for line in lines), name
    staffed = metrics[(metrics.scope == "group") & (metrics.metric == "staffed_agents")].set_index("key")["mean"]
    # 08:15-09:00 at 2, 09:00-11:00 at 6, 11:00-11:15 at 3: (0.75 * 2 + 2 * 6 + 0.25 * 3) / 3
    assert staffed["frontline"] == pytest.approx((0.75 * 2 + 2 * 6 + 0.25 * 3) / 3)
    line = next(x for x in lines if x.strip().startswith("frontline ") and "%" in x)
    assert f"{staffed['frontline']:.1f}" in line.split("%)")[-1]


def test_out_writes_intervals_csv_with_the_documented_columns_and_run_json_has_them(rota_run) -> None:
    res, out = rota_run
    csv = pd.read_csv(out / "intervals.csv", dtype={"interval": str})
    assert list(csv.columns) == COLUMNS
    assert set(csv.scope) == {"service", "overall", "target", "group"}
    assert sorted(set(csv.interval)) == ["08:00", "09:00", "10:00", "11:00"]
    assert (out / "intervals.parquet").exists()
    assert "intervals.csv" in res.output.splitlines()[-1]
    meta = json.loads((out / "run.json").read_text())
    assert len(meta["intervals"]) == len(csv)


def test_the_report_of_the_folder_has_the_hour_by_hour_section(rota_run, tmp_path) -> None:
    _, out = rota_run
    res = runner.invoke(app, ["report", str(out), "--out", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    index = tmp_path / "rep" / "index.html"
    html = index.read_text()
    assert '<h2 id="intervals">Hour by hour</h2>' in html
    assert html.index('id="charts"') < html.index('id="intervals"') < html.index('id="tables"')
    assert (tmp_path / "rep" / "intervals.png").read_bytes()[:4] == b"\x89PNG"
    page = read_report(index)
    table = page.table("Per interval, mean (95 % CI)")
    assert [r[0] for r in table["rows"]] == ["08:00-09:00", "09:00-10:00", "10:00-11:00", "11:00-12:00"]
    assert table["header"][:4] == ["interval", "arrivals", "agents on shift: frontline", "agents on shift: billing"]
    assert [r[2] for r in table["rows"]] == ["2.0", "6.0", "6.0", "3.0"]
    csv = pd.read_csv(out / "intervals.csv", dtype={"interval": str})
    q = overall(csv, "queue_abandonment_rate")
    start = q["mean"].idxmax()
    w = q.loc[start]
    worst = (f"The worst interval is {start}-{int(start[:2]) + 1:02d}:00: queue abandonment "
             f"{pct(w['mean'])} % ({pct(w['ci_low'])}–{pct(w['ci_high'])} %).")
    assert page.answer[-1] == worst  # said in the answer too
    assert worst in html
    # the scenario's rota is shown as such, not as a Python object
    groups = page.table("Groups")
    assert groups["rows"][0][1] == "2-6 (rota: 00:00 2, 09:00 6, 11:00 3)"


def test_a_run_without_by_has_no_intervals_anywhere(tmp_path) -> None:
    out = tmp_path / "out"
    res = run(str(write(tmp_path)), "--out", str(out), "--report")
    assert res.exit_code == 0, res.output
    assert "worst interval" not in res.output and "of the clock" not in res.output and not rows_of(res.output)
    assert not (out / "intervals.csv").exists() and "intervals" not in json.loads((out / "run.json").read_text())
    html = (out / "index.html").read_text()
    assert 'id="intervals"' not in html and "Per interval" not in html and not (out / "intervals.png").exists()
    assert "The worst interval" not in html


@pytest.mark.parametrize("value", ["7m", "0", "abc", "48h", "-1h", "1.5m", "", "nan"])
def test_a_bad_by_exits_2_with_one_line_naming_the_option_value_and_allowed(tmp_path, value) -> None:
    out = tmp_path / "out"
    res = run(str(write(tmp_path)), "--by", value, "--out", str(out))
    assert res.exit_code == 2, res.output
    lines = [x for x in res.output.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: --by {value!r}: "), res.output
    assert "whole number of minutes that divides 24 h" in lines[0] and "15m, 30m, 1h" in lines[0]
    assert not out.exists(), "nothing runs, nothing is written"


def test_a_bad_by_is_refused_before_the_scenario_is_read(tmp_path) -> None:
    res = run(str(tmp_path / "missing.toml"), "--by", "7m")
    assert res.exit_code == 2 and "--by '7m'" in res.output and "missing.toml" not in res.output


def test_15m_on_a_2h_horizon_gives_8_quarter_hours(tmp_path) -> None:
    path = write(tmp_path, **{'horizon = "3h"': 'horizon = "2h"', 'warmup = "30m"': "warmup = 0",
                              'start = "07:45"': 'start = "09:00"'})
    res = run(str(path), "--by", "15m", "-r", "2")
    assert res.exit_code == 0, res.output
    spans = [r.split()[0] for r in rows_of(res.output)]
    starts = [f"{9 + q // 4:02d}:{15 * (q % 4):02d}" for q in range(9)]
    assert spans == [f"{a}-{b}" for a, b in zip(starts, starts[1:])]
    assert "every 15 min of the clock" in res.output


def test_json_parses_and_carries_the_intervals(tmp_path) -> None:
    res = run(str(write(tmp_path)), "--by", "30m", "--json", "-r", "2")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)  # the JSON alone: no table, no worst line
    assert set(data) == {"scenario", "replications", "seed", "metrics", "interval_seconds", "intervals"}
    assert data["interval_seconds"] == 1800
    iv = data["intervals"]
    assert sorted({e["interval"] for e in iv}) == [f"{h:02d}:{m:02d}" for h in range(8, 12) for m in (0, 30)][:7]
    for e in iv:
        assert set(e) == {"interval", "scope", "key", "metric", "mean", "ci95"} and len(e["ci95"]) == 2
        if e["mean"] is not None and e["ci95"][0] is not None:
            assert e["ci95"][0] - 1e-9 <= e["mean"] <= e["ci95"][1] + 1e-9
    arr = sum(e["mean"] for e in iv if e["scope"] == "overall" and e["metric"] == "arrivals")
    assert arr == pytest.approx(data["metrics"]["overall"]["arrivals"]["mean"])  # every counted contact, once


def test_a_run_across_midnight_lists_its_intervals_in_run_order(tmp_path) -> None:
    path = write(tmp_path, **{'start = "07:45"': 'start = "22:00"', 'warmup = "30m"': "warmup = 0",
                              'horizon = "3h"': 'horizon = "4h"'})
    res = run(str(path), "--by", "1h", "-r", "2")
    assert res.exit_code == 0, res.output
    assert [r.split()[0] for r in rows_of(res.output)] == ["22:00-23:00", "23:00-24:00", "00:00-01:00", "01:00-02:00"]


def test_the_table_keeps_its_intervals_where_the_width_allows(rota_run, tmp_path) -> None:
    res, _ = rota_run
    assert all("(" in r for r in rows_of(res.output))  # 200 columns: every rate with its interval
    narrow = run(str(write(tmp_path)), "--by", "1h", width=80)
    assert narrow.exit_code == 0
    table = [x for x in narrow.output.splitlines() if "of the clock" in x or re.match(r"\s+\d\d:\d\d-", x)]
    assert "95 % CIs: a wider terminal" in table[0]
    assert all(len(x) <= 80 and "(" not in x for x in table[1:])


def test_the_worst_interval_when_nothing_is_lost_or_nothing_is_known() -> None:
    from model.charts.intervals import IntervalRow
    from model.cli.run import worst_line

    nan = (math.nan,) * 3

    def row(start: str, q: tuple[float, float, float]) -> IntervalRow:
        return IntervalRow(start, f"{start}-x", {"queue_abandonment_rate": q}, {})

    zeros = [row("08:00", (0.0, 0.0, 0.0)), row("09:00", (0.0, 0.0, 0.0))]
    assert worst_line(zeros, "queue_abandonment_rate") == "worst interval: none, queue abandonment is 0.0 % in every interval"
    assert worst_line([row("08:00", nan)], "queue_abandonment_rate") == \
        "worst interval: none, no interval has a queue abandonment figure"
    tie = [row("08:00", (0.2, 0.1, 0.3)), row("09:00", nan), row("10:00", (0.2, 0.0, 0.5))]
    assert worst_line(tie, "queue_abandonment_rate") == "worst interval: 08:00-x, queue abandonment 20.0 % (10.0 - 30.0 %)"


def test_beyond_three_groups_the_table_sums_the_agents_on_shift(tmp_path) -> None:
    extra = "".join(f'\n[[groups]]\nname = "g{i}"\nagents = {i}\nhandle_time = {{ kind = "exponential", mean = "5m" }}\n'
                    for i in (1, 2))
    path = write(tmp_path, ROTA + extra)
    res = run(str(path), "--by", "24h", "-r", "2")
    assert res.exit_code == 0, res.output
    header = res.output[res.output.index("of the clock"):res.output.index("00:00-24:00")]
    assert "agents on shift," in header and "sum of groups" in header  # one column, over two lines
    (row,) = rows_of(res.output)
    # one interval of 24 h: 08:15-11:15 of frontline's rota (3.5 on average) + billing 2 + g1 1 + g2 2
    assert row.split()[0] == "00:00-24:00"
    assert row.split()[2] == f"{(0.75 * 2 + 2 * 6 + 0.25 * 3) / 3 + 2 + 1 + 2:.1f}"
