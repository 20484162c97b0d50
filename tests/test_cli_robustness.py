"""The CLI under hostile input: one line "error: ...", exit 2, no traceback; outputs written whole,
with the umask's permissions; a full disk loses no figures (docs/limits.md)."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from model.cli import app, parse_target

runner = CliRunner()

TINY = """
name = "tiny"
[simulation]
horizon = "1h"
warmup = 0
replications = 2
seed = 1
[[services]]
name = "s"
entry_group = "g"
arrivals = {{ kind = "poisson", rate_per_hour = {rate} }}
[[groups]]
name = "g"
agents = {agents}
handle_time = {{ kind = "exponential", mean = "5m" }}
{extra}
"""


def write_tiny(path: Path, rate="60", agents="2", extra="", horizon=None) -> Path:
    text = TINY.format(rate=rate, agents=agents, extra=extra)
    if horizon is not None:
        text = text.replace('horizon = "1h"', f"horizon = {horizon}")
    path.write_text(text)
    return path


@pytest.fixture()
def place(tmp_path):
    """Paths the bad argument lists refer to: {S} a small scenario, {F} a file, {RUN} an earlier run's
    output, {SWEEP} a sweep store, {OTHER} a folder of something else, and hostile scenarios."""
    p = {
        "S": write_tiny(tmp_path / "tiny.toml"),
        "F": tmp_path / "afile",
        "RUN": tmp_path / "run",
        "SWEEP": tmp_path / "sweep",
        "OTHER": tmp_path / "other",
        "RATE": write_tiny(tmp_path / "rate.toml", rate="1e300"),
        "HORIZON": write_tiny(tmp_path / "horizon.toml", horizon="1e300"),
        "OFFER": write_tiny(tmp_path / "offer.toml", extra='offer_timeout = 1e-9\ntransfers = [{ to = "g", probability = 0.5 }]'),
        "AGENTS": write_tiny(tmp_path / "agents.toml", agents="10000000"),
        "MISSING": tmp_path / "missing.toml",
    }
    p["F"].write_text("not a folder")
    p["RUN"].mkdir()
    (p["RUN"] / "run.json").write_text("{}")
    p["SWEEP"].mkdir()
    (p["SWEEP"] / "sweep.json").write_text("{}")
    p["OTHER"].mkdir()
    (p["OTHER"] / "notes.txt").write_text("mine")
    return {k: str(v) for k, v in p.items()}


TUNE = ["tune", "{S}", "--param", "groups.g.agents", "--range", "1..3", "--metric", "transfer_abandonment_rate"]
SWEEP = ["sweep", "{S}", "--vary", "groups.g.agents=2,3", "--executor", "serial", "--no-progress"]

BAD = [
    # run
    ["run", "{S}", "-r", "abc"],
    ["run", "{S}", "-r", "0"],
    ["run", "{S}", "-r", "-1"],
    ["run", "{S}", "--seed", "-1"],
    ["run", "{S}", "--out", "{F}"],
    ["run", "{S}", "--out", "{OTHER}"],
    ["run", "{S}", "--out", "{RUN}"],
    ["run", "{S}", "--out", "{SWEEP}"],
    ["run", "{S}", "--out", "{F}/sub"],
    ["run", "{MISSING}"],
    ["run", "{RATE}"],
    ["run", "{HORIZON}"],
    ["run", "{OFFER}"],
    ["run", "{AGENTS}"],
    ["run", "{AGENTS}", "--no-events"],
    ["run", "{S}", "-r", "1000000000"],
    ["run"],
    ["run", "{S}", "--nope"],
    # tune: targets
    [*TUNE, "--target", "nan"],
    [*TUNE, "--target", "inf"],
    [*TUNE, "--target", "-inf"],
    [*TUNE, "--target", "-0.5"],
    [*TUNE, "--target", "2"],
    [*TUNE, "--target", "150%"],
    [*TUNE, "--target", "-5%"],
    [*TUNE, "--target", "abc"],
    [*TUNE, "--target", ""],
    [*TUNE, "--target", "%"],
    [*TUNE[:-1], "time_to_join_mean", "--target", "5%"],
    [*TUNE[:-1], "time_to_join_mean", "--target", "-1"],
    [*TUNE[:-1], "agent_occupancy", "--scope", "group:g", "--target", "1.5"],
    # tune: other arguments
    [*TUNE[:-1], "nope", "--target", "0.05"],
    [*TUNE, "--target", "0.05", "--scope", "nowhere"],
    [*TUNE, "--target", "0.05", "--scope", "service:"],
    [*TUNE, "--target", "0.05", "--scope", "service:nope"],
    [*TUNE[:5], "5..1", *TUNE[6:], "--target", "0.05"],
    [*TUNE[:5], "abc", *TUNE[6:], "--target", "0.05"],
    [*TUNE[:5], "1..inf", *TUNE[6:], "--target", "0.05"],
    [*TUNE[:5], "1..1000000000", *TUNE[6:], "--target", "0.05"],
    [*TUNE, "--target", "0.05", "--resolution", "0"],
    [*TUNE, "--target", "0.05", "--resolution", "nan"],
    [*TUNE, "--target", "0.05", "--grid", "1"],
    [*TUNE, "--target", "0.05", "--out", "{RUN}"],
    [*TUNE, "--target", "0.05", "--executor", "threads"],
    [*TUNE, "--target", "0.05", "--direction", "sideways"],
    # sweep
    ["sweep", "{S}", "--vary", "groups.g.agents=1..100000000"],
    ["sweep", "{S}", "--vary", "groups.g.agents=1..100000", "--vary", "services.s.transfer_timeout=1..100"],
    ["sweep", "{S}", "--vary", "groups.g.agents=1..10000000:100"],
    ["sweep", "{S}", "--vary", "groups.g.agents=1..10:0"],
    [*SWEEP, "--metric", "nope"],
    [*SWEEP, "--metric", "transfer_abandonment_rate", "--metric", "agent_occupancy"],
    [*SWEEP, "--target", "2", "--report"],
    [*SWEEP, "--target", "nan"],
    [*SWEEP, "--target", "-1%"],
    [*SWEEP, "-r", "0"],
    [*SWEEP, "--out", "{F}"],
    [*SWEEP, "--out", "{OTHER}"],
    [*SWEEP, "--out", "{RUN}"],
    ["sweep", "{S}", "--vary", "nopath"],
    ["sweep", "{S}", "--vary", "groups.g.nofield=1,2", "--executor", "serial"],
    ["sweep", "{S}"],
    ["sweep", "{RATE}", "--vary", "groups.g.agents=2,3"],
    # report
    ["report", "{RUN}", "--target", "2"],
    ["report", "{RUN}", "--target", "nan"],
    ["report", "{RUN}", "--target", "-1%"],
    # the command itself
    ["nosuch"],
]


@pytest.mark.parametrize("args", BAD, ids=[" ".join(a)[:80] for a in BAD])
def test_bad_arguments_exit_2_with_one_line_and_no_traceback(args, place, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = [a.format(**place) for a in args]
    start = time.perf_counter()
    res = runner.invoke(app, argv)
    assert res.exit_code == 2, (argv, res.stdout, res.stderr)
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    assert time.perf_counter() - start < 20  # refused up front, nothing simulated at length
    assert not (tmp_path / "reports").exists()  # nothing written


def test_at_least_40_bad_argument_lists():
    assert len(BAD) >= 40


def test_unknown_sweep_metric_lists_the_allowed_names_before_anything_runs(place, tmp_path):
    out = tmp_path / "s"
    res = runner.invoke(app, [*[a.format(**place) for a in SWEEP], "--metric", "nope", "--out", str(out)])
    assert res.exit_code == 2
    assert "transfer_abandonment_rate" in res.stderr and "time_to_join_p90" in res.stderr
    assert not out.exists()


def test_work_refusals_name_the_cause_and_the_bound(place):
    res = runner.invoke(app, ["run", place["RATE"]])
    assert "rate_per_hour" in res.stderr and "1e+09 events" in res.stderr and "--force" in res.stderr
    res = runner.invoke(app, ["run", place["OFFER"]])
    assert "offer_timeout" in res.stderr
    res = runner.invoke(app, ["run", place["AGENTS"]])
    assert "GiB" in res.stderr and "--force" in res.stderr


# -- targets ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, metric, value",
    [("0.05", "transfer_abandonment_rate", 0.05), ("5%", "transfer_abandonment_rate", 0.05),
     (" 5 % ", "transfer_success_rate", 0.05), ("0", "transfer_abandonment_rate", 0.0),
     ("1", "transfer_service_level", 1.0), ("100%", "agent_occupancy", 1.0), ("-0", "abandonment_rate", 0.0),
     ("30", "time_to_join_mean", 30.0), ("2.5", "rejects_per_transfer", 2.5), ("0", "completed", 0.0)],
)
def test_targets_accept_fractions_and_percentages(text, metric, value):
    got = parse_target(text, metric)
    assert got == pytest.approx(value) and str(got) != "-0.0"


def test_tune_reads_a_percentage_target_as_the_same_fraction(place, tmp_path):
    args = [a.format(**place) for a in TUNE] + ["--grid", "2", "-r", "2", "--executor", "serial", "--no-progress", "--json"]
    a = runner.invoke(app, [*args, "--target", "5%"])
    b = runner.invoke(app, [*args, "--target", "0.05"])
    assert a.exit_code == 0 and b.exit_code == 0, a.stderr + b.stderr
    assert json.loads(a.stdout)["target"] == json.loads(b.stdout)["target"] == 0.05


# -- run --out: whole, one kind per folder, --force ---------------------------------------------------
def run_out(scenario, out, *extra):
    return runner.invoke(app, ["run", str(scenario), "-r", "2", "--out", str(out), *extra])


def hidden(tmp_path):
    return [p.name for p in tmp_path.iterdir() if ".part" in p.name]


def test_run_out_writes_a_new_folder_and_refuses_an_earlier_run_without_force(place, tmp_path):
    out = tmp_path / "D"
    assert run_out(place["S"], out).exit_code == 0
    first = (out / "run.json").read_text()
    res = run_out(place["S"], out, "--seed", "5")
    assert res.exit_code == 2 and "earlier run" in res.stderr and "--force" in res.stderr
    assert (out / "run.json").read_text() == first
    res = run_out(place["S"], out, "--seed", "5", "--force")
    assert res.exit_code == 0, res.stderr
    assert json.loads((out / "run.json").read_text())["seed"] == 5
    assert hidden(tmp_path) == []


def test_run_out_into_an_empty_folder_is_fine(place, tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    assert run_out(place["S"], out).exit_code == 0
    assert (out / "run.json").exists()


@pytest.mark.parametrize("kind, says", [("F", "is a file"), ("OTHER", "notes.txt"), ("SWEEP", "sweep")])
def test_run_out_says_what_the_folder_holds(place, kind, says):
    res = run_out(place["S"], place[kind], "--force")
    assert res.exit_code == 2 and says in res.stderr
    assert "Traceback" not in res.stderr


def test_run_report_is_built_inside_the_output_before_it_appears(place, tmp_path, monkeypatch):
    import model.report as report

    out = tmp_path / "D"
    seen = {}
    real = report.build_report

    def spy(result, folder, **kw):
        seen["folder"] = Path(folder)
        seen["out_existed"] = out.exists()
        return real(result, folder, **kw)

    monkeypatch.setattr(report, "build_report", spy)
    res = run_out(place["S"], out, "--report")
    assert res.exit_code == 0, res.stderr
    assert seen["folder"] != out and seen["folder"].parent == out.parent and not seen["out_existed"]
    assert (out / "index.html").exists() and (out / "run.json").exists() and list(out.glob("*.png"))
    assert f"wrote {out / 'index.html'}" in res.stdout
    assert hidden(tmp_path) == []


def test_a_stale_temporary_folder_of_a_killed_run_is_removed(place, tmp_path):
    stale = tmp_path / ".D.part-999999999"  # no such process
    stale.mkdir()
    (stale / "events.parquet").write_text("half")
    assert run_out(place["S"], tmp_path / "D").exit_code == 0
    assert not stale.exists()


# -- permissions -------------------------------------------------------------------------------------
def test_outputs_respect_the_umask(place, tmp_path):
    old = os.umask(0o022)
    try:
        out = tmp_path / "D"
        assert run_out(place["S"], out).exit_code == 0
        sw = tmp_path / "sw"
        res = runner.invoke(app, [*[a.format(**place) for a in SWEEP], "-r", "2", "--out", str(sw)])
        assert res.exit_code == 0, res.stderr
    finally:
        os.umask(old)
    files = [*out.iterdir(), *sw.rglob("*")]
    assert {"run.json", "metrics.csv", "events.parquet", "sweep.json", "summary.csv"} <= {p.name for p in files}
    for p in files:
        mode = p.stat().st_mode & 0o777
        assert mode == (0o755 if p.is_dir() else 0o644), (p, oct(mode))
    assert out.stat().st_mode & 0o777 == 0o755


# -- a full disk ---------------------------------------------------------------------------------------
def full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_during_run_out_prints_the_figures_and_leaves_no_half_output(place, tmp_path, monkeypatch):
    import pandas as pd

    out = tmp_path / "D"
    monkeypatch.setattr(pd.DataFrame, "to_parquet", full_disk)
    res = run_out(place["S"], out)
    assert res.exit_code == 1
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot write ") and "No space left on device" in lines[0]
    assert str(out) in lines[0] and ".part" not in lines[0]
    assert "transfer_abandonment_rate" in res.stdout  # the figures are not lost
    assert not out.exists() and hidden(tmp_path) == []


def test_a_full_disk_while_replacing_keeps_the_earlier_output(place, tmp_path, monkeypatch):
    import pandas as pd

    out = tmp_path / "D"
    assert run_out(place["S"], out).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    monkeypatch.setattr(pd.DataFrame, "to_csv", full_disk)  # metrics.csv, after the Parquet files
    res = run_out(place["S"], out, "--seed", "9", "--force", "--json")
    assert res.exit_code == 1 and "metrics.csv" in res.stderr
    assert json.loads(res.stdout)["seed"] == 9  # the JSON is printed all the same
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert hidden(tmp_path) == []


def test_a_full_disk_during_a_sweep_is_one_line_naming_the_file_and_keeps_stored_points(place, tmp_path, monkeypatch):
    from model.experiments.store import SweepStore

    real = SweepStore.write_point
    calls = []

    def second_fails(self, point_id, frame):
        calls.append(point_id)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.point_path(point_id)))
        return real(self, point_id, frame)

    monkeypatch.setattr(SweepStore, "write_point", second_fails)
    out = tmp_path / "sw"
    res = runner.invoke(app, [*[a.format(**place) for a in SWEEP], "-r", "2", "--out", str(out)])
    assert res.exit_code == 1
    lines = res.stderr.strip().splitlines()
    assert lines[-1].startswith("error: cannot write ") and "No space left on device" in lines[-1]
    assert "resume" in lines[-1]
    assert len(list((out / "points").glob("*.parquet"))) == 1


def test_a_write_error_in_the_report_command_is_one_line(place, tmp_path, monkeypatch):
    run = tmp_path / "D"
    assert run_out(place["S"], run).exit_code == 0
    import model.charts as charts

    monkeypatch.setattr(charts, "save_png", full_disk)
    res = runner.invoke(app, ["report", str(run), "--out", str(tmp_path / "rep"), "--target", "5%"])
    assert res.exit_code == 1
    assert res.stderr.startswith("error: cannot write") and len(res.stderr.splitlines()) == 1


# -- SIGKILL in the middle of run --out ---------------------------------------------------------------
def _slow_scenario(tmp_path: Path) -> Path:
    # about 3-6 s on the development VM: 4 replications of a busy day
    return write_tiny(tmp_path / "slow.toml", rate="1500", agents="30", horizon='"12h"')


def _kill_midway(cmd: list[str], cwd: Path, delay: float) -> bool:
    """Start ``cmd``, SIGKILL it after ``delay`` s; False when it had already finished."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return True


