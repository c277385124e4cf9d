"""Erasure after the whole pipeline: no table keeps a trace of the forgotten person.

The narrower test in test_profile.py checks the tables the person's records live in; this one
runs every stage first (identity, journeys, text, qa, profile, kpis), so derived and scratch
tables hold the person too, then scans every column of every table for anything of theirs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).parents[1] / "identity"))
import data  # noqa: E402

from cxlens import pipeline, schema  # noqa: E402
from cxlens.forget import forget  # noqa: E402
from cxlens.load import store_records  # noqa: E402
from cxlens.profile import find_customer  # noqa: E402

# tables that describe the system, not people (the audit entry is checked on its own)
NOT_PERSONAL = {"audit_log", "stage_runs", "users", "ingest_log", "identity_changes"}
BOB_TEXT = ("bob", "13900139000", "a-2", "o-2")


def _messages(ws) -> None:
    chat, call = schema.interaction_id("chat", "w1"), schema.interaction_id("pbx", "c3")
    alice = schema.interaction_id("pbx", "c1")
    rows = [
        (chat, "chat", "w1-1", 1, "customer", "我是Bob Li，账单扣了两次，太差了"),
        (chat, "chat", "w1-2", 2, "agent", "您好，很抱歉给您带来不便，我马上为您核实"),
        (call, "pbx", "c3-1", 1, "customer", "Hi, I was charged twice on my bill, this is bad"),
        (call, "pbx", "c3-2", 2, "agent", "Hello, sorry about that, let me check your account"),
        (alice, "pbx", "c1-1", 1, "customer", "我想查一下订单的物流"),
    ]
    cols = list(zip(*rows, strict=True))
    store_records(ws, "messages", pa.table({
        "interaction_id": cols[0], "source": cols[1], "source_id": cols[2],
        "seq": pa.array(cols[3], pa.int32()), "speaker": cols[4], "text": cols[5],
        "ts": [data.T0] * len(rows)}))


def _cells(table: pa.Table) -> list[str]:
    return [str(v).lower() for col in table.columns for v in col.to_pylist() if v is not None]


def test_forget_after_every_stage_leaves_nothing(make_workspace):
    ws = make_workspace()
    ws.settings.identity.splink = False
    ws.settings.identity.blocked_values = ["400-820-8820"]
    data.load(ws)
    _messages(ws)
    pipeline.run(ws)
    wh = ws.warehouse
    key = find_customer(ws, "bob@example.com")
    imap = wh.table("identity_map")
    nodes = wh.table("identity_nodes")
    bob_nodes = set(nodes.semi_join(imap.filter(imap.customer_key == key),
                                    ["record_table", "source", "source_id"])
                    .node_id.to_pyarrow().to_pylist())
    bob_ids = {schema.interaction_id("chat", "w1"), schema.interaction_id("pbx", "c3")}
    # the stages did put Bob into the derived tables (else the scan below proves nothing)
    present = {t for t in schema.ALL_TABLES if t not in NOT_PERSONAL
               and any(any(s in cell for s in BOB_TEXT) or cell in bob_ids or cell == key.lower()
                       for cell in _cells(wh.table(t).to_pyarrow()))}
    assert {"parties", "identifiers", "messages", "interaction_insights", "identity_edges_all",
            "journeys", "journey_contacts", "qa_results", "customer_360"} <= present, present
    assert bob_nodes

    assert forget(ws, "139 0013 9000").erased
    for table in schema.ALL_TABLES:
        if table in NOT_PERSONAL:
            continue
        arrow = wh.table(table).to_pyarrow()
        cells = _cells(arrow)
        assert not [c for c in cells if any(s in c for s in BOB_TEXT)], table
        assert not bob_ids & set(cells), table
        assert key.lower() not in cells, table
        if "node_id" in arrow.column_names:
            assert not bob_nodes & set(arrow.column("node_id").to_pylist()), table
    audit = wh.table("audit_log").to_pyarrow()
    assert not [c for c in _cells(audit) if any(s in c for s in BOB_TEXT)]
    # everyone else is still there, and the pipeline still runs on what is left
    assert find_customer(ws, "alice@example.com")
    pipeline.run(ws)
    assert find_customer(ws, "alice@example.com")
