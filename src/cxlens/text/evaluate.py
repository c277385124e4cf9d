"""Scoring helpers shared by the tests, the benchmark and ``cxlens eval``.

Redaction is scored per planted PII occurrence and per redacted span:

* recall = planted occurrences fully covered by redacted spans / planted occurrences;
* precision = redacted spans that overlap a planted occurrence / redacted spans.

A labelled case is ``{"text", "names", "pii": [{"type", "text"}]}`` — the format of
``tests/fixtures/text/pii_cases.jsonl`` and of the synth's ``truth/interactions.parquet``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from cxlens.text.redact import find


def read_cases(path: Path) -> list[dict[str, Any]]:
    """Labelled redaction cases from a JSON-lines file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _occurrences(text: str, value: str) -> list[tuple[int, int]]:
    out, start = [], 0
    while value:
        at = text.find(value, start)
        if at < 0:
            break
        out.append((at, at + len(value)))
        start = at + len(value)
    return out


def _find_case(case: dict[str, Any]) -> list[Any]:
    # With speaker segments (synth conversations), names are guessed in customer turns only,
    # exactly as the text stage does.
    names = case.get("names") or ()
    segments = case.get("segments")
    if not segments:
        return find(case["text"], names, bool(case.get("guess_names", True)))
    spans = []
    for offset, length, speaker in segments:
        part = case["text"][offset : offset + length]
        for s in find(part, names, speaker == "customer"):
            spans.append(type(s)(s.start + offset, s.end + offset, s.kind))
    return spans


def score_redaction(cases: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Precision, recall, the misses and false alarms (first 20 each), and texts/s."""
    cases = list(cases)
    tp_spans = fp_spans = covered = planted = 0
    misses: list[dict[str, str]] = []
    false_alarms: list[dict[str, str]] = []
    t0 = time.perf_counter()
    found_all = [_find_case(c) for c in cases]
    seconds = time.perf_counter() - t0
    for case, spans in zip(cases, found_all, strict=True):
        text = case["text"]
        truth: list[tuple[int, int]] = []
        for item in case.get("pii") or []:
            occ = _occurrences(text, item["text"])
            truth.extend(occ)
            for lo, hi in occ:
                planted += 1
                chars = set(range(lo, hi))
                for s in spans:
                    chars -= set(range(s.start, s.end))
                if chars:
                    misses.append({"type": item["type"], "text": item["text"], "in": text[:200]})
                else:
                    covered += 1
        for s in spans:
            if any(s.start < hi and lo < s.end for lo, hi in truth):
                tp_spans += 1
            else:
                fp_spans += 1
                false_alarms.append({"type": s.kind, "text": text[s.start : s.end],
                                     "in": text[:200]})
    return {
        "texts": len(cases), "planted": planted, "recall": covered / planted if planted else 1.0,
        "precision": tp_spans / (tp_spans + fp_spans) if tp_spans + fp_spans else 1.0,
        "false_alarms": len(false_alarms), "misses": len(misses),
        "texts_per_s": round(len(cases) / seconds, 1) if seconds else None,
        "miss_examples": misses[:20], "false_alarm_examples": false_alarms[:20],
    }


def synth_cases(truth_dir: Path, messages: Any, names: dict[str, Sequence[str]] | None = None,
                limit: int | None = None) -> list[dict[str, Any]]:
    """Labelled cases from a synth workspace: each interaction's full text + its planted spans.

    ``messages`` is an Arrow table of (interaction_id, seq, text) read *before* the text stage
    redacted them (or from the synth's own output).
    """
    import pyarrow.parquet as pq

    truth = pq.read_table(truth_dir / "interactions.parquet",
                          columns=["interaction_id", "pii"]).to_pylist()
    by_id: dict[str, list[tuple[str, str]]] = {}
    for iid, speaker, text in zip(messages.column("interaction_id").to_pylist(),
                                  messages.column("speaker").to_pylist(),
                                  messages.column("text").to_pylist(), strict=True):
        by_id.setdefault(iid, []).append((speaker or "", text or ""))
    cases = []
    for row in truth:
        turns = by_id.get(row["interaction_id"])
        if not turns:
            continue
        segments, offset = [], 0
        for speaker, text in turns:
            segments.append((offset, len(text), speaker))
            offset += len(text) + 1
        planted = json.loads(row["pii"] or "[]")
        cases.append({"text": "\n".join(t for _, t in turns), "segments": segments,
                      "names": list((names or {}).get(row["interaction_id"], ())),
                      "pii": planted})
        if limit and len(cases) >= limit:
            break
    return cases
