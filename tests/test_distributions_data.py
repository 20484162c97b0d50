"""Distributions from data (issue 14, item 4): lognormal by ``mu``/``sigma``, ``empirical`` from values or a
CSV/Parquet column, and ``survival(x)`` = P(X > x) on every distribution.

Happy paths check the semantics (means, the interpolated quantile function, file reading, round trips,
a simulation); hostile cases check that each refusal is one line naming the field and what is allowed.
"""

from __future__ import annotations

import json
import math
import pickle
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from click.testing import CliRunner
from pydantic import ValidationError
from scipy import stats

from model import simulate
from model.cli import app
from model.estimate import estimate
from model.scenario import DISTRIBUTION_KINDS, Distribution, ScenarioError, load_scenario, scenario_from_dict
from model.scenario import distributions as dists
from model.scenario.distributions import Empirical, Lognormal, data_directory

from helpers import write_file

COMMAND = typer.main.get_command(app)

SCENARIO = """
[simulation]
horizon = "2h"
replications = 2
seed = 5

[[services]]
name = "support"
entry_group = "frontline"
arrivals = {{ kind = "poisson", rate_per_hour = 60 }}
patience = {patience}

[[groups]]
name = "frontline"
agents = 3
handle_time = {handle}
"""
LOGNORMAL_MU_SIGMA = '{ kind = "lognormal", mu = 5.3, sigma = 0.6 }'
EMPIRICAL_VALUES = '{ kind = "empirical", values = [60, 120, 90, 300, 45, 600] }'
GOOD_HANDLE = '{ kind = "exponential", mean = "5m" }'


def scenario_text(patience: str = LOGNORMAL_MU_SIGMA, handle: str = GOOD_HANDLE) -> str:
    return SCENARIO.format(patience=patience, handle=handle)


def load_error(tmp_path: Path, *, patience: str = LOGNORMAL_MU_SIGMA, handle: str = GOOD_HANDLE) -> str:
    """The one-line message of loading a scenario with these distributions (which must fail)."""
    path = write_file(tmp_path, scenario_text(patience, handle), "bad-data.toml")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert len(message.splitlines()) == 1, message
    assert message.startswith(str(path) + ": "), message
    return message


def at_field(message: str, where: str, field: str) -> None:
    """``message`` is located at ``where.field`` (pydantic's union tag ``empirical`` may sit in between:
    model/scenario/errors.py's ``_KIND_TAGS`` does not list the new kind yet)."""
    pattern = re.escape(where) + r"(\.empirical)?" + (r"\." + re.escape(field) if field else "") + ": "
    assert re.search(pattern, message), f"{where}.{field} not the path of:\n{message}"


def mentions(message: str, *parts: str) -> None:
    for part in parts:
        assert part in message, f"{part!r} not in:\n{message}"


def dist(data: dict[str, Any]) -> Distribution:
    return Distribution.from_data(data)


