"""Speed and memory benchmark of the simulation engine (``make bench``).

One process, one run: the Erlang-A scenario (M/M/10+M, arrival rate 9.5/min, exponential handle
time of mean 1 min, exponential patience of mean 2 min) simulated by

* a plain SimPy model written here (a ``Resource``, ``yield request | timeout(patience)``),
* Ciw (optional, the ``bench`` extra; skipped with a note when not installed),
* our engine through its public API, without and with the event log,

on the same seeds and the same horizon (``--arrivals`` customers expected, 200,000 by default).
Each engine's speed is the median over ``--runs`` runs (interleaved, so drift of the machine
hits every engine alike) of customers simulated per wall second; its P(abandon), pooled over the
runs, stands beside the exact Erlang-A value so a fast but wrong engine cannot pass.

Then the shipped baseline scenario (transfers, offers, rejects, timeouts): simulated contacts per
second, and the peak memory growth of a run with the event log not kept, measured in a fresh
subprocess at 250,000, 500,000 and 1,000,000 arrivals (it must stay flat).

``--json`` prints everything as one JSON object; ``--profile`` adds a cProfile summary of our
engine (top functions by own time). Nothing here is asserted by the test suite on wall-clock time.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import simpy

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

from model.analytic import erlang_a  # noqa: E402
from model.scenario import load_scenario, scenario_from_dict  # noqa: E402
from model.sim import simulate  # noqa: E402

# the scenario, per minute
LAM, MU, THETA, AGENTS = 9.5, 1.0, 0.5, 10
EXACT_P_ABANDON = 0.084452  # Erlang A, M/M/10+M with the figures above (model.analytic.erlang_a)

# targets: our time / plain SimPy time, per engine
TARGETS = {"ours": 1.25, "ours+log": 1.6}
BASELINE_TOML = ROOT / "scenarios" / "baseline.toml"
MEMORY_ARRIVALS = (250_000, 500_000, 1_000_000)
MEMORY_FLAT_SLACK_MIB = 16.0  # growth from the smallest to the largest size allowed as "flat"


# -- the engines on the Erlang-A scenario ---------------------------------------------------
def simpy_erlang_a(arrivals: int, seed: int) -> tuple[int, int]:
    """The plain SimPy model: one process per customer. Returns ``(arrivals, abandoned)``."""
    horizon = arrivals / LAM
    gap = random.Random(f"{seed}-arrivals").expovariate
    patience = random.Random(f"{seed}-patience").expovariate
    handle = random.Random(f"{seed}-handle").expovariate
    env = simpy.Environment()
    agents = simpy.Resource(env, capacity=AGENTS)
    counts = [0, 0]

    def customer() -> Any:
        with agents.request() as req:
            got = yield req | env.timeout(patience(THETA))
            if req in got:
                yield env.timeout(handle(MU))
            else:
                counts[1] += 1

    def source() -> Any:
        while True:
            yield env.timeout(gap(LAM))
            counts[0] += 1
            env.process(customer())

    env.process(source())
    env.run(until=horizon)
    return counts[0], counts[1]


def ciw_erlang_a(arrivals: int, seed: int) -> tuple[int, int]:
    """Ciw with ``reneging_time_distributions``, to the same horizon. Returns ``(arrivals, reneged)``."""
    import ciw

    ciw.seed(seed)
    net = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(LAM)],
        service_distributions=[ciw.dists.Exponential(MU)],
        number_of_servers=[AGENTS],
        reneging_time_distributions=[ciw.dists.Exponential(THETA)],
    )
    q = ciw.Simulation(net)
    q.simulate_until_max_time(arrivals / LAM)
    spawned = q.nodes[0].number_of_individuals
    reneged = len(q.get_all_records(only=["renege"]))
    return spawned, reneged


def erlang_a_scenario(arrivals: int, seed: int) -> Any:
    return scenario_from_dict(
        {
            "simulation": {"horizon": arrivals / LAM * 60, "warmup": 0, "replications": 1, "seed": seed},
            "services": [
                {
                    "name": "s",
                    "entry_group": "g",
                    "arrivals": {"kind": "poisson", "rate_per_hour": LAM * 60},
                    "patience": {"kind": "exponential", "mean": 60 / THETA},
                }
            ],
            "groups": [{"name": "g", "agents": AGENTS, "handle_time": {"kind": "exponential", "mean": 60 / MU}}],
        },
        name="erlang-a",
    )


def ours_erlang_a(arrivals: int, seed: int, keep_events: bool) -> tuple[int, int]:
    """Our engine, public API only (the scenario is built inside the timed call, as a user would)."""
    r = simulate(erlang_a_scenario(arrivals, seed), keep_events=keep_events, timeline_step=None)
    return int(r.metric("arrivals")[0]), int(r.metric("abandoned_queue")[0])


def have_ciw() -> bool:
    try:
        import ciw  # noqa: F401
    except ImportError:
        return False
    return True


ENGINES: dict[str, Any] = {
    "simpy": simpy_erlang_a,
    "ciw": ciw_erlang_a,
    "ours": lambda n, s: ours_erlang_a(n, s, keep_events=False),
    "ours+log": lambda n, s: ours_erlang_a(n, s, keep_events=True),
}
LABELS = {
    "simpy": "plain SimPy (Resource, request | timeout)",
    "ciw": "Ciw (reneging_time_distributions)",
    "ours": "ours, event log not kept",
    "ours+log": "ours, event log kept",
}


def _timed(fn: Any, *args: Any) -> tuple[float, Any]:
    gc.collect()
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


WARMUP_ARRIVALS = 2_000  # an untimed small run first: imports and one-time set-up are not timed


def p_abandon_tolerance(p: float, n: int) -> float:
    """How far a pooled P(abandon) over ``n`` arrivals may sit from the exact value.

    Abandonments are positively correlated in a congested queue: over 30 seeds of 50,000
    arrivals the standard deviation of P(abandon) was 1.9 times the binomial one (2.4 over the
    benchmark's 3 x 200,000). Ten binomial standard errors are thus about four real ones: an
    exact engine fails by chance about once in 10,000, while a wrong patience or handle-time
    rate (or no abandonment) is far outside. Never under 0.002.
    """
    return max(0.002, 10.0 * math.sqrt(p * (1 - p) / max(n, 1)))


def bench_erlang_a(arrivals: int = 200_000, runs: int = 3, seed: int = 1, engines: list[str] | None = None) -> dict[str, Any]:
    """Time every engine on the Erlang-A scenario: ``runs`` interleaved rounds on seeds
    ``seed, seed+1, ...``; speed is the median of customers per second."""
    names = list(ENGINES) if engines is None else list(engines)
    if "ciw" in names and not have_ciw():
        names.remove("ciw")
        skipped = {"ciw": "not installed (pip install -e '.[bench]')"}
    else:
        skipped = {}
    exact = erlang_a(AGENTS, LAM, MU, THETA).p_abandon
    samples: dict[str, list[tuple[float, int, int]]] = {n: [] for n in names}
    for name in names:
        ENGINES[name](min(arrivals, WARMUP_ARRIVALS), seed)
    for r in range(runs):
        for name in names:
            dt, (arr, ab) = _timed(ENGINES[name], arrivals, seed + r)
            samples[name].append((dt, arr, ab))
    results: dict[str, Any] = {}
    for name in names:
        s = samples[name]
        rate = statistics.median(arr / dt for dt, arr, _ in s)
        total_arr = sum(arr for _, arr, _ in s)
        total_ab = sum(ab for _, _, ab in s)
        p = total_ab / total_arr if total_arr else math.nan
        tol = p_abandon_tolerance(exact, total_arr)
        results[name] = {
            "label": LABELS[name],
            "customers_per_second": rate,
            "seconds": [dt for dt, _, _ in s],
            "arrivals": [arr for _, arr, _ in s],
            "abandoned": [ab for _, _, ab in s],
            "p_abandon": p,
            "p_abandon_ok": abs(p - exact) <= tol,
        }
    base = results.get("simpy", {}).get("customers_per_second")
    for name, res in results.items():
        # time relative to the plain SimPy model (same work): its rate over ours
        res["time_ratio_to_simpy"] = base / res["customers_per_second"] if base else None
        target = TARGETS.get(name)
        res["target_time_ratio"] = target
        checks = [res["p_abandon_ok"]]
        if target is not None and res["time_ratio_to_simpy"] is not None:
            checks.append(res["time_ratio_to_simpy"] <= target)
        if target is not None and "ciw" in results:
            res["faster_than_ciw"] = res["customers_per_second"] > results["ciw"]["customers_per_second"]
            checks.append(res["faster_than_ciw"])
        res["pass"] = all(checks)
    return {
        "scenario": "erlang-a: M/M/10+M, lambda 9.5/min, mean handle 1 min, mean patience 2 min",
        "arrivals": arrivals,
        "runs": runs,
        "seeds": list(range(seed, seed + runs)),
        "exact_p_abandon": EXACT_P_ABANDON,
        "exact_p_abandon_computed": exact,
        "p_abandon_tolerance": p_abandon_tolerance(exact, arrivals * runs),
        "engines": results,
        "skipped": skipped,
    }


# -- the baseline scenario ------------------------------------------------------------------
def baseline_scenario(arrivals: int, seed: int | None = None) -> Any:
    """``scenarios/baseline.toml``, one replication, its horizon scaled to ~``arrivals`` arrivals."""
    sc = load_scenario(BASELINE_TOML)
    rate_per_s = sum(s.arrivals.rate_per_hour for s in sc.services) / 3600.0
    changes: dict[str, Any] = {"simulation.horizon": arrivals / rate_per_s, "simulation.replications": 1}
    if seed is not None:
        changes["simulation.seed"] = seed
    return sc.with_changes(changes)


def bench_baseline(arrivals: int = 200_000, runs: int = 3, seed: int = 2026) -> dict[str, Any]:
    """Simulated contacts per second on the baseline scenario (transfers included), no event log."""
    rates, seconds, counts = [], [], []
    simulate(baseline_scenario(min(arrivals, WARMUP_ARRIVALS)), keep_events=False, timeline_step=None)
    for r in range(runs):
        sc = baseline_scenario(arrivals, seed + r)
        dt, res = _timed(simulate, sc, None, None, False, None)
        n = int(res.metric("arrivals")[0])
        rates.append(n / dt)
        seconds.append(dt)
        counts.append(n)
    return {
        "scenario": "baseline.toml (transfers, offers, rejects, timeouts), event log not kept",
        "arrivals": counts,
        "seconds": seconds,
        "contacts_per_second": statistics.median(rates),
    }


def _status_kib(field: str) -> int | None:
    """A ``/proc/self/status`` figure in KiB (Linux), or ``None``."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset this process's RSS high-water mark to its current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _memory_child(arrivals: int, keep_timeline: bool) -> dict[str, Any]:
    """In a fresh process: peak RSS growth of one baseline run, event log not kept.

    Linux: the RSS high-water mark (``VmHWM``) is reset just before the run and read after it, so
    the growth is the run's own. (``ru_maxrss`` is not used there: Linux carries it over from the
    parent across ``exec``, which would hide the child's growth under the parent's peak.)
    Elsewhere: ``ru_maxrss`` after minus before.
    """
    step = 300.0 if keep_timeline else None
    simulate(baseline_scenario(WARMUP_ARRIVALS), keep_events=False, timeline_step=step)  # load everything lazy
    sc = baseline_scenario(arrivals)
    gc.collect()
    if _status_kib("VmHWM") is not None and _reset_peak():
        method = "VmHWM (reset before the run) minus VmRSS before it"
        before = float(_status_kib("VmRSS") or 0) * 1024
        peak_after: Any = lambda: float(_status_kib("VmHWM") or 0) * 1024
    else:
        method = "ru_maxrss after minus before"
        scale = 1.0 if sys.platform == "darwin" else 1024.0  # bytes on macOS, KiB elsewhere
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
        peak_after = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
    t0 = time.perf_counter()
    res = simulate(sc, keep_events=False, timeline_step=step)
    dt = time.perf_counter() - t0
    peak = peak_after()
    n = int(res.metric("arrivals")[0])
    mib = 1024.0 * 1024.0
    return {
        "arrivals": n,
        "seconds": dt,
        "contacts_per_second": n / dt,
        "rss_before_mib": before / mib,
        "peak_rss_mib": peak / mib,
        "peak_rss_growth_mib": (peak - before) / mib,
        "method": method,
    }


def bench_memory(sizes: tuple[int, ...] = MEMORY_ARRIVALS, keep_timeline: bool = False) -> dict[str, Any]:
    """Peak memory of a baseline run per size, each in its own subprocess."""
    rows = []
    for n in sizes:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--memory-child", str(n)]
        if keep_timeline:
            cmd.append("--timeline")
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    growth = [r["peak_rss_growth_mib"] for r in rows]
    return {
        "scenario": "baseline.toml, one replication, event log not kept, "
        + ("timeline every 300 s" if keep_timeline else "no timeline"),
        "measure": "peak RSS of a fresh process during the run minus its RSS before the run",
        "runs": rows,
        "flat": (max(growth) - min(growth)) <= MEMORY_FLAT_SLACK_MIB if growth else None,
    }


# -- profile --------------------------------------------------------------------------------
def profile_ours(arrivals: int = 200_000, keep_events: bool = False, top: int = 15) -> str:
    import cProfile
    import io
    import pstats

    sc = erlang_a_scenario(arrivals, 1)
    prof = cProfile.Profile()
    prof.enable()
    simulate(sc, keep_events=keep_events, timeline_step=None)
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).strip_dirs().sort_stats("tottime").print_stats(top)
    return buf.getvalue()


