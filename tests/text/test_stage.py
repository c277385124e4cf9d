"""The text stage on a hand-made workspace, on DuckDB and PySpark."""

from __future__ import annotations

import json
from datetime import datetime

import pyarrow as pa
import pytest

from cxlens.text import stage

T0 = datetime(2026, 8, 3, 9, 0)


def _seed(ws) -> None:
    wh = ws.warehouse
    wh.append("interactions", [
        {"interaction_id": "chat:c1", "source": "chat", "source_id": "c1", "channel": "chat",
         "started_at": T0, "reason": "delivery", "queue": "q1", "agent_id": "a1",
         "text": "客服：您好，我是李明。\n客户：我的快递一直没收到，订单号 2026081512345，电话13812345678"},
        {"interaction_id": "email:e1", "source": "email", "source_id": "e1", "channel": "email",
         "started_at": T0, "subject": "Refund",
         "text": "<html><body><p>I want a refund, card 4111 1111 1111 1111.</p>"
                 "<p>Regards,<br>Mary Jones</p></body></html>"},
        {"interaction_id": "phone:p1", "source": "phone", "source_id": "p1", "channel": "phone",
         "started_at": T0, "text": None},
        {"interaction_id": "sms:s1", "source": "sms", "source_id": "s1", "channel": "sms",
         "started_at": T0, "text": "🙂🙂"},
    ])
    wh.append("messages", [
        {"interaction_id": "chat:c1", "source": "chat", "source_id": "c1:0", "seq": 0,
         "speaker": "agent", "ts": T0, "text": "您好，我是李明。"},
        {"interaction_id": "chat:c1", "source": "chat", "source_id": "c1:1", "seq": 1,
         "speaker": "customer", "ts": T0,
         "text": "气死我了，我的快递一直没收到，太差了！订单号 2026081512345，电话13812345678"},
        {"interaction_id": "chat:c1", "source": "chat", "source_id": "c1:2", "seq": 2,
         "speaker": "agent", "ts": T0, "text": "非常抱歉，王芳女士，已经帮您加急。"},
        {"interaction_id": "chat:c1", "source": "chat", "source_id": "c1:3", "seq": 3,
         "speaker": "customer", "ts": T0, "text": "好的，问题解决了，非常满意，谢谢！"},
    ])
    wh.append("parties", [{"source": "crm", "source_id": "p9", "name": "王芳"}])
    wh.append("identity_map", [
        {"record_table": "parties", "source": "crm", "source_id": "p9", "customer_key": "K1"},
        {"record_table": "interactions", "source": "chat", "source_id": "c1", "customer_key": "K1"},
    ])


def test_text_stage(make_workspace) -> None:
    _check_stage(make_workspace("duckdb"))


@pytest.mark.slow
@pytest.mark.spark
def test_text_stage_on_spark(make_workspace) -> None:
    _check_stage(make_workspace("pyspark"))


