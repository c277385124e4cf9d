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

import json
import multiprocessing
import os
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

import pyarrow as pa

from cxlens.text import redact as pii
from cxlens.text import segment, topics
from cxlens.text.intent import IntentClassifier
from cxlens.text.language import detect, strip_html
from cxlens.text.sentiment import backend as sentiment_backend
from cxlens.text.sentiment import label_of
from cxlens.workspace import Workspace

BATCH = 20_000  # most interactions per chunk of work
CHUNK_MIN = 1_000  # fewest interactions per chunk (but four chunks per worker when more)
# Speaker labels of transcripts stored in interactions.text ("客户：…", "Agent: …").
_LABEL = re.compile(r"^\s*(客户|顾客|用户|来电人|客服|坐席|机器人|系统|Customer|Caller|Client|Agent|"
                    r"Advisor|Bot|System)\s*[:：]", re.I | re.M)
_CUSTOMER_LABELS = {"客户", "顾客", "用户", "来电人", "customer", "caller", "client"}
ANALYSE_CHARS = 2000  # language/intent/sentiment read the start of a text; redaction reads all
_JSON = json.JSONEncoder(ensure_ascii=False)  # json.dumps(..., ensure_ascii=False) builds one per call
TERM_CHARS = 600  # keywords and topics: jieba is the slowest step, the opening states the issue


def _rows(table: pa.Table, columns: list[str]) -> Iterator[tuple[Any, ...]]:
    cols = [table.column(c).to_pylist() for c in columns]
    return zip(*cols, strict=True)


def known_names(ws: Workspace) -> dict[str, list[str]]:
    """interaction_id → names the CRM knows for that customer (contact name + party names)."""
    wh = ws.warehouse
    names: dict[str, set[str]] = defaultdict(set)
    inter = wh.table("interactions")
    for iid, name in _rows(
        inter.filter(inter.contact_name.notnull()).select("interaction_id", "contact_name")
        .to_pyarrow(), ["interaction_id", "contact_name"]
    ):
        names[iid].add(name)
    imap = wh.table("identity_map")
    parties = wh.table("parties")
    im_i = imap.filter(imap.record_table == "interactions")
    im_p = imap.filter(imap.record_table == "parties")
    by_record = inter.join(im_i, [inter.source == im_i.source, inter.source_id == im_i.source_id])
    by_record = by_record.select(inter.interaction_id, im_i.customer_key)
    party_names = parties.filter(parties.name.notnull()).join(
        im_p, [parties.source == im_p.source, parties.source_id == im_p.source_id]
    ).select(im_p.customer_key, parties.name)
    joined = by_record.join(party_names, "customer_key").select("interaction_id", "name").distinct()
    for iid, name in _rows(joined.to_pyarrow(), ["interaction_id", "name"]):
        names[iid].add(name)
    return {k: sorted(v) for k, v in names.items()}


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


