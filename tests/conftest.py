"""Shared test set-up: the fixtures several test files use, and the system programs some tests need
(Chromium, Graphviz's dot, Node). Shared data and builders (no fixtures) are in ``tests/helpers.py``.

Fixtures: ``tiny_file`` (the TOML file of ``helpers.TINY``, once per session) and ``tiny`` (that
scenario, loaded; scenarios are immutable, so sharing one is safe).

Locally a missing program skips the tests that need it, with a message that says how to get it.
In CI (``CI`` set, as ``.ci/run`` does) a missing program FAILS those tests instead: CI claims to
run the screenshot, diagram and JavaScript-adapter tests, so it must not turn them into silent skips.

Use the marker on a test (or a module-level alias of it)::

    @pytest.mark.requires_tool("chromium", "chromium-browser", hint="run 'make system-deps' as root")

or call :func:`require_tool` inside a test or fixture; it returns the program's path.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from helpers import TINY, write_file
from model.scenario import Scenario, load_scenario


def in_ci() -> bool:
    """True when the ``CI`` variable is set to anything but an empty/false value."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_tool(*names: str, hint: str = "") -> str:
    """The path of the first of ``names`` found on PATH; otherwise skip (locally) or fail (in CI)."""
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    what = " or ".join(repr(n) for n in names)
    msg = f"{what} is not on PATH" + (f" ({hint})" if hint else "")
    if in_ci():
        pytest.fail(f"{msg}; CI (CI set) needs it: .ci/system-deps should have installed it", pytrace=False)
    pytest.skip(msg)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "requires_tool(*names, hint=''): needs one of these programs on PATH; "
        "skipped locally without it, FAILS in CI (CI set)",
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers(name="requires_tool"):
        require_tool(*mark.args, hint=mark.kwargs.get("hint", ""))


@pytest.fixture(scope="session")
def tiny_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``helpers.TINY`` written to a file (``tiny.toml``), for tests that pass a path or run the CLI."""
    return write_file(tmp_path_factory.mktemp("scenario"), TINY, "tiny.toml")


@pytest.fixture(scope="session")
def tiny(tiny_file: Path) -> Scenario:
    """The scenario of ``helpers.TINY``, loaded from :func:`tiny_file` (its source is that file)."""
    return load_scenario(tiny_file)
