"""The qa stage on a workspace: synth truth (precision/recall per rule) and hand-computed cards."""

from __future__ import annotations

import json
from datetime import datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cxlens.errors import InputError, NotFoundError
from cxlens.load import store_records
from cxlens.qa import interaction_detail, scorecards
from cxlens.qa.stage import run

SYNTH_RULES = ("greeting", "verify_identity", "closing", "forbidden_phrase", "empathy")
START = datetime(2026, 8, 3, 9, 0)


@pytest.fixture(scope="module")
def synth_ws(tmp_path_factory):
    """A small synth contact centre (seed differs from the one the rule book was checked on)."""
    import cxlens
    from cxlens import synth
    from cxlens.config import load_settings

    ws = cxlens.init(tmp_path_factory.mktemp("qa") / "ws", load_settings(None, environ={}))
    synth.generate(ws, synth.SynthConfig.checked(customers=250, days=20, seed=5))
    summary = run(ws)
    yield ws, summary
    ws.close()


def _precision_recall(ws) -> dict[str, tuple[float, float, int]]:
    truth = pq.read_table(ws.truth_dir / "interactions.parquet").to_pylist()
    rows = ws.warehouse.table("qa_results").to_pyarrow().to_pylist()
    inspected = {r["interaction_id"] for r in rows}
    failed: dict[str, set[str]] = {}
    for r in rows:
        if r["applicable"] and not r["passed"]:
            failed.setdefault(r["rule"], set()).add(r["interaction_id"])
    out = {}
    for rule in SYNTH_RULES:
        planted = {t["interaction_id"] for t in truth if t["interaction_id"] in inspected
                   and rule in json.loads(t["qa_violations"] or "[]")}
        found = failed.get(rule, set())
        tp = len(planted & found)
        out[rule] = (tp / len(found) if found else 1.0, tp / len(planted) if planted else 1.0,
                     len(planted))
    return out


def test_qa_finds_the_planted_violations(synth_ws) -> None:
    ws, _ = synth_ws
    scores = _precision_recall(ws)
    for rule, (precision, recall, planted) in scores.items():
        assert planted >= 3, f"synth planted too few {rule} slips to measure"
        floor = 0.9 if rule == "empathy" else 0.95
        assert precision >= floor and recall >= floor, (rule, precision, recall)


def test_every_interaction_with_text_is_inspected_and_scored(synth_ws) -> None:
    ws, summary = synth_ws
    con = ws.warehouse
    calls = con.table("interactions").to_pyarrow().to_pylist()
    messages = {r["interaction_id"] for r in
                con.table("messages").select("interaction_id").to_pyarrow().to_pylist()}
    with_text = {c["interaction_id"] for c in calls
                 if c["interaction_id"] in messages or (c["text"] or "").strip()}
    insights = {r["interaction_id"]: r for r in
                con.table("interaction_insights").to_pyarrow().to_pylist()}
    assert set(insights) >= with_text  # a row for each, created when the text stage had not
    assert summary["inspected"] == len(with_text)
    agent_handled = {c["interaction_id"] for c in calls
                     if c["interaction_id"] in messages and c["agent_id"]}
    assert all(insights[i]["qa_score"] is not None for i in agent_handled)
    ivr = [c["interaction_id"] for c in calls if c["channel"] == "ivr" and c["interaction_id"] in with_text]
    assert all(insights[i]["qa_score"] is None for i in ivr)  # nothing an agent did to grade
    rules_per_call = {}
    for r in con.table("qa_results").to_pyarrow().to_pylist():
        rules_per_call.setdefault(r["interaction_id"], set()).add(r["rule"])
    assert all(len(v) == 7 for v in rules_per_call.values())
    assert summary["scored"] == sum(1 for r in insights.values() if r["qa_score"] is not None)


def test_rerun_replaces_rather_than_duplicates(synth_ws) -> None:
    ws, first = synth_ws
    before = ws.warehouse.table("qa_results").count().execute()
    again = run(ws)
    assert again["inspected"] == first["inspected"] and again["passed"] == first["passed"]
    assert ws.warehouse.table("qa_results").count().execute() == before
    ids = ws.warehouse.table("interaction_insights").interaction_id
    assert ids.count().execute() == ids.nunique().execute()


def _results(ws) -> list[tuple]:
    t = ws.warehouse.table("qa_results").drop("scored_at").to_pyarrow()
    cols = t.column_names
    return sorted(tuple(row[c] for c in cols) for row in t.to_pylist())


def test_small_batches_and_flushes_give_the_same_results(synth_ws, monkeypatch) -> None:
    """Conversations split across stream batches and several write batches: same rows."""
    import cxlens.qa.stage as stage

    ws, first = synth_ws
    run(ws)
    expected = _results(ws)
    scores = ws.warehouse.table("interaction_insights").select(
        "interaction_id", "qa_score", "qa_passed").to_pyarrow().sort_by("interaction_id")
    monkeypatch.setattr(stage, "_BATCH_ROWS", 7)  # every few interactions straddle a batch
    monkeypatch.setattr(stage, "FLUSH_EVERY", 50)
    again = run(ws)
    assert again["inspected"] == first["inspected"] and again["passed"] == first["passed"]
    assert _results(ws) == expected
    assert ws.warehouse.table("interaction_insights").select(
        "interaction_id", "qa_score", "qa_passed").to_pyarrow().sort_by("interaction_id") == scores


