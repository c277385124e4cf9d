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
import pyarrow.compute as pc

from cxlens import schema
from cxlens.qa.engine import CallContext, InspectionResult, Inspector, RuleResult, Turn
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


def _stream(ws: Workspace, expr: Any) -> Iterator[pa.RecordBatch]:
    """Record batches of ``expr``. On DuckDB they are read through a cursor of their own: the
    stage writes (every ``FLUSH_EVERY`` interactions) while it reads, and a query run on the
    reading connection ends its open result — the stream then stopped after the second write
    and every later interaction went uninspected."""
    wh = ws.warehouse
    raw = getattr(wh.store, "raw", None)
    if raw is None:
        yield from expr.to_pyarrow_batches(chunk_size=_BATCH_ROWS)
        return
    cursor = raw.cursor()
    try:
        yield from cursor.execute(str(wh.con.compile(expr))).fetch_record_batch(_BATCH_ROWS)
    finally:
        cursor.close()


def _conversations(ws: Workspace) -> Iterator[tuple[str, str | None, CallContext, list[Turn]]]:
    """(interaction_id, agent_id, context, turns) for every interaction with messages, then for
    every interaction with only a text body."""
    wh = ws.warehouse
    calls, insights, speech = _context_tables(ws)
    # No ``ts``: no rule reads message times (silence comes from the audio signal), and turning
    # every timestamp into a Python datetime was a tenth of the stream's cost.
    messages = wh.table("messages").select("interaction_id", "seq", "speaker", "text")
    joined = (
        messages.filter(messages.interaction_id.notnull())
        .left_join(calls, "interaction_id")
        .left_join(insights, "interaction_id")
        .left_join(speech, "interaction_id")
        .select("interaction_id", "seq", "speaker", "text", "agent_id", "channel",
                "sentiment_start", "sentiment", "silence_s", "silence_at_s")
        .order_by(["interaction_id", "seq"])
    )
    pending: tuple[str, str | None, CallContext, list[Turn]] | None = None
    for batch in _stream(ws, joined):
        n = batch.num_rows
        if not n:
            continue
        # Where each interaction starts, found by Arrow; only the per-turn columns become Python
        # objects row by row, the context columns once per interaction.
        ids = batch.column("interaction_id")
        changed = pc.not_equal(ids.slice(1), ids.slice(0, n - 1))
        starts = [0, *pc.add(pc.indices_nonzero(changed), 1).to_pylist()]
        heads = batch.take(pa.array(starts, pa.int64())).to_pydict()
        seqs = batch.column("seq").to_pylist()
        speakers = batch.column("speaker").to_pylist()
        texts = batch.column("text").to_pylist()
        for k, (lo, hi) in enumerate(zip(starts, [*starts[1:], n], strict=True)):
            turns = [Turn(int(seq or 0), speaker, text or "") for seq, speaker, text
                     in zip(seqs[lo:hi], speakers[lo:hi], texts[lo:hi], strict=True)]
            interaction = heads["interaction_id"][k]
            if pending is not None and pending[0] == interaction:  # runs on from the last batch
                pending[3].extend(turns)
                continue
            if pending is not None:
                yield pending
            pending = (interaction, heads["agent_id"][k], _context(heads, k), turns)
    if pending is not None:
        yield pending

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
    for batch in _stream(ws, bodies):
        cols = batch.to_pydict()
        for i, interaction in enumerate(cols["interaction_id"]):
            channel, direction = cols["channel"][i], cols["direction"][i]
            # IVR text is the system's prompt, not an agent's words: nothing to grade.
            speaker = ("system" if channel == "ivr"
                       else "agent" if direction == "outbound" else None)
            yield interaction, cols["agent_id"][i], _context(cols, i), [
                Turn(1, speaker, cols["text"][i])]


def _context(cols: dict[str, list[Any]], i: int) -> CallContext:
    start, overall = cols["sentiment_start"][i], cols["sentiment"][i]
    sentiment = start if start is not None else overall
    return CallContext(channel=cols["channel"][i], sentiment=sentiment,
                       silence_s=cols["silence_s"][i], silence_at_s=cols["silence_at_s"][i])


class _RuleRows:
    """``qa_results`` rows, kept as rule results and turned into columns once per write (a dict
    per row and ``Table.from_pylist`` cost more than the inspection itself)."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.interaction_id: list[str] = []
        self.agent_id: list[str | None] = []
        self.results: list[RuleResult] = []

    def __len__(self) -> int:
        return len(self.results)

    def clear(self) -> None:
        self.interaction_id, self.agent_id, self.results = [], [], []

    def add(self, interaction: str, agent: str | None, result: InspectionResult) -> None:
        n = len(result.results)
        self.interaction_id.extend([interaction] * n)
        self.agent_id.extend([agent] * n)
        self.results.extend(result.results)

    def table(self) -> pa.Table:
        rows = self.results
        return pa.table({
            "interaction_id": pa.array(self.interaction_id, pa.string()),
            "agent_id": pa.array(self.agent_id, pa.string()),
            "rule": pa.array([r.rule for r in rows], pa.string()),
            "passed": pa.array([r.passed for r in rows], pa.bool_()),
            "applicable": pa.array([r.applicable for r in rows], pa.bool_()),
            "weight": pa.array([r.weight for r in rows], pa.float64()),
            "score": pa.array([r.points for r in rows], pa.float64()),
            "scored_at": pa.array([self.now] * len(rows), pa.timestamp("us")),
            "evidence": pa.array([_evidence_json(r.evidence) if r.evidence else None
                                  for r in rows], pa.string()),
        })


_JSON_CACHE: dict[tuple[Any, ...], str] = {}


def _evidence_json(evidence: dict[str, Any]) -> str:
    """The evidence as JSON; the same few thousand evidence dicts recur (reasons, phrases at
    the same spot), so each is encoded once. Value types are in the key: 1, 1.0 and True are
    equal keys but different JSON."""
    values = tuple(evidence.values())
    try:
        key = (*evidence, *values, *map(type, values))
        return _JSON_CACHE[key]
    except KeyError:
        text = _JSON_CACHE[key] = _to_json(evidence)
        if len(_JSON_CACHE) > 200_000:
            _JSON_CACHE.clear()
        return text
    except TypeError:  # a nested dict (script-order steps): not hashable
        return _to_json(evidence)


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
    rule_rows = _RuleRows(now)
    scores: list[dict[str, Any]] = []
    first_write = True

    def flush() -> None:
        nonlocal first_write, scores
        if first_write:
            wh.replace("qa_results", rule_rows.table() if len(rule_rows) else [])
            first_write = False
        elif len(rule_rows):
            wh.append("qa_results", rule_rows.table())
        _write_insights(ws, scores)
        rule_rows.clear()
        scores = []

    with wh.transaction():
        for interaction, agent, context, turns in _conversations(ws):
            result = inspector.inspect(turns, context)
            inspected += 1
            rule_rows.add(interaction, agent, result)
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
