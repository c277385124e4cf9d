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
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pyarrow as pa

from cxlens.text import redact as pii
from cxlens.text import segment, topics
from cxlens.text.intent import IntentClassifier
from cxlens.text.language import detect, strip_html
from cxlens.text.sentiment import backend as sentiment_backend
from cxlens.text.sentiment import label_of
from cxlens.workspace import Workspace

BATCH = 20_000
# Speaker labels of transcripts stored in interactions.text ("客户：…", "Agent: …").
_LABEL = re.compile(r"^\s*(客户|顾客|用户|来电人|客服|坐席|机器人|系统|Customer|Caller|Client|Agent|"
                    r"Advisor|Bot|System)\s*[:：]", re.I | re.M)
_CUSTOMER_LABELS = {"客户", "顾客", "用户", "来电人", "customer", "caller", "client"}
ANALYSE_CHARS = 2000  # language/intent/sentiment read the start of a text; redaction reads all
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


def _spans(text: str, names: tuple[str, ...], guess: bool, cache: RedactionCache) -> list[pii.Span]:
    # Transcripts repeat their messages line by line, and short turns ("好的，谢谢") repeat
    # across contacts: find each (text, names, guess) once per run. Names differ per customer,
    # so a text in which none of them occurs is looked up under no names (same result).
    if names and not pii.names_may_occur(text, names):
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
    labels = list(_LABEL.finditer(text))
    if not labels:
        return _apply(text, _spans(text, known, True, cache))
    spans: list[pii.Span] = []
    bounds = [0] + [m.start() for m in labels[1:]] + [len(text)] if labels[0].start() == 0 else (
        [0] + [m.start() for m in labels] + [len(text)])
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        part = text[lo:hi]
        head = _LABEL.match(part)
        customer = bool(head) and head.group(1).lower() in _CUSTOMER_LABELS
        start = head.end() if head else 0
        body = part[start:].rstrip("\n")
        spans.extend(pii.Span(sp.start + lo + start, sp.end + lo + start, sp.kind)
                     for sp in _spans(body, known, customer, cache))
    return _apply(text, spans)


def run(ws: Workspace) -> dict[str, Any]:
    """Analyse every interaction with text; write ``interaction_insights`` and ``topics``."""
    t0 = time.perf_counter()
    settings = ws.settings.text
    wh = ws.warehouse
    segment.tokenizer(settings.user_dictionary)  # fail early on a bad user dictionary
    classifier = IntentClassifier.for_workspace(
        ws.models_dir, settings.intent_min_confidence, settings.taxonomy_file or None
    )
    engine = sentiment_backend(settings.sentiment_backend, settings.transformer_model_dir)

    interactions = wh.table("interactions").to_pyarrow()
    messages = wh.table("messages")
    messages = messages.order_by(["interaction_id", "seq"]).to_pyarrow()
    names = known_names(ws)

    # -- messages: redact, group per interaction --------------------------------------------
    msg_ids = messages.column("interaction_id").to_pylist()
    msg_text = messages.column("text").to_pylist()
    msg_speaker = messages.column("speaker").to_pylist()
    new_msg_text: list[str | None] = list(msg_text)
    changed_msgs: list[int] = []
    found: dict[str, int] = defaultdict(int)
    turns: dict[str, list[tuple[str, str]]] = defaultdict(list)
    cache: RedactionCache = {}
    for i, (iid, text, speaker) in enumerate(zip(msg_ids, msg_text, msg_speaker, strict=True)):
        if not text:
            continue
        result = _apply(text, _spans(text, tuple(names.get(iid, ())), speaker == "customer",
                                     cache))
        if result.found:
            found[iid] += result.found
            new_msg_text[i] = result.text
            changed_msgs.append(i)
        turns[iid].append((speaker or "", result.text))

    # -- interactions: redact text ------------------------------------------------------------
    ids = interactions.column("interaction_id").to_pylist()
    texts = interactions.column("text").to_pylist()
    subjects = interactions.column("subject").to_pylist()
    new_text: list[str | None] = list(texts)
    changed_inter: list[int] = []
    redacted: dict[str, str] = {}
    for i, (iid, text) in enumerate(zip(ids, texts, strict=True)):
        if not text:
            continue
        result = redact_transcript(text, names.get(iid, ()), cache)
        if result.found:
            found[iid] += result.found
            new_text[i] = result.text
            changed_inter.append(i)
        redacted[iid] = result.text

    # -- analyse ------------------------------------------------------------------------------
    subject_of = dict(zip(ids, subjects, strict=True))
    started = dict(zip(ids, interactions.column("started_at").to_pylist(), strict=True))
    agent_reason = dict(zip(ids, interactions.column("reason").to_pylist(), strict=True))
    with_text = [iid for iid in ids if iid in redacted or iid in turns]
    records: list[dict[str, Any]] = []
    doc_terms: list[tuple[Any, str, list[str]]] = []
    for start in range(0, len(with_text), BATCH):
        batch = with_text[start : start + BATCH]
        records.extend(_analyse(batch, redacted, turns, subject_of, found, classifier, engine,
                                settings.user_dictionary, doc_terms, started, agent_reason))

    insights = pa.Table.from_pylist(records) if records else None
    with wh.transaction():
        wh.replace("interaction_insights", insights if insights is not None else [])
        if settings.redact and changed_inter:
            rows = interactions.take(pa.array(changed_inter))
            column = pa.array([new_text[i] for i in changed_inter], pa.string())
            wh.upsert("interactions", rows.set_column(
                rows.schema.get_field_index("text"), "text", column))
        if settings.redact and changed_msgs:
            rows = messages.take(pa.array(changed_msgs))
            column = pa.array([new_msg_text[i] for i in changed_msgs], pa.string())
            wh.upsert("messages", rows.set_column(
                rows.schema.get_field_index("text"), "text", column))
    topic_rows = topics.build(doc_terms)
    wh.replace("topics", topic_rows)
    seconds = time.perf_counter() - t0
    return {
        "interactions": len(with_text),
        "pii_found": int(sum(found.values())),
        "redacted_interactions": len(changed_inter) if settings.redact else 0,
        "redacted_messages": len(changed_msgs) if settings.redact else 0,
        "intent_method": "model" if classifier.model is not None else "rules",
        "topics": len(topic_rows),
        "emerging_terms": sum(1 for r in topic_rows if r["emerging"]),
        "texts_per_s": round(len(with_text) / seconds, 1) if seconds else None,
    }


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
            "keywords": json.dumps(keywords, ensure_ascii=False),
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