def _kill_at_first_write(cmd: list[str], cwd: Path, out: Path) -> bool:
    """Start ``cmd`` and SIGKILL it the moment it writes anything next to or into ``out`` (a new
    entry in ``out``'s parent, or a change of ``out`` itself): the worst moment for a writer that is
    not whole. False when it finished without being caught."""
    def state():
        names = frozenset(os.listdir(out.parent))
        return names, (out.stat().st_mtime_ns if out.exists() else None)

    first = state()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if state() != first:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.0005)
    proc.kill()
    proc.wait()
    return False


def _snapshot(out: Path) -> dict[str, bytes] | None:
    """The files of ``out``, after checking it is a whole run output (it reads back)."""
    from model.results.result import SimulationResult

    if not out.exists():
        return None
    SimulationResult.from_parquet(out)  # whole: run.json, metrics, Parquet files all readable
    return {p.name: p.read_bytes() for p in out.iterdir()}


@pytest.mark.parametrize("earlier", [False, True], ids=["new", "over-an-earlier-run"])
def test_sigkill_during_run_out_leaves_the_previous_output_or_nothing(tmp_path, earlier):
    scenario = _slow_scenario(tmp_path)
    out = tmp_path / "D"
    exe = [str(Path(sys.executable).parent / "transfer-sim")]
    if earlier:
        assert run_out(write_tiny(tmp_path / "tiny.toml"), out).exit_code == 0
    before = _snapshot(out)
    start = time.perf_counter()
    done = subprocess.run([*exe, "run", str(scenario), "-r", "4", "--out", str(tmp_path / "timing")],
                          cwd=tmp_path, capture_output=True, text=True)
    took = time.perf_counter() - start
    assert done.returncode == 0, done.stderr
    untouched = 0
    for fraction in (0.25, 0.5, 0.7, 0.85, 0.95):
        _kill_midway([*exe, "run", str(scenario), "-r", "4", "--out", str(out), "--force"], tmp_path, took * fraction)
        # D is the earlier output (or absent) untouched, or - killed after the rename, or finished on a
        # busy machine - the new output, whole; never a mix or a part (_snapshot reads it back)
        now = _snapshot(out)
        if now == before:
            untouched += 1
        else:
            assert now is not None and now != before
            before = now
    assert untouched >= 2
    # and at the very first file it writes
    assert _kill_at_first_write([*exe, "run", str(scenario), "-r", "4", "--out", str(out), "--force"], tmp_path, out)
    assert _snapshot(out) == before
    # at most the killed runs' hidden temporary folders are left; the next run next to them removes them
    assert all(name.startswith(".D.part-") for name in hidden(tmp_path))
    assert run_out(write_tiny(tmp_path / "tiny2.toml"), out, "--force").exit_code == 0
    assert hidden(tmp_path) == []


