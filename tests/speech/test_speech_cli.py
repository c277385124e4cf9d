"""`cxlens transcribe` and `cxlens qa` as a user runs them (a real process, one-line errors)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def _cli(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cxlens.cli.main", *args], capture_output=True,
                          text=True, timeout=600, cwd=cwd, env={"PATH": "/usr/bin:/bin"})


def test_transcribe_json(en_call) -> None:
    result = _cli("transcribe", str(en_call), "--language", "en", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert [s["speaker"] for s in doc["segments"]] == ["agent", "customer"]
    assert "good morning" in doc["segments"][0]["text"]
    assert doc["signal"]["talk_ratio"] > 0 and doc["rtf"] > 0


def test_transcribe_table_output(en_mono) -> None:
    result = _cli("transcribe", str(en_mono))
    assert result.returncode == 0, result.stderr
    assert "good morning" in result.stdout and "longest silence" in result.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["/nonexistent/call.wav"], "does not exist"),
    (["{zh}", "--language", "zh"], "no 'zh' model"),
    (["{zh}", "--language", "fr"], "unknown language 'fr'"),
    (["{zh}", "--engine", "faster-whisper"], "local model directory"),
    (["{bad}"], "unsupported audio format .m4a"),
])
def test_transcribe_errors_are_one_line(args, message, zh_call, tmp_path) -> None:
    bad = tmp_path / "call.m4a"
    bad.write_bytes(b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 64)
    args = [a.format(zh=zh_call, bad=bad) for a in args]
    result = _cli("transcribe", *args)
    assert result.returncode == 1
    assert message in result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1  # no traceback


def test_qa_command(tmp_path) -> None:
    import pyarrow as pa

    import cxlens
    from cxlens.config import load_settings
    from cxlens.load import store_records

    ws = cxlens.init(tmp_path / "ws", load_settings(None, environ={}))
    store_records(ws, "interactions", pa.Table.from_pylist([
        {"source": "chat", "source_id": "1", "channel": "chat", "agent_id": "A1", "queue": "q"}]))
    store_records(ws, "messages", pa.Table.from_pylist([
        {"interaction_id": "chat:1", "source": "chat", "source_id": "1:1", "seq": 1,
         "speaker": "agent", "text": "您好，很高兴为您服务。请问还有其他问题吗？再见"}]))
    ws.close()
    result = _cli("qa", "--workspace", str(tmp_path / "ws"), "--json")
    assert result.returncode == 0, result.stderr
    cards = json.loads(result.stdout)
    assert cards[0]["agent"] == "A1" and cards[0]["inspected"] == 1
    assert cards[0]["top_failed_rules"] == [{"rule": "verify_identity", "failed": 1, "rate": 1.0}]
    detail = _cli("qa", "-w", str(tmp_path / "ws"), "--interaction", "chat:1", "--json")
    rules = {r["rule"]: r for r in json.loads(detail.stdout)["rules"]}
    assert rules["greeting"]["evidence"]["text"] == "您好"
    text = _cli("qa", "-w", str(tmp_path / "ws"), "--by", "queue")
    assert text.returncode == 0 and "QA scorecards by queue" in text.stdout
    wrong = _cli("qa", "-w", str(tmp_path / "ws"), "--by", "planet")
    assert wrong.returncode == 1 and "use --by agent | team | queue" in wrong.stderr
    missing = _cli("qa", "-w", str(tmp_path / "nope"))
    assert missing.returncode == 1 and "does not exist" in missing.stderr
