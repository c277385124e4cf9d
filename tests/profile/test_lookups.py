"""The profile stage's point-lookup tables: same answers as the read-time queries, fallback, erasure."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "identity"))
import data  # noqa: E402

from cxlens.forget import forget  # noqa: E402
from cxlens.identity import stage as identity_stage  # noqa: E402
from cxlens.profile import find_customer, lookup, lookups  # noqa: E402
from cxlens.profile import stage as profile_stage  # noqa: E402
from cxlens.profile.reader import identifiers_of, timeline  # noqa: E402


def _sorted_events(rows: list[dict]) -> list[tuple]:
    return sorted((str(r["at"]), r["kind"], r["channel"], r["detail"], r["ref"]) for r in rows)


def test_lookup_tables_match_read_time_queries_and_are_erased(make_workspace):
    ws = make_workspace()
    ws.settings.identity.splink = False
    ws.settings.identity.blocked_values = ["400-820-8820"]
    data.load(ws)
    identity_stage.run(ws, mode="full")
    # before the profile stage the lookup tables are empty: the full-scan fallback answers
    wh = ws.warehouse
    assert wh.table("identity_lookup").count().execute() == 0
    key = find_customer(ws, "138-0013-8000")
    assert lookup(ws, "138-0013-8000")["identifiers"]
    summary = profile_stage.run(ws)
    assert all(n > 0 for n in summary["lookup_rows"].values())
    assert find_customer(ws, "ALICE@example.com") == key
    for k in wh.table("identity_map").customer_key.to_pyarrow().unique().to_pylist():
        assert identifiers_of(ws, k) == identifiers_of(ws, k, materialised=False)
        assert _sorted_events(timeline(ws, k)) == _sorted_events(
            timeline(ws, k, materialised=False))
    # sorted by the lookup column
    look = wh.table("identity_lookup").id_value.to_pyarrow().to_pylist()
    assert look == sorted(look)
    forget(ws, "138-0013-8000")
    for name in lookups.BUILDERS:
        t = wh.table(name)
        assert t.filter(t.customer_key == key).count().execute() == 0, name


def test_lookup_columns_are_indexed_and_rebuilt_each_run(make_workspace):
    ws = make_workspace()
    ws.settings.identity.splink = False
    data.load(ws)
    identity_stage.run(ws, mode="full")
    raw = ws.warehouse.store.raw

    def indexes() -> set[tuple[str, str]]:
        rows = raw.execute("SELECT index_name, table_name FROM duckdb_indexes()").fetchall()
        return {(name, table) for name, table in rows if name.startswith("cx_ix_")}

    expected = {(name, table) for name, (table, _) in lookups.INDEXES.items()}
    assert profile_stage.run(ws)["indexes"] == len(expected) and indexes() == expected
    key = find_customer(ws, "138-0013-8000")
    assert profile_stage.run(ws)["indexes"] == len(expected) and indexes() == expected
    assert find_customer(ws, "+86 138 0013 8000") == key  # same answer through the indexes
    assert lookup(ws, "138-0013-8000")["timeline"]


def test_audit_entry_commits_or_rolls_back_with_its_transaction(make_workspace):
    import pytest

    from cxlens import audit

    ws = make_workspace()
    wh = ws.warehouse
    with pytest.raises(RuntimeError), wh.transaction():
        audit.record(ws, actor="t", action="forget", target="C0000000001")
        raise RuntimeError("the erasure failed")
    assert wh.table("audit_log").count().execute() == 0
    event = audit.record(ws, actor="t", action="profile.read", target="C0000000002")
    (row,) = wh.table("audit_log").to_pyarrow().to_pylist()
    assert row["event_id"] == event and row["target"] == "C0000000002" and row["at"] is not None
