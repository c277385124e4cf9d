"""The ``qa`` stage: inspect every interaction that has text, write scores and rule detail.

Reads ``messages`` (streamed in interaction order, joined with the interaction's agent and
channel, the text stage's customer sentiment and the speech step's silence metrics), scores each
conversation with :class:`~cxlens.qa.engine.Inspector`, and writes

* ``qa_results`` — one row per interaction × rule: passed, applicable, weight, points, evidence
  (JSON: message ``seq`` and character span of the matched phrase, or why the rule did not apply);
* ``interaction_insights.qa_score`` / ``qa_passed`` — creating the row when the text stage has not.

Interactions with a body (``interactions.text``) but no messages are inspected as one turn:
the agent's when the contact was outbound, the system's for IVR (so no agent rule applies and
the score stays empty: there is no agent work to grade), of unknown speaker otherwise.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from cxlens import schema
from cxlens.qa.engine import CallContext, InspectionResult, Inspector, Turn
from cxlens.qa.rules import load_rules
from cxlens.workspace import Workspace

FLUSH_EVERY = 20_000  # interactions per write batch: bounds memory on large warehouses
_BATCH_ROWS = 65_536
# One encoder for every evidence row: json.dumps(..., ensure_ascii=False) builds a new encoder
# per call, a fifth of the stage's time. Same output.
_to_json = json.JSONEncoder(ensure_ascii=False).encode


def inspector_for(ws: Workspace) -> Inspector:
    """The inspector configured by the workspace's ``[qa]`` settings."""
    qa = ws.settings.qa
    return Inspector(load_rules(qa.rules_file or None), qa.long_silence_s, qa.negative_sentiment,
                     qa.empathy_trigger)


def _context_tables(ws: Workspace) -> tuple[Any, Any, Any]:
    wh = ws.warehouse
    calls = wh.table("interactions").select("interaction_id", "agent_id", "channel")
    insights = wh.table("interaction_insights")
    insights = insights.group_by("interaction_id").aggregate(
        sentiment_start=insights.sentiment_start.max(), sentiment=insights.sentiment.max())
    speech = wh.table("speech_metrics")
    speech = speech.filter(speech.status.isin(("transcribed", "no_asr_model"))).group_by(
        "interaction_id").aggregate(silence_s=speech.longest_silence_s.max(),
                                    silence_at_s=speech.longest_silence_at_s.max())
    return calls, insights, speech


def _conversations(ws: Workspace) -> Iterator[tuple[str, str | None, CallContext, list[Turn]]]:
    """(interaction_id, agent_id, context, turns) for every interaction with messages, then for
    every interaction with only a text body."""
    wh = ws.warehouse
    calls, insights, speech = _context_tables(ws)
    messages = wh.table("messages").select("interaction_id", "seq", "speaker", "ts", "text")
    joined = (
        messages.left_join(calls, "interaction_id")
        .left_join(insights, "interaction_id")
        .left_join(speech, "interaction_id")
        .select("interaction_id", "seq", "speaker", "ts", "text", "agent_id", "channel",
                "sentiment_start", "sentiment", "silence_s", "silence_at_s")
        .order_by(["interaction_id", "seq"])
    )
    current: str | None = None
    header: dict[str, Any] = {}
    turns: list[Turn] = []
    for batch in joined.to_pyarrow_batches(chunk_size=_BATCH_ROWS):
        for row in batch.to_pylist():
            if row["interaction_id"] != current:
                if current is not None:
                    yield current, header["agent_id"], _context(header), turns
                current, header, turns = row["interaction_id"], row, []
            turns.append(Turn(int(row["seq"] or 0), row["speaker"], row["text"] or "", row["ts"]))
    if current is not None:
        yield current, header["agent_id"], _context(header), turns

    bodies = wh.table("interactions")
    bodies = bodies.filter(bodies.text.notnull() & (bodies.text.strip() != ""))
    bodies = bodies.anti_join(messages.select("interaction_id").distinct(), "interaction_id")
    bodies = (
        bodies.select("interaction_id", "agent_id", "channel", "direction", "text")
        .left_join(insights, "interaction_id").left_join(speech, "interaction_id")
        .select("interaction_id", "agent_id", "channel", "direction", "text", "sentiment_start",
                "sentiment", "silence_s", "silence_at_s")
        .order_by("interaction_id")
    )
    for batch in bodies.to_pyarrow_batches(chunk_size=_BATCH_ROWS):
        for row in batch.to_pylist():
            # IVR text is the system's prompt, not an agent's words: nothing to grade.
            speaker = ("system" if row["channel"] == "ivr"
                       else "agent" if row["direction"] == "outbound" else None)
            yield row["interaction_id"], row["agent_id"], _context(row), [
                Turn(1, speaker, row["text"])]