def write_csv(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# -- lognormal by mu and sigma ---------------------------------------------------------------------------


def test_lognormal_mu_sigma_mean_and_moments() -> None:
    d = dist({"kind": "lognormal", "mu": 5.0, "sigma": 0.8})
    assert isinstance(d, Lognormal)
    assert d.mean == pytest.approx(math.exp(5.0 + 0.8**2 / 2), rel=1e-15)
    assert d.cv is None
    draws = d.sample(np.random.default_rng(7), 400_000)
    assert draws.mean() == pytest.approx(d.mean, rel=0.01)
    assert draws.std() / draws.mean() == pytest.approx(math.sqrt(math.expm1(0.8**2)), rel=0.03)
    assert np.log(draws).mean() == pytest.approx(5.0, abs=0.005)
    assert np.log(draws).std() == pytest.approx(0.8, rel=0.005)


def test_lognormal_mu_sigma_matches_scipy_fit_parameters() -> None:
    """scipy's ``lognorm`` has s = sigma and scale = exp(mu): a fit (floc=0) plugs in directly."""
    data = stats.lognorm(s=0.7, scale=math.exp(4.0)).rvs(size=20_000, random_state=3)
    s, _, scale = stats.lognorm.fit(data, floc=0)
    d = dist({"kind": "lognormal", "mu": math.log(scale), "sigma": s})
    assert d.mean == pytest.approx(stats.lognorm(s=s, scale=scale).mean(), rel=1e-12)
    assert d.survival(80.0) == pytest.approx(stats.lognorm(s=s, scale=scale).sf(80.0), rel=1e-12)


def test_lognormal_forms_draw_the_same_values() -> None:
    """mean/cv and the equivalent mu/sigma give the same stream (the mean/cv path is unchanged)."""
    mean, cv = 300.0, 0.9
    sigma2 = math.log1p(cv**2)
    by_moments = dist({"kind": "lognormal", "mean": mean, "cv": cv})
    by_native = dist({"kind": "lognormal", "mu": math.log(mean) - sigma2 / 2, "sigma": math.sqrt(sigma2)})
    old_formula = np.random.default_rng(11).lognormal(math.log(mean) - sigma2 / 2, math.sqrt(sigma2), 5000)
    assert by_moments.sample(np.random.default_rng(11), 5000).tolist() == old_formula.tolist()
    assert by_native.sample(np.random.default_rng(11), 5000).tolist() == old_formula.tolist()
    assert by_native.mean == pytest.approx(mean, rel=1e-12)


def test_lognormal_dump_keeps_the_given_form() -> None:
    moments = dist({"kind": "lognormal", "mean": "5m", "cv": 0.9})
    native = dist({"kind": "lognormal", "mu": 5, "sigma": 0.5})
    assert moments.model_dump() == {"kind": "lognormal", "mean": 300.0, "cv": 0.9}
    assert native.model_dump() == {"kind": "lognormal", "mu": 5.0, "sigma": 0.5}
    assert native.model_dump(mode="json") == {"kind": "lognormal", "mu": 5.0, "sigma": 0.5}
    for d in (moments, native):
        assert dist(d.model_dump()) == d
        assert dist(json.loads(json.dumps(d.model_dump(mode="json")))) == d


def test_lognormal_mu_sigma_in_a_scenario_round_trips_and_changes(tmp_path: Path) -> None:
    s = load_scenario(write_file(tmp_path, scenario_text(), "ok.toml"))
    assert scenario_from_dict(s.to_dict()) == s
    t = s.with_changes({"services.support.patience.sigma": 0.9})
    assert t.service("support").patience.mean == pytest.approx(math.exp(5.3 + 0.81 / 2))
    with pytest.raises(ScenarioError, match="both given; use one form"):
        s.with_changes({"services.support.patience.mean": "4m"})
    u = s.with_changes({"groups.frontline.handle_time": {"kind": "lognormal", "mu": 5, "sigma": 1}})
    assert u.group("frontline").handle_time.mean == pytest.approx(math.exp(5.5))


@pytest.mark.parametrize(
    ("data", "where", "parts"),
    [
        ({"kind": "lognormal", "mean": "5m", "cv": 1, "mu": 5, "sigma": 1}, "",
         ["mean and cv (the mean/cv form) and mu and sigma (the mu/sigma form) are both given"]),
        ({"kind": "lognormal", "mean": "5m", "sigma": 1}, "", ["mean (the mean/cv form) and sigma"]),
        ({"kind": "lognormal"}, "", ["lognormal: no parameters given"]),
        ({"kind": "lognormal", "mean": "5m"}, "", ["cv is missing (mean and cv go together)"]),
        ({"kind": "lognormal", "cv": 1.0}, "", ["mean is missing"]),
        ({"kind": "lognormal", "mu": 5}, "", ["sigma is missing (mu and sigma go together)"]),
        ({"kind": "lognormal", "sigma": 0.5}, "", ["mu is missing"]),
    ],
)
def test_lognormal_forms_refused(tmp_path: Path, data: dict[str, Any], where: str, parts: list[str]) -> None:
    inline = "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in data.items()) + " }"
    message = load_error(tmp_path, handle=inline)
    at_field(message, "groups.frontline.handle_time", where)
    mentions(message, *parts, "allowed: either mean (a duration) and cv (> 0), or mu and sigma (> 0)")


@pytest.mark.parametrize(
    ("params", "field", "parts"),
    [
        ("mu = 5, sigma = 0", "sigma", ["must be greater than 0", "got 0"]),
        ("mu = 5, sigma = -1", "sigma", ["must be greater than 0", "got -1"]),
        ("mu = 5, sigma = nan", "sigma", ["must be a finite number"]),
        ('mu = 5, sigma = "1"', "sigma", ["must be a number"]),
        ("mu = 5, sigma = true", "sigma", ["must be a number"]),
        ("mu = inf, sigma = 1", "mu", ["must be a finite number"]),
        ('mu = "5", sigma = 1', "mu", ["must be a number"]),
        ("mu = 1000, sigma = 1", "sigma",
         ["out of range: the mean exp(mu + sigma^2 / 2) with mu = 1000 overflows", "allowed: mu and sigma with"]),
        ("mu = -1000, sigma = 1", "sigma", ["with mu = -1000 would be 0", "allowed: mu and sigma with"]),
        ("mu = 1, sigma = 1e200", "sigma", ["overflows", "got 1e+200", "-745 < mu + sigma^2/2 < 709.7"]),
        ("mu = 706, sigma = 3", "sigma", ["overflows"]),  # mu alone is fine; mu + sigma^2/2 is not
        ("mu = 707.5, sigma = 2", "", ["draws that are not finite"]),  # a finite mean, overflowing draws
    ],
)
def test_lognormal_mu_sigma_values_refused(tmp_path: Path, params: str, field: str, parts: list[str]) -> None:
    message = load_error(tmp_path, patience=f'{{ kind = "lognormal", {params} }}')
    at_field(message, "services.support.patience", field)
    mentions(message, *parts)


