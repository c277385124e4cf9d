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

The stream is cut into chunks of whole interactions; with more than one worker the chunks are
inspected in forked processes (they inherit the rule book; only the chunk's Arrow rows go to
them and its ``qa_results`` rows come back) while this process reads the next chunks and
writes finished ones in order, so the output is the same rows in the same order.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from cxlens import schema
from cxlens.cpus import can_fork, default_workers, forked_map
from cxlens.qa.engine import CallContext, InspectionResult, Inspector, RuleResult, Turn
from cxlens.qa.rules import load_rules
from cxlens.workspace import Workspace

FLUSH_EVERY = 20_000  # interactions per write batch: bounds memory on large warehouses
CHUNK = 2_500  # interactions per unit of work given to a worker process
_BATCH_ROWS = 65_536
_MESSAGE_COLUMNS = ("interaction_id", "seq", "speaker", "text", "agent_id", "channel",
                    "sentiment_start", "sentiment", "silence_s", "silence_at_s")
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


def _queries(ws: Workspace) -> tuple[Any, Any]:
    """The two streams: message rows (ordered by interaction, seq) joined with their context,
    and the interactions with only a text body (ordered by interaction)."""
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
        .select(*_MESSAGE_COLUMNS)
        .order_by(["interaction_id", "seq"])
    )
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
    return joined, bodies


@dataclass
class _Chunk:
    """Rows of whole interactions: ``messages`` (one row per message) or ``bodies`` (one row
    per interaction)."""

    kind: str
    rows: pa.Table

    # pickled (to a worker) as an Arrow IPC stream: that writes only the slice's rows, where
    # pickling the sliced table copied its whole record batch (7 MB a chunk instead of 0.5)
    def __getstate__(self) -> tuple[str, pa.Buffer]:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, self.rows.schema) as writer:
            writer.write_table(self.rows)
        return self.kind, sink.getvalue()

    def __setstate__(self, state: tuple[str, pa.Buffer]) -> None:
        self.kind, self.rows = state[0], pa.ipc.open_stream(state[1]).read_all()


def _starts(ids: pa.Array) -> list[int]:
    """Row positions where a new interaction begins (``ids`` sorted)."""
    n = len(ids)
    if n == 0:
        return []
    changed = pc.not_equal(ids.slice(1), ids.slice(0, n - 1))
    return [0, *pc.add(pc.indices_nonzero(changed), 1).to_pylist()]


def _chunks(ws: Workspace, size: int | None = None) -> Iterator[_Chunk]:
    """The conversations in chunks of ``size`` whole interactions: message rows first (an
    interaction's messages may straddle stream batches: it goes out whole with the next chunk),
    then the body-only interactions."""
    size = size or CHUNK
    joined, bodies = _queries(ws)
    carry: pa.Table | None = None
    for batch in _stream(ws, joined):
        if not batch.num_rows:
            continue
        table = pa.Table.from_batches([batch])
        table = table if carry is None else pa.concat_tables([carry, table])
        starts = _starts(table.column("interaction_id").combine_chunks())
        # the last interaction may go on in the next batch: it stays in the carry
        cut = 0
        for k in range(size, len(starts), size):
            yield _Chunk("messages", table.slice(cut, starts[k] - cut))
            cut = starts[k]
        carry = table.slice(cut)
    if carry is not None and carry.num_rows:
        yield _Chunk("messages", carry)
    for batch in _stream(ws, bodies):
        for lo in range(0, batch.num_rows, size):
            yield _Chunk("bodies", pa.Table.from_batches([batch.slice(lo, size)]))


def _conversations(chunk: _Chunk) -> Iterator[tuple[str, str | None, CallContext, list[Turn]]]:
    """(interaction_id, agent_id, context, turns) for every interaction of ``chunk``."""
    table = chunk.rows.combine_chunks()
    n = table.num_rows
    if not n:
        return
    if chunk.kind == "bodies":
        cols = table.to_pydict()
        for i, interaction in enumerate(cols["interaction_id"]):
            channel, direction = cols["channel"][i], cols["direction"][i]
            # IVR text is the system's prompt, not an agent's words: nothing to grade.
            speaker = ("system" if channel == "ivr"
                       else "agent" if direction == "outbound" else None)
            yield interaction, cols["agent_id"][i], _context(cols, i), [
                Turn(1, speaker, cols["text"][i])]
        return
    # Where each interaction starts, found by Arrow; only the per-turn columns become Python
    # objects row by row, the context columns once per interaction.
    starts = _starts(table.column("interaction_id").chunk(0))
    heads = table.take(pa.array(starts, pa.int64())).to_pydict()
    seqs = table.column("seq").to_pylist()
    speakers = table.column("speaker").to_pylist()
    texts = table.column("text").to_pylist()
    for k, (lo, hi) in enumerate(zip(starts, [*starts[1:], n], strict=True)):
        turns = [Turn(int(seq or 0), speaker, text or "") for seq, speaker, text
                 in zip(seqs[lo:hi], speakers[lo:hi], texts[lo:hi], strict=True)]
        yield heads["interaction_id"][k], heads["agent_id"][k], _context(heads, k), turns


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


_SCORES = pa.schema([("interaction_id", pa.string()), ("qa_score", pa.float64()),
                     ("qa_passed", pa.bool_())])