def test_worker_processes_give_the_same_rows_in_the_same_order(synth_ws, monkeypatch) -> None:
    """Chunks inspected in two forked workers, written as they come back: the rows and their
    order are those of the inspection in this process, and so is the summary."""
    import cxlens.qa.stage as stage

    ws, _ = synth_ws
    drop = ("interactions_per_s",)
    serial = run(ws, workers=1)
    rows = ws.warehouse.table("qa_results").drop("scored_at").to_pyarrow()
    scores = ws.warehouse.table("interaction_insights").select(
        "interaction_id", "qa_score", "qa_passed").to_pyarrow().sort_by("interaction_id")
    monkeypatch.setattr(stage, "CHUNK", 37)  # many chunks, several in flight per worker
    monkeypatch.setattr(stage, "FLUSH_EVERY", 100)
    monkeypatch.setattr(stage, "_BATCH_ROWS", 53)
    parallel = run(ws, workers=2)
    assert {k: v for k, v in parallel.items() if k not in drop} == {
        k: v for k, v in serial.items() if k not in drop}
    assert list(parallel["failed_by_rule"]) == list(serial["failed_by_rule"])
    assert ws.warehouse.table("qa_results").drop("scored_at").to_pyarrow().equals(rows)
    assert ws.warehouse.table("interaction_insights").select(
        "interaction_id", "qa_score", "qa_passed").to_pyarrow().sort_by("interaction_id") == scores


def test_a_failing_worker_fails_the_stage_and_keeps_the_last_results(synth_ws, monkeypatch) -> None:
    import cxlens.qa.stage as stage
    from cxlens.qa.engine import Inspector

    ws, _ = synth_ws
    before = _results(ws)
    calls = {"n": 0}
    inspect = Inspector.inspect

    def flaky(self, turns, context=None):  # forked workers inherit the patch
        calls["n"] += 1
        if calls["n"] == 150:
            raise ValueError("rule engine broke")
        return inspect(self, turns, context)

    monkeypatch.setattr(Inspector, "inspect", flaky)
    monkeypatch.setattr(stage, "CHUNK", 100)
    monkeypatch.setattr(stage, "FLUSH_EVERY", 100)
    with pytest.raises(ValueError, match="rule engine broke"):
        run(ws, workers=2)
    assert _results(ws) == before  # one transaction: the written batches were rolled back


def test_scorecards_by_every_grouping(synth_ws) -> None:
    ws, summary = synth_ws
    for by in ("agent", "team", "queue"):
        cards = scorecards(ws, by)
        assert cards and all(by in c and 0 <= c["mean_score"] <= 100 for c in cards)
        assert sum(c["inspected"] for c in cards) == summary["scored"]
        assert [c["mean_score"] for c in cards] == sorted((c["mean_score"] for c in cards), reverse=True)
    assert all(c["name"] for c in scorecards(ws, "agent"))
    with pytest.raises(InputError, match="group"):
        scorecards(ws, "planet")


def _hand_workspace(ws) -> None:
    calls = [
        {"source": "pbx", "source_id": "1", "channel": "phone", "agent_id": "A1", "queue": "billing",
         "started_at": START},
        {"source": "pbx", "source_id": "2", "channel": "phone", "agent_id": "A1", "queue": "billing",
         "started_at": START},
        {"source": "pbx", "source_id": "3", "channel": "phone", "agent_id": "A2", "queue": "tech",
         "started_at": START},
        {"source": "ivr", "source_id": "4", "channel": "ivr", "queue": "billing", "started_at": START,
         "text": "欢迎致电，查询请按1"},
        {"source": "mail", "source_id": "5", "channel": "email", "agent_id": "A2", "queue": "tech",
         "direction": "outbound", "started_at": START,
         "text": "Dear customer, your refund is on its way. Have a nice day."},
    ]
    keys = sorted({k for c in calls for k in c})  # from_pylist takes its columns from row 1
    store_records(ws, "interactions", pa.Table.from_pylist([{k: c.get(k) for k in keys}
                                                            for c in calls]))
    store_records(ws, "agents", pa.Table.from_pylist([
        {"source": "hr", "source_id": "A1", "name": "Lin", "team": "red"},
        {"source": "hr", "source_id": "A2", "name": "Kim", "team": "blue"}]))
    turns = {
        "pbx:1": [("agent", "您好，很高兴为您服务。"), ("customer", "查账单"),
                  ("agent", "请提供身份证后四位核实身份。"), ("customer", "1234"),
                  ("agent", "还有其他问题吗？再见。")],                       # 100
        "pbx:2": [("agent", "账单已更新。"), ("customer", "好")],              # greeting, verify,
        "pbx:3": [("agent", "Hello, thanks for calling."), ("customer", "I'm furious!"),  # closing
                  ("agent", "Not my problem. Goodbye.")],                 # missing → 25/80
    }
    rows = []
    for iid, conv in turns.items():
        source, sid = iid.split(":")
        rows += [{"interaction_id": iid, "source": source, "source_id": f"{sid}:{i}", "seq": i,
                  "speaker": sp, "text": tx, "ts": START} for i, (sp, tx) in enumerate(conv, 1)]
    store_records(ws, "messages", pa.Table.from_pylist(rows))


