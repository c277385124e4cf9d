"""The warehouse contract on every engine: create, append, upsert, replace, export, atomicity."""

from __future__ import annotations

from datetime import datetime

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cxlens import schema
from cxlens.errors import NotFoundError, WarehouseError
from cxlens.load import store_records
from cxlens.warehouse import Warehouse


def _parties(ids: list[str], names: list[str]) -> pa.Table:
    return pa.table({
        "source": ["crm"] * len(ids), "source_id": ids, "name": names,
        "phone": ["138-0013-8000"] * len(ids), "created_at": [datetime(2026, 1, 1, 8)] * len(ids),
    })


def test_every_canonical_table_exists(workspace):
    assert set(schema.ALL_TABLES) <= set(workspace.warehouse.tables())
    assert set(workspace.warehouse.table("interactions").columns) == set(
        schema.ALL_TABLES["interactions"])


def test_upsert_is_idempotent_and_replaces_by_key(workspace):
    wh = workspace.warehouse
    store_records(workspace, "parties", _parties(["1", "2"], ["张三", "李四"]), ingest_id="a")
    store_records(workspace, "parties", _parties(["1", "2"], ["张三", "李四"]), ingest_id="a")
    assert wh.counts()["parties"] == 2
    assert wh.counts()["identifiers"] == 2
    store_records(workspace, "parties", _parties(["2", "3"], ["李四四", "王五"]), ingest_id="b")
    rows = wh.table("parties").order_by("source_id").to_pyarrow().to_pylist()
    assert [r["name"] for r in rows] == ["张三", "李四四", "王五"]
    ids = wh.table("identifiers").to_pyarrow()
    assert sorted(ids.column("source_id").to_pylist()) == ["1", "2", "3"]
    assert set(ids.column("id_value").to_pylist()) == {"+8613800138000"}


def test_replace_with_an_ibis_expression(workspace):
    wh = workspace.warehouse
    store_records(workspace, "parties", _parties(["1", "2", "3"], ["a", "b", "c"]), ingest_id="x")
    parties = wh.table("parties")
    expr = parties.select(
        record_table=parties.source.substitute({"crm": "parties"}), source=parties.source,
        source_id=parties.source_id, customer_key=ibis.literal("c") + parties.source_id, method=ibis.literal("test"),
    )
    assert wh.replace("identity_map", expr) == 3
    assert wh.replace("identity_map", expr) == 3
    keys = wh.table("identity_map").to_pyarrow().column("customer_key").to_pylist()
    assert sorted(keys) == ["c1", "c2", "c3"]


def test_timestamps_and_aggregates_read_back(workspace):
    wh = workspace.warehouse
    rows = pa.table({
        "source": ["pbx"] * 3, "source_id": ["a", "b", "c"], "channel": ["phone"] * 3,
        "started_at": [datetime(2026, 10, 1, 1, 30), datetime(2026, 10, 1, 2), None],
        "talk_s": [60.0, 120.5, None], "abandoned": [False, True, None],
    })
    store_records(workspace, "interactions", rows, ingest_id="t")
    table = wh.table("interactions")
    assert table.talk_s.sum().execute() == pytest.approx(180.5)
    assert table.started_at.max().execute().to_pydatetime() == datetime(2026, 10, 1, 2)
    assert table.interaction_id.to_pyarrow().to_pylist() is not None
    assert sorted(table.interaction_id.to_pyarrow().to_pylist()) == ["pbx:a", "pbx:b", "pbx:c"]


def test_export_parquet(workspace, tmp_path):
    store_records(workspace, "parties", _parties(["1", "2"], ["a", "b"]), ingest_id="x")
    out = workspace.warehouse.export_parquet("parties", tmp_path / "out" / "parties.parquet")
    assert pq.read_table(out).num_rows == 2


def test_unknown_table_is_a_clear_error(workspace):
    with pytest.raises(NotFoundError, match="no table 'nope'"):
        workspace.warehouse.table("nope")


def test_failed_store_leaves_nothing_behind(make_workspace, monkeypatch):
    ws = make_workspace("duckdb")
    wh = ws.warehouse
    store_records(ws, "parties", _parties(["1"], ["a"]), ingest_id="x")
    before = wh.counts()
    real_append = wh.store.append

    def failing_append(name, data):
        if name == "identifiers":
            raise RuntimeError("disk full")
        real_append(name, data)

    monkeypatch.setattr(wh.store, "append", failing_append)
    with pytest.raises(RuntimeError, match="disk full"):
        store_records(ws, "parties", _parties(["2", "3"], ["b", "c"]), ingest_id="y")
    monkeypatch.undo()
    assert wh.counts() == before


def test_migrate_adds_a_new_column(make_workspace, monkeypatch):
    ws = make_workspace("duckdb")
    monkeypatch.setitem(schema.CANONICAL["agents"], "shift", "string")
    monkeypatch.setitem(schema.ALL_TABLES, "agents", schema.CANONICAL["agents"])
    assert ws.warehouse.migrate(["agents"]) == ["agents.shift"]
    assert "shift" in ws.warehouse.table("agents").columns


@pytest.mark.parametrize("url", ["postgres://x", "duckdb://", "mysql"])
def test_unknown_backend_url(tmp_path, url):
    with pytest.raises(WarehouseError):
        Warehouse(url, tmp_path)


def test_a_table_created_after_a_lookup_is_found(workspace):
    """The table list is cached: creating or dropping a table must not leave it stale."""
    wh = workspace.warehouse
    wh.table("interactions")  # fills the cache
    with pytest.raises(NotFoundError):
        wh.table("cx_extra")
    wh.store.create("cx_extra", schema.arrow_schema("parties"))  # behind Warehouse's back
    assert wh.table("cx_extra").columns == wh.table("parties").columns
    assert "cx_extra" in wh.tables()
    wh.drop("cx_extra")
    with pytest.raises(NotFoundError, match="no table 'cx_extra'"):
        wh.table("cx_extra")
    assert "cx_extra" not in wh.tables()


