"""The report sets services side by side (issue 18, item 3): a column per service, the service that
waits longest in words, and per interval a chart of wait and service level per service. A
priority-starvation case must be visible there: the lowest-priority service waiting far longer."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from model import scenario_from_dict, simulate
from model.cli import app
from model.report import build_report
from model.report.services import longest_wait, services_table
from model.scenario import Service

from test_report import read_report

TITLE = "Services side by side, mean (95 % range)"
HAS_PRIORITY = "priority" in Service.model_fields


def two_services(*, shared: bool = True, vip_priority: int | None = None, agents: int = 3,
                 replications: int = 4) -> dict:
    """vip and standard (twice vip's arrivals); one small shared group, or standard alone on a small one."""
    vip = {"name": "vip", "entry_group": "pool" if shared else "roomy",
           "arrivals": {"kind": "poisson", "rate_per_hour": 30}, "patience": {"kind": "exponential", "mean": 900}}
    if vip_priority is not None:
        vip["priority"] = vip_priority
    groups = [{"name": "pool", "agents": agents, "handle_time": {"kind": "exponential", "mean": 110},
               "transfers": [{"to": "back", "probability": 0.1}]},
              {"name": "back", "agents": 2, "handle_time": {"kind": "exponential", "mean": 120}}]
    if not shared:
        groups.append({"name": "roomy", "agents": 6, "handle_time": {"kind": "exponential", "mean": 110}})
    return {"name": "two", "simulation": {"horizon": "2h", "warmup": "10m", "replications": replications, "seed": 5},
            "services": [vip, {"name": "standard", "entry_group": "pool", "service_level_threshold": 20,
                               "arrivals": {"kind": "poisson", "rate_per_hour": 60},
                               "patience": {"kind": "exponential", "mean": 900}}],
            "groups": groups}


def as_toml(d: dict) -> str:
    """A scenario dict as TOML: top-level keys, [simulation], then the arrays of tables."""
    from model.calibration.writer import toml_value

    lines = [f"name = {toml_value(d['name'])}", "[simulation]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in d["simulation"].items()]
    for array in ("services", "groups"):
        for table in d[array]:
            lines += [f"[[{array}]]"] + [f"{k} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def apart():
    """standard alone on a small group, vip on a roomy one: standard waits longer without any priority."""
    return simulate(scenario_from_dict(two_services(shared=False)), interval="30m")


def _cells(table: dict, label_start: str) -> list[str]:
    row = [r for r in table["rows"] if r[0].startswith(label_start)]
    assert len(row) == 1, (label_start, table["rows"])
    return row[0][1:]


def test_each_service_gets_a_column_with_its_figures_and_intervals(apart, tmp_path: Path) -> None:
    page = read_report(build_report(apart, tmp_path / "r"))
    t = page.table(TITLE)
    assert t["header"] == ["figure", "vip", "standard"]
    labels = [r[0] for r in t["rows"]]
    assert labels == ["arrivals", "queue abandonment", "service level (assigned within 20 s)", "mean wait in queue",
                      "transfer abandonment (expired or abandoned)"]
    for col, key in enumerate(("vip", "standard")):
        mean, lo, hi = apart.metric("wait_mean", "service", key)
        assert _cells(t, "mean wait in queue")[col] == f"{mean:.1f} s ({lo:.1f} s – {hi:.1f} s)"
        mean, lo, hi = apart.metric("service_level", "service", key)
        lo, hi = max(lo, 0), min(hi, 1)
        assert _cells(t, "service level")[col] == f"{100 * mean:.1f} % ({100 * lo:.1f} % – {100 * hi:.1f} %)"


def test_the_answer_names_the_service_that_waits_longest(apart, tmp_path: Path) -> None:
    sentence = longest_wait(apart)
    assert sentence is not None and sentence.startswith("Of the 2 services, standard waits longest")
    assert "against" in sentence and "for vip" in sentence
    page = read_report(build_report(apart, tmp_path / "r"))
    assert sentence in page.answer


def test_per_interval_the_report_draws_wait_and_service_level_per_service(apart, tmp_path: Path) -> None:
    index = build_report(apart, tmp_path / "r")
    assert (tmp_path / "r" / "services.png").stat().st_size > 10_000
    html = index.read_text(encoding="utf-8")
    assert 'id="fig-services"' in html and "of each service" in html


def test_different_thresholds_go_into_the_cells(tmp_path: Path) -> None:
    d = two_services(shared=False, replications=2)
    d["services"][0]["service_level_threshold"] = 60
    t = services_table(simulate(scenario_from_dict(d)))
    assert t is not None
    label, vip, standard = [r for r in t["rows"] if r[0].startswith("service level")][0]
    assert label == "service level (assigned within threshold)"
    assert vip.endswith("within 60 s") and standard.endswith("within 20 s")


def test_one_service_has_no_side_by_side_table_chart_or_sentence(tmp_path: Path) -> None:
    d = two_services(replications=2)
    d["services"] = d["services"][1:]
    result = simulate(scenario_from_dict(d), interval="30m")
    assert services_table(result) is None and longest_wait(result) is None
    index = build_report(result, tmp_path / "r")
    assert TITLE not in index.read_text(encoding="utf-8") and not (tmp_path / "r" / "services.png").exists()


def test_report_of_a_run_folder_and_run_report_show_the_table(tmp_path: Path) -> None:
    scenario = tmp_path / "two.toml"
    scenario.write_text(as_toml(two_services(shared=False, replications=2)))
    runner = CliRunner()
    out = runner.invoke(app, ["run", str(scenario), "--by", "30m", "--out", str(tmp_path / "run"), "--report"])
    assert out.exit_code == 0, out.output
    assert TITLE in (tmp_path / "run" / "index.html").read_text(encoding="utf-8")
    out = runner.invoke(app, ["report", str(tmp_path / "run"), "--out", str(tmp_path / "again")])
    assert out.exit_code == 0, out.output
    page = read_report(tmp_path / "again" / "index.html")
    assert page.table(TITLE)["header"] == ["figure", "vip", "standard"]


@pytest.mark.skipif(not HAS_PRIORITY, reason="the scenario format has no Service.priority yet")
def test_priority_starvation_is_visible_side_by_side(tmp_path: Path) -> None:
    """Two services share one small group; vip goes first. standard must show a far longer wait and a
    lower service level, and the answer must say so with ranges that do not overlap."""
    result = simulate(scenario_from_dict(two_services(vip_priority=1, agents=3, replications=6)), interval="30m")
    page = read_report(build_report(result, tmp_path / "r"))
    t = page.table(TITLE)
    assert t["header"] == ["figure", "vip (priority 1)", "standard (priority 0)"]
    vip, standard = (result.metric("wait_mean", "service", k) for k in ("vip", "standard"))
    assert standard[0] > 2 * vip[0] and standard[1] > vip[2], (vip, standard)
    level = {k: result.metric("service_level", "service", k)[0] for k in ("vip", "standard")}
    assert level["standard"] < level["vip"], level
    sentence = [s for s in page.answer if s.startswith("Of the 2 services")]
    assert sentence and "standard (priority 0) waits longest" in sentence[0]
    assert "do not overlap" in sentence[0] and "service level is the lowest" in sentence[0]