# -- output ---------------------------------------------------------------------------------
def format_table(report: dict[str, Any]) -> str:
    e = report["erlang_a"]
    lines = [
        f"Erlang-A (M/M/10+M), {e['arrivals']:,} arrivals per run, median of {e['runs']} runs, seeds {e['seeds']}",
        f"{'engine':<41} {'customers/s':>12} {'time/SimPy':>11} {'P(abandon)':>11} {'exact':>9} {'target':>22}  verdict",
    ]
    for name, r in e["engines"].items():
        ratio = r["time_ratio_to_simpy"]
        if r["target_time_ratio"] is not None:
            target = f"<= {r['target_time_ratio']:.2f}" + (", > Ciw" if "faster_than_ciw" in r else "")
        else:
            target = "reference" if name == "simpy" else "-"
        verdict = "PASS" if r["pass"] else "FAIL"
        if not r["p_abandon_ok"]:
            verdict += " (P(abandon) off)"
        lines.append(
            f"{r['label']:<41} {r['customers_per_second']:>12,.0f} "
            f"{(f'{ratio:.3f}' if ratio is not None else '-'):>11} {r['p_abandon']:>11.5f} "
            f"{e['exact_p_abandon']:>9.6f} {target:>22}  {verdict}"
        )
    for name, why in e["skipped"].items():
        lines.append(f"{name}: skipped, {why}")
    lines.append(f"P(abandon) tolerance (pooled over runs): +/- {e['p_abandon_tolerance']:.4f}")
    b = report.get("baseline")
    if b:
        lines += ["", f"Baseline scenario ({b['scenario']}): {b['contacts_per_second']:,.0f} contacts/s "
                  f"(median of {len(b['seconds'])} runs of ~{b['arrivals'][0]:,} arrivals)"]
    for m in (report.get("memory"), report.get("memory_with_timeline")):
        if not m:
            continue
        lines += ["", f"Peak memory, {m['scenario']} ({m['measure']}):"]
        lines.append(f"{'arrivals':>12} {'peak RSS MiB':>13} {'growth MiB':>11} {'contacts/s':>11}")
        for r in m["runs"]:
            lines.append(
                f"{r['arrivals']:>12,} {r['peak_rss_mib']:>13.1f} {r['peak_rss_growth_mib']:>11.2f} "
                f"{r['contacts_per_second']:>11,.0f}"
            )
        lines.append("flat: " + ("yes" if m["flat"] else "NO"))
    return "\n".join(lines)


