"""QA scorecards per agent, team or queue, and one interaction's inspection detail.

Definitions (one place, in a supervisor's words):

* **inspected** — interactions handled by the agent/team/queue that QA scored (interactions
  with no agent part, such as IVR-only contacts, have no score and are not counted).
* **mean score** — average QA score (0-100) over the inspected interactions.
* **pass rate** — share of inspected interactions that passed (score ≥ pass mark and no
  critical rule failed).
* **top failed rules** — the rules failed most often, with the share of inspected
  interactions in which each failed.

All aggregation runs in the warehouse (Ibis); only the per-group summary comes back.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from cxlens.errors import InputError, NotFoundError
from cxlens.workspace import Workspace

GroupBy = Literal["agent", "team", "queue"]
GROUPINGS: tuple[str, ...] = ("agent", "team", "queue")
TOP_RULES = 3


def _scored(ws: Workspace, by: str) -> Any:
    """Inspected interactions with their grouping key (column ``key``) and optional name."""
    wh = ws.warehouse
    insights = wh.table("interaction_insights")
    insights = insights.filter(insights.qa_score.notnull()).group_by("interaction_id").aggregate(
        qa_score=insights.qa_score.max(), qa_passed=insights.qa_passed.max())
    calls = wh.table("interactions").select("interaction_id", "agent_id", "queue")
    joined = insights.inner_join(calls, "interaction_id")
    if by == "agent":
        joined = joined.filter(joined.agent_id.notnull()).mutate(key=joined.agent_id)
    elif by == "queue":
        joined = joined.mutate(key=joined.queue.fill_null("(none)"))
    else:
        agents = wh.table("agents").select(agent_key="source_id", team="team")
        agents = agents.group_by("agent_key").aggregate(team=agents.team.max())
        joined = joined.left_join(agents, joined.agent_id == agents.agent_key)
        joined = joined.filter(joined.agent_id.notnull()).mutate(key=joined.team.fill_null("(none)"))
    return joined


def scorecards(ws: Workspace, by: GroupBy | str = "agent") -> list[dict[str, Any]]:
    """One scorecard per agent (or team, or queue), best mean score first.

    >>> import cxlens, cxlens.qa
    >>> cxlens.qa.scorecards(cxlens.open("demo-ws"), by="agent")[0]   # doctest: +SKIP
    {'agent': 'A0007', 'name': '林子涵', 'inspected': 212, 'mean_score': 96.1,
     'pass_rate': 0.93, 'top_failed_rules': [{'rule': 'empathy', 'failed': 9, 'rate': 0.042}]}
    """
    if by not in GROUPINGS:
        raise InputError(f"cannot group QA scorecards by {by!r}", f"use one of {', '.join(GROUPINGS)}")
    wh = ws.warehouse
    scored = _scored(ws, by)
    cards = (
        scored.group_by("key")
        .aggregate(inspected=scored.interaction_id.count(), mean_score=scored.qa_score.mean(),
                   passed=scored.qa_passed.cast("int64").sum())
        .to_pyarrow().to_pylist()
    )
    results = wh.table("qa_results")
    failures = results.filter(results.applicable & ~results.passed)
    keyed = scored.select("interaction_id", "key")
    failed = failures.inner_join(keyed, "interaction_id")
    failed = (
        failed.group_by(["key", "rule"]).aggregate(failed=failed.interaction_id.nunique())
        .to_pyarrow().to_pylist()
    )
    by_key: dict[str, list[dict[str, Any]]] = {}
    for row in failed:
        by_key.setdefault(row["key"], []).append(row)
    names = _agent_names(ws) if by == "agent" else {}
    out = []
    for card in cards:
        inspected = int(card["inspected"])
        rules = sorted(by_key.get(card["key"], []), key=lambda r: (-r["failed"], r["rule"]))
        entry: dict[str, Any] = {by: card["key"]}
        if by == "agent":
            entry["name"] = names.get(card["key"])
        entry.update(
            inspected=inspected,
            mean_score=round(float(card["mean_score"]), 1),
            pass_rate=round(int(card["passed"] or 0) / inspected, 4) if inspected else None,
            top_failed_rules=[{"rule": r["rule"], "failed": int(r["failed"]),
                               "rate": round(int(r["failed"]) / inspected, 4)}
                              for r in rules[:TOP_RULES]],
        )
        out.append(entry)
    out.sort(key=lambda c: (-c["mean_score"], str(c[by])))
    return out


def _agent_names(ws: Workspace) -> dict[str, str]:
    agents = ws.warehouse.table("agents").select("source_id", "name")
    return {r["source_id"]: r["name"] for r in agents.to_pyarrow().to_pylist()}


def interaction_detail(ws: Workspace, interaction_id: str) -> dict[str, Any]:
    """Score, pass/fail and every rule's result with its evidence for one interaction."""
    wh = ws.warehouse
    results = wh.table("qa_results")
    rows = (results.filter(results.interaction_id == interaction_id)
            .to_pyarrow().to_pylist())
    if not rows:
        raise NotFoundError(f"no QA results for interaction {interaction_id!r}",
                            "run `cxlens run` (or `cxlens qa`) first, and check the id")
    insights = wh.table("interaction_insights")
    score = (insights.filter(insights.interaction_id == interaction_id)
             .select("qa_score", "qa_passed").limit(1).to_pyarrow().to_pylist())
    return {
        "interaction_id": interaction_id,
        "agent_id": rows[0]["agent_id"],
        "qa_score": score[0]["qa_score"] if score else None,
        "qa_passed": score[0]["qa_passed"] if score else None,
        "rules": [{
            "rule": r["rule"], "applicable": r["applicable"], "passed": r["passed"],
            "weight": r["weight"], "points": r["score"],
            "evidence": json.loads(r["evidence"]) if r["evidence"] else None,
        } for r in rows],
    }
