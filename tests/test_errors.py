"""One base for every error of transfer-sim (model.errors), errors that cross a process boundary
intact, broad ``except`` clauses only where they say why, and modules shaped as documented.

The module lists below (``OWN_MODULES``) are the modules whose errors and shape this file checks;
a new module there is picked up by the scans, a new error class must get a pickling case.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pickle
import pkgutil
import re
import warnings
from pathlib import Path

import pandas as pd
import pytest

import model
from model.errors import TransferSimError
from model.experiments import ExperimentError, SweepFailed, SweepResult, SweepWarning, TuneFailed, WorkerDied
from model.scenario import Problem, ScenarioError
from model.workload import WorkTooLarge

from helpers import ROOT

MODEL = ROOT / "model"
PACKAGES = ("model.experiments", "model.scenario", "model.analytic")
MODULES = ("model.errors", "model.results.result", "model.validation", "model.estimate", "model.workload")


def own_modules() -> list[str]:
    names = list(MODULES)
    for pkg in PACKAGES:
        mod = importlib.import_module(pkg)
        names.append(pkg)
        names += [f"{pkg}.{m.name}" for m in pkgutil.iter_modules(mod.__path__)]
    return sorted(names)


OWN_MODULES = own_modules()


def all_modules() -> list[str]:
    """Every module and package of ``model``: the shape and broad-except checks apply to all."""
    names = ["model"]
    for m in pkgutil.walk_packages(model.__path__, "model."):
        names.append(m.name)
    return sorted(names)


ALL_MODULES = all_modules()
ALL_PACKAGES = [n for n in ALL_MODULES if Path(importlib.import_module(n).__file__).name == "__init__.py"]


def source_of(name: str) -> Path:
    return Path(importlib.import_module(name).__file__)


def defined_exceptions(modules: list[str] | None = None) -> list[type[BaseException]]:
    """Every exception class (warnings included) defined in one of ``modules`` (:data:`OWN_MODULES`)."""
    found = []
    for name in OWN_MODULES if modules is None else modules:
        mod = importlib.import_module(name)
        for _, cls in inspect.getmembers(mod, inspect.isclass):
            if issubclass(cls, BaseException) and cls.__module__ == name:
                found.append(cls)
    return found


def a_sweep_result() -> SweepResult:
    failures = [{"point": "p0001", "params": {"groups.g.agents": 2}, "error": "ValueError: no", "type": "ValueError",
                 "message": "no", "traceback": "Traceback ...\n"}]
    return SweepResult(vary={"groups.g.agents": [1, 2]}, replications=2, seed=3, summary=pd.DataFrame(),
                       per_replication=pd.DataFrame(), failures=failures, out=Path("/tmp/s"))


#: one instance of every error class of OWN_MODULES, with the attributes that must survive a pickle
CASES: dict[type[BaseException], tuple[BaseException, tuple[str, ...]]] = {
    TransferSimError: (TransferSimError("plain"), ()),
    ScenarioError: (ScenarioError([Problem("groups.g.agents", "must be >= 1", 0, "agents >= 1")], "f.toml"),
                    ("problems", "source")),
    ExperimentError: (ExperimentError("nothing to vary"), ()),
    WorkerDied: (WorkerDied(-9, "while running p0002"), ("exit_code", "detail")),
    SweepFailed: (SweepFailed(a_sweep_result()), ("failures", "points")),
    TuneFailed: (TuneFailed("groups.g.agents", [{"params": {"groups.g.agents": 5}, "error": "X: y"}]),
                 ("param", "values", "failures")),
    SweepWarning: (SweepWarning("1 of 4 sweep points failed"), ()),
    WorkTooLarge: (WorkTooLarge("this run would simulate about 1e+12 events"), ()),
}


def test_every_error_class_of_these_modules_derives_from_the_base() -> None:
    found = defined_exceptions()
    assert {c.__name__ for c in found} >= {"ScenarioError", "WorkerDied", "SweepFailed", "TuneFailed"}
    strays = [f"{c.__module__}.{c.__qualname__}" for c in found if not issubclass(c, TransferSimError)]
    assert not strays, f"not a TransferSimError: {strays}"


def test_every_error_class_of_the_package_derives_from_the_base() -> None:
    found = defined_exceptions(ALL_MODULES)
    assert {c.__name__ for c in found} >= {"EventNotAllowed", "SuiteError", "AdapterError", "ReportError"}
    strays = [f"{c.__module__}.{c.__qualname__}" for c in found
              if not issubclass(c, TransferSimError) and not c.__name__.startswith("_")]
    assert not strays, f"not a TransferSimError: {strays}"


def test_every_error_class_has_a_pickling_case() -> None:
    missing = [f"{c.__module__}.{c.__qualname__}" for c in defined_exceptions() if c not in CASES]
    assert not missing, f"add a case to CASES for: {missing}"


@pytest.mark.parametrize("cls", list(CASES), ids=lambda c: c.__name__)
def test_each_error_pickles_with_its_message_and_attributes(cls: type[BaseException]) -> None:
    err, attributes = CASES[cls]
    assert type(err) is cls and str(err)
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is cls
    assert str(back) == str(err) and back.args == err.args
    for name in attributes:
        assert getattr(back, name) == getattr(err, name), name


def test_a_pickled_sweep_failure_keeps_its_partial_result() -> None:
    err = CASES[SweepFailed][0]
    back = pickle.loads(pickle.dumps(err))
    assert back.result.failures == err.result.failures and back.result.out == Path("/tmp/s")
    assert "1 of 2 sweep points failed: p0001" in str(back)


def test_the_other_bases_callers_rely_on_are_kept() -> None:
    assert issubclass(ExperimentError, ValueError) and issubclass(SweepFailed, ValueError)
    assert issubclass(TuneFailed, ExperimentError) and issubclass(WorkTooLarge, ValueError)
    assert issubclass(SweepWarning, UserWarning)


def test_a_sweep_warning_raised_as_an_error_is_caught_as_ours() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", SweepWarning)
        with pytest.raises(TransferSimError, match="2 of 4"):
            warnings.warn("2 of 4 sweep points failed", SweepWarning, stacklevel=1)


def test_the_base_is_public_at_the_top() -> None:
    assert model.TransferSimError is TransferSimError


# -- broad except clauses say why ------------------------------------------------------------------
BROAD = re.compile(r"^\s*except\s*(\(\s*)?(Exception|BaseException)\b|^\s*except\s*:")


def unexplained_broad_excepts(path: Path) -> list[str]:
    """``LINE: text`` of each ``except Exception``/``BaseException``/bare ``except`` in ``path`` whose
    comment (on its line, or in the comment block just above) does not start with ``broad``."""
    lines = path.read_text().splitlines()
    return [f"{i + 1}: {line.strip()}" for i, line in enumerate(lines) if BROAD.match(line) and not _explained(lines, i)]


def _explained(lines: list[str], i: int) -> bool:
    if lines[i].partition("#")[2].strip().startswith(("broad", "pragma: no cover - broad")):
        return True
    j = i - 1
    while j >= 0 and lines[j].strip().startswith("#"):  # the comment block just above
        if lines[j].strip().startswith("# broad"):
            return True
        j -= 1
    return False


def test_the_lint_finds_an_unexplained_broad_except(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text(
        "try:\n    x = 1\nexcept Exception:\n    pass\n"
        "try:\n    x = 1\nexcept (Exception, SystemExit):  # broad: every failure is recorded\n    pass\n"
        "try:\n    x = 1\nexcept:\n    pass\n"
        "try:\n    x = 1\nexcept ValueError:\n    pass\n"
        "try:\n    x = 1\n# broad: cleanup, then re-raised\nexcept BaseException:\n    raise\n"
        "try:\n    x = 1\nexcept BaseException as err:  # cleanup\n    raise\n"
    )
    assert unexplained_broad_excepts(path) == ["3: except Exception:", "11: except:", "24: except BaseException as err:  # cleanup"]


@pytest.mark.parametrize("name", ALL_MODULES)
def test_no_broad_except_without_a_reason(name: str) -> None:
    assert unexplained_broad_excepts(source_of(name)) == []


# -- module shape ----------------------------------------------------------------------------------
MAX_LINES = 450


@pytest.mark.parametrize("name", ALL_MODULES)
def test_a_long_module_says_why_at_its_top(name: str) -> None:
    path = source_of(name)
    n = len(path.read_text().splitlines())
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    assert n <= MAX_LINES or "Why one module" in doc, f"{path.relative_to(ROOT)}: {n} lines and no reason"


@pytest.mark.parametrize("pkg", ALL_PACKAGES)
def test_package_init_holds_only_re_exports(pkg: str) -> None:
    tree = ast.parse(source_of(pkg).read_text())
    for i, node in enumerate(tree.body):
        if i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            continue
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["__all__"]:
            continue
        pytest.fail(f"{pkg}/__init__.py line {node.lineno}: {ast.dump(node)[:80]} is not a re-export")


@pytest.mark.parametrize("pkg", ALL_PACKAGES)
def test_package_all_lists_what_it_imports(pkg: str) -> None:
    mod = importlib.import_module(pkg)
    for name in mod.__all__:
        assert hasattr(mod, name), f"{pkg}.__all__ names {name!r}, which it does not have"
