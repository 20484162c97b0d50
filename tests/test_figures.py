"""The metric table (model/results/figures.py): one record per reported metric, and the only one."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import pytest

from model.results import metrics
from model.results.figures import (
    FIGURES,
    GROUP_METRICS,
    REPORTED,
    FigureInfo,
    better_direction,
    count,
    figure,
    percent,
    ratio,
    seconds,
)

TINY = """
name = "tiny"
[simulation]
horizon = "20m"
warmup = 0
replications = 2
seed = 7
[[services]]
name = "s"
entry_group = "g"
transfer_timeout = "30s"
dissuasion_timeout = "2m"
arrivals = { kind = "poisson", rate_per_hour = 120 }
[[groups]]
name = "g"
agents = 2
handle_time = { kind = "exponential", mean = "3m" }
transfers = [{ to = "h", probability = 0.5 }]
[[groups]]
name = "h"
agents = 1
handle_time = { kind = "exponential", mean = "3m" }
"""


# -- every metric has a record, and every record is a metric ----------------------------------------
def test_every_metric_of_the_metrics_code_has_a_record_and_every_record_is_a_metric() -> None:
    assert set(FIGURES) == set(metrics.METRICS) | set(GROUP_METRICS)
    assert tuple(FIGURES) == REPORTED == (*metrics.METRICS, *GROUP_METRICS)  # LIFECYCLE.md's order


def test_every_metric_a_simulation_produces_has_a_record(tmp_path: Path) -> None:
    """Run the engine and read the names off its results: a metric added there without a record here
    fails (and a record for a metric that is never produced fails too)."""
    from model.scenario import load_scenario
    from model.sim import simulate

    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    result = simulate(load_scenario(path), replications=2)
    produced = set(result.metrics["metric"]) | set(result.per_replication["metric"])
    assert produced == set(FIGURES), (sorted(produced - set(FIGURES)), sorted(set(FIGURES) - produced))
    group = set(result.metrics.loc[result.metrics.scope == "group", "metric"])
    assert group == set(GROUP_METRICS)


# -- the records -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(FIGURES))
def test_each_record_is_complete_and_frozen(name: str) -> None:
    info = FIGURES[name]
    assert isinstance(info, FigureInfo) and info.name == name
    assert info.unit and info.label and info.label == info.label.strip()
    assert info.definition.endswith(".") and info.definition[0].isupper() and 20 < len(info.definition) < 200
    assert "_" not in info.label and "_" not in info.definition, "plain words, not code names"
    assert info.better in ("lower", "higher", None)
    if info.colour is not None:
        assert re.fullmatch(r"#[0-9A-F]{6}", info.colour)
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.label = "changed"  # type: ignore[misc]


def test_the_percent_unit_is_exactly_the_proportions_of_the_metrics_code() -> None:
    """metrics.PROPORTIONS clips intervals to [0, 1]; the same figures, and only they, show as %."""
    assert {n for n, f in FIGURES.items() if f.is_proportion} == set(metrics.PROPORTIONS)
    for name, info in FIGURES.items():
        assert (info.of is not None) == (info.unit in ("%", "per transfer")), name


def test_chart_colours_are_from_the_one_palette() -> None:
    from model.charts import PALETTE

    for name, info in FIGURES.items():
        assert info.colour is None or info.colour in PALETTE, name
    # every way a contact ends has a colour of its own (the outcomes chart stacks them)
    from model.lifecycle import FINAL_STATES

    ends = [FIGURES[s].colour for s in FINAL_STATES]
    assert None not in ends and len(set(ends)) == len(ends)


def test_better_directions_as_a_supervisor_reads_them() -> None:
    assert better_direction("transfer_abandonment_rate") == "lower"
    assert better_direction("time_to_join_p90") == "lower"
    assert better_direction("transfer_success_rate") == "higher"
    assert better_direction("transfer_service_level") == "higher"
    assert better_direction("completed") == "higher"
    for neutral in ("arrivals", "transfers_requested", "agent_occupancy"):
        assert better_direction(neutral) is None
    assert better_direction("no_such_metric") is None
    assert not hasattr(metrics, "better_direction")  # one owner: the figures table


def test_the_service_level_label_says_its_seconds() -> None:
    x = f"{metrics.SERVICE_LEVEL_SECONDS:g} s"
    assert x in figure("transfer_service_level").label and x in figure("transfer_service_level").definition


# -- lookups -----------------------------------------------------------------------------------------------
def test_an_unknown_name_is_a_key_error_listing_the_known_names() -> None:
    with pytest.raises(KeyError) as info:
        figure("transfer_abandonment")
    message = str(info.value)
    assert "'transfer_abandonment'" in message and "transfer_abandonment_rate" in message
    assert all(name in message for name in FIGURES)
    for hostile in ("", "ARRIVALS", " arrivals", None, ["arrivals"]):
        with pytest.raises(KeyError):
            figure(hostile)  # type: ignore[arg-type]


def test_the_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        FIGURES["new_metric"] = FIGURES["arrivals"]  # type: ignore[index]


# -- values as text ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", [percent, seconds, count, ratio])
@pytest.mark.parametrize("missing", [math.nan, float("nan"), None])
def test_no_value_is_a_dash(fmt, missing) -> None:
    assert fmt(missing) == "-"


def test_percent_at_the_boundaries() -> None:
    assert percent(0) == "0.0 %" and percent(1) == "100.0 %"
    assert percent(0.0) == "0.0 %" and percent(1.0) == "100.0 %"
    assert percent(-0.0) == "0.0 %", "never '-0.0 %'"
    assert percent(-1e-12) == "0.0 %" and percent(1 + 1e-12) == "100.0 %"
    assert percent(0.1234) == "12.3 %" and percent(0.00049) == "0.0 %" and percent(0.9996) == "100.0 %"


def test_seconds_counts_and_ratios() -> None:
    assert seconds(0) == "0.0 s" and seconds(45) == "45.0 s" and seconds(-0.0) == "0.0 s"
    assert count(0) == "0.0" and count(12.34) == "12.3" and count(99.94) == "99.9"
    assert count(100) == "100" and count(1234.5) == "1,234" and count(-0.0) == "0.0"
    assert ratio(0) == "0.00" and ratio(1) == "1.00" and ratio(0.25) == "0.25" and ratio(2.5) == "2.50"


def test_each_record_formats_in_its_unit() -> None:
    assert figure("transfer_abandonment_rate").text(0.072) == "7.2 %"
    assert figure("agent_occupancy").text(1) == "100.0 %"
    assert figure("time_to_join_mean").text(12.34) == "12.3 s"
    assert figure("arrivals").text(1234.4) == "1,234"
    assert figure("rejects_per_transfer").text(0.5) == "0.50"
    for info in FIGURES.values():
        assert info.text(math.nan) == "-" and info.format is not None
        assert info.text(0) != "-" and info.text(1) != "-"


def test_axis_labels_carry_the_unit() -> None:
    assert figure("transfer_abandonment_rate").axis_label == "share of transfer requests (%)"
    assert figure("queue_abandonment_rate").axis_label == "share of contacts (%)"
    assert figure("time_to_join_p90").axis_label.endswith("(s)")
    assert figure("arrivals").axis_label == "arrivals"


# -- the outputs use the table, and nothing else says what it says ----------------------------------------
def test_the_figures_each_output_picks_have_records() -> None:
    from model.cli.experiments import SWEEP_METRICS
    from model.cli.run import MAIN_FIGURES
    from model.report.tables import SWEEP_FIGURES, TABLE_FIGURES

    for name in (*MAIN_FIGURES, *SWEEP_METRICS, *TABLE_FIGURES, *SWEEP_FIGURES):
        assert figure(name).name == name


def _literals(path: Path) -> list[str]:
    """The string literals of a module's code (docstrings left out: prose may use the words)."""
    import ast

    tree = ast.parse(path.read_text())
    docs = {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body
            and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and id(n) not in docs]