def _check_stage(workspace) -> None:
    _seed(workspace)
    summary = stage.run(workspace)
    assert summary["interactions"] == 3  # the phone call has no text
    wh = workspace.warehouse
    rows = {r["interaction_id"]: r for r in wh.table("interaction_insights").to_pyarrow().to_pylist()}
    assert set(rows) == {"chat:c1", "email:e1", "sms:s1"}
    chat = rows["chat:c1"]
    assert chat["language"] == "zh" and chat["intent"] == "delivery"
    assert chat["sentiment_start"] < 0 < chat["sentiment_end"]
    assert chat["pii_found"] >= 2 and chat["qa_score"] is None
    assert "13812345678" not in chat["redacted_text"] and "2026081512345" in chat["redacted_text"]
    assert "快递" in json.loads(chat["keywords"])
    email = rows["email:e1"]
    assert email["language"] == "en" and email["intent"] == "refund"
    assert "[CARD]" in email["redacted_text"] and "Mary Jones" not in email["redacted_text"]
    assert rows["sms:s1"]["language"] == "other" and rows["sms:s1"]["intent"] == "other"

    # PII redacted in place: only the text column changed, other columns kept.
    inter = {r["interaction_id"]: r for r in wh.table("interactions").to_pyarrow().to_pylist()}
    assert "[PHONE]" in inter["chat:c1"]["text"] and inter["chat:c1"]["reason"] == "delivery"
    assert inter["chat:c1"]["agent_id"] == "a1" and len(inter) == 4
    msgs = {r["source_id"]: r for r in wh.table("messages").to_pyarrow().to_pylist()}
    assert len(msgs) == 4
    assert msgs["c1:1"]["text"].endswith("电话[PHONE]")
    assert msgs["c1:2"]["text"] == "非常抱歉，[NAME]女士，已经帮您加急。"  # CRM name via identity_map
    assert msgs["c1:0"]["text"] == "您好，我是李明。"  # the agent's own name is not the customer's

    topics = wh.table("topics").to_pyarrow().to_pylist()
    assert {"period", "reason", "term", "lift", "emerging"} <= set(topics[0])
    assert any(t["term"] == "快递" and t["reason"] == "delivery" for t in topics)

    # Idempotent: a second run finds nothing new to redact.
    again = stage.run(workspace)
    assert again["redacted_messages"] == 0 and again["redacted_interactions"] == 0
    assert wh.table("interaction_insights").count().execute() == 3


def test_redaction_can_be_turned_off(make_workspace) -> None:
    ws = make_workspace("duckdb")
    ws.settings.text.redact = False
    _seed(ws)
    stage.run(ws)
    texts = ws.warehouse.table("messages").to_pyarrow().column("text").to_pylist()
    assert any("13812345678" in t for t in texts)
    insights = ws.warehouse.table("interaction_insights").to_pyarrow().to_pylist()
    assert all("13812345678" not in r["redacted_text"] for r in insights)


def test_empty_workspace(make_workspace) -> None:
    ws = make_workspace("duckdb")
    summary = stage.run(ws)
    assert summary["interactions"] == 0
    assert ws.warehouse.table("interaction_insights").count().execute() == 0
    assert isinstance(pa.table({"x": [1]}), pa.Table)


def test_same_output_with_one_or_two_workers(make_workspace, tmp_path, monkeypatch) -> None:
    import os

    from cxlens import synth

    monkeypatch.setattr(stage, "CHUNK_MIN", 40)  # several chunks on a small workspace
    chunk = stage._chunk

    def spy(job: stage._Job, group_ids: list[str]) -> stage._Part:
        (tmp_path / f"pid-{os.getpid()}").touch()  # which processes did the work
        return chunk(job, group_ids)

    monkeypatch.setattr(stage, "_chunk", spy)
    tables = []
    for workers in (1, 2):
        ws = make_workspace("duckdb", name=f"w{workers}")
        synth.generate(ws, synth.SynthConfig.checked(customers=120, days=10, seed=3), workers=1)
        ws.settings.text.workers = workers
        summary = stage.run(ws)
        del summary["texts_per_s"]  # timing
        wh = ws.warehouse
        tables.append((
            summary,
            wh.table("interaction_insights").order_by("interaction_id").to_pyarrow(),
            wh.table("topics").order_by(["period", "reason", "term"]).to_pyarrow(),
            wh.table("interactions").select("interaction_id", "text")
            .order_by("interaction_id").to_pyarrow(),
            wh.table("messages").select("interaction_id", "seq", "text")
            .order_by(["interaction_id", "seq"]).to_pyarrow(),
        ))
    one, two = tables
    assert one[0]["interactions"] > 120 and one[0]["pii_found"] > 50
    for a, b in zip(one, two, strict=True):
        assert a == b
    assert {p.name for p in tmp_path.glob("pid-*")} - {f"pid-{os.getpid()}"}  # a worker ran