def _write_insights(ws: Workspace, scores: pa.Table) -> None:
    """Set qa_score/qa_passed on existing insight rows; create rows that do not exist yet."""
    import ibis

    if not scores.num_rows:
        return
    wh = ws.warehouse
    insights = wh.table("interaction_insights")
    missing = ibis.memtable(scores).anti_join(insights, "interaction_id").to_pyarrow()
    # Only the two columns are written: an upsert of whole rows rewrote every column of every
    # insight row, ``redacted_text`` included.
    wh.update_columns("interaction_insights", scores, keys=("interaction_id",))
    wh.append("interaction_insights", schema.conform("interaction_insights", missing))


@dataclass
class _Part:
    """One chunk inspected: its ``qa_results`` rows, one score row per interaction, and the
    applicable rules failed by the scored ones (in the order first seen)."""

    results: pa.Table | None
    scores: pa.Table
    failed: dict[str, int]


def _inspect_chunk(inspector: Inspector, now: datetime, chunk: _Chunk) -> _Part:
    # A chunk makes ~100,000 short-lived, acyclic objects (turns, results, evidence dicts):
    # the cyclic GC's collections while they pile up were a third of the stage's compute, so it
    # is paused for the chunk (refcounting frees them; memory stays bounded by the chunk).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _inspect_rows(inspector, now, chunk)
    finally:
        if was_enabled:
            gc.enable()


def _inspect_rows(inspector: Inspector, now: datetime, chunk: _Chunk) -> _Part:
    rule_rows = _RuleRows(now)
    ids: list[str] = []
    values: list[float | None] = []
    passes: list[bool | None] = []
    failed: dict[str, int] = {}
    # A body-only interaction is one turn, and its inspection depends on nothing else than that
    # turn and the context: IVR prompts repeat (the demo's 48,574 IVR texts are 2 distinct), so
    # each distinct (turn, context) is inspected once per chunk.
    bodies: dict[tuple[Any, ...], InspectionResult] | None = {} if chunk.kind == "bodies" else None
    for interaction, agent, context, turns in _conversations(chunk):
        if bodies is None:
            result = inspector.inspect(turns, context)
        else:
            turn = turns[0]
            key = (turn.seq, turn.speaker, turn.text, context.channel, context.sentiment,
                   context.silence_s, context.silence_at_s)
            found = bodies.get(key)
            result = bodies[key] = inspector.inspect(turns, context) if found is None else found
        rule_rows.add(interaction, agent, result)
        ids.append(interaction)
        values.append(result.score)
        passes.append(result.passed)
        if result.score is not None:
            for rule in result.failed:
                failed[rule] = failed.get(rule, 0) + 1
    scores = pa.table([pa.array(ids, pa.string()), pa.array(values, pa.float64()),
                       pa.array(passes, pa.bool_())], schema=_SCORES)
    return _Part(rule_rows.table() if len(rule_rows) else None, scores, failed)


# what forked workers inherit (set only while a pool runs): the inspector and the run's time
_WORKER: tuple[Inspector, datetime] | None = None


def _worker_chunk(chunk: _Chunk) -> _Part:
    assert _WORKER is not None
    return _inspect_chunk(*_WORKER, chunk)


def _parts(chunks: Iterator[_Chunk], inspector: Inspector, now: datetime,
           workers: int) -> Iterator[_Part]:
    """Each chunk inspected, in chunk order. With ``workers`` > 1 they are inspected in that
    many forked processes, at most ``2 × workers`` chunks in flight (memory stays bounded);
    this process keeps reading chunks and the caller writes the finished ones meanwhile."""
    global _WORKER
    if workers <= 1 or not can_fork():
        for chunk in chunks:
            yield _inspect_chunk(inspector, now, chunk)
        return
    # fork: the workers inherit the compiled rule book and never touch the warehouse; they
    # freeze what they inherit out of the GC's sight (a collection touching those objects
    # would copy their pages)
    _WORKER = (inspector, now)
    try:
        yield from forked_map(_worker_chunk, chunks, workers, initializer=gc.freeze)
    finally:
        _WORKER = None


def run(ws: Workspace, workers: int | None = None) -> dict[str, Any]:
    """Pipeline entry (stage ``qa``): transcribe pending recordings, then inspect everything
    (in ``workers`` processes; default: the CPUs available, at most 2).

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
    results: list[pa.Table] = []
    scores: list[pa.Table] = []
    waiting = 0
    first_write = True

    def flush() -> None:
        nonlocal first_write, results, scores, waiting
        rows = pa.concat_tables(results) if results else None
        if first_write:
            wh.replace("qa_results", rows if rows is not None else [])
            first_write = False
        elif rows is not None:
            wh.append("qa_results", rows)
        if scores:
            _write_insights(ws, pa.concat_tables(scores))
        results, scores, waiting = [], [], 0

    with wh.transaction():
        chunks = _chunks(ws, max(1, min(CHUNK, FLUSH_EVERY)))
        for part in _parts(chunks, inspector, now, default_workers() if workers is None
                           else workers):
            if part.results is not None:
                results.append(part.results)
            scores.append(part.scores)
            inspected += part.scores.num_rows
            for score, ok in zip(part.scores.column("qa_score").to_pylist(),
                                 part.scores.column("qa_passed").to_pylist(), strict=True):
                if score is not None:
                    scored += 1
                    total_score += score
                    passed += bool(ok)
            for rule, n in part.failed.items():
                failed_by_rule[rule] = failed_by_rule.get(rule, 0) + n
            waiting += part.scores.num_rows
            if waiting >= FLUSH_EVERY:
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