def run(
    arrivals: int = 200_000,
    runs: int = 3,
    seed: int = 1,
    baseline_arrivals: int | None = None,
    memory_sizes: tuple[int, ...] | None = MEMORY_ARRIVALS,
    engines: list[str] | None = None,
    memory_timeline: bool = False,
) -> dict[str, Any]:
    """Everything ``make bench`` prints, as one dict (the ``--json`` object)."""
    report: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "simpy": simpy.__version__,
        },
        "erlang_a": bench_erlang_a(arrivals, runs, seed, engines),
        "baseline": bench_baseline(baseline_arrivals or arrivals, runs),
        "memory": bench_memory(memory_sizes) if memory_sizes else None,
    }
    if memory_sizes and memory_timeline:
        report["memory_with_timeline"] = bench_memory(memory_sizes, keep_timeline=True)
    if have_ciw():
        import ciw

        report["machine"]["ciw"] = ciw.__version__
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arrivals", type=int, default=200_000, help="Erlang-A customers per run (default 200,000)")
    ap.add_argument("--runs", type=int, default=3, help="runs per engine; speed is the median (default 3)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the first run (run i uses seed+i)")
    ap.add_argument("--baseline-arrivals", type=int, default=None, help="baseline scenario arrivals per run")
    ap.add_argument(
        "--memory-arrivals", type=str, default=",".join(str(n) for n in MEMORY_ARRIVALS),
        help="comma-separated sizes for the memory runs, or 'none' (default 250000,500000,1000000)",
    )
    ap.add_argument(
        "--memory-timeline", action="store_true",
        help="also measure memory with the default timeline (a sample every 300 s, which grows with the horizon)",
    )
    ap.add_argument("--engines", type=str, default=None, help="comma-separated subset of " + ",".join(ENGINES))
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--profile", action="store_true", help="also print a cProfile summary of our engine")
    ap.add_argument("--memory-child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--timeline", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.memory_child is not None:
        print(json.dumps(_memory_child(args.memory_child, args.timeline)))
        return 0
    sizes = None if args.memory_arrivals.lower() in ("none", "") else tuple(int(x) for x in args.memory_arrivals.split(","))
    engines = args.engines.split(",") if args.engines else None
    report = run(args.arrivals, args.runs, args.seed, args.baseline_arrivals, sizes, engines, args.memory_timeline)
    if args.profile:
        report["profile"] = {"ours": profile_ours(args.arrivals, False), "ours+log": profile_ours(args.arrivals, True)}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_table(report))
        if args.profile:
            for name, text in report["profile"].items():
                print(f"\ncProfile of {name} ({args.arrivals:,} arrivals), top functions by own time:\n{text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