# -- how run prints a figure -----------------------------------------------------------------------------
class _Table:
    """A stand-in for SimulationResult.table: the figures of one scope as a frame indexed by metric."""

    def __init__(self, rows: dict[str, tuple[float, float, float]]) -> None:
        import pandas as pd

        self.frame = pd.DataFrame([(k, *v) for k, v in rows.items()], columns=["metric", "mean", "ci_low", "ci_high"])
        self.frame = self.frame.set_index("metric")

    def table(self, scope: str, key: str):
        return self.frame


def test_run_prints_rates_at_0_and_1_and_no_mean_as_a_dash() -> None:
    from model.cli import format_figures

    nan = float("nan")
    lines = format_figures(_Table({
        "transfer_abandonment_rate": (0.0, 0.0, 0.0),
        "transfer_success_rate": (1.0, 1.0, 1.0),
        "time_to_join_mean": (nan, nan, nan),  # no transfer joined
        "arrivals": (1234.4, 1200.0, 1268.9),
        "not_a_metric_of_run": (1.0, 1.0, 1.0),
    }), "overall", "all")
    assert lines == [
        f"  {'arrivals':<28}{'1,234':>9}  (1,200 - 1,269)",
        f"  {'transfer_abandonment_rate':<28}{'0.0 %':>9}  (0.0 % - 0.0 %)",
        f"  {'transfer_success_rate':<28}{'100.0 %':>9}  (100.0 % - 100.0 %)",
        f"  {'time_to_join_mean':<28}{'-':>9}",
    ], "in MAIN_FIGURES' order, each in its unit; a figure run does not print is left out"


def test_a_figure_line_for_a_name_without_a_record_is_a_key_error_naming_the_known() -> None:
    from model.cli.run import figure_line

    with pytest.raises(KeyError, match="no figure 'made_up'; known: arrivals"):
        figure_line("made_up", 1.0, 0.0, 2.0)
    assert figure_line("agent_occupancy", 0.5, float("nan"), 0.6, label="billing").split() == \
        ["billing", "50.0", "%", "(-", "-", "60.0", "%)"]
