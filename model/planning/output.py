"""A plan's folder: ``plan.csv``, ``options.csv``, ``plan.toml`` (ready to run), ``plan.json``, a
self-contained ``report.html`` and ``plan.png``, written into a hidden folder and moved into place
whole, so a failure never leaves half a plan."""

from __future__ import annotations

import base64
import html
import json
import math
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..calibration.writer import Writer
from ..charts.style import save_png
from ..results.figures import percent
from ..results.result import describe_folder, folder_written
from .targets import PlanError
from .words import hours_words, options_words, target_words

if TYPE_CHECKING:
    from ..scenario import Scenario
    from .plan import Plan

__all__ = ["write_plan", "scenario_toml", "by_text"]


def by_text(step: float) -> str:
    """An interval as typed: ``"1h"``, ``"30m"``."""
    return f"{step / 3600:g}h" if step % 3600 == 0 else f"{step / 60:g}m"

FILES = ("plan.json", "plan.csv", "options.csv", "plan.toml", "report.html", "plan.png")


def _check_out(out: Path, force: bool) -> None:
    if not out.exists():
        return
    if not out.is_dir():
        raise PlanError(f"{out} is a file, not a folder; give a new or empty folder for the plan")
    entries = [c for c in out.iterdir() if c.name != ".DS_Store"]
    if not entries:
        return
    if (out / "plan.json").is_file():
        if not force:
            raise PlanError(f"{out} already holds an earlier plan (plan.json); use --force to replace it")
        return
    raise PlanError(f"{out} holds {describe_folder(out)}; a plan is written into a new or empty folder")


def scenario_toml(scenario: Scenario, header: list[str]) -> str:
    """The scenario as TOML that :func:`model.scenario.load_scenario` reads back equal, with a header
    comment; each group's staffing profile one step a line."""
    data = scenario.to_dict()
    w = Writer()
    w.comment(*header)
    w.blank()
    for key, value in data.items():
        if not isinstance(value, (dict, list)):
            w.key(key, value)
    for key, value in data.items():
        if isinstance(value, dict):
            w.blank()
            w.header(key, array=False)
            for k, v in value.items():
                w.key(k, v)
    for key, value in data.items():
        if isinstance(value, list):
            for item in value:
                w.blank()
                w.header(key)
                for k, v in item.items():
                    if key == "groups" and k == "agents" and isinstance(v, dict):
                        w.profile("agents", [(c, n, "") for c, n in v["profile"]])
                    else:
                        w.key(k, v)
    return str(w)


def _json(plan: Plan) -> dict[str, Any]:
    def clean(x: Any) -> Any:
        return None if isinstance(x, float) and not math.isfinite(x) else x

    return {
        "answer": plan.answer,
        "met": plan.met,
        "settings": plan.settings,
        "targets": [{"target": str(t.target), "scope": t.scope, "groups": list(t.groups)} for t in plan.targets],
        "hours": hours_words(plan.hours),
        "interval_seconds": plan.step,
        "confidence": plan.confidence,
        "replications": plan.replications,
        "seed": plan.seed,
        "agent_hour_cost": plan.agent_hour_cost,
        "lost_transfer_cost": plan.lost_transfer_cost,
        "agent_hours": plan.chosen.agent_hours,
        "lost_transfers": plan.chosen.lost_transfers,
        "cost": plan.chosen.cost,
        "notes": plan.chosen.notes,
        "table": [{k: clean(v) for k, v in r.items()} for r in plan.table.to_dict(orient="records")],
        "options": [{k: clean(v) for k, v in r.items()} for r in plan.options.to_dict(orient="records")],
    }


def _cell(v: Any, column: str) -> str:
    if isinstance(v, float):
        if v != v:
            return "–"
        if "rate" in column or "occupancy" in column or "service_level" in column:
            return percent(v)
        return f"{v:g}"
    return html.escape(str(v))


def lost_split(plan: Plan) -> str:
    """How the transfers into the planned groups lost in the planned intervals were lost: the timer
    expiring or the customer leaving, as a sentence (empty when none were lost)."""
    pri = plan.chosen.evaluation.per_replication_intervals
    sel = pri[(pri.scope == "target") & pri.key.isin(plan.groups) & pri.interval.isin(plan.chosen.labels)]
    timer = float(sel[sel.metric == "transfer_expired"]["value"].sum())
    left = float(sel[sel.metric == "abandoned_transfer"]["value"].sum())
    if timer + left == 0:
        return ""
    per_day = (timer + left) / plan.replications
    return (f"Of the transfers to {', '.join(plan.groups)} lost in the planned intervals (about {per_day:.3g} per "
            f"simulated day), {100 * timer / (timer + left):.0f} % were the transfer timer expiring and "
            f"{100 * left / (timer + left):.0f} % customers leaving while they waited.")