def test_lognormal_extreme_but_sound_mu_sigma() -> None:
    for mu, sigma in [(-700.0, 1.0), (700.0, 1.0), (0.0, 1e-300), (-10.0, 5.0)]:
        d = dist({"kind": "lognormal", "mu": mu, "sigma": sigma})
        draws = d.sample(np.random.default_rng(1), 10_000)
        assert np.isfinite(draws).all() and (draws >= 0).all() and math.isfinite(d.mean) and d.mean > 0


# -- empirical: semantics ----------------------------------------------------------------------------------

VALUES = [12.0, 30.0, 30.0, 45.5, 60.0, 61.0, 90.0, 240.0, 1200.0, 0.0]


def interpolated_quantile(values: list[float], u: np.ndarray) -> np.ndarray:
    """Q(u): position u (n - 1) between the sorted values, linearly interpolated (written out)."""
    x = np.sort(np.asarray(values, dtype=float))
    return np.interp(u * (len(x) - 1), np.arange(len(x)), x)


def test_empirical_mean_is_the_trapezoid_mean() -> None:
    d = dist({"kind": "empirical", "values": VALUES})
    assert isinstance(d, Empirical)
    x = sorted(VALUES)
    trapezoid = sum((a + b) / 2 for a, b in zip(x, x[1:])) / (len(x) - 1)
    assert d.mean == pytest.approx(trapezoid, rel=1e-14)
    assert d.mean == pytest.approx((sum(x) - (x[0] + x[-1]) / 2) / (len(x) - 1), rel=1e-14)
    assert d.mean != pytest.approx(np.mean(x))  # not the sample mean
    u = np.linspace(0, 1, 200_001)  # the mean of Q over a fine grid
    assert d.mean == pytest.approx(np.trapezoid(interpolated_quantile(VALUES, u), u), rel=1e-9)
    assert dist({"kind": "empirical", "values": [10, 20]}).mean == 15.0


def test_empirical_sample_mean_converges_to_mean() -> None:
    d = dist({"kind": "empirical", "values": VALUES})
    n = 400_000
    draws = d.sample(np.random.default_rng(2026), n)
    assert draws.shape == (n,) and draws.dtype == float
    half_width = 4.5 * draws.std() / math.sqrt(n)  # a 99.999 % confidence interval
    assert abs(draws.mean() - d.mean) < half_width
    assert draws.min() >= min(VALUES) and draws.max() <= max(VALUES)


