"""The ingest skips the upsert's DELETEs only when no key of a write can already be stored
(``load.WrittenKeys``); every upsert rule still holds: last wins inside a file, a re-ingest of
the same source replaces its rows and their identifiers, nothing is duplicated."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from cxlens.connectors import REGISTRY
from cxlens.connectors.base import Batch, ReadOptions, quarantine_rows
from cxlens.ingest import ingest
from cxlens.load import WrittenKeys


class _Calls:
    """Interactions of ``ids`` in batches of two, ``talk_s`` = ``talk``."""

    name = "fake-keys"
    description = "test"
    tables = ("interactions",)

    def __init__(self, ids: list[str], talk: float) -> None:
        self.ids, self.talk = ids, talk

    def sniff(self, path: Path, head: bytes) -> bool:
        return False

    def read(self, path: Path, options: ReadOptions) -> Iterator[Batch]:
        for at in range(0, len(self.ids), 2):
            ids = self.ids[at:at + 2]
            n = len(ids)
            rows = pa.table({
                "source": pa.array(["pbx"] * n), "source_id": pa.array(ids),
                "channel": pa.array(["phone"] * n), "direction": pa.array(["inbound"] * n),
                "talk_s": pa.array([self.talk] * n),
                "phone": pa.array([f"+86138001380{i[1:]:0>2}" for i in ids]),
            })
            yield Batch("interactions", rows, quarantine_rows("pbx", "interactions", []),
                        read=n)


def _ingest(ws, tmp_path: Path, monkeypatch, ids: list[str], talk: float, name: str):  # noqa: ANN001, ANN202
    monkeypatch.setitem(REGISTRY, "fake-keys", _Calls(ids, talk))
    path = tmp_path / name
    path.write_text(name, encoding="utf-8")  # a different hash per file
    return ingest(ws, path, "fake-keys", source="pbx", write_rows=2)


def _stored(ws) -> dict[str, float]:  # noqa: ANN001
    rows = ws.warehouse.table("interactions").to_pyarrow().to_pylist()
    return {r["source_id"]: r["talk_s"] for r in rows}


def _identifier_keys(ws) -> list[str]:  # noqa: ANN001
    ids = ws.warehouse.table("identifiers").to_pyarrow()
    return sorted(ids.column("source_id").to_pylist())


def test_first_load_skips_deletes_and_stores_everything(make_workspace, monkeypatch, tmp_path):
    import cxlens.load

    seen: list[WrittenKeys] = []
    real = cxlens.load.write_records

    def spy(ws, prepared, **kwargs):  # noqa: ANN001, ANN003, ANN202
        seen.append(kwargs["keys"])
        return real(ws, prepared, **kwargs)

    monkeypatch.setattr(cxlens.load, "write_records", spy)
    ws = make_workspace()
    ids = [f"k{i}" for i in range(10)]
    result = _ingest(ws, tmp_path, monkeypatch, ids, 1.0, "a.csv")
    assert (result.read, result.stored, result.duplicates) == (10, 10, 0)
    assert len(seen) == 5 and len({id(k) for k in seen}) == 1  # one tracker per transaction
    assert seen[0].skipped == 5  # no key could exist: no DELETE ran
    assert sorted(_stored(ws)) == sorted(ids) and _identifier_keys(ws) == sorted(ids)


def test_reingest_of_the_same_source_still_replaces(make_workspace, monkeypatch, tmp_path):
    ws = make_workspace()
    _ingest(ws, tmp_path, monkeypatch, [f"k{i}" for i in range(10)], 1.0, "a.csv")
    result = _ingest(ws, tmp_path, monkeypatch, [f"k{i}" for i in range(5, 15)], 2.0, "b.csv")
    assert (result.read, result.stored) == (10, 10)
    stored = _stored(ws)
    assert len(stored) == 15
    assert all(stored[f"k{i}"] == 1.0 for i in range(5))
    assert all(stored[f"k{i}"] == 2.0 for i in range(5, 15))  # replaced, not doubled
    assert _identifier_keys(ws) == sorted(stored)  # one phone each, old ones replaced


def test_a_key_repeated_in_a_later_write_wins(make_workspace, monkeypatch, tmp_path):
    ws = make_workspace()
    ids = ["k0", "k1", "k2", "k3", "k1", "k4"]  # k1 again in the third write
    result = _ingest(ws, tmp_path, monkeypatch, ids, 3.0, "a.csv")
    assert (result.read, result.stored, result.duplicates) == (6, 5, 1)
    assert _identifier_keys(ws) == ["k0", "k1", "k2", "k3", "k4"]


def test_past_the_hash_cap_every_write_deletes(make_workspace, monkeypatch, tmp_path):
    monkeypatch.setattr(WrittenKeys, "MAX_HASHES", 3)
    ws = make_workspace()
    ids = ["k0", "k1", "k2", "k3", "k4", "k5", "k1", "k6"]
    result = _ingest(ws, tmp_path, monkeypatch, ids, 4.0, "a.csv")
    assert (result.read, result.stored, result.duplicates) == (8, 7, 1)
    assert _identifier_keys(ws) == [f"k{i}" for i in range(7)]


@pytest.mark.parametrize("stored_before", [False, True])
def test_may_exist_unit(stored_before: bool) -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE interactions (source VARCHAR, source_id VARCHAR)")
    con.execute("CREATE TABLE orders (source VARCHAR, source_id VARCHAR)")
    con.execute("CREATE TABLE identifiers (source VARCHAR, source_id VARCHAR, "
                "record_table VARCHAR)")
    if stored_before:
        con.execute("INSERT INTO identifiers VALUES ('pbx', 'old', 'interactions')")
    keys = WrittenKeys()
    first = keys.may_exist(con, "interactions", ["pbx"], np.array([5, 1, 5], np.uint64))
    other = keys.may_exist(con, "interactions", ["pbx"], np.array([2, 3], np.uint64))
    again = keys.may_exist(con, "interactions", ["pbx"], np.array([9, 1], np.uint64))
    elsewhere = keys.may_exist(con, "orders", ["pbx"], np.array([1], np.uint64))
    assert (first, other) == (stored_before, stored_before)
    assert again is True  # hash 1 was written before
    assert elsewhere is False  # per table


def test_keep_last_shortcut_matches_the_group_by():
    """The runner skips keep_last's group-by only when no source_id repeats; with repeats
    (the same key twice, a null key twice, one source_id under two sources) it gives
    keep_last's rows exactly. With one source it hands back the sorted key hashes the
    write would compute (``load.key_hashes``)."""
    import duckdb
    import numpy as np
    import pyarrow as pa

    from cxlens.clean.dedupe import keep_last
    from cxlens.ingest import _keep_last
    from cxlens.load import key_hashes

    con = duckdb.connect()
    unique = pa.table({"source": ["a"] * 4, "source_id": ["1", "2", "3", "4"], "v": [1, 2, 3, 4]})
    got, dups, hashes = _keep_last(unique, con)
    assert (got, dups) == (unique, 0)
    assert np.array_equal(hashes, np.sort(key_hashes(unique, con)))
    two_sources = unique.set_column(0, "source", pa.array(["a", "b", "a", "b"]))
    assert _keep_last(two_sources, con) == (two_sources, 0, None)  # hashes: the write's job
    for ids in (["1", "2", "1", "4"], ["1", None, "3", None]):
        repeated = unique.set_column(1, "source_id", pa.array(ids, pa.string()))
        got, dups, hashes = _keep_last(repeated, con)
        want, want_dups = keep_last(repeated)
        assert dups == want_dups == 1
        assert got.equals(want) and hashes is None
    same_id = two_sources.set_column(1, "source_id", pa.array(["1", "1", "3", "4"]))
    got, dups, _ = _keep_last(same_id, con)
    want, want_dups = keep_last(same_id)  # keyed on source_id alone, as before
    assert dups == want_dups == 1 and got.equals(want)


def test_record_on_the_main_thread_then_may_exist() -> None:
    """The runner records each write's hashes in submission order (``record``) and hands the
    answer to the writer (``repeats``): the writer then only checks rows stored before."""
    con = duckdb.connect()
    con.execute("CREATE TABLE interactions (source VARCHAR, source_id VARCHAR)")
    con.execute("CREATE TABLE identifiers (source VARCHAR, source_id VARCHAR, "
                "record_table VARCHAR)")
    keys = WrittenKeys()
    assert keys.record("interactions", np.array([4, 2], np.uint64)) is False
    assert keys.record("interactions", np.array([7, 2], np.uint64)) is True
    assert keys.may_exist(con, "interactions", ["pbx"], None, repeats=False) is False
    assert keys.may_exist(con, "interactions", ["pbx"], None, repeats=True) is True
    assert keys.skipped == 1


def test_first_ingest_of_a_source_logs_the_hash_computed_beside_the_writes(
        make_workspace, monkeypatch, tmp_path):
    """The first ingest of a source hashes the file on a background thread; the logged
    SHA-256 is still the file's, so the same file again is recognised, for that source."""
    from cxlens.ingest import file_sha256

    ws = make_workspace()
    first = _ingest(ws, tmp_path, monkeypatch, ["k0", "k1", "k2"], 1.0, "a.csv")
    assert first.status == "loaded" and first.sha256 == file_sha256(tmp_path / "a.csv")
    log = ws.warehouse.table("ingest_log").to_pyarrow().to_pylist()
    assert [r["sha256"] for r in log] == [first.sha256]
    again = _ingest(ws, tmp_path, monkeypatch, ["k0", "k1", "k2"], 1.0, "a.csv")
    assert again.status == "already ingested" and again.stored == 0
    other = _ingest(ws, tmp_path, monkeypatch, ["k3"], 1.0, "b.csv")  # hashed up front now
    assert other.status == "loaded" and other.sha256 == file_sha256(tmp_path / "b.csv")


def test_merged_hash_arrays_find_every_earlier_key() -> None:
    """``record`` merges its sorted arrays (binary counter, capped): a key of any earlier
    write is still found, and the arrays stay few and sorted."""
    rng = np.random.default_rng(3)
    keys = WrittenKeys()
    keys.MERGE_KEYS = 40
    writes = [rng.integers(0, 2**63, 10, dtype=np.int64).astype(np.uint64) for _ in range(12)]
    assert not any(keys.record("interactions", w) for w in writes)
    arrays = keys._hashes["interactions"]
    assert len(arrays) < 12 and max(len(a) for a in arrays) <= 40
    assert all(bool((a[1:] >= a[:-1]).all()) for a in arrays)
    assert sum(len(a) for a in arrays) == 120
    for w in writes:
        assert keys.record("orders", w[:0]) is False
        assert keys.record("interactions", np.array([w[4]], np.uint64)) is True
    assert keys.record("interactions", np.sort(rng.integers(0, 2**63, 5, dtype=np.int64)
                                                 .astype(np.uint64)), is_sorted=True) is False
