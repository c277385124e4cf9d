"""The speech step: transcribe interactions' recordings (``audio_ref``) into ``messages``.

Picks interactions that have an ``audio_ref`` and no messages yet, transcribes each with the
configured engine, writes speaker-labelled turns into ``messages`` (through
:func:`cxlens.load.store_records`, like every other source record) and one row per call into
``speech_metrics`` (signal metrics + status). A recording that cannot be read gets a
``speech_metrics`` row whose status says why; the run goes on. A call in a language the engine
has no model for keeps its signal metrics (status ``no_asr_model``).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from cxlens.errors import CxlensError
from cxlens.speech.exceptions import UnsupportedLanguageError
from cxlens.workspace import Workspace


def resolve_audio(ws: Workspace, audio_ref: str) -> Path:
    """An ``audio_ref`` as a path: absolute, or relative to ``speech.audio_dir``, or to the
    workspace folder (first that exists; else the workspace-relative path)."""
    ref = audio_ref[len("file://"):] if audio_ref.startswith("file://") else audio_ref
    path = Path(ref).expanduser()
    if path.is_absolute():
        return path
    candidates = []
    if ws.settings.speech.audio_dir:
        candidates.append(Path(ws.settings.speech.audio_dir).expanduser() / path)
    candidates.append(ws.path / path)
    return next((c for c in candidates if c.exists()), candidates[-1])


def _pending(ws: Workspace, force: bool) -> list[dict[str, Any]]:
    wh = ws.warehouse
    calls = wh.table("interactions")
    calls = calls.filter(calls.audio_ref.notnull() & (calls.audio_ref != ""))
    messages = wh.table("messages").select("interaction_id").distinct()
    todo = calls.anti_join(messages, "interaction_id")
    if not force:
        done = wh.table("speech_metrics").select("interaction_id", "audio_ref")
        todo = todo.anti_join(done, ["interaction_id", "audio_ref"])
    todo = todo.select("interaction_id", "source", "source_id", "audio_ref", "started_at",
                       "answered_at", "language")
    return todo.order_by("interaction_id").to_pyarrow().to_pylist()


def transcribe_interactions(ws: Workspace, force: bool = False) -> dict[str, Any]:
    """Transcribe every interaction with an ``audio_ref`` and no messages; returns a summary.

    >>> import cxlens
    >>> from cxlens.speech import transcribe_interactions
    >>> transcribe_interactions(cxlens.open("demo-ws"))   # doctest: +SKIP
    {'audio_calls': 3, 'transcribed': 3, 'failed': 0, 'messages': 41, ...}
    """
    from cxlens.load import store_records
    from cxlens.speech.transcript import transcribe

    pending = _pending(ws, force)
    summary: dict[str, Any] = {"audio_calls": len(pending), "transcribed": 0, "signal_only": 0,
                               "failed": 0, "messages": 0, "audio_s": 0.0, "rtf": None}
    if not pending:
        return summary
    metrics_rows, message_rows = [], []
    processing = 0.0
    now = datetime.now(UTC).replace(tzinfo=None)
    for call in pending:
        row: dict[str, Any] = {"interaction_id": call["interaction_id"],
                               "audio_ref": call["audio_ref"], "processed_at": now}
        language = call["language"] if call["language"] in ("en", "zh") else None
        started = time.perf_counter()
        try:
            path = resolve_audio(ws, call["audio_ref"])
            try:
                transcript = transcribe(path, language=language, settings=ws.settings)
                status = "transcribed"
            except UnsupportedLanguageError:
                transcript = transcribe(path, language=language, settings=ws.settings,
                                        signal_only=True)
                status = "no_asr_model"
        except CxlensError as exc:
            row.update(status=f"error: {exc.message}"[:500], engine=ws.settings.speech.engine)
            metrics_rows.append(row)
            summary["failed"] += 1
            continue
        processing += time.perf_counter() - started
        summary["transcribed" if status == "transcribed" else "signal_only"] += 1
        summary["audio_s"] += transcript.duration_s
        signal = transcript.signal.to_dict() if transcript.signal else {}
        row.update(status=status, engine=transcript.engine, language=transcript.language,
                   segments=len(transcript.segments), rtf=transcript.rtf, **signal)
        metrics_rows.append(row)
        origin = call["answered_at"] or call["started_at"]
        for seq, segment in enumerate(transcript.segments, start=1):
            message_rows.append({
                "interaction_id": call["interaction_id"], "source": call["source"],
                "source_id": f"{call['source_id']}:{seq}", "seq": seq,
                "speaker": segment.speaker, "text": segment.text,
                "ts": origin + timedelta(seconds=segment.start_s) if origin else None,
            })
    if message_rows:
        store_records(ws, "messages", pa.Table.from_pylist(message_rows),
                      ingest_id=f"speech-{now:%Y%m%dT%H%M%S}")
    ws.warehouse.upsert("speech_metrics", metrics_rows, keys=("interaction_id",))
    summary["messages"] = len(message_rows)
    summary["audio_s"] = round(summary["audio_s"], 1)
    if summary["audio_s"]:
        summary["rtf"] = round(processing / summary["audio_s"], 3)
    return summary


def run(ws: Workspace) -> dict[str, Any]:
    """Pipeline entry (stage ``speech``)."""
    return transcribe_interactions(ws)