def test_empirical_draws_are_the_interpolated_quantiles_of_uniforms() -> None:
    """Inverse-CDF: a draw is Q(u) for the generator's uniform u (numpy's 'linear' quantile method)."""
    d = dist({"kind": "empirical", "values": VALUES})
    draws = d.sample(np.random.default_rng(5), 10_000)
    u = np.random.default_rng(5).random(10_000)
    np.testing.assert_allclose(draws, interpolated_quantile(VALUES, u), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(draws, np.quantile(VALUES, u), rtol=1e-12, atol=1e-12)


def test_empirical_quantiles_of_draws_match_interpolated_quantiles() -> None:
    d = dist({"kind": "empirical", "values": VALUES})
    draws = d.sample(np.random.default_rng(9), 300_000)
    levels = np.array([0.01, 0.05, 0.1, 0.4, 0.5, 0.75, 0.9, 0.95, 0.99])
    expected = interpolated_quantile(VALUES, levels)
    got = np.quantile(draws, levels)
    np.testing.assert_allclose(got, expected, rtol=0.05)
    # the tie 30, 30 (positions 2 and 3 of 9) is an atom: Q(u) = 30 for u in [2/9, 3/9]
    assert np.quantile(draws, 0.25) == 30.0
    assert float((draws == 30.0).mean()) == pytest.approx(1 / 9, abs=0.003)
    # the level a draw's quantile sits at is within a few standard errors of the target level
    achieved = np.array([1.0 - d.survival(q) for q in got])
    assert np.all(np.abs(achieved - levels) < 5 * np.sqrt(levels * (1 - levels) / len(draws))), (got, expected)
    # the draws' CDF is the interpolated one everywhere (DKW bound at 1 - 1e-4; kstest assumes no atoms)
    points = np.concatenate([np.linspace(0, 1250, 2501), np.array(VALUES)])
    ecdf = np.searchsorted(np.sort(draws), points, side="right") / len(draws)
    cdf = 1.0 - np.array([d.survival(float(x)) for x in points])
    assert np.max(np.abs(ecdf - cdf)) < math.sqrt(math.log(2 / 1e-4) / (2 * len(draws)))


def test_empirical_sampler_matches_sample_across_blocks() -> None:
    d = dist({"kind": "empirical", "values": VALUES})
    draw = d.sampler(np.random.default_rng(3), block=100)
    values = [draw() for _ in range(250)]
    rng = np.random.default_rng(3)
    expected = np.concatenate([d.sample(rng, 100) for _ in range(3)])[:250]
    assert values == expected.tolist()


def test_empirical_stores_sorted_values_and_round_trips() -> None:
    d = dist({"kind": "empirical", "values": [3, 1, -0.0, 2]})
    assert d.values == (0.0, 1.0, 2.0, 3.0) and math.copysign(1, d.values[0]) == 1
    assert d.model_dump() == {"kind": "empirical", "values": (0.0, 1.0, 2.0, 3.0)}
    assert dist(d.model_dump()) == d
    assert dist(json.loads(json.dumps(d.model_dump(mode="json")))) == d
    assert dist({"kind": "empirical", "values": (2, 1, 3, 0)}) == d  # a tuple from Python, any order
    again = pickle.loads(pickle.dumps(d))
    assert again == d and again.mean == d.mean
    assert again.sample(np.random.default_rng(1), 5).tolist() == d.sample(np.random.default_rng(1), 5).tolist()


def test_empirical_equal_values_is_a_constant() -> None:
    d = dist({"kind": "empirical", "values": [42, 42, 42]})
    assert d.mean == 42.0
    assert set(d.sample(np.random.default_rng(0), 1000).tolist()) == {42.0}
    assert d.survival(41.999) == 1.0 and d.survival(42.0) == 0.0


def test_empirical_two_values_is_a_uniform() -> None:
    d = dist({"kind": "empirical", "values": [10, 70]})
    u = dist({"kind": "uniform", "low": 10, "high": 70})
    assert d.mean == u.mean
    for x in (0, 10, 25, 40, 69.9, 70, 100):
        assert d.survival(x) == pytest.approx(u.survival(x), abs=1e-15)


def test_empirical_survival_with_ties() -> None:
    d = dist({"kind": "empirical", "values": [1, 2, 2, 3]})  # Q is flat at 2 for u in [1/3, 2/3]
    assert d.survival(0.5) == 1.0
    assert d.survival(1.0) == 1.0
    assert d.survival(1.5) == pytest.approx(1 - 0.5 / 3)
    assert d.survival(2.0) == pytest.approx(1 / 3)  # the atom at 2 (mass 1/3) is not above 2
    assert d.survival(2.0 - 1e-12) == pytest.approx(2 / 3, abs=1e-9)
    assert d.survival(2.5) == pytest.approx(1 / 6)
    assert d.survival(3.0) == 0.0 and d.survival(1e9) == 0.0


def test_empirical_large_values_do_not_overflow_the_mean() -> None:
    d = dist({"kind": "empirical", "values": [1e308, 1.5e308, 1.7e308]})
    assert d.mean == pytest.approx(1e308 / 4 + 1.5e308 / 2 + 1.7e308 / 4, rel=1e-12)


def test_empirical_at_most_max_values() -> None:
    values = np.random.default_rng(1).exponential(60, dists.MAX_VALUES).tolist()
    d = dist({"kind": "empirical", "values": values})
    assert len(d.values) == dists.MAX_VALUES
    with pytest.raises(Exception, match=f"at most {dists.MAX_VALUES}"):
        dist({"kind": "empirical", "values": values + [1.0]})


# -- empirical: files --------------------------------------------------------------------------------------


def test_empirical_from_csv_relative_to_the_scenario_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "centre"
    (folder / "data").mkdir(parents=True)
    write_csv(folder / "data", "handle.csv", "\ufeffagent,seconds\nann, 120\nbob,300\ncid,95.5\ndan,600\n")
    path = write_file(folder, scenario_text(
        handle='{ kind = "empirical", file = "data/handle.csv", column = "seconds" }'), "centre.toml")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the path is relative to the scenario file, not to the current directory
    s = load_scenario(path)
    handle = s.group("frontline").handle_time
    assert isinstance(handle, Empirical)
    assert handle.values == (95.5, 120.0, 300.0, 600.0)
    assert handle.file is None and handle.column is None
    dumped = s.to_dict()["groups"][0]["handle_time"]
    assert dumped == {"kind": "empirical", "values": (95.5, 120.0, 300.0, 600.0)}  # embedded, self-contained
    assert scenario_from_dict(s.to_dict()) == s
    assert scenario_from_dict(json.loads(json.dumps(s.to_dict()))) == s
    assert s.with_changes({"groups.frontline.agents": 4}).group("frontline").handle_time == handle
    # the same file given inline as values is the same scenario
    inline = load_scenario(write_file(folder, scenario_text(
        handle='{ kind = "empirical", values = [600, 95.5, 300, 120] }'), "centre.toml"))
    assert inline == s


def test_empirical_from_parquet_and_absolute_path(tmp_path: Path) -> None:
    data = tmp_path / "patience.parquet"
    pd.DataFrame({"id": [1, 2, 3, 4, 5], "wait_s": [30, 45, 60, 200, 75]}).to_parquet(data, index=False)
    d = dist({"kind": "empirical", "file": str(data), "column": "wait_s"})  # absolute: no directory needed
    assert d.values == (30.0, 45.0, 60.0, 75.0, 200.0)
    floats = tmp_path / "floats.pq"
    pq.write_table(pa.table({"x": pa.array([1.5, 2.5, 0.0], pa.float32())}), floats)
    assert dist({"kind": "empirical", "file": str(floats), "column": "x"}).values == (0.0, 1.5, 2.5)


def test_data_directory_for_dicts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_csv(tmp_path, "d.csv", "t\n1\n2\n4\n")
    monkeypatch.chdir(tmp_path)
    assert dist({"kind": "empirical", "file": "d.csv", "column": "t"}).values == (1.0, 2.0, 4.0)  # the cwd
    monkeypatch.chdir("/")
    with data_directory(tmp_path):
        assert dist({"kind": "empirical", "file": "d.csv", "column": "t"}).values == (1.0, 2.0, 4.0)
    with pytest.raises(ValidationError) as info:
        dist({"kind": "empirical", "file": "d.csv", "column": "t"})
    error, = info.value.errors()
    assert error["ctx"]["message"] == "data file not found: d.csv"
    assert "relative to the current directory" in error["ctx"]["allowed"]


def test_scenario_with_both_runs_through_simulate_and_estimate(tmp_path: Path) -> None:
    write_csv(tmp_path, "handle.csv", "seconds\n" + "\n".join(str(60 + 37 * i % 400) for i in range(200)) + "\n")
    path = write_file(tmp_path, scenario_text(
        patience=LOGNORMAL_MU_SIGMA, handle='{ kind = "empirical", file = "handle.csv", column = "seconds" }'),
        "both.toml")
    s = load_scenario(path)
    result = simulate(path, keep_events=True)
    assert result.replications == 2
    assert len(result.events) > 0
    again = simulate(s, keep_events=True)
    pd.testing.assert_frame_equal(result.metrics, again.metrics)  # same seed, same records
    handled = result.events
    assert len(handled) > 100
    frame = estimate(s)
    assert len(frame) >= 1
    # patience given as data too, and a transfer-free group: still runs
    other = s.with_changes({"services.support.patience": {"kind": "empirical", "values": [30, 60, 600]}})
    assert simulate(other, keep_events=False).replications == 2


# -- empirical: hostile values -----------------------------------------------------------------------------

VALUES_ALLOWED = "allowed: 2 to 100000 numbers of seconds >= 0, not all 0"


@pytest.mark.parametrize(
    ("values", "field", "parts"),
    [
        ("[]", "values", ["0 values; at least 2 are needed", VALUES_ALLOWED]),
        ("[60]", "values", ["1 value; at least 2 are needed", 'one value is kind = "constant"', VALUES_ALLOWED]),
        ("[60, -1, 30]", "values[1]", ["must be >= 0 (seconds)", "got -1.0", VALUES_ALLOWED]),
        ("[60, nan]", "values[1]", ["must be a finite number"]),
        ("[60, inf]", "values[1]", ["must be a finite number"]),
        ("[60, -inf]", "values[1]", ["must be a finite number"]),
        ('[60, "5m"]', "values[1]", ["must be a number", "got '5m'"]),
        ("[60, true]", "values[1]", ["must be a number"]),
        ("[60, [1]]", "values[1]", ["must be a number"]),
        ("[0, 0, 0]", "values", ["all values are 0", VALUES_ALLOWED]),
        ('"60, 90"', "values", ["must be an array"]),
        ("60", "values", ["must be an array"]),
    ],
)
def test_empirical_bad_values(tmp_path: Path, values: str, field: str, parts: list[str]) -> None:
    message = load_error(tmp_path, handle=f'{{ kind = "empirical", values = {values} }}')
    at_field(message, "groups.frontline.handle_time", field)
    mentions(message, *parts)


EMPIRICAL_ALLOWED = 'allowed: either values = [seconds, ...] (at least 2 numbers >= 0, not all 0), or file = '


@pytest.mark.parametrize(
    ("params", "field", "parts"),
    [
        ("", "", ["empirical: no data given", EMPIRICAL_ALLOWED]),
        ('values = [1, 2], file = "d.csv", column = "t"', "values", ["values and file are both given",
                                                                      EMPIRICAL_ALLOWED]),
        ('column = "t"', "column", ["column without file", EMPIRICAL_ALLOWED]),
        ('file = "d.csv"', "column", ["the column to read from 'd.csv' is missing",
                                      'allowed: column = "the name of a column of seconds"']),
        ('file = "d.csv", column = 3', "column", ["must be a string", "allowed: column ="]),
        ('file = 3, column = "t"', "file", ["must be a string"]),
        ('file = "  ", column = "t"', "file", ["an empty file name", EMPIRICAL_ALLOWED]),
        ('file = "d.csv", colum = "t"', "colum", ["unknown field", "'values', 'file', 'column'"]),
        ('mean = 60, values = [1, 2]', "mean", ["unknown field"]),
    ],
)
def test_empirical_bad_forms(tmp_path: Path, params: str, field: str, parts: list[str]) -> None:
    write_csv(tmp_path, "d.csv", "t\n1\n2\n")
    message = load_error(tmp_path, patience=f'{{ kind = "empirical"{", " if params else ""}{params} }}')
    at_field(message, "services.support.patience", field)
    mentions(message, *parts)


# -- empirical: hostile files ------------------------------------------------------------------------------


def file_error(tmp_path: Path, name: str, column: str = "t") -> str:
    return load_error(tmp_path, handle=f'{{ kind = "empirical", file = "{name}", column = "{column}" }}')


@pytest.mark.parametrize(
    ("content", "field", "parts"),
    [
        ("t\n1\nabc\n2\nx\n", "column", ["column 't' of", "d.csv: row 2 (and 1 more) is not a number", "got 'abc'",
                                         "allowed: numbers of seconds >= 0 in every row"]),
        ("t\n1\n\n2\n", None, None),  # a blank line is skipped by CSV readers: fine
        ("t,u\n1,a\n,b\n2,c\n", "column", ["row 2 is empty", "got ''"]),
        ("t\n1\nnan\n", "column", ["row 2 is not a number"]),
        ("t\n1\ninf\n", "column", ["row 2 is not a finite number", "got inf"]),
        ("t\n1\n-5\n3\n", "column", ["row 2 is negative", "got -5.0", "numbers of seconds >= 0"]),
        ("t\n1\n1e400\n", "column", ["row 2 is not a finite number"]),
        ("t\n", "column", ["has 0 values; at least 2 are needed"]),
        ("t\n7\n", "column", ["has 1 value; at least 2 are needed"]),
        ("t\n0\n0\n", "values", ["all values are 0"]),
        ("", "file", ["cannot read", "d.csv as csv: the file is empty"]),
        ("a,b\n1,2\n", "column", ["no column 't' in", "d.csv", "allowed: 'a', 'b'"]),
    ],
)
def test_empirical_bad_csv(tmp_path: Path, content: str, field: str | None, parts: list[str] | None) -> None:
    write_csv(tmp_path, "d.csv", content)
    if field is None:
        text = scenario_text(handle='{ kind = "empirical", file = "d.csv", column = "t" }')
        assert load_scenario(write_file(tmp_path, text)).group("frontline").handle_time.values == (1.0, 2.0)
        return
    message = file_error(tmp_path, "d.csv")
    at_field(message, "groups.frontline.handle_time", field)
    mentions(message, *(parts or []))
    if field in ("file", "column"):
        assert str(tmp_path / "d.csv") in message  # the file, as resolved


def test_empirical_missing_file_and_wrong_type(tmp_path: Path) -> None:
    message = file_error(tmp_path, "nowhere/d.csv")
    at_field(message, "groups.frontline.handle_time", "file")
    mentions(message, f"data file not found: {tmp_path / 'nowhere' / 'd.csv'}", "got 'nowhere/d.csv'",
             "allowed: an existing .csv, .parquet, .pq file (a relative path is relative to the scenario file's folder)")
    message = file_error(tmp_path, "d.xlsx")
    mentions(message, "not a CSV or Parquet file name", "allowed: an existing .csv, .parquet, .pq file")
    (tmp_path / "dir.csv").mkdir()
    mentions(file_error(tmp_path, "dir.csv"), "a directory, not a data file")
    (tmp_path / "binary.csv").write_bytes(bytes(range(256)) * 8)
    mentions(file_error(tmp_path, "binary.csv"), "cannot read", "binary.csv as csv")
    message = file_error(tmp_path, "a\\u0000b.csv")  # a NUL character: no such path can exist
    at_field(message, "groups.frontline.handle_time", "file")
    mentions(message, "cannot read", "embedded null byte")
    (tmp_path / "fake.parquet").write_text("t\n1\n2\n")
    message = file_error(tmp_path, "fake.parquet")
    at_field(message, "groups.frontline.handle_time", "file")
    mentions(message, "cannot read", "fake.parquet as parquet")


@pytest.mark.parametrize(
    ("table", "parts"),
    [
        (pa.table({"t": ["1", "2"]}), ["column 't' of", "holds string, not numbers",
                                        "allowed: a column of numbers (integers or floats)"]),
        (pa.table({"t": [True, False]}), ["holds bool, not numbers"]),
        (pa.table({"t": pa.array([1, 2], pa.duration("s"))}), ["holds durations", "store plain seconds as numbers"]),
        (pa.table({"t": pa.array([1.0, None, 3.0])}), ["row 2 is empty (null)"]),
        (pa.table({"t": pa.array([1.0, float("nan")])}), ["row 2 is not a finite number"]),
        (pa.table({"t": pa.array([1, -2])}), ["row 2 is negative"]),
        (pa.table({"a": [1, 2], "b": [3, 4]}), ["no column 't' in", "allowed: 'a', 'b'"]),
        (pa.table({"t": pa.array([], pa.float64())}), ["has 0 values"]),
    ],
)
def test_empirical_bad_parquet(tmp_path: Path, table: pa.Table, parts: list[str]) -> None:
    pq.write_table(table, tmp_path / "d.parquet")
    message = file_error(tmp_path, "d.parquet")
    at_field(message, "groups.frontline.handle_time", "column")
    mentions(message, *parts, str(tmp_path / "d.parquet"))


def test_empirical_huge_files_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = dists.MAX_VALUES + 1
    write_csv(tmp_path, "d.csv", "t\n" + "1\n" * rows)
    message = file_error(tmp_path, "d.csv")
    at_field(message, "groups.frontline.handle_time", "file")
    mentions(message, f"has {rows} rows", f"at most {dists.MAX_VALUES}", "a random sample")
    pq.write_table(pa.table({"t": np.ones(rows)}), tmp_path / "d.parquet")
    mentions(file_error(tmp_path, "d.parquet"), f"has {rows} rows")
    monkeypatch.setattr(dists, "MAX_DATA_FILE_BYTES", 1000)
    write_csv(tmp_path, "d.csv", "t\n" + "12345\n" * 200)
    mentions(file_error(tmp_path, "d.csv"), "is larger than 0 MiB", "at most")


# -- survival on every distribution ------------------------------------------------------------------------

SURVIVALS = [
    ({"kind": "exponential", "mean": 240}, stats.expon(scale=240)),
    ({"kind": "lognormal", "mean": 300, "cv": 0.9},
     stats.lognorm(s=math.sqrt(math.log1p(0.81)), scale=300 / math.sqrt(1.81))),
    ({"kind": "lognormal", "mu": 5.0, "sigma": 0.8}, stats.lognorm(s=0.8, scale=math.exp(5.0))),
    ({"kind": "gamma", "mean": 540, "cv": 0.7}, stats.gamma(a=1 / 0.49, scale=540 * 0.49)),
    ({"kind": "uniform", "low": 30, "high": 90}, stats.uniform(loc=30, scale=60)),
    ({"kind": "erlang", "mean": 120, "k": 4}, stats.gamma(a=4, scale=30)),
]


@pytest.mark.parametrize(("data", "reference"), SURVIVALS, ids=[d["kind"] + str(i) for i, (d, _) in
                                                                  enumerate(SURVIVALS)])
def test_survival_matches_scipy(data: dict[str, Any], reference: Any) -> None:
    d = dist(data)
    for x in [-5.0, 0.0, 1e-9, 10.0, 29.9, 30.0, 60.0, 89.9, 90.0, 200.0, 540.0, 1e4, 1e6]:
        got = d.survival(x)
        assert isinstance(got, float)
        assert got == pytest.approx(float(reference.sf(x)), rel=1e-9, abs=1e-15), x


def test_survival_of_constant_and_deterministic() -> None:
    for kind in ("constant", "deterministic"):
        d = dist({"kind": kind, "value": 60})
        assert [d.survival(x) for x in (-1, 0, 59.999, 60, 60.001)] == [1.0, 1.0, 1.0, 0.0, 0.0]


def test_survival_of_empirical_is_the_interpolated_cdf() -> None:
    d = dist({"kind": "empirical", "values": VALUES})
    x = np.sort(np.asarray(VALUES))
    n = len(x)
    for point in np.linspace(-10, 1300, 2000):
        inside = x[0] <= point < x[-1]
        # the CDF inverts Q: the largest position p with Q(p / (n - 1)) <= point (ties: the last one)
        k = int(np.searchsorted(x, point, side="right")) - 1
        cdf = 0.0 if point < x[0] else 1.0 if not inside else (k + (point - x[k]) / (x[k + 1] - x[k])) / (n - 1)
        assert d.survival(float(point)) == pytest.approx(1.0 - cdf, abs=1e-12)
    u = np.linspace(0.001, 0.999, 101)
    for level, q in zip(u, interpolated_quantile(VALUES, u)):
        if q not in x:  # away from the atoms of ties, S(Q(u)) = 1 - u
            assert d.survival(float(q)) == pytest.approx(1 - level, abs=1e-12)


@pytest.mark.parametrize("kind", DISTRIBUTION_KINDS)
def test_every_kind_has_a_monotone_survival(kind: str) -> None:
    params = {"exponential": {"mean": 60}, "constant": {"value": 60}, "deterministic": {"value": 60},
              "lognormal": {"mean": 60, "cv": 1.2}, "gamma": {"mean": 60, "cv": 0.5},
              "uniform": {"low": 0, "high": 120}, "erlang": {"mean": 60, "k": 3},
              "empirical": {"values": [5, 20, 60, 61, 200]}}
    d = dist({"kind": kind, **params[kind]})
    xs = np.linspace(-1, 2000, 500)
    s = [d.survival(float(x)) for x in xs]
    assert s[0] == 1.0 and all(0.0 <= v <= 1.0 for v in s)
    assert all(a >= b for a, b in zip(s, s[1:]))
    assert s[-1] < 1e-3
    draws = d.sample(np.random.default_rng(4), 50_000)  # the survival function is the draws' tail
    for x in (30.0, 60.0, 90.0):
        assert d.survival(x) == pytest.approx(float((draws > x).mean()), abs=0.01)


# -- through the command line ------------------------------------------------------------------------------


def test_cli_run_refuses_bad_data_with_exit_2(tmp_path: Path) -> None:
    write_csv(tmp_path, "d.csv", "seconds\n10\nlots\n")
    cases = {
        "missing.toml": ('{ kind = "empirical", file = "no-such.csv", column = "t" }', "data file not found"),
        "column.toml": ('{ kind = "empirical", file = "d.csv", column = "secs" }', "no column 'secs' in"),
        "text.toml": ('{ kind = "empirical", file = "d.csv", column = "seconds" }', "row 2 is not a number"),
        "both.toml": ('{ kind = "lognormal", mean = "5m", cv = 1, mu = 5, sigma = 1 }', "use one form"),
    }
    for name, (handle, expect) in cases.items():
        path = write_file(tmp_path, scenario_text(handle=handle), name)
        result = CliRunner().invoke(COMMAND, ["run", str(path)])
        assert result.exit_code == 2, result.output
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
        mentions(lines[0], str(path), "groups.frontline.handle_time", expect)
        assert "Traceback" not in result.stderr + result.stdout


def test_console_script_exit_2_for_a_missing_data_file(tmp_path: Path) -> None:
    path = write_file(tmp_path, scenario_text(
        patience='{ kind = "empirical", file = "gone.parquet", column = "t" }'), "gone.toml")
    script = Path(sys.executable).with_name("transfer-sim")
    command = [str(script)] if script.exists() else [sys.executable, "-c", "from model.cli import app; app()"]
    done = subprocess.run([*command, "run", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    line, = done.stderr.splitlines()
    mentions(line, "error: ", str(path), "services.support.patience", f"data file not found: {tmp_path / 'gone.parquet'}")


def test_empirical_error_path_has_no_union_tag(tmp_path: Path) -> None:
    message = load_error(tmp_path, handle='{ kind = "empirical", values = [60, -1] }')
    assert "groups.frontline.handle_time.values[1]: " in message, message
