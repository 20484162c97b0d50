"""The body of ``transfer-sim conform`` (the typer declaration lives in :mod:`model.cli`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from ..errors import TransferSimError
from .adapters import STEP_TIMEOUT, AdapterError, adapter_from_spec
from .runner import format_failure, run_suite
from .suite import SuiteError, default_suite, dump_suite, format_coverage, load_suite, suite_coverage

__all__ = ["ConformUsageError", "conform"]


class ConformUsageError(TransferSimError, ValueError):
    """Bad input to the command (exit status 2)."""


def conform(
    adapter_spec: str | None,
    suite_path: Path | None = None,
    write_suite: Path | None = None,
    random: bool = False,
    max_examples: int = 300,
    max_steps: int = 25,
    seed: int | None = None,
    out: Path = Path("conformance-failure.json"),
    timeout: float = STEP_TIMEOUT,
    verbose: bool = False,
    echo: Callable[[str], None] = print,
) -> int:
    """Run the suite (or the random mode) against an adapter; return the exit status."""
    if adapter_spec is None and write_suite is None:
        raise ConformUsageError("--adapter is required (model, python:MODULE:CLASS or exec:COMMAND)")
    try:
        suite = load_suite(suite_path) if suite_path is not None else default_suite()
    except SuiteError as err:
        raise ConformUsageError(str(err)) from None
    if write_suite is not None:
        dump_suite(suite, write_suite)
        echo(f"wrote {write_suite} ({len(suite['cases'])} cases)")
        if adapter_spec is None:
            return 0
    assert adapter_spec is not None
    try:
        adapter = adapter_from_spec(adapter_spec, timeout=timeout, check=True)
    except AdapterError as err:
        raise ConformUsageError(str(err)) from None
    try:
        if random:
            return _random(adapter, max_examples, max_steps, seed, out, verbose, echo)
        source = str(suite_path) if suite_path is not None else "generated from model.lifecycle.TransferLifecycle"
        echo(f"suite: {len(suite['cases'])} cases ({source})")

        def show(case: dict, result) -> None:  # type: ignore[no-untyped-def]
            if result.passed:
                if verbose:
                    echo(f"PASS {result.case_id}  {result.title}")
            else:
                echo(f"FAIL {result.case_id}  {result.title}")

        result = run_suite(adapter, suite, on_result=show)
    finally:
        adapter.close()
    failures = result.failures
    echo(f"\n{len(result.results) - len(failures)} passed, {len(failures)} failed")
    echo("coverage of the suite:")
    echo(format_coverage(suite_coverage(suite), details=verbose))
    if failures:
        cases = {c["id"]: c for c in suite["cases"]}
        echo(f"\nfailures ({len(failures)}; the shortest first):")
        for r in sorted(failures, key=lambda r: len(cases[r.case_id]["steps"]))[: 10 if not verbose else None]:
            echo("")
            echo(format_failure(cases[r.case_id], r))
        if len(failures) > 10 and not verbose:
            echo(f"\n... and {len(failures) - 10} more (--verbose shows all)")
        return 1
    return 0


def _random(adapter, max_examples: int, max_steps: int, seed: int | None, out: Path, verbose: bool, echo) -> int:  # type: ignore[no-untyped-def]
    from .random_mode import random_check

    how = "repeatable" if seed is None else f"seed {seed}"
    echo(f"random mode: up to {max_examples} random timelines of {max_steps} steps (Hypothesis, {how})")
    result = random_check(adapter, max_examples=max_examples, max_steps=max_steps, seed=seed)
    if result.passed:
        echo(f"no disagreement found in {result.examples} timelines ({result.contacts} contacts)")
    else:
        echo(f"disagreement found in timeline {result.examples} (contact {result.contacts})")
    echo("coverage of the random walk" + (" until then:" if not result.passed else ":"))
    echo(format_coverage(result.coverage, details=verbose))
    if result.passed:
        return 0
    suite = result.suite()
    assert suite is not None and result.replay is not None and result.case is not None
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(suite, indent=1) + "\n")
    echo("\nshrunk to a minimal timeline:\n")
    echo(format_failure(result.case, result.replay))
    echo(f"\nwrote {out}; replay it with: transfer-sim conform --adapter ... --suite {out}")
    return 1