def test_hand_computed_scores_and_cards(make_workspace) -> None:
    ws = make_workspace("duckdb")
    _hand_workspace(ws)
    summary = run(ws)
    assert summary["inspected"] == 5 and summary["scored"] == 4  # the IVR prompt has no score
    got = {r["interaction_id"]: (r["qa_score"], r["qa_passed"]) for r in
           ws.warehouse.table("interaction_insights").to_pyarrow().to_pylist()}
    # pbx:2: greeting 20 + verify 20 + closing 15 lost, forbidden 25 kept, of 80 applicable
    # pbx:3: hello 20 + goodbye 15 kept; verify 20, forbidden 25 (critical), empathy 20 lost;
    #        script order greeting→closing 10 kept: 45 of 110
    # mail:5: outbound e-mail: greeting 20, closing 15, forbidden 25 = 60 of 60
    assert got == {"pbx:1": (100.0, True), "pbx:2": (31.2, False), "pbx:3": (40.9, False),
                   "ivr:4": (None, None), "mail:5": (100.0, True)}
    cards = {c["agent"]: c for c in scorecards(ws, "agent")}
    assert cards["A1"] == {"agent": "A1", "name": "Lin", "inspected": 2, "mean_score": 65.6,
                           "pass_rate": 0.5, "top_failed_rules": [
                               {"rule": "closing", "failed": 1, "rate": 0.5},
                               {"rule": "greeting", "failed": 1, "rate": 0.5},
                               {"rule": "verify_identity", "failed": 1, "rate": 0.5}]}
    assert cards["A2"]["inspected"] == 2 and cards["A2"]["mean_score"] == pytest.approx(70.5, abs=0.05)
    assert [r["rule"] for r in cards["A2"]["top_failed_rules"]] == [
        "empathy", "forbidden_phrase", "verify_identity"]
    teams = {c["team"]: c for c in scorecards(ws, "team")}
    assert teams["red"]["inspected"] == 2 and teams["blue"]["pass_rate"] == 0.5
    queues = {c["queue"]: c["inspected"] for c in scorecards(ws, "queue")}
    assert queues == {"billing": 2, "tech": 2}

    detail = interaction_detail(ws, "pbx:3")
    rules = {r["rule"]: r for r in detail["rules"]}
    assert detail["qa_score"] == 40.9 and detail["qa_passed"] is False
    assert rules["forbidden_phrase"]["evidence"]["text"] == "not my problem"
    assert rules["empathy"]["evidence"]["trigger_text"] == "furious"
    with pytest.raises(NotFoundError):
        interaction_detail(ws, "pbx:999")


def test_empty_workspace(make_workspace) -> None:
    ws = make_workspace("duckdb")
    summary = run(ws)
    assert summary["inspected"] == 0 and summary["mean_score"] is None
    assert scorecards(ws, "agent") == []


def test_repeated_bodies_are_inspected_once_each_with_its_own_context() -> None:
    # Body-only interactions (one turn: IVR prompts, outbound notes) repeat, so a chunk inspects
    # each distinct (turn, context) once — the context is part of that: the same words on
    # another channel, with another sentiment or another silence are inspected on their own.
    from cxlens.qa import stage
    from cxlens.qa.engine import Inspector
    from cxlens.qa.rules import load_rules

    inspector = Inspector(load_rules(), empathy_trigger="sentiment")
    text = "您好，非常抱歉给您带来不便，再见"
    rows = [("phone", -0.5, None), ("phone", 0.5, None), ("phone", -0.5, None),
            ("sms", -0.5, None), ("phone", -0.5, 30.0), ("phone", None, None),
            ("phone", -0.5, 30.0), ("ivr", -0.5, None)]
    n = len(rows)
    table = pa.table({
        "interaction_id": [f"x:{k}" for k in range(n)], "agent_id": ["a1"] * n,
        "channel": [c for c, _, _ in rows], "direction": ["outbound"] * n, "text": [text] * n,
        "sentiment_start": pa.array([s for _, s, _ in rows], pa.float64()),
        "sentiment": pa.array([None] * n, pa.float64()),
        "silence_s": pa.array([q for _, _, q in rows], pa.float64()),
        "silence_at_s": pa.array([5.0] * n, pa.float64())})
    now = datetime(2026, 8, 3)
    together = stage._inspect_rows(inspector, now, stage._Chunk("bodies", table))
    alone = [stage._inspect_rows(inspector, now, stage._Chunk("bodies", table.slice(k, 1)))
             for k in range(n)]
    assert together.results.equals(pa.concat_tables([part.results for part in alone]))
    assert together.scores.equals(pa.concat_tables([part.scores for part in alone]))
    assert together.failed["long_silence"] == 2  # the two rows with 30 s of silence
    assert len(set(together.scores["qa_score"].to_pylist())) >= 3
