"""The DuckDB SQL fast path of Asterisk ingest stores exactly what the generic path stores."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxlens.ingest import ingest

GOOD = ('"","13800138000","8001","from-trunk","""Zhang San"" <13800138000>","SIP/trunk-1",'
        '"SIP/1001-2","Queue","support,t","2024-03-01 09:00:{s:02d}","2024-03-01 09:00:30",'
        '"2024-03-01 09:05:00",{d},{b},"ANSWERED","DOCUMENTATION","u{i}",""')
ODD = [
    # impossible values → quarantine with the generic reasons
    '"","13900139000","8001","from-trunk","<13900139000>","SIP/trunk-3","","Queue","s",'
    '"2024-03-01 09:10:00","","2024-03-01 09:10:40",-40,0,"NO ANSWER","DOCUMENTATION","bad1",""',
    '"","13900139000","8001","from-trunk","","SIP/trunk-3","","Queue","s","2024-03-01 09:10:00",'
    '"","2024-03-01 09:00:40",40,0,"NO ANSWER","DOCUMENTATION","bad2",""',
    '"","13900139000","8001","from-trunk","","SIP/trunk-3","","Queue","s","not a time","",'
    '"2024-03-01 09:00:40",40,0,"BUSY","DOCUMENTATION","bad3",""',
    '"","13900139000","8001","from-trunk","","SIP/trunk-3","","Queue","s","2024-03-01 09:10:00",'
    '"","2024-03-03 09:10:40",172840,100000,"FAILED","DOCUMENTATION","bad4",""',
    # unusual but valid spellings → stored through the generic conversion
    '"ACC-7"," 139 0013 9000 ","8001","from-pstn","""Ｗａｎｇ  Wu"" <x>"," SIP/trunk-4",'
    '"SIP/1002-5","queue"," billing ,t","2024/03/01 11:00:00","","2024-03-01 11:00:05",5,0,'
    '" no answer ","DOCUMENTATION"," odd1 ",""',
    '"","1001","013800138000","from-internal","""Agent"" <1001>","SIP/1001-4","SIP/trunk-5",'
    '"Dial","SIP/trunk/013800138000","2024-03-01 10:00:00","2024-03-01 10:00:05",'
    '"2024-03-01 10:01:05",65,60,"ANSWERED","DOCUMENTATION","out1","rec/1.wav"',
    '"","8002","8003","from-internal","","SIP/8002-1","SIP/8003-2","Dial","SIP/8003",'
    '"2024-03-01 10:00:00","","2024-03-01 10:00:09",9,0,"CONGESTION","DOCUMENTATION","int1",""',
]


def _content(ws) -> dict[str, list]:
    out = {}
    for table in ("interactions", "identifiers", "quarantine"):
        rows = ws.warehouse.table(table).to_pyarrow()
        rows = rows.drop_columns([c for c in ("ingest_id", "quarantined_at") if c in rows.column_names])
        out[table] = sorted((sorted(r.items()) for r in rows.to_pylist()), key=repr)
    return out


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def cdr(tmp_path: Path) -> Path:
    good = [GOOD.format(s=i % 60, d=300, b=270, i=i) for i in range(40)]
    return _write(tmp_path / "Master.csv", good[:20] + ODD + good[20:])


def test_fast_path_matches_generic_with_bad_rows(make_workspace, cdr):
    fast_ws, slow_ws = make_workspace(name="fast"), make_workspace(name="slow")
    fast = ingest(fast_ws, cdr, "asterisk", source="pbx", fast_path=True)
    slow = ingest(slow_ws, cdr, "asterisk", source="pbx", fast_path=False)
    assert (fast.method, slow.method) == ("sql", "generic")
    for key in ("read", "stored", "quarantined", "duplicates", "quarantine_reasons", "tables"):
        assert getattr(fast, key) == getattr(slow, key), key
    assert fast.read == fast.stored + fast.quarantined + fast.duplicates == 47
    assert fast.quarantined == 4
    assert _content(fast_ws) == _content(slow_ws)
    odd = {r["source_id"]: r for r in fast_ws.warehouse.table("interactions").to_pyarrow().to_pylist()}
    assert odd["odd1"]["phone"] == "+8613900139000" and odd["odd1"]["queue"] == "billing"
    log = fast_ws.warehouse.table("ingest_log").to_pyarrow().to_pylist()
    assert [(r["status"], r["rows_read"], r["rows_stored"]) for r in log] == [("loaded", 47, 43)]


def test_fast_path_reingest_and_reexport_upsert(make_workspace, cdr, tmp_path):
    fast_ws, slow_ws = make_workspace(name="fast"), make_workspace(name="slow")
    reexport = _write(tmp_path / "Master2.csv", [
        GOOD.format(s=1, d=400, b=350, i=i) for i in range(30, 50)])
    for ws, fast in ((fast_ws, True), (slow_ws, False)):
        ingest(ws, cdr, "asterisk", source="pbx", fast_path=fast)
        again = ingest(ws, cdr, "asterisk", source="pbx", fast_path=fast)
        assert again.status == "already ingested"
        second = ingest(ws, reexport, "asterisk", source="pbx", fast_path=fast)
        assert second.method == ("sql" if fast else "generic")
    assert _content(fast_ws) == _content(slow_ws)
    calls = fast_ws.warehouse.table("interactions").to_pyarrow().to_pylist()
    assert len(calls) == 43 + 10
    assert {r["talk_s"] for r in calls if r["source_id"] in {"u30", "u45"}} == {350.0}


@pytest.mark.parametrize("extra", ["wrong width", "repeated key"])
def test_fast_path_steps_aside_when_generic_rules_needed(make_workspace, tmp_path, extra):
    lines = [GOOD.format(s=i, d=300, b=270, i=i) for i in range(5)]
    lines.append('"","1","2"' if extra == "wrong width" else GOOD.format(s=9, d=10, b=5, i=2))
    path = _write(tmp_path / "Master.csv", lines)
    fast_ws, slow_ws = make_workspace(name="fast"), make_workspace(name="slow")
    fast = ingest(fast_ws, path, "asterisk", fast_path=True)
    slow = ingest(slow_ws, path, "asterisk", fast_path=False)
    assert fast.method == "generic"
    assert (fast.read, fast.stored, fast.quarantined, fast.duplicates) == (
        slow.read, slow.stored, slow.quarantined, slow.duplicates)
    assert _content(fast_ws) == _content(slow_ws)
    assert fast_ws.warehouse.table("ingest_log").count().execute() == 1


def test_spark_store_uses_generic_path(make_workspace, cdr):
    ws = make_workspace("pyspark")
    result = ingest(ws, cdr, "asterisk", source="pbx", fast_path=True)
    assert result.method == "generic"
    assert (result.read, result.stored, result.quarantined) == (47, 43, 4)
