"""The synth's identifier-evidence changes (docs/synth.md, "Identifier evidence") touch only
identifier columns: the random stream, and so every other value, is the same with them off."""

from __future__ import annotations

import pytest

from cxlens import synth
from cxlens.synth import build, journeys
from cxlens.synth import people as pp

COLUMNS = {
    "interactions": ["source_id", "started_at", "agent_id", "text", "phone", "email", "account"],
    "web_events": ["source_id", "ts", "page", "device"],
    "parties": ["source_id", "name", "phone", "account", "email"],
    "orders": ["source_id", "amount", "phone"],
}
EVIDENCE = {"interactions": "device", "web_events": "account", "parties": "wechat",
            "orders": "account"}


def _generate(ws) -> dict[str, list[tuple]]:
    synth.generate(ws, synth.SynthConfig.checked(customers=300, days=15, seed=3))
    out = {}
    for table, cols in COLUMNS.items():
        t = ws.warehouse.table(table)
        # the identifier column the change may alter comes last
        rows = t.select(*cols, EVIDENCE[table]).to_pyarrow().to_pylist()
        out[table] = sorted((tuple(r.values()) for r in rows), key=repr)
    return out


@pytest.mark.slow
def test_identifier_evidence_changes_only_identifier_columns(make_workspace, monkeypatch):
    on = _generate(make_workspace(name="on"))
    monkeypatch.setattr(pp, "REMEMBERED_DEVICE_SHARE", 0.0)
    monkeypatch.setattr(build, "WECHAT_BOUND", 0.5)
    monkeypatch.setattr(journeys.ChunkSim, "site_cookie", lambda self, p, t: None)
    off = _generate(make_workspace(name="off"))
    for table, cols in COLUMNS.items():
        n = len(cols)
        assert [r[:n] for r in on[table]] == [r[:n] for r in off[table]], table
    # and the evidence is there: more bound WeChat ids, signed-in web events, cookie'd chats
    def filled(rows):
        return sum(r[-1] is not None for r in rows)
    assert filled(on["parties"]) > filled(off["parties"])
    assert filled(on["web_events"]) > filled(off["web_events"])
    assert on["interactions"] != off["interactions"]  # some chats now carry the visit's cookie
