"""End to end: synth → vendor files → ingest reproduces the synth warehouse."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow.compute as pc
import pytest

from cxlens import synth
from cxlens.synth.formats import emit_files, ingest_manifest

TABLES = ("parties", "orders", "web_events", "interactions", "messages", "surveys", "outreach",
          "cases", "agents")


def _counts(tables) -> Counter:
    out: Counter = Counter()
    for name, table in tables:
        for source in pc.unique(table.column("source")).to_pylist():
            out[(name, source)] += int(pc.sum(pc.equal(table.column("source"), source)
                                              .cast("int64")).as_py())
    return out


@pytest.mark.slow
def test_emitted_files_reproduce_the_synth(make_workspace, tmp_path: Path):
    config = synth.SynthConfig.checked(customers=120, days=10, seed=11)
    files = emit_files(tmp_path / "src", config)
    assert files["pbx/Master.csv"] == "asterisk" and files["chat/conversations.jsonl"] == "chatwoot"
    assert any(f.startswith("email/tickets-") for f in files)
    ws = make_workspace()
    results = ingest_manifest(ws, tmp_path / "src")
    assert all(r["quarantined"] == 0 and r["duplicates"] == 0 for r in results), results
    want = _counts((n, t) for n, t in synth.iter_batches(config) if not n.startswith("truth:"))
    got = _counts((n, ws.warehouse.table(n).to_pyarrow()) for n in TABLES)
    assert got == want
    # the same records, with the same identifiers and start times (to the second)
    truth = {}
    for name, table in synth.iter_batches(config):
        if name == "interactions":
            for r in table.to_pylist():
                truth[r["interaction_id"]] = r
    stored = ws.warehouse.table("interactions").to_pyarrow().to_pylist()
    assert {r["interaction_id"] for r in stored} == set(truth)
    for r in stored:
        expected = truth[r["interaction_id"]]["started_at"]
        assert abs((r["started_at"] - expected).total_seconds()) < 1
    ids = ws.warehouse.table("identifiers").to_pyarrow()
    assert ids.num_rows > 0
    # a second load of the same folder adds nothing
    before = ws.warehouse.counts()
    again = ingest_manifest(ws, tmp_path / "src")
    assert {r["status"] for r in again} == {"already ingested"}
    assert ws.warehouse.counts() == before