def redact_transcript(text: str, names: Any = (), cache: RedactionCache | None = None
                      ) -> pii.Redaction:
    """Redact an interaction's text. Names are guessed only in what the customer wrote: the
    customer-labelled lines of a transcript, or the whole text when it has no speaker labels."""
    cache = {} if cache is None else cache
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
        found = _spans(text[start:hi].rstrip("\n"), known, customer, cache, may_name)
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
    # jieba's dictionary load (~1 s, Python) runs in a thread while DuckDB reads (native code,
    # GIL released); a bad user dictionary still fails before any work is done.
    with ThreadPoolExecutor(1) as loader:
        jieba_loaded = loader.submit(segment.tokenizer, settings.user_dictionary)
        classifier = IntentClassifier.for_workspace(
            ws.models_dir, settings.intent_min_confidence, settings.taxonomy_file or None
        )
        engine = sentiment_backend(settings.sentiment_backend, settings.transformer_model_dir)
        interactions = wh.table("interactions").to_pyarrow()
        messages = wh.table("messages")
        messages = messages.order_by(["interaction_id", "seq"]).to_pyarrow()
        names = known_names(ws)
        jieba_loaded.result()
    ids = interactions.column("interaction_id").to_pylist()
    msg_ids = messages.column("interaction_id").to_pylist()
    job = _Job(
        ids=ids,
        texts=interactions.column("text").to_pylist(),
        msg_text=messages.column("text").to_pylist(),
        msg_speaker=messages.column("speaker").to_pylist(),
        msg_rows=_rows_of(msg_ids),
        names=names,
        subject_of=dict(zip(ids, interactions.column("subject").to_pylist(), strict=True)),
        started=dict(zip(ids, interactions.column("started_at").to_pylist(), strict=True)),
        agent_reason=dict(zip(ids, interactions.column("reason").to_pylist(), strict=True)),
        classifier=classifier,
        engine=engine,
        user_dictionary=settings.user_dictionary,
    )
    # Every interaction, then the messages whose interaction is missing (still redacted).
    known_ids = set(ids)
    groups = ids + [iid for iid in job.msg_rows if iid not in known_ids]
    workers = settings.workers or default_workers()

    records: list[dict[str, Any]] = []
    doc_terms: list[tuple[Any, str, list[str]]] = []
    changed_msgs: dict[int, str] = {}
    changed_inter: dict[int, str] = {}
    pii_found = 0
    for part in _map_chunks(job, groups, workers):
        records.extend(part.records)
        doc_terms.extend(part.doc_terms)
        changed_msgs.update(part.changed_msgs)
        changed_inter.update(part.changed_inter)
        pii_found += part.pii_found

    insights = pa.Table.from_pylist(records) if records else None
    with wh.transaction():
        wh.replace("interaction_insights", insights if insights is not None else [])
        if settings.redact and changed_inter:
            order = sorted(changed_inter)
            rows = interactions.take(pa.array(order))
            column = pa.array([changed_inter[i] for i in order], pa.string())
            wh.upsert("interactions", rows.set_column(
                rows.schema.get_field_index("text"), "text", column))
        if settings.redact and changed_msgs:
            order = sorted(changed_msgs)
            rows = messages.take(pa.array(order))
            column = pa.array([changed_msgs[i] for i in order], pa.string())
            wh.upsert("messages", rows.set_column(
                rows.schema.get_field_index("text"), "text", column))
    topic_rows = topics.build(doc_terms)
    wh.replace("topics", topic_rows)
    seconds = time.perf_counter() - t0
    return {
        "interactions": len(records),
        "pii_found": pii_found,
        "redacted_interactions": len(changed_inter) if settings.redact else 0,
        "redacted_messages": len(changed_msgs) if settings.redact else 0,
        "intent_method": "model" if classifier.model is not None else "rules",
        "topics": len(topic_rows),
        "emerging_terms": sum(1 for r in topic_rows if r["emerging"]),
        "texts_per_s": round(len(records) / seconds, 1) if seconds else None,
    }


def default_workers() -> int:
    """Processes for the text stage when ``text.workers`` is 0: the CPUs we may use, at most 2."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(2, cpus))


def _rows_of(msg_ids: list[str]) -> dict[str, range]:
    # messages are sorted by interaction: each interaction's rows are one run
    rows: dict[str, range] = {}
    lo = 0
    for iid, run in groupby(msg_ids):
        hi = lo + sum(1 for _ in run)
        rows[iid] = range(lo, hi)
        lo = hi
    return rows


@dataclass
class _Job:
    """The stage's inputs; forked workers inherit them, so only chunk bounds travel."""

    ids: list[str]
    texts: list[str | None]
    msg_text: list[str | None]
    msg_speaker: list[str | None]
    msg_rows: dict[str, range]
    names: dict[str, list[str]]
    subject_of: dict[str, Any]
    started: dict[str, Any]
    agent_reason: dict[str, Any]
    classifier: IntentClassifier
    engine: Any
    user_dictionary: str
    cache: RedactionCache = field(default_factory=dict)  # per process, across chunks
    row_of: dict[str, int] = field(init=False)  # interaction id → row

    def __post_init__(self) -> None:
        self.row_of = {iid: i for i, iid in enumerate(self.ids)}


@dataclass
class _Part:
    """What one chunk of interactions gives back."""

    records: list[dict[str, Any]]
    doc_terms: list[tuple[Any, str, list[str]]]
    changed_msgs: dict[int, str]  # message row → redacted text
    changed_inter: dict[int, str]  # interaction row → redacted text
    pii_found: int