def _context(row: dict[str, Any]) -> CallContext:
    start, overall = row.get("sentiment_start"), row.get("sentiment")
    sentiment = start if start is not None else overall
    return CallContext(channel=row.get("channel"), sentiment=sentiment,
                       silence_s=row.get("silence_s"), silence_at_s=row.get("silence_at_s"))


def _rule_rows(interaction: str, agent: str | None, result: InspectionResult,
               now: datetime) -> list[dict[str, Any]]:
    return [{
        "interaction_id": interaction, "agent_id": agent, "rule": r.rule, "passed": r.passed,
        "applicable": r.applicable, "weight": r.weight, "score": r.points, "scored_at": now,
        "evidence": _to_json(r.evidence) if r.evidence else None,
    } for r in result.results]


def _write_insights(ws: Workspace, scores: list[dict[str, Any]]) -> None:
    """Set qa_score/qa_passed on existing insight rows; create rows that do not exist yet."""
    import ibis

    if not scores:
        return
    wh = ws.warehouse
    frame = pa.Table.from_pylist(scores, schema=pa.schema([
        ("interaction_id", pa.string()), ("qa_score", pa.float64()), ("qa_passed", pa.bool_())]))
    incoming = ibis.memtable(frame)
    insights = wh.table("interaction_insights")
    existing = insights.drop("qa_score", "qa_passed").inner_join(incoming, "interaction_id")
    missing = incoming.anti_join(insights, "interaction_id")
    rows = pa.concat_tables([
        schema.conform("interaction_insights", existing.to_pyarrow()),
        schema.conform("interaction_insights", missing.to_pyarrow()),
    ])
    wh.upsert("interaction_insights", rows, keys=("interaction_id",))


def run(ws: Workspace) -> dict[str, Any]:
    """Pipeline entry (stage ``qa``): transcribe pending recordings, then inspect everything.

    >>> import cxlens
    >>> from cxlens.qa.stage import run
    >>> run(cxlens.open("demo-ws"))   # doctest: +SKIP
    {'inspected': 4210, 'scored': 4190, 'passed': 3301, 'mean_score': 86.4, ...}
    """
    from cxlens.speech.stage import transcribe_interactions

    speech = transcribe_interactions(ws)
    inspector = inspector_for(ws)
    wh = ws.warehouse
    now = datetime.now(UTC).replace(tzinfo=None)
    started = time.perf_counter()
    inspected = scored = passed = 0
    total_score = 0.0
    failed_by_rule: dict[str, int] = {}
    rule_rows: list[dict[str, Any]] = []
    scores: list[dict[str, Any]] = []
    first_write = True

    def flush() -> None:
        nonlocal first_write, rule_rows, scores
        if first_write:
            wh.replace("qa_results", pa.Table.from_pylist(rule_rows) if rule_rows else [])
            first_write = False
        else:
            wh.append("qa_results", rule_rows)
        _write_insights(ws, scores)
        rule_rows, scores = [], []

    with wh.transaction():
        for interaction, agent, context, turns in _conversations(ws):
            result = inspector.inspect(turns, context)
            inspected += 1
            rule_rows.extend(_rule_rows(interaction, agent, result, now))
            scores.append({"interaction_id": interaction, "qa_score": result.score,
                           "qa_passed": result.passed})
            if result.score is not None:
                scored += 1
                total_score += result.score
                passed += bool(result.passed)
                for rule in result.failed:
                    failed_by_rule[rule] = failed_by_rule.get(rule, 0) + 1
            if len(scores) >= FLUSH_EVERY:
                flush()
        flush()
    seconds = time.perf_counter() - started
    return {
        "inspected": inspected, "scored": scored, "passed": passed,
        "pass_rate": round(passed / scored, 4) if scored else None,
        "mean_score": round(total_score / scored, 1) if scored else None,
        "failed_by_rule": dict(sorted(failed_by_rule.items(), key=lambda kv: -kv[1])),
        "interactions_per_s": round(inspected / seconds, 1) if seconds else None,
        "speech": speech,
    }
