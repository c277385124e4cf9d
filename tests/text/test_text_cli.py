"""`cxlens text redact|sentiment|intent --json` and `cxlens train intent`."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cxlens.cli.main import app

runner = CliRunner()


def _json_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_redact_json() -> None:
    stdin = "电话 +86 138 1234 5678\n" + json.dumps({"text": "I am Mary Jones", "names": ["Mary Jones"]}) + "\n\n"
    result = runner.invoke(app, ["text", "redact", "--json"], input=stdin)
    assert result.exit_code == 0, result.output
    rows = _json_lines(result.output)
    assert [r["text"] for r in rows] == ["电话 [PHONE]", "I am [NAME]", ""]
    assert rows[0]["types"] == ["PHONE"] and rows[2]["pii_found"] == 0


def test_redact_plain_with_name_option() -> None:
    result = runner.invoke(app, ["text", "redact", "--name", "王伟"], input="王伟的卡 4111 1111 1111 1111\n")
    assert result.exit_code == 0
    assert result.output.strip() == "[NAME]的卡 [CARD]"


def test_sentiment_json() -> None:
    stdin = "服务太差了，我要投诉\nThank you so much, great help!\n🙂\n"
    result = runner.invoke(app, ["text", "sentiment", "--json"], input=stdin)
    assert result.exit_code == 0, result.output
    rows = _json_lines(result.output)
    assert [r["label"] for r in rows[:2]] == ["negative", "positive"]
    assert rows[0]["language"] == "zh" and rows[1]["language"] == "en"
    assert all(-1 <= r["score"] <= 1 for r in rows)


def test_intent_json_and_training(tmp_path: Path) -> None:
    result = runner.invoke(app, ["text", "intent", "--json"], input="我的快递还没到\nhello\n")
    assert result.exit_code == 0, result.output
    rows = _json_lines(result.output)
    assert rows[0]["intent"] == "delivery" and rows[0]["label"] == "物流配送"
    assert rows[1]["intent"] == "other"

    ws = tmp_path / "ws"
    assert runner.invoke(app, ["init", "--workspace", str(ws)]).exit_code == 0
    labels = tmp_path / "labels.csv"
    lines = ["text,label"] + [f"where is my parcel {i},delivery" for i in range(15)] + [
        f"refund my order {i},refund" for i in range(15)]
    labels.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["train", "intent", str(labels), "--workspace", str(ws), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["rows"] == 30 and summary["holdout_accuracy"] >= 0.8
    assert (ws / "models" / "intent.joblib").is_file()
    result = runner.invoke(app, ["text", "intent", "--json", "--workspace", str(ws),
                                 "--min-confidence", "0"], input="parcel still missing\n")
    row = _json_lines(result.output)[0]
    assert row["method"] == "model" and row["intent"] == "delivery"


def test_train_intent_bad_file(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    runner.invoke(app, ["init", "--workspace", str(ws)])
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    result = runner.invoke(app, ["train", "intent", str(bad), "--workspace", str(ws)])
    assert result.exit_code != 0
    assert "text,label" in str(result.exception)