def _html(plan: Plan, png: bytes) -> str:
    threshold = " or ".join(sorted({f"{float(s.service_level_threshold):g} s" for s in plan.scenario.services}))
    cols = [c for c in plan.table.columns if not c.endswith("ci_low") and not c.endswith("ci_high")]
    head = "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in cols)
    shown = plan.table.copy()
    shown["planned"] = shown["planned"].map({True: "yes", False: "no"})
    shown.loc[shown["staffed_agents"] == 0, "agent_occupancy"] = float("nan")  # no agents: no occupancy
    def cell(r: Any, c: str) -> str:
        low = f"{c} ci_low"
        if low in shown.columns and r[c] == r[c] and c != "agent_occupancy":
            return f"{_cell(r[c], c)} ({_cell(r[low], c)} to {_cell(r[f'{c} ci_high'], c)})"
        return _cell(r[c], c)

    body = "".join("<tr>" + "".join(f"<td>{cell(r, c)}</td>" for c in cols) + "</tr>"
                   for _, r in shown.iterrows())
    options = "".join(f"<li>{html.escape(line)}</li>" for line in options_words(plan))
    notes = "".join(f"<li>{html.escape(n)}</li>" for o in plan.tried for n in o.notes)
    goals = "".join(f"<li>{html.escape(target_words(t, threshold))} ({html.escape(t.scope)}), "
                    f"{html.escape(hours_words(plan.hours))}</li>" for t in plan.targets)
    conf = ("the mean over the simulated days meets the target" if plan.confidence == 0 else
            f"the {100 * plan.confidence:g} % confidence interval over the {plan.replications} simulated days "
            "lies on the good side of the target: for an abandonment rate its upper end is at or under it")
    img = base64.b64encode(png).decode("ascii")
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Staffing plan: {html.escape(plan.scenario.name or 'scenario')}</title>
<style>body{{font:15px/1.5 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}}
.answer{{font-size:1.15em;background:#eef5fb;border-left:4px solid #0072B2;padding:.8em 1em}}
table{{border-collapse:collapse;font-size:13px}}td,th{{border-bottom:1px solid #ddd;padding:3px 8px;text-align:right}}
th{{background:#f4f4f4}}img{{max-width:100%}}dt{{font-weight:600}}</style></head><body>
<h1>Staffing plan: {html.escape(plan.scenario.name or 'scenario')}</h1>
<p class="answer" id="answer">{html.escape(plan.answer)}</p>
<h2>What was asked</h2><ul>{goals}</ul>
<p>A target counts as met when {html.escape(conf)}. Agents change every {by_text(plan.step)}.</p>
<p>{html.escape(lost_split(plan))}</p>
<h2>Settings compared</h2><ul>{options}</ul>
{f'<h2>Why some settings fall short</h2><ul>{notes}</ul>' if notes else ''}
<h2>Interval by interval</h2><img alt="agents and figures per interval" src="data:image/png;base64,{img}">
<table><tr>{head}</tr>{body}</table>
<p>The recommended scenario is <code>plan.toml</code> next to this page: <code>transfer-sim run plan.toml --by {by_text(plan.step)}</code>.</p>
<h2>Glossary</h2><dl>
<dt>agents</dt><dd>The group's agents on shift in the interval that the plan sets (named agents keep their own shifts and come on top).</dd>
<dt>transfer abandonment</dt><dd>The share of transfers into the group that end without an agent joining: the transfer timer expired, or the customer left while waiting.</dd>
<dt>queue abandonment</dt><dd>The share of new contacts that leave (or are dissuaded) before a first agent answers.</dd>
<dt>service level</dt><dd>The share of new contacts answered within {html.escape(threshold)} (the service's threshold).</dd>
<dt>occupancy</dt><dd>The share of the agents' staffed chat-slot time spent in conversations.</dd>
<dt>agent-hours</dt><dd>Agents on shift times hours, in the simulated window, for the planned groups.</dd>
<dt>lost transfers</dt><dd>Contacts whose transfer ended without an agent (timer expired or customer left), per simulated window.</dd>
</dl><p>Made by transfer-sim on {datetime.now(timezone.utc):%Y-%m-%d} from {plan.replications} simulated days per staffing, seed {plan.seed}.</p>
</body></html>
"""


def write_plan(plan: Plan, directory: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Write the plan's files into ``directory`` (new or empty, or an earlier plan with ``force``)."""
    from .chart import plan_chart

    out = Path(directory)
    _check_out(out, force)
    with folder_written(out) as tmp:
        plan.table.to_csv(tmp / "plan.csv", index=False)
        plan.options.to_csv(tmp / "options.csv", index=False)
        header = [f"Planned by transfer-sim plan from {plan.scenario.name or 'the scenario'}: {plan.answer}"]
        (tmp / "plan.toml").write_text(scenario_toml(plan.scenario, header), encoding="utf-8")
        (tmp / "plan.json").write_text(json.dumps(_json(plan), indent=2, default=str) + "\n", encoding="utf-8")
        save_png(plan_chart(plan), tmp / "plan.png")
        (tmp / "report.html").write_text(_html(plan, (tmp / "plan.png").read_bytes()), encoding="utf-8")
    return out
