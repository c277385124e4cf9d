"""The ``text`` stage: language, PII redaction, sentiment trajectory, intent, keywords, topics.

For every interaction with text (its own ``text`` or its ``messages``):

1. the customer's known names are collected (``interactions.contact_name`` and, through
   ``identity_map``, the ``parties.name`` of the same customer) and PII is redacted from the
   interaction text and every message; with ``settings.text.redact`` on (the default) the
   redacted text is written back over ``interactions.text`` / ``messages.text`` — an upsert of
   the changed rows that touches no other column;
2. language, sentiment (per customer turn → mean, start, end), intent + confidence (the agent's
   wrap-up ``reason`` stays in ``interactions``), and keywords are computed on the redacted text;
3. ``interaction_insights`` is replaced (``qa_score``/``qa_passed`` stay null: the qa stage fills
   them) and the ``topics`` table is rebuilt (:mod:`cxlens.text.topics`).

Work is done in Python in batches over Arrow columns; nothing here depends on the backend.
"""

from __future__ import annotations

import gc
import json
import logging
import re
import time
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

import ibis
import pyarrow as pa

from cxlens import schema
from cxlens.cpus import can_fork, default_workers, forked_map
from cxlens.text import redact as pii
from cxlens.text import segment, topics
from cxlens.text.intent import IntentClassifier
from cxlens.text.language import detect, strip_html
from cxlens.text.sentiment import backend as sentiment_backend
from cxlens.text.sentiment import label_of
from cxlens.workspace import Workspace

BATCH = 20_000  # most interactions per chunk of work
MEMO_MAX = 500_000  # most texts kept per model and process
CHUNK_MIN = 1_000  # fewest interactions per chunk (but four chunks per worker when more)
# Speaker labels of transcripts stored in interactions.text ("客户：…", "Agent: …").
_LABEL = re.compile(r"^\s*(客户|顾客|用户|来电人|客服|坐席|机器人|系统|Customer|Caller|Client|Agent|"
                    r"Advisor|Bot|System)\s*[:：]", re.I | re.M)
_CUSTOMER_LABELS = {"客户", "顾客", "用户", "来电人", "customer", "caller", "client"}
ANALYSE_CHARS = 2000  # language/intent/sentiment read the start of a text; redaction reads all
_JSON = json.JSONEncoder(ensure_ascii=False)  # json.dumps(..., ensure_ascii=False) builds one per call
TERM_CHARS = 600  # keywords and topics: jieba is the slowest step, the opening states the issue
_log = logging.getLogger(__name__)


def _names(wh: Any) -> Any:
    """interaction_id → the names the CRM knows for that customer (contact name + the
    ``parties.name`` of the same ``customer_key`` in ``identity_map``), as an Ibis table with a
    ``names`` list column, so the join runs in the warehouse, not in Python."""
    inter = wh.table("interactions")
    contact = inter.filter(inter.contact_name.notnull()).select(
        "interaction_id", name=inter.contact_name)
    imap = wh.table("identity_map")
    parties = wh.table("parties")
    im_i = imap.filter(imap.record_table == "interactions")
    im_p = imap.filter(imap.record_table == "parties")
    by_record = inter.join(im_i, [inter.source == im_i.source, inter.source_id == im_i.source_id])
    by_record = by_record.select(inter.interaction_id, im_i.customer_key)
    party_names = parties.filter(parties.name.notnull()).join(
        im_p, [parties.source == im_p.source, parties.source_id == im_p.source_id]
    ).select(im_p.customer_key, parties.name)
    joined = by_record.join(party_names, "customer_key").select("interaction_id", "name")
    both = contact.union(joined, distinct=True)
    return both.group_by("interaction_id").aggregate(names=both.name.collect())


RedactionCache = dict[tuple[str, tuple[str, ...], bool], list[pii.Span]]


