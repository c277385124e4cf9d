"""The speech step on a workspace: recordings referenced by interactions → messages + metrics."""

from __future__ import annotations

import shutil
from datetime import datetime

import pyarrow as pa
import pytest

from cxlens.load import store_records
from cxlens.pipeline import run as run_pipeline
from cxlens.speech import transcribe_interactions
from cxlens.speech.stage import resolve_audio

START = datetime(2026, 8, 3, 9, 0, 0)


def _calls(ws, en_call, zh_call) -> None:
    (ws.path / "audio").mkdir()
    shutil.copy(en_call, ws.path / "audio" / "en.wav")
    rows = [
        {"source": "pbx", "source_id": "C1", "channel": "phone", "agent_id": "A1",
         "started_at": START, "answered_at": START, "language": "en", "audio_ref": "audio/en.wav"},
        {"source": "pbx", "source_id": "C2", "channel": "phone", "agent_id": "A2",
         "started_at": START, "language": "zh", "audio_ref": str(zh_call)},  # absolute path
        {"source": "pbx", "source_id": "C3", "channel": "phone", "agent_id": "A1",
         "started_at": START, "language": "en", "audio_ref": "audio/missing.wav"},
        {"source": "pbx", "source_id": "C4", "channel": "phone", "agent_id": "A1",
         "started_at": START, "language": "en", "audio_ref": "audio/en.wav"},  # has messages
        {"source": "pbx", "source_id": "C5", "channel": "phone", "started_at": START},  # no audio
    ]
    store_records(ws, "interactions", pa.Table.from_pylist(rows))
    store_records(ws, "messages", pa.Table.from_pylist([
        {"interaction_id": "pbx:C4", "source": "pbx", "source_id": "C4:1", "seq": 1,
         "speaker": "agent", "ts": START, "text": "vendor transcript"}]))


def test_transcribe_interactions(make_workspace, en_call, zh_call) -> None:
    # DuckDB here; the PySpark path of speech + qa runs once in tests/qa/test_qa_spark.py.
    ws = make_workspace("duckdb")
    _calls(ws, en_call, zh_call)
    summary = transcribe_interactions(ws)
    assert summary["audio_calls"] == 3  # C1, C2, C3 (C4 has messages, C5 no audio)
    assert summary["transcribed"] == 1 and summary["signal_only"] == 1 and summary["failed"] == 1
    assert summary["rtf"] is not None and summary["audio_s"] > 5

    messages = ws.warehouse.table("messages").to_pyarrow().to_pylist()
    c1 = sorted((m for m in messages if m["interaction_id"] == "pbx:C1"), key=lambda m: m["seq"])
    assert [m["speaker"] for m in c1] == ["agent", "customer"]
    assert [m["source_id"] for m in c1] == ["C1:1", "C1:2"]
    assert c1[0]["ts"] >= START and c1[1]["ts"] > c1[0]["ts"]
    assert "good morning" in c1[0]["text"]
    assert not any(m["interaction_id"] == "pbx:C2" for m in messages)  # no zh model

    metrics = {r["interaction_id"]: r for r in
               ws.warehouse.table("speech_metrics").to_pyarrow().to_pylist()}
    assert metrics["pbx:C1"]["status"] == "transcribed" and metrics["pbx:C1"]["segments"] == 2
    assert 0.3 < metrics["pbx:C1"]["talk_ratio"] < 0.8
    assert metrics["pbx:C2"]["status"] == "no_asr_model"
    assert metrics["pbx:C2"]["talk_s"] > 2 and metrics["pbx:C2"]["channels"] == 2
    assert metrics["pbx:C3"]["status"].startswith("error: audio file")
    assert "pbx:C4" not in metrics and "pbx:C5" not in metrics

    again = transcribe_interactions(ws)  # idempotent: nothing left to do
    assert again["audio_calls"] == 0
    assert ws.warehouse.table("messages").count().execute() == len(messages)


def test_speech_is_a_pipeline_stage(make_workspace, en_call, zh_call) -> None:
    ws = make_workspace("duckdb")
    _calls(ws, en_call, zh_call)
    results = {r["stage"]: r for r in run_pipeline(ws, only=["speech"])}
    assert results["speech"]["status"] == "done" and results["speech"]["transcribed"] == 1


def test_audio_ref_resolution(make_workspace, tmp_path) -> None:
    ws = make_workspace("duckdb")
    store = tmp_path / "store"
    (store / "2026").mkdir(parents=True)
    (store / "2026" / "a.wav").write_bytes(b"x")
    assert resolve_audio(ws, "/abs/a.wav").as_posix() == "/abs/a.wav"
    assert resolve_audio(ws, "file:///abs/b.wav").as_posix() == "/abs/b.wav"
    assert resolve_audio(ws, "2026/a.wav") == ws.path / "2026" / "a.wav"  # not found: workspace
    ws.settings.speech.audio_dir = str(store)
    assert resolve_audio(ws, "2026/a.wav") == store / "2026" / "a.wav"


@pytest.mark.parametrize("bad", [b"", b"not audio at all" * 10])
def test_bad_recordings_do_not_stop_the_run(make_workspace, en_call, bad) -> None:
    ws = make_workspace("duckdb")
    (ws.path / "bad.wav").write_bytes(bad)
    shutil.copy(en_call, ws.path / "good.wav")
    store_records(ws, "interactions", pa.Table.from_pylist([
        {"source": "pbx", "source_id": "B", "channel": "phone", "started_at": START,
         "audio_ref": "bad.wav"},
        {"source": "pbx", "source_id": "G", "channel": "phone", "started_at": START,
         "audio_ref": "good.wav"}]))
    summary = transcribe_interactions(ws)
    assert summary["failed"] == 1 and summary["transcribed"] == 1
    status = {r["interaction_id"]: r["status"] for r in
              ws.warehouse.table("speech_metrics").to_pyarrow().to_pylist()}
    assert status["pbx:B"].startswith("error:") and status["pbx:G"] == "transcribed"