def _chunk(job: _Job, group_ids: list[str]) -> _Part:
    """Redact and analyse the interactions ``group_ids`` (and their messages)."""
    found: dict[str, int] = defaultdict(int)
    turns: dict[str, list[tuple[str, str]]] = {}
    redacted: dict[str, str] = {}
    changed_msgs: dict[int, str] = {}
    changed_inter: dict[int, str] = {}
    cache = job.cache
    for iid in group_ids:
        known = tuple(job.names.get(iid, ()))
        may_name = pii.name_check(known) if known else None
        conv: list[tuple[str, str]] = []
        for i in job.msg_rows.get(iid, ()):
            text = job.msg_text[i]
            if not text:
                continue
            speaker = job.msg_speaker[i]
            result = _apply(text, _spans(text, known, speaker == "customer", cache, may_name))
            if result.found:
                found[iid] += result.found
                changed_msgs[i] = result.text
            conv.append((speaker or "", result.text))
        if conv:
            turns[iid] = conv
        row = job.row_of.get(iid)
        text = job.texts[row] if row is not None else None
        if text and row is not None:
            result = redact_transcript(text, known, cache)
            if result.found:
                found[iid] += result.found
                changed_inter[row] = result.text
            redacted[iid] = result.text
    with_text = [iid for iid in group_ids
                 if iid in job.row_of and (iid in redacted or iid in turns)]
    doc_terms: list[tuple[Any, str, list[str]]] = []
    records = _analyse(with_text, redacted, turns, job.subject_of, found, job.classifier,
                       job.engine, job.user_dictionary, doc_terms, job.started, job.agent_reason)
    return _Part(records, doc_terms, changed_msgs, changed_inter, int(sum(found.values())))


_WORKER_JOB: _Job | None = None


def _run_chunk(group_ids: list[str]) -> _Part:
    assert _WORKER_JOB is not None
    return _chunk(_WORKER_JOB, group_ids)


def _map_chunks(job: _Job, groups: list[str], workers: int) -> Iterator[_Part]:
    """``_chunk`` over consecutive slices of ``groups``, in order; in ``workers`` processes."""
    global _WORKER_JOB
    size = min(BATCH, max(CHUNK_MIN, -(-len(groups) // (4 * max(workers, 1)))))
    chunks = [groups[lo : lo + size] for lo in range(0, len(groups), size)]
    workers = min(workers, len(chunks))
    if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        for chunk in chunks:
            yield _chunk(job, chunk)
        return
    # fork: the workers inherit the inputs and the loaded models (jieba, taxonomy, sentiment)
    # and never touch the warehouse connection. This process works too: it takes chunks 0,
    # w, 2w, … and the pool the others, so results are merged in chunk order.
    job.engine.load()
    _WORKER_JOB = job
    try:
        with multiprocessing.get_context("fork").Pool(workers - 1) as pool:
            theirs = pool.imap(_run_chunk, [c for k, c in enumerate(chunks) if k % workers])
            for k, chunk in enumerate(chunks):
                yield _chunk(job, chunk) if k % workers == 0 else next(theirs)
            pool.close()
            pool.join()  # reaped, so their CPU time counts in os.times() of this process
    finally:
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
    languages = [detect(t) for t in customer]
    # Score every customer turn in one call, then regroup per conversation. Turns repeat across
    # contacts ("好的，谢谢", templated complaints) and every model here scores a text on its
    # own, so each distinct (turn, language) and each distinct customer text is scored once.
    flat = [t[:ANALYSE_CHARS] for turns_ in per_turn for t in turns_]
    flat_lang = [languages[k] if languages[k] != "other" else detect(t)
                 for k, turns_ in enumerate(per_turn) for t in turns_]
    scores = _distinct_scores(engine, flat, flat_lang)
    intents = _each_once(classifier.predict, customer)
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


def _distinct_scores(engine: Any, texts: list[str], languages: list[str]) -> list[float]:
    """``engine.scores(texts, languages)``, computing each distinct (text, language) once."""
    return _each_once(
        lambda pairs: engine.scores([t for t, _ in pairs], [lang for _, lang in pairs]),
        list(zip(texts, languages, strict=True)))


def _each_once(score: Callable[[list[Any]], Sequence[Any]], items: list[Any]) -> list[Any]:
    """``score(items)`` for a model that scores each item on its own, calling it on the
    distinct items only."""
    if not items:
        return []
    distinct = list(dict.fromkeys(items))
    by_item = dict(zip(distinct, score(distinct), strict=True))
    return [by_item[item] for item in items]


def _top(words: list[str], k: int) -> list[str]:
    counts: dict[str, int] = {}
    for w in words:
        counts[w] = counts.get(w, 0) + 1
    return [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], -len(kv[0]), kv[0]))[:k]]
