"""Incremental identity gives the same customers as a full run on the same state."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).parent))
import data  # noqa: E402

from cxlens.identity import stage  # noqa: E402
from cxlens.load import store_records  # noqa: E402


def _prepare(ws):
    ws.settings.identity.splink = False
    ws.settings.identity.blocked_values = ["400-820-8820"]
    data.load(ws, ("agents", "parties"))
    stage.run(ws, mode="full")
    data.load(ws, ("interactions", "orders", "web"))
    return ws


def _map(ws):
    rows = ws.warehouse.table("identity_map").to_pyarrow().to_pylist()
    return sorted((r["record_table"], r["source"], r["source_id"], r["customer_key"]) for r in rows)


def test_incremental_equals_full(make_workspace):
    inc = _prepare(make_workspace(name="inc"))
    full = _prepare(make_workspace(name="full"))
    summary = stage.run(inc)  # auto: incremental when it can prove the full answer
    assert summary["mode"] == "incremental" and summary["new_records"] == 15
    assert stage.run(full, mode="full")["mode"] == "full"
    assert _map(inc) == _map(full)
    # a batch that merges two customers is handed to a full run (which logs the merge)
    for ws in (inc, full):
        store_records(ws, "orders", pa.table({
            "source": ["shop"], "source_id": ["O-9"], "account": ["A-1"],
            "email": ["bob@example.com"]}))
    assert stage.run(inc)["mode"] == "full"
    stage.run(full, mode="full")
    assert _map(inc) == _map(full)


def test_tables_of_an_earlier_version_take_a_full_run(make_workspace):
    ws = _prepare(make_workspace())
    # an earlier version kept node -> key rows in identity_keys and every kept membership in
    # identity_edges; read as today's excluded memberships they would mislead the batch
    wh = ws.warehouse
    assert wh.table("identity_keys").count().execute() == 0
    nodes = wh.table("identity_nodes").to_pyarrow().slice(0, 1)
    wh.append("identity_keys", pa.table({"node_id": nodes.column("node_id"),
                                         "customer_key": ["C0000000001"], "method": ["singleton"]}))
    assert stage.run(ws)["mode"] == "full"
    assert wh.table("identity_keys").count().execute() == 0