def _spans(text: str, names: tuple[str, ...], guess: bool, cache: RedactionCache,
           may_name: Callable[[str], bool] | None = None) -> list[pii.Span]:
    # Transcripts repeat their messages line by line, and short turns ("好的，谢谢") repeat
    # across contacts: find each (text, names, guess) once per run. Names differ per customer,
    # so a text in which none of them occurs is looked up under no names (same result).
    # ``may_name`` is ``pii.name_check(names)``, built once per customer by the caller.
    if names and not (may_name or pii.name_check(names))(text):
        names = ()
    key = (text, names, guess)
    found = cache.get(key)
    if found is None:
        found = pii.find(text, names, guess_names=guess)
        if len(cache) < 500_000:
            cache[key] = found
    return found


def _apply(text: str, spans: list[pii.Span]) -> pii.Redaction:
    if not spans:
        return pii.Redaction(text)
    out, last = [], 0
    for sp in spans:
        out.append(text[last : sp.start])
        out.append(f"[{sp.kind}]")
        last = sp.end
    out.append(text[last:])
    return pii.Redaction("".join(out), spans)


def redact_transcript(text: str, names: Any = (), cache: RedactionCache | None = None,
                      seen: dict[tuple[str, bool], list[pii.Span]] | None = None
                      ) -> pii.Redaction:
    """Redact an interaction's text. Names are guessed only in what the customer wrote: the
    customer-labelled lines of a transcript, or the whole text when it has no speaker labels.

    ``seen``: (text, guess) → spans already found for these ``names`` (the interaction's own
    messages, which its transcript repeats line by line)."""
    cache = {} if cache is None else cache
    seen = {} if seen is None else seen
    known = tuple(names)
    may_name = pii.name_check(known) if known else None
    labels = list(_LABEL.finditer(text))
    if not labels:
        return _apply(text, _spans(text, known, True, cache, may_name))
    spans: list[pii.Span] = []
    # Parts: an unlabelled opening (if any), then each label up to the next one.
    parts: list[tuple[int, int, re.Match[str] | None]] = (
        [] if labels[0].start() == 0 else [(0, labels[0].start(), None)])
    ends = [m.start() for m in labels[1:]] + [len(text)]
    parts.extend((m.start(), end, m) for m, end in zip(labels, ends, strict=True))
    for lo, hi, head in parts:
        customer = head is not None and head.group(1).lower() in _CUSTOMER_LABELS
        start = head.end() if head is not None else lo
        part = text[start:hi].rstrip("\n")
        found = seen.get((part, customer))
        if found is None:
            found = _spans(part, known, customer, cache, may_name)
        if found:
            spans.extend(pii.Span(sp.start + start, sp.end + start, sp.kind) for sp in found)
    return _apply(text, spans)