def test_table_lookups_list_the_tables_once(make_workspace, monkeypatch):
    wh = make_workspace("duckdb").warehouse
    calls = []
    real = wh.store.list_tables
    monkeypatch.setattr(wh.store, "list_tables", lambda: calls.append(1) or real())
    for _ in range(5):
        wh.table("interactions")
        wh.table("parties")
    assert len(calls) <= 1
    wh.migrate(["parties"])  # changes nothing, but the list is read again after it
    wh.table("parties")
    assert len(calls) >= 2


def test_a_table_dropped_outside_the_warehouse_is_unknown(make_workspace):
    wh = make_workspace("duckdb").warehouse
    wh.store.create("cx_gone", schema.arrow_schema("parties"))
    wh.table("cx_gone")
    wh.store.raw.execute('DROP TABLE "cx_gone"')
    with pytest.raises(NotFoundError, match="no table 'cx_gone'"):
        wh.table("cx_gone")


def test_a_new_duckdb_warehouse_uses_the_newer_storage_format(make_workspace):
    from cxlens.warehouse import DUCKDB_STORAGE_VERSION

    ws = make_workspace("duckdb")
    raw = ws.warehouse.store.raw
    tags = raw.execute("SELECT tags FROM duckdb_databases() WHERE NOT internal "
                       "AND database_name = current_database()").fetchone()[0]
    assert tags["storage_version"].startswith(DUCKDB_STORAGE_VERSION)
    store_records(ws, "parties", _parties(["1"], ["a"]), ingest_id="x")
    path = ws.warehouse.store.path
    ws.warehouse.close()
    again = Warehouse(f"duckdb://{path}", path.parent)  # an existing file opens as it is
    assert again.counts()["parties"] == 1
    again.close()


def test_update_columns_writes_only_the_named_columns(workspace):
    wh = workspace.warehouse
    store_records(workspace, "parties", _parties(["1", "2", "3"], ["张三", "李四", "王五"]),
                  ingest_id="a")
    before = {r["source_id"]: r for r in wh.table("parties").to_pyarrow().to_pylist()}
    changed = pa.table({"source": ["crm", "crm", "crm"], "source_id": ["1", "3", "9"],
                        "name": ["张三丰", None, "nobody"]})
    assert wh.update_columns("parties", changed) == 3
    after = {r["source_id"]: r for r in wh.table("parties").to_pyarrow().to_pylist()}
    assert sorted(after) == ["1", "2", "3"]  # the unmatched key "9" adds no row
    assert [after[k]["name"] for k in ("1", "2", "3")] == ["张三丰", "李四", None]
    for key in ("1", "2", "3"):  # every other column as it was
        assert {c: v for c, v in after[key].items() if c != "name"} == {
            c: v for c, v in before[key].items() if c != "name"}
    with pytest.raises(WarehouseError, match="unknown columns: \\['nickname'\\]"):
        wh.update_columns("parties", changed.append_column("nickname", pa.array(["a"] * 3)))
    with pytest.raises(WarehouseError, match="needs the keys"):
        wh.update_columns("parties", changed.select(["source", "source_id"]))


def test_migrate_reads_the_duckdb_schema_in_one_query(make_workspace, monkeypatch):
    """No schema lookup per table when nothing is missing; a missing column is still added."""
    wh = make_workspace("duckdb").warehouse
    monkeypatch.setattr(wh.store, "table", lambda name: pytest.fail(f"schema lookup of {name}"))
    assert wh.migrate() == []
    monkeypatch.setitem(schema.CANONICAL["agents"], "shift", "string")
    monkeypatch.setitem(schema.ALL_TABLES, "agents", schema.CANONICAL["agents"])
    assert wh.migrate() == ["agents.shift"]
    assert "shift" in wh.store.columns()["agents"]


def test_migrate_is_not_fooled_by_a_temp_table(make_workspace):
    wh = make_workspace("duckdb").warehouse
    wh.store.raw.execute('CREATE TEMP TABLE "cx_tmp_only" (x INTEGER)')
    assert "cx_tmp_only" not in wh.store.columns()
    wh.drop("agents")
    assert wh.migrate(["agents"]) == ["agents"]


def test_count_and_replace_report_rows(workspace):
    wh = workspace.warehouse
    store_records(workspace, "parties", _parties(["1", "2", "3"], ["a", "b", "c"]), ingest_id="x")
    assert wh.count("parties") == 3
    parties = wh.table("parties").filter(lambda t: t.source_id != "2")
    expr = parties.select(record_table=ibis.literal("parties"), source=parties.source,
                          source_id=parties.source_id, customer_key=parties.source_id,
                          method=ibis.literal("test"))
    assert wh.replace("identity_map", expr) == 2
    assert wh.count("identity_map") == 2
    with pytest.raises(NotFoundError):
        wh.count("no_such_table")


def test_replace_with_an_expression_reading_the_same_table(workspace):
    """replace(t, expr over t) keeps the expression's rows (DuckDB deleted them first)."""
    wh = workspace.warehouse
    store_records(workspace, "parties", _parties(["1", "2", "3"], ["a", "b", "c"]), ingest_id="x")
    parties = wh.table("parties")
    assert wh.replace("parties", parties.filter(parties.source_id != "2")) == 2
    rows = wh.table("parties").order_by("source_id").to_pyarrow().to_pylist()
    assert [(r["source_id"], r["name"]) for r in rows] == [("1", "a"), ("3", "c")]