def test_no_output_module_spells_a_label_or_a_definition_again() -> None:
    """A label or a definition written out again in the CLI, the charts or the report would be a
    second owner: in their code, each is only read from model/results/figures.py."""
    import model

    root = Path(model.__file__).parent
    modules = [p for part in ("cli", "charts", "report") for p in (root / part).rglob("*.py")]
    assert len(modules) >= 15
    literals = {p: _literals(p) for p in modules}
    for info in FIGURES.values():
        for text in (info.label, info.definition):
            if " " not in text:
                continue  # one word ("completed", "dissuaded") is also a state's name
            owners = [str(p.relative_to(root)) for p, lits in literals.items() if any(text in s for s in lits)]
            assert owners == [], (text, owners)


# -- rates as typed: the one reader (model/results/figures.py parse_rate) -----------------------------------
@pytest.mark.parametrize("typed, value", [("5%", 0.05), ("0.05", 0.05), (" 5 % ", 0.05), ("0", 0.0), ("1", 1.0),
                                          ("100%", 1.0), ("0%", 0.0), ("-0", 0.0), ("12.5%", 0.125), (0.05, 0.05)])
def test_a_rate_is_a_fraction_or_a_percent(typed, value) -> None:
    from model.results.figures import parse_rate

    got = parse_rate(typed)
    assert got == pytest.approx(value) and str(got) != "-0.0"


@pytest.mark.parametrize("typed, says", [
    ("5", "--target 5: a rate is a fraction (0.05) or a percent (5%)"),
    ("1.0001", "a rate is a fraction (0.05) or a percent (5%)"),
    ("100.1%", "a rate lies from 0 to 1 (0 % to 100 %)"), ("-5%", "a rate lies from 0 to 1"), ("-0.01", "from 0 to 1"),
    ("nan", "not a finite number"), ("inf%", "not a finite number"), ("abc", "not a number"), ("", "not a number"),
    ("%", "not a number"), ("5%%", "not a number"),
])
def test_a_rate_that_cannot_be_read_says_the_two_forms(typed, says) -> None:
    from model.errors import TransferSimError
    from model.results.figures import RateError, parse_rate

    with pytest.raises(RateError) as info:
        parse_rate(typed, "--target")
    assert says in str(info.value) and "a fraction (0.05) or a percent (5%)" in str(info.value)
    assert isinstance(info.value, TransferSimError) and isinstance(info.value, ValueError)
    assert str(info.value).startswith(f"--target {typed or repr(typed)}")
