"""The what-if page in a real browser (the system Chromium, driven by Playwright; no browser is
downloaded): every slider moved to every value, by script and by keyboard, and each time every
headline figure must read exactly the grid's value for that point in whatif.csv, formatted as the
page formats it (written out here); no console error, no script error, and no request but the file.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from helpers import AGENTS, TIMEOUT, VARY
from model.whatif import whatif

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - the test extra installs it
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):  # as conftest.in_ci
        raise
    pytest.skip("playwright is not installed (pip install -e '.[test]')", allow_module_level=True)

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SECONDS = {"time_to_join_mean"}
WORDS = {TIMEOUT: ["30 s", "90 s"], AGENTS: ["1 agent", "3 agents"]}


def shown(x: float, metric: str) -> str:
    """``"4.2 %"`` for a proportion (clipped to 0-100 %), ``"31.5 s"`` for a time, ``"-"`` for none."""
    if x is None or math.isnan(x):
        return "-"
    if metric in SECONDS:
        return f"{x + 0.0:.1f} s"
    return f"{100 * min(max(x, 0.0), 1.0) + 0.0:.1f} %"


@pytest.fixture(scope="module")
def page_dir(tiny, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("whatif") / "page"
    whatif(tiny, VARY, 3, seed=5, by="30m", executor="serial", progress=False, out=out)
    return out


def expected(csv: pd.DataFrame, point: int) -> dict[tuple[str, str], str]:
    rows = csv[(csv.point == point) & (csv.interval == "all")]
    return {(r.metric, r.scope): shown(r.mean, r.metric) for r in rows.itertuples(index=False)}


FIGURES_JS = """() => Object.fromEntries(Array.from(document.querySelectorAll('[data-metric][data-scope]'))
    .map(el => [el.dataset.metric + '|' + el.dataset.scope, el.textContent.trim()]))"""
CIS_JS = "() => Array.from(document.querySelectorAll('[data-ci-for]')).map(el => el.textContent.trim())"
INK_JS = """(sel) => { const c = document.querySelector(sel); const d = c.getContext('2d')
    .getImageData(0, 0, c.width, c.height).data; let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i]) n++; }
    return n; }"""


def read(page) -> dict[tuple[str, str], str]:
    return {tuple(k.split("|", 1)): v for k, v in page.evaluate(FIGURES_JS).items()}


@pytest.mark.requires_tool("chromium", "chromium-browser", hint="run 'make system-deps' as root to install it")
def test_every_slider_position_shows_the_grids_figures_and_nothing_is_fetched(page_dir: Path) -> None:
    csv = pd.read_csv(page_dir / "whatif.csv", keep_default_na=False, na_values=[""])
    url = (page_dir / "index.html").resolve().as_uri()
    requests: list[str] = []
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium") or shutil.which("chromium-browser"),
                                    args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                    if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.goto(url)
            page.wait_for_load_state("load")
            assert page.title() == "What if: tiny (3 replications per point)"
            assert read(page) == expected(csv, 0)  # neither of the scenario's own values is on the grid
            assert page.evaluate(INK_JS, "#interval-chart") > 1000, "the chart per interval is blank"

            position = {TIMEOUT: 0, AGENTS: 0}
            for path in (TIMEOUT, AGENTS):
                slider = page.locator(f'input[type=range][data-param="{path}"]')
                for j in (1, 0, 1):
                    slider.evaluate("(el, v) => { el.value = String(v); "
                                    "el.dispatchEvent(new Event('input', {bubbles: true})); }", j)
                    position[path] = j
                    point = 2 * position[TIMEOUT] + position[AGENTS]  # the first path outermost
                    assert read(page) == expected(csv, point), (path, j)
                    assert page.locator(f'output[data-value-for="{path}"]').text_content() == WORDS[path][j]
                    assert all(t.startswith(("95 % CI ", "no ")) for t in page.evaluate(CIS_JS))

            # the keyboard moves a slider too: Home, then the arrow to the next value
            slider = page.locator(f'input[type=range][data-param="{TIMEOUT}"]')
            slider.focus()
            page.keyboard.press("Home")
            assert read(page) == expected(csv, 2 * 0 + position[AGENTS])
            page.keyboard.press("ArrowRight")
            assert read(page) == expected(csv, 2 * 1 + position[AGENTS])
            assert page.locator(f'output[data-value-for="{TIMEOUT}"]').text_content() == "90 s"

            # another figure in the charts, by the list and by a click on a figure
            page.select_option("#chart-figure", index=3)
            page.locator('[data-fig-row]').nth(1).click()
            assert page.evaluate(INK_JS, "canvas[data-chart-param='0']") > 1000, "the setting chart is blank"
        finally:
            browser.close()
    assert requests == [url], f"the page asked for more than itself: {requests}"
    assert problems == []
