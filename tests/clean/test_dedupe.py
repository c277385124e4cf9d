"""The same call in a CDR and a CTR export: the richer record is kept, the other quarantined."""

from __future__ import annotations

import json
from pathlib import Path

from cxlens.ingest import ingest


def test_same_call_in_cdr_and_ctr(make_workspace, tmp_path: Path):
    ws = make_workspace()
    cdr = tmp_path / "Master.csv"
    cdr.write_text(
        '"","13800138000","8001","from-trunk","","SIP/t-1","SIP/1001-2","Queue","q,t",'
        '"2024-03-01 09:00:02","2024-03-01 09:00:12","2024-03-01 09:05:12",310,300,"ANSWERED",'
        '"DOCUMENTATION","cdr-1",""\n'
        '"","13800138000","8001","from-trunk","","SIP/t-3","SIP/1001-4","Queue","q,t",'
        '"2024-03-01 11:00:00","2024-03-01 11:00:10","2024-03-01 11:01:10",70,60,"ANSWERED",'
        '"DOCUMENTATION","cdr-2",""\n', encoding="utf-8")
    ctr = tmp_path / "ctr.jsonl"
    ctr.write_text(json.dumps({
        "ContactId": "ctr-1", "Channel": "VOICE", "InitiationMethod": "INBOUND",
        "InitiationTimestamp": "2024-03-01T01:00:00Z", "DisconnectTimestamp": "2024-03-01T01:05:12Z",
        "LastUpdateTimestamp": "2024-03-01T01:06:00Z",
        "CustomerEndpoint": {"Address": "+8613800138000", "Type": "TELEPHONE_NUMBER"},
        "Queue": {"Name": "q", "Duration": 10, "EnqueueTimestamp": "2024-03-01T01:00:02Z"},
        "Agent": {"Username": "1001", "ConnectedToAgentTimestamp": "2024-03-01T01:00:12Z",
                  "AgentInteractionDuration": 300.5, "CustomerHoldDuration": 0,
                  "AfterContactWorkDuration": 20}}) + "\n", encoding="utf-8")
    first = ingest(ws, cdr, "asterisk", source="pbx")
    assert first.stored == 2
    second = ingest(ws, ctr, "amazon-connect", source="connect")
    # the CTR is richer (hold, ACW): it stays; the CDR line of the same call moves to quarantine
    assert (second.read, second.stored, second.superseded_elsewhere) == (1, 1, 1)
    ids = sorted(ws.warehouse.table("interactions").to_pyarrow().column("source_id").to_pylist())
    assert ids == ["cdr-2", "ctr-1"]
    q = ws.warehouse.table("quarantine").to_pyarrow().to_pylist()
    assert [r["reason"] for r in q] == ["duplicate call (same as connect:ctr-1)"]
    assert json.loads(q[0]["raw"])["source_id"] == "cdr-1"  # nothing lost
    phones = ws.warehouse.table("identifiers").to_pyarrow().column("source_id").to_pylist()
    assert "cdr-1" not in phones
    # loading the poorer CDR again later: it is the duplicate now
    third = ingest(ws, cdr, "asterisk", source="pbx2")
    assert (third.read, third.stored, third.duplicates) == (2, 0, 2)