def run(ws: Workspace) -> dict[str, Any]:
    """Analyse every interaction with text; write ``interaction_insights`` and ``topics``.

    The per-text work runs in ``settings.text.workers`` forked processes over chunks of
    interactions, merged in order: the output does not depend on the number of workers.
    """
    t0 = time.perf_counter()
    settings = ws.settings.text
    wh = ws.warehouse
    # jieba's dictionary and the sentiment models load (~1 s, Python) in a thread while DuckDB
    # reads (native code, GIL released); a bad user dictionary still fails before any work.
    with ThreadPoolExecutor(1) as loader:
        classifier = IntentClassifier.for_workspace(
            ws.models_dir, settings.intent_min_confidence, settings.taxonomy_file or None
        )
        engine = sentiment_backend(settings.sentiment_backend, settings.transformer_model_dir)
        loaded = loader.submit(_load_models, settings.user_dictionary, engine)
        interactions, messages = _read(wh)
        loaded.result()
    _log.debug("text: read %d interactions, %d messages in %.2f s", interactions.num_rows,
               messages.num_rows, time.perf_counter() - t0)
    job = _Job(interactions, messages, classifier, engine, settings.user_dictionary)
    workers = settings.workers or default_workers()
    chunks = _chunk_bounds(interactions, messages, workers)
    # Where writes are transactional, each chunk's insights are written as it arrives (while
    # the workers go on) and a failure rolls the table back; elsewhere one replace at the end.
    streaming = bool(getattr(wh.store, "supports_transactions", False))
    kept: list[pa.Table] = []
    msg_changes: list[pa.Table] = []
    inter_changes: list[pa.Table] = []
    counts = topics.Counts()
    records = pii_found = 0
    with wh.transaction():
        if streaming:
            wh.replace("interaction_insights", [])
        for part in _map_chunks(job, chunks, workers):
            if part.insights.num_rows:
                if streaming:
                    wh.append("interaction_insights", part.insights)
                else:
                    kept.append(part.insights)
            records += part.insights.num_rows
            counts.merge(part.counts)
            msg_changes.append(part.changed_msgs)
            inter_changes.append(part.changed_inter)
            pii_found += part.pii_found
        _log.debug("text: analysed at %.2f s", time.perf_counter() - t0)
        if not streaming:
            wh.replace("interaction_insights", pa.concat_tables(kept) if kept else [])
        changed_inter = pa.concat_tables(inter_changes) if inter_changes else _CHANGES.empty_table()
        changed_msgs = pa.concat_tables(msg_changes) if msg_changes else _CHANGES.empty_table()
        if settings.redact:
            wh.update_columns("interactions", changed_inter)
            wh.update_columns("messages", changed_msgs)
        _log.debug("text: text columns updated at %.2f s", time.perf_counter() - t0)
    _log.debug("text: committed at %.2f s", time.perf_counter() - t0)
    topic_rows = topics.rows(counts)
    wh.replace("topics", topic_rows)
    seconds = time.perf_counter() - t0
    _log.debug("text: topics written at %.2f s", seconds)
    return {
        "interactions": records,
        "pii_found": pii_found,
        "redacted_interactions": changed_inter.num_rows if settings.redact else 0,
        "redacted_messages": changed_msgs.num_rows if settings.redact else 0,
        "intent_method": "model" if classifier.model is not None else "rules",
        "topics": len(topic_rows),
        "emerging_terms": sum(1 for r in topic_rows if r["emerging"]),
        "texts_per_s": round(records / seconds, 1) if seconds else None,
    }


def _load_models(user_dictionary: str, engine: Any) -> None:
    segment.tokenizer(user_dictionary)
    engine.load()  # before forking: the workers inherit the models


def _read(wh: Any) -> tuple[pa.Table, pa.Table]:
    """The columns the stage reads, both sorted by interaction (nulls last), so a run of
    interactions and the messages of those interactions are one slice of each table."""
    inter = wh.table("interactions")
    names = _names(wh)
    inter = inter.select("interaction_id", "source", "source_id", "subject", "started_at",
                         "reason", "text")
    inter = inter.left_join(names, inter.interaction_id == names.interaction_id).select(
        inter.interaction_id, inter.source, inter.source_id, inter.subject, inter.started_at,
        inter.reason, inter.text, names.names)
    msgs = wh.table("messages").select("interaction_id", "source", "source_id", "seq",
                                       "speaker", "text")
    interactions = inter.order_by([ibis.asc("interaction_id", nulls_first=False),
                                   "source", "source_id"]).to_pyarrow()
    messages = msgs.order_by([ibis.asc("interaction_id", nulls_first=False), "seq"]).to_pyarrow()
    return interactions, messages


def _rows_of(msg_ids: list[str]) -> dict[str, range]:
    # messages are sorted by interaction: each interaction's rows are one run
    rows: dict[str, range] = {}
    lo = 0
    for iid, run in groupby(msg_ids):
        hi = lo + sum(1 for _ in run)
        rows[iid] = range(lo, hi)
        lo = hi
    return rows


class _Sorted:
    """An Arrow string column as a sequence for :mod:`bisect` (nulls after every string)."""

    def __init__(self, column: pa.ChunkedArray) -> None:
        self.column = column

    def __len__(self) -> int:
        return len(self.column)

    def __getitem__(self, i: int) -> tuple[bool, str]:
        return _order_key(self.column[i].as_py())


def _order_key(iid: str | None) -> tuple[bool, str]:
    return (iid is None, iid or "")


