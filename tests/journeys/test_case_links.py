"""CRM case ids in journey stitching: a new case starts a new journey, a case keeps its reason."""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa
import pytest
from journey_fixture import groups, store_contacts

from cxlens.journeys import stage
from cxlens.load import store_records

T0 = datetime(2026, 10, 5, 9, 0)

# (source_id, channel, hours after T0, reason, agent, case_id)
ROWS = [
    # problem A: one billing call, logged under case K1
    ("x1", "phone", 0.0, "billing", "a1", "K1"),
    # problem B, the next day, same reason: an IVR leg (no code, no case), then the call that
    # opens case K2 — a (customer, reason, 7-day window) rule alone would merge it with A
    ("x2", "ivr", 24.0, None, None, None),
    ("x3", "phone", 24.05, "billing", "a2", "K2"),
    # a follow-up chat under K2 whose wrap-up code was mis-keyed: it stays with its case
    ("x4", "chat", 30.0, "refund", "a3", "K2"),
    # an abandoned call a few hours later: it follows K2, the last case before it
    ("x5", "phone", 33.0, None, None, None),
    # an e-mail logged under K2 nine days later: past the 7-day window, still the same case
    ("x6", "email", 270.0, None, "a4", "K2"),
    # an abandoned call weeks later with no code and no case: a journey of its own
    ("x7", "phone", 600.0, None, None, None),
]


def _load(ws) -> None:
    store_contacts(ws, "crm", [
        {"source_id": sid, "customer_key": "c5", "channel": channel,
         "started_at": T0 + timedelta(hours=hours), "reason": reason, "agent_id": agent,
         "case_id": case, "abandoned": sid in ("x5", "x7")}
        for sid, channel, hours, reason, agent, case in ROWS])


def test_case_numbers_do_not_cross_customers(make_workspace):
    ws = make_workspace("duckdb")
    _load(ws)
    # another customer's contact under the same case number (a second system's "K2"), and a
    # blank case number: neither takes c5's reason nor joins c5's journeys
    start = T0 + timedelta(hours=31)
    store_records(ws, "interactions", pa.table({
        "source": ["crm", "crm"], "source_id": ["y1", "y2"], "channel": ["chat", "chat"],
        "direction": ["inbound", "inbound"], "agent_id": ["a5", "a5"],
        "started_at": [start, start + timedelta(hours=1)],
        "ended_at": [start + timedelta(minutes=3), start + timedelta(hours=1, minutes=3)],
        "abandoned": [False, False], "reason": ["delivery", "refund"], "case_id": ["K2", " "]}))
    ws.warehouse.append("identity_map", [
        {"record_table": "interactions", "source": "crm", "source_id": sid, "customer_key": "c6",
         "method": "fixture", "updated_at": T0} for sid in ("y1", "y2")])
    stage.run(ws)
    jc = ws.warehouse.table("journey_contacts").to_pandas().set_index("interaction_id")
    assert jc.loc["crm:y1", "reason"] == "delivery" and jc.loc["crm:y2", "reason"] == "refund"
    assert jc.loc["crm:x4", "reason"] == "billing"
    assert groups(ws) == [{"x1"}, {"x2", "x3", "x4", "x5", "x6"}, {"x7"}, {"y1"}, {"y2"}]


def test_a_new_case_is_a_new_journey(make_workspace):
    ws = make_workspace("duckdb")
    _load(ws)
    stage.run(ws)
    assert groups(ws) == [{"x1"}, {"x2", "x3", "x4", "x5", "x6"}, {"x7"}]
    jc = ws.warehouse.table("journey_contacts").to_pandas().set_index("interaction_id")
    assert jc.loc["crm:x4", "reason"] == "billing"      # the case's reason, not the mis-key
    assert jc.loc["crm:x2", "reason"] == "billing"      # borrowed from the call it led to


def test_case_split_can_be_switched_off(make_workspace):
    ws = make_workspace("duckdb")
    ws.settings.journeys.split_by_case = False
    _load(ws)
    stage.run(ws)
    assert groups(ws) == [{"x1", "x2", "x3", "x4", "x5"}, {"x6"}, {"x7"}]


def test_stitching_scored_with_true_identity(make_workspace):
    import pandas as pd

    from cxlens.errors import NotFoundError
    from cxlens.journeys.evaluate import evaluate_stitching

    ws = make_workspace("duckdb")
    _load(ws)
    with pytest.raises(NotFoundError, match="no synth truth"):
        evaluate_stitching(ws)
    ws.truth_dir.mkdir()
    problem = {"x1": "A", "x7": "C"}
    pd.DataFrame([{"record_table": "interactions", "source": "crm", "source_id": sid,
                   "person_id": "P5"} for sid, *_ in ROWS]
                 ).to_parquet(ws.truth_dir / "records.parquet")
    pd.DataFrame([{"interaction_id": f"crm:{sid}", "problem_id": problem.get(sid, "B")}
                  for sid, *_ in ROWS]).to_parquet(ws.truth_dir / "interactions.parquet")
    assert evaluate_stitching(ws)["exact_rate"] == 1.0
    merged = evaluate_stitching(ws, split_by_case=False)   # A and B merge, x6 splits off
    assert merged["exact"] == 1 and merged["merged_journeys"] == 1


@pytest.mark.slow
def test_case_rules_on_pyspark(make_workspace):
    ws = make_workspace("pyspark")
    _load(ws)
    stage.run(ws)
    assert groups(ws) == [{"x1"}, {"x2", "x3", "x4", "x5", "x6"}, {"x7"}]
