"""Speech + QA stages on the PySpark backend give the same results as on DuckDB."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime

import numpy as np
import pyarrow as pa
import pytest
import soundfile as sf

from cxlens.load import store_records
from cxlens.qa import scorecards
from cxlens.qa.stage import run

START = datetime(2026, 8, 3, 9, 0)


def _stereo_call(folder) -> str:
    assert shutil.which("espeak-ng") and shutil.which("sox")
    parts = []
    for text, voice in (("Good morning, thank you for calling.", "en"),
                        ("I am really angry, my bill is wrong.", "en-us")):
        raw, out = folder / "raw.wav", folder / f"{voice}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True)
        subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", str(out)], check=True)
        parts.append(sf.read(out, dtype="float32")[0])
    lead = np.zeros(8000, np.float32)
    left = np.concatenate([lead, parts[0], lead, np.zeros(len(parts[1]), np.float32), lead])
    right = np.concatenate([lead, np.zeros(len(parts[0]), np.float32), lead, parts[1], lead])
    sf.write(folder / "call.wav", np.stack([left, right], axis=1), 16000)
    return str(folder / "call.wav")


def _fill(ws, audio: str) -> None:
    calls = [
        {"source": "pbx", "source_id": "1", "channel": "phone", "agent_id": "A1", "queue": "q",
         "started_at": START, "language": "en", "audio_ref": audio},
        {"source": "chat", "source_id": "2", "channel": "chat", "agent_id": "A2", "queue": "q",
         "started_at": START, "language": "zh", "audio_ref": None},
    ]
    store_records(ws, "interactions", pa.Table.from_pylist(calls))
    store_records(ws, "messages", pa.Table.from_pylist([
        {"interaction_id": "chat:2", "source": "chat", "source_id": f"2:{i}", "seq": i,
         "speaker": sp, "ts": START, "text": tx}
        for i, (sp, tx) in enumerate([("agent", "您好，很高兴为您服务"), ("customer", "太离谱了！"),
                                      ("agent", "你自己看着办。")], 1)]))


@pytest.mark.slow
@pytest.mark.spark
def test_speech_and_qa_agree_on_duckdb_and_pyspark(make_workspace, tmp_path) -> None:
    audio = _stereo_call(tmp_path)
    outcomes = {}
    for engine in ("duckdb", "pyspark"):
        ws = make_workspace(engine, name=f"ws-{engine}")
        _fill(ws, audio)
        summary = run(ws)
        assert summary["speech"]["transcribed"] == 1
        insights = {r["interaction_id"]: (r["qa_score"], r["qa_passed"]) for r in
                    ws.warehouse.table("interaction_insights").to_pyarrow().to_pylist()}
        cards = scorecards(ws, "agent")
        outcomes[engine] = (insights, cards, summary["failed_by_rule"])
    assert outcomes["duckdb"] == outcomes["pyspark"]
    insights, cards, failed = outcomes["duckdb"]
    assert insights["chat:2"][1] is False  # forbidden phrase
    assert failed.get("forbidden_phrase") == 1
    assert insights["pbx:1"][0] is not None  # the transcribed call got a score
    assert {c["agent"] for c in cards} == {"A1", "A2"}