def test_messages_without_interaction_and_null_ids(make_workspace, monkeypatch) -> None:
    # Chunks are slices of interactions sorted by id, each with the messages whose id sorts into
    # it: messages of no interaction (before, between and after the ids, or with a null id) are
    # still redacted, and the result does not depend on the chunking or the number of workers.
    monkeypatch.setattr(stage, "CHUNK_MIN", 3)
    results = []
    for workers in (1, 2):
        ws = make_workspace("duckdb", name=f"orphans{workers}")
        wh = ws.warehouse
        wh.append("interactions", [
            {"interaction_id": f"chat:c{k}", "source": "chat", "source_id": f"c{k}",
             "channel": "chat", "started_at": T0, "contact_name": "王伟",
             "text": f"客户：我叫王伟，电话1381234567{k}" if k % 2 else None}
            for k in range(8)
        ] + [{"interaction_id": None, "source": "chat", "source_id": "nullid",
              "text": "电话13812345678"}])
        wh.append("messages", [
            {"interaction_id": f"chat:c{k}", "source": "chat", "source_id": f"c{k}:0", "seq": 0,
             "speaker": "customer", "ts": T0, "text": f"王伟，电话1391234567{k}"}
            for k in range(8)
        ] + [
            {"interaction_id": iid, "source": "chat", "source_id": sid, "seq": 0,
             "speaker": "customer", "ts": T0, "text": "卡号 4111 1111 1111 1111"}
            for iid, sid in (("chat:a", "o1"), ("chat:c3x", "o2"), ("chat:z", "o3"), (None, "o4"))
        ])
        ws.settings.text.workers = workers
        summary = stage.run(ws)
        del summary["texts_per_s"]
        msgs = {r["source_id"]: r["text"] for r in wh.table("messages").to_pyarrow().to_pylist()}
        inter = {r["source_id"]: r["text"] for r in wh.table("interactions").to_pyarrow().to_pylist()}
        insights = wh.table("interaction_insights").order_by("interaction_id").to_pyarrow()
        results.append((summary, msgs, inter, insights))
    (summary, msgs, inter, _), two = results
    assert results[0] == two
    assert summary["interactions"] == 9  # 8 with messages + the null-id row's own text
    assert all(msgs[s] == "卡号 [CARD]" for s in ("o1", "o2", "o3", "o4"))
    assert msgs["c5:0"] == "[NAME]，电话[PHONE]" and inter["c5"] == "客户：我叫[NAME]，电话[PHONE]"
    assert inter["nullid"] == "电话[PHONE]"


def test_transcript_lines_reuse_their_messages_findings(monkeypatch) -> None:
    # A transcript in interactions.text repeats its messages line by line, and the chunk reuses
    # each message's findings for the same line — per speaker role: the same words said by the
    # agent (no name guessing) and by the customer (names guessed) redact differently.
    line = "我叫王伟，电话13812345678"
    transcript = f"客服：{line}\n客户：{line}\n客户：好的"
    inter = pa.table({
        "interaction_id": ["chat:x"], "source": ["chat"], "source_id": ["x"],
        "subject": pa.array([None], pa.string()), "started_at": [T0],
        "reason": pa.array([None], pa.string()), "text": [transcript], "names": [["李雷"]]})
    msgs = pa.table({
        "interaction_id": ["chat:x"] * 3, "source": ["chat"] * 3,
        "source_id": ["x:0", "x:1", "x:2"], "seq": [0, 1, 2],
        "speaker": ["agent", "customer", "customer"], "text": [line, line, "好的"]})
    monkeypatch.setattr(stage, "_analyse", lambda *args: [])
    part = stage._chunk(stage._Job(inter, msgs, None, None, ""), (0, 1, 0, 3))
    alone = stage.redact_transcript(transcript, ("李雷",))
    assert alone.text == "客服：我叫王伟，电话[PHONE]\n客户：我叫[NAME]，电话[PHONE]\n客户：好的"
    assert part.changed_inter.column("text").to_pylist() == [alone.text]
    assert part.changed_msgs.column("text").to_pylist() == [
        "我叫王伟，电话[PHONE]", "我叫[NAME]，电话[PHONE]"]
    assert part.pii_found == 3 + 3  # the messages' findings and the transcript's