Bounds = tuple[int, int, int, int]  # interaction rows lo, hi; message rows lo, hi


def _chunk_bounds(interactions: pa.Table, messages: pa.Table, workers: int) -> list[Bounds]:
    """Consecutive slices of the (sorted) interactions, at least ``CHUNK_MIN`` (but four per
    worker when there are more), each with the messages of its interactions; messages of no
    interaction go with the slice their id sorts into."""
    n, m = interactions.num_rows, messages.num_rows
    if n == 0:
        return [(0, 0, 0, m)] if m else []
    size = min(BATCH, max(CHUNK_MIN, -(-n // (4 * max(workers, 1)))))
    ids = interactions.column("interaction_id")
    msg_ids = _Sorted(messages.column("interaction_id"))
    starts = [0]
    for lo in range(size, n, size):
        lo = max(lo, starts[-1] + 1)
        while lo < n and ids[lo].as_py() == ids[lo - 1].as_py():
            lo += 1  # an id repeated in interactions stays in one chunk with its messages
        if lo < n:
            starts.append(lo)
    cuts = [0] + [bisect_left(msg_ids, _order_key(ids[lo].as_py())) for lo in starts[1:]] + [m]
    ends = starts[1:] + [n]
    return [(lo, hi, cuts[k], cuts[k + 1]) for k, (lo, hi) in enumerate(zip(starts, ends,
                                                                            strict=True))]


@dataclass
class _Memo:
    """Language, sentiment and intent of the texts this process has scored (customer turns and
    openings repeat across chunks; every model scores a text on its own)."""

    language: dict[str, str] = field(default_factory=dict)
    sentiment: dict[tuple[str, str], float] = field(default_factory=dict)
    intent: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Job:
    """The stage's inputs; forked workers inherit them, so only chunk bounds travel."""

    interactions: pa.Table
    messages: pa.Table
    classifier: IntentClassifier
    engine: Any
    user_dictionary: str
    cache: RedactionCache = field(default_factory=dict)  # per process, across chunks
    memo: _Memo = field(default_factory=_Memo)


@dataclass
class _Part:
    """What one chunk of interactions gives back (Arrow tables: cheap to send between
    processes and to write)."""

    insights: pa.Table
    counts: topics.Counts
    changed_msgs: pa.Table  # source, source_id, redacted text
    changed_inter: pa.Table
    pii_found: int


_CHANGES = pa.schema([("source", pa.string()), ("source_id", pa.string()), ("text", pa.string())])


def _changes(table: pa.Table, changed: dict[int, str]) -> pa.Table:
    rows = sorted(changed)
    keys = table.select(["source", "source_id"]).take(pa.array(rows, pa.int64()))
    return pa.Table.from_arrays(
        [keys.column("source"), keys.column("source_id"),
         pa.array([changed[i] for i in rows], pa.string())], schema=_CHANGES)


def _chunk(job: _Job, bounds: Bounds) -> _Part:
    """Redact and analyse the interactions of one slice (and their messages)."""
    ilo, ihi, mlo, mhi = bounds
    inter = job.interactions.slice(ilo, ihi - ilo)
    msgs = job.messages.slice(mlo, mhi - mlo)
    ids = inter.column("interaction_id").to_pylist()
    texts = inter.column("text").to_pylist()
    row_of = {iid: i for i, iid in enumerate(ids)}
    names: dict[str, set[str]] = defaultdict(set)
    for iid, known in zip(ids, inter.column("names").to_pylist(), strict=True):
        if known:
            names[iid].update(known)
    msg_text = msgs.column("text").to_pylist()
    msg_speaker = msgs.column("speaker").to_pylist()
    msg_rows = _rows_of(msgs.column("interaction_id").to_pylist())
    # Every interaction, then the messages whose interaction is missing (still redacted).
    group_ids = ids + [iid for iid in msg_rows if iid not in row_of]

    found: dict[str, int] = defaultdict(int)
    turns: dict[str, list[tuple[str, str]]] = {}
    redacted: dict[str, str] = {}
    changed_msgs: dict[int, str] = {}
    changed_inter: dict[int, str] = {}
    cache = job.cache
    for iid in group_ids:
        known = tuple(sorted(names[iid])) if iid in names else ()
        may_name = pii.name_check(known) if known else None
        conv: list[tuple[str, str]] = []
        seen: dict[tuple[str, bool], list[pii.Span]] = {}  # for the transcript's lines
        for i in msg_rows.get(iid, ()):
            text = msg_text[i]
            if not text:
                continue
            speaker = msg_speaker[i]
            guess = speaker == "customer"
            spans = seen[text, guess] = _spans(text, known, guess, cache, may_name)
            if spans:
                text = _apply(text, spans).text
                found[iid] += len(spans)
                changed_msgs[i] = text
            conv.append((speaker or "", text))
        if conv:
            turns[iid] = conv
        row = row_of.get(iid)
        text = texts[row] if row is not None else None
        if text and row is not None:
            result = redact_transcript(text, known, cache, seen)
            if result.found:
                found[iid] += result.found
                changed_inter[row] = result.text
            redacted[iid] = result.text
    with_text = [iid for iid in group_ids if iid in row_of and (iid in redacted or iid in turns)]
    doc_terms: list[tuple[Any, str, list[str]]] = []
    subject_of = dict(zip(ids, inter.column("subject").to_pylist(), strict=True))
    started = dict(zip(ids, inter.column("started_at").to_pylist(), strict=True))
    agent_reason = dict(zip(ids, inter.column("reason").to_pylist(), strict=True))
    records = _analyse(with_text, redacted, turns, subject_of, found, job.classifier,
                       job.engine, job.user_dictionary, doc_terms, started, agent_reason,
                       job.memo)
    counts = topics.Counts()
    counts.add(doc_terms)
    return _Part(
        pa.Table.from_pylist(records, schema=_INSIGHTS), counts, _changes(msgs, changed_msgs),
        _changes(inter, changed_inter), int(sum(found.values())))


_INSIGHTS = schema.arrow_schema("interaction_insights")
_WORKER_JOB: _Job | None = None


def _run_chunk(bounds: Bounds) -> _Part:
    assert _WORKER_JOB is not None
    part = _chunk(_WORKER_JOB, bounds)
    gc.collect(0)  # what the chunk left in cycles; the survivors (caches) are not walked again
    return part


def _gc_off() -> None:
    # A chunk makes millions of small containers, nearly all freed by reference counting: the
    # automatic collections that walked them (and the growing caches) were ~10 % of the time.
    # One young-generation collection per chunk frees what cycles there are.
    gc.disable()


def _map_chunks(job: _Job, chunks: list[Bounds], workers: int) -> Iterator[_Part]:
    """``_chunk`` over ``chunks`` in order; in ``workers`` forked processes when more than one,
    while this process takes their results (and writes them)."""
    global _WORKER_JOB
    workers = min(workers, len(chunks))
    if workers <= 1 or not can_fork():
        enabled = gc.isenabled()
        _gc_off()
        try:
            for bounds in chunks:
                part = _chunk(job, bounds)
                gc.collect(0)
                yield part
        finally:
            if enabled:
                gc.enable()
        return
    # fork: the workers inherit the inputs (Arrow buffers, shared until written) and the loaded
    # models (jieba, taxonomy, sentiment) and never touch the warehouse connection.
    _WORKER_JOB = job
    gc.freeze()  # the parent's objects stay out of the workers' collections (and unshared pages)
    try:
        yield from forked_map(_run_chunk, chunks, workers, initializer=_gc_off)
    finally:
        gc.unfreeze()
        _WORKER_JOB = None


def _analyse(
    batch: list[str],
    redacted: dict[str, str],
    turns: dict[str, list[tuple[str, str]]],
    subject_of: dict[str, Any],
    found: dict[str, int],
    classifier: IntentClassifier,
    engine: Any,
    user_dictionary: str,
    doc_terms: list[tuple[Any, str, list[str]]],
    started: dict[str, Any],
    agent_reason: dict[str, Any],
    memo: _Memo,
) -> list[dict[str, Any]]:
    # What the customer said: their turns when there are messages, else the whole text.
    customer: list[str] = []
    full: list[str] = []
    per_turn: list[list[str]] = []
    for iid in batch:
        conv = turns.get(iid)
        if conv:
            own = [strip_html(t) for s, t in conv if s == "customer"] or [
                strip_html(t) for _, t in conv
            ]
            per_turn.append(own)
            body = redacted.get(iid) or "\n".join(f"{s}: {t}" for s, t in conv)
        else:
            body = redacted[iid]
            per_turn.append([strip_html(body)])
        subject = subject_of.get(iid) or ""
        said = " ".join(per_turn[-1])
        customer.append((subject + "\n" + said if subject else said)[:ANALYSE_CHARS])
        full.append(strip_html(body))
    languages = _each_once(lambda texts: [detect(t) for t in texts], customer, memo.language)
    # Score every customer turn in one call, then regroup per conversation. Turns repeat across
    # contacts ("好的，谢谢", templated complaints) and every model here scores a text on its
    # own, so each distinct (turn, language) and each distinct customer text is scored once.
    flat = [t[:ANALYSE_CHARS] for turns_ in per_turn for t in turns_]
    flat_lang = [languages[k] if languages[k] != "other" else detect(t)
                 for k, turns_ in enumerate(per_turn) for t in turns_]
    scores = _distinct_scores(engine, flat, flat_lang, memo.sentiment)
    intents = _each_once(classifier.predict, customer, memo.intent)
    out: list[dict[str, Any]] = []
    pos = 0
    for k, iid in enumerate(batch):
        n = len(per_turn[k])
        conv_scores = [float(s) for s in scores[pos : pos + n]]
        pos += n
        mean = sum(conv_scores) / n if n else 0.0
        words = segment.terms(customer[k], user_dictionary, limit=TERM_CHARS)
        keywords = _top(words, 5)
        pred = intents[k]
        reason = pred.intent if pred.intent != "other" else (agent_reason.get(iid) or "other")
        doc_terms.append((started.get(iid), reason, words))
        out.append({
            "interaction_id": iid,
            "language": languages[k],
            "sentiment": round(mean, 4),
            "sentiment_label": label_of(mean),
            "sentiment_start": round(conv_scores[0], 4) if n else None,
            "sentiment_end": round(conv_scores[-1], 4) if n else None,
            "intent": pred.intent,
            "sub_intent": pred.sub_intent,
            "intent_confidence": pred.confidence,
            "redacted_text": full[k],
            "pii_found": found.get(iid, 0),
            "qa_score": None,
            "qa_passed": None,
            "keywords": _JSON.encode(keywords),
        })
    return out


def _distinct_scores(engine: Any, texts: list[str], languages: list[str],
                     known: dict[Any, Any] | None = None) -> list[float]:
    """``engine.scores(texts, languages)``, computing each distinct (text, language) once."""
    return _each_once(
        lambda pairs: engine.scores([t for t, _ in pairs], [lang for _, lang in pairs]),
        list(zip(texts, languages, strict=True)), known)


def _each_once(score: Callable[[list[Any]], Sequence[Any]], items: list[Any],
               known: dict[Any, Any] | None = None) -> list[Any]:
    """``score(items)`` for a model that scores each item on its own, calling it on the
    distinct items only — and, with ``known`` (results kept from earlier calls, filled here),
    only on those not scored before."""
    if not items:
        return []
    known = {} if known is None else known
    new = [item for item in dict.fromkeys(items) if item not in known]
    fresh = dict(zip(new, score(new), strict=True)) if new else {}
    if len(known) < MEMO_MAX:
        known.update(fresh)
    return [fresh[item] if item in fresh else known[item] for item in items]


def _top(words: list[str], k: int) -> list[str]:
    counts: dict[str, int] = {}
    for w in words:
        counts[w] = counts.get(w, 0) + 1
    return [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], -len(kv[0]), kv[0]))[:k]]
