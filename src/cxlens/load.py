"""Store cleaned source records: canonical rows + their identifiers + quarantine, atomically.

Both the connectors and the synth write through :func:`store_records`, so every path into the
warehouse extracts identifiers the same way and is idempotent: rows are upserted on
``(source, source_id)`` and a record's identifier rows are replaced with it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from cxlens import schema
from cxlens.clean import identifiers
from cxlens.errors import InputError
from cxlens.workspace import Workspace

RECORD_TABLES = tuple(
    t for t in schema.CANONICAL if t not in {"identifiers", "quarantine", "ingest_log"}
)


@dataclass
class StoreResult:
    table: str
    stored: int
    identifiers: int
    quarantined: int


def pseudonymiser(ws: Workspace) -> Callable[[str], str] | None:
    """Keyed HMAC of identifier values when ``security.secret`` is set, else None."""
    secret = ws.settings.security.secret
    if not secret:
        return None
    key = secret.encode()
    return lambda value: "h:" + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]


def store_records(
    ws: Workspace,
    table: str,
    data: pa.Table,
    *,
    ingest_id: str | None = None,
    quarantine: pa.Table | None = None,
) -> StoreResult:
    """Upsert ``data`` into ``table``, replace its identifiers, append quarantine rows — one
    transaction on DuckDB, so a failure leaves the warehouse as it was."""
    return write_records(ws, prepare_records(ws, table, data, ingest_id=ingest_id,
                                             quarantine=quarantine))


@dataclass
class PreparedRecords:
    """Rows conformed to their table, their identifier rows and stamped quarantine rows:
    everything :func:`write_records` needs, computed without touching the warehouse."""

    table: str
    data: pa.Table
    identifiers: pa.Table
    quarantine: pa.Table | None
    # numpy uint64 ``key_hashes(data)`` when the preparer computed them (the ingest runner
    # does, off the writer thread); None: the write computes them itself
    key_hashes: Any = None
    # WrittenKeys.record(table, key_hashes) when the preparer already recorded them
    repeats_written: bool | None = None


def prepare_records(
    ws: Workspace,
    table: str,
    data: pa.Table,
    *,
    ingest_id: str | None = None,
    quarantine: pa.Table | None = None,
) -> PreparedRecords:
    """The Arrow half of :func:`store_records` (pure; may run beside a write in progress)."""
    if table not in RECORD_TABLES:
        raise InputError(f"{table!r} is not a source-record table",
                         f"choose one of {', '.join(RECORD_TABLES)}")
    if ingest_id is not None:
        data = _with_column(data, "ingest_id", ingest_id)
    if table == "interactions" and "interaction_id" not in data.column_names:
        data = data.append_column("interaction_id", _interaction_ids(data))
    data = schema.conform(table, data)
    ids = identifiers.extract(
        table, data, ws.settings.locale.region, hasher=pseudonymiser(ws)
    )
    stamped = (_stamp_quarantine(quarantine, ingest_id)
               if quarantine is not None and quarantine.num_rows else None)
    return PreparedRecords(table, data, ids, stamped)


class WrittenKeys:
    """Which record keys one ingest transaction may already find in the warehouse, so its
    writes skip the upsert's DELETEs when no key can match.

    Those DELETEs scan the whole table (and ``identifiers``) once per write; inside one
    growing 10M-row transaction that made the ingest quadratic (measured: 7 + 9 s per 500k-row
    write at 5.5M rows, rising linearly). A key can match only (a) a row stored before this
    ingest — checked once per (table, source), before this ingest writes rows of that source —
    or (b) a row written by an earlier write of this ingest — checked against 64-bit hashes of
    the keys written so far (a hash collision only costs a DELETE that finds nothing). Past
    :data:`MAX_HASHES` keys (~160 MB) it stops remembering and every write deletes as before,
    so memory stays bounded whatever the file size."""

    MAX_HASHES = 20_000_000
    # The sorted arrays are merged like a binary counter (the newest two when the older is
    # no larger), up to MERGE_KEYS keys per array: a write searches a handful of arrays, not
    # one per earlier write (20 writes of a 10M-line file: 3.4 CPU-s of searches on the
    # runner's main thread), and a merge copies at most MERGE_KEYS keys (32 MB).
    MERGE_KEYS = 4_000_000

    def __init__(self) -> None:
        self._stored_before: dict[tuple[str, str], bool] = {}
        self._hashes: dict[str, list[Any]] = {}  # table -> sorted uint64 arrays, oldest first
        self._count = 0
        self.skipped = 0  # writes whose DELETEs were skipped (for tests and profiling)

    def may_exist(self, raw: Any, table: str, sources: list[str | None],
                  hashes: Any, repeats: bool | None = None) -> bool:
        """True when a key of this write may already be stored; records the keys either way.

        ``hashes``: numpy uint64 array of ``hash(source, source_id)`` of the write's keys.
        ``repeats``: :meth:`record`'s answer for them when the caller already recorded them
        (the ingest runner does, on its main thread, so the writer thread skips the search)."""
        found = False
        for source in sources:
            if (table, source) not in self._stored_before:
                self._stored_before[(table, source)] = _stored_before(raw, table, source)
            found = found or self._stored_before[(table, source)]
        if repeats is None:
            if self._count > self.MAX_HASHES:
                return True
            repeats = self.record(table, hashes)
        if not (found or repeats):
            self.skipped += 1
        return found or repeats

    def record(self, table: str, hashes: Any, *, is_sorted: bool = False) -> bool:
        """Remember one write's key hashes, in write order; True when one of them was written
        before (to ``table``) — or when past :data:`MAX_HASHES`, where every write deletes.
        Needs no warehouse: the ingest runner calls it on its main thread. ``is_sorted``:
        ``hashes`` is already an ascending uint64 array (kept as is, not copied)."""
        import numpy as np

        if self._count > self.MAX_HASHES:
            return True
        # np.sort, not np.unique: numpy 2.4's unique took 0.5 s per 500k keys, the sort 30 ms
        chunk = hashes if is_sorted else np.sort(np.asarray(hashes, dtype=np.uint64))
        found = False
        levels = self._hashes.setdefault(table, [])
        for seen in levels:
            at = np.searchsorted(seen, chunk).clip(max=len(seen) - 1)
            if bool((seen[at] == chunk).any()):
                found = True
                break
        if len(chunk):
            levels.append(chunk)
        while (len(levels) > 1 and len(levels[-2]) <= len(levels[-1])
               and len(levels[-2]) + len(levels[-1]) <= self.MERGE_KEYS):
            merged = np.concatenate(levels[-2:])
            merged.sort(kind="stable")  # two sorted runs: timsort merges them in one pass
            levels[-2:] = [merged]
        self._count += len(chunk)
        return found or self._count > self.MAX_HASHES


def _stored_before(raw: Any, table: str, source: str | None) -> bool:
    """Any row of ``source`` in ``table`` or in its identifiers (table names: our constants)."""
    same = "source IS NOT DISTINCT FROM ?"
    hit = raw.execute(f'SELECT EXISTS (SELECT 1 FROM "{table}" WHERE {same}) OR EXISTS '
                      f'(SELECT 1 FROM "identifiers" WHERE {same} AND record_table = ?)',
                      [source, source, table]).fetchone()[0]
    return bool(hit)


def write_records(ws: Workspace, prepared: PreparedRecords, *, scan: bool = False,
                  keys: WrittenKeys | None = None) -> StoreResult:
    """The warehouse half of :func:`store_records`: upsert, identifiers, quarantine.

    ``scan=True`` (the ingest runner's long transactions) writes to DuckDB through
    replacement scans, so no Arrow table outlives its statement (see :func:`_write_duckdb`);
    ``keys`` (the same object for every write of one transaction) lets it skip the upsert's
    DELETEs when no key can match (:class:`WrittenKeys`)."""
    table, data, ids = prepared.table, prepared.data, prepared.identifiers
    wh = ws.warehouse
    raw = getattr(wh.store, "raw", None)
    if scan and raw is not None and wh.backend == "duckdb":
        with wh.transaction():
            # Ibis turns replacement scans off on its connection; on only for these statements
            before = raw.execute(
                "SELECT current_setting('python_enable_replacements')").fetchone()[0]
            raw.execute("SET python_enable_replacements = true")
            try:
                _write_duckdb(raw, prepared, keys)
            finally:
                raw.execute("SET python_enable_replacements = ?", [bool(before)])
        return StoreResult(table, data.num_rows, ids.num_rows,
                           0 if prepared.quarantine is None else prepared.quarantine.num_rows)
    with wh.transaction():
        wh.upsert(table, data)
        if data.num_rows:
            keys = data.select(["source", "source_id"]).append_column(
                "record_table", pa.repeat(pa.scalar(table, pa.string()), data.num_rows)
            )
            wh.delete_where("identifiers", keys)
        wh.append("identifiers", ids)
        if prepared.quarantine is not None:
            wh.append("quarantine", prepared.quarantine)
    return StoreResult(table, data.num_rows, ids.num_rows,
                       0 if prepared.quarantine is None else prepared.quarantine.num_rows)


def _write_duckdb(raw: Any, prepared: PreparedRecords, written: WrittenKeys | None = None) -> None:
    """The same statements as the warehouse's upsert/delete/append, but reading the Arrow
    tables through DuckDB's replacement scan (the ``_cx_*`` local names below, which no
    catalog table has) instead of registered views: a view unregistered inside a transaction
    keeps its Arrow table alive until the commit, so a one-transaction ingest held the whole
    file in memory (RSS past 5.8 GB at 10M CDR lines). Table names are our schema constants."""
    table, data = prepared.table, prepared.data
    # All-null columns are left out of the INSERTs: DuckDB fills them with NULL (no column
    # has a default) without scanning 500k Arrow nulls each (~15% of the interactions insert)
    _cx_rows = _without_null_columns(data)  # noqa: F841 - read by the SQL (replacement scan)
    _cx_ids = _without_null_columns(prepared.identifiers)  # noqa: F841
    _cx_quarantine = prepared.quarantine  # noqa: F841
    if data.num_rows:
        keys = data.select(["source", "source_id"])
        delete = _must_delete(raw, table, keys, written, prepared.key_hashes,
                              prepared.repeats_written)
        if delete:
            _cx_keys = keys.group_by(keys.column_names).aggregate([])  # noqa: F841
            raw.execute(f'DELETE FROM "{table}" t WHERE EXISTS (SELECT 1 FROM _cx_keys k WHERE '
                        't."source" IS NOT DISTINCT FROM k."source" AND '
                        't."source_id" IS NOT DISTINCT FROM k."source_id")')
        raw.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM _cx_rows')
        if delete:
            _cx_id_keys = keys.append_column(  # noqa: F841
                "record_table", pa.repeat(pa.scalar(table, pa.string()), data.num_rows))
            raw.execute('DELETE FROM "identifiers" t WHERE EXISTS (SELECT 1 FROM _cx_id_keys k '
                        'WHERE t."source" IS NOT DISTINCT FROM k."source" AND '
                        't."source_id" IS NOT DISTINCT FROM k."source_id" AND '
                        't."record_table" IS NOT DISTINCT FROM k."record_table")')
    if prepared.identifiers.num_rows:
        raw.execute('INSERT INTO "identifiers" BY NAME SELECT * FROM _cx_ids')
    if prepared.quarantine is not None and prepared.quarantine.num_rows:
        raw.execute('INSERT INTO "quarantine" BY NAME SELECT * FROM _cx_quarantine')


def _without_null_columns(data: pa.Table) -> pa.Table:
    """``data`` less its all-null columns (at least one column is kept for the INSERT)."""
    keep = [name for name, column in zip(data.column_names, data.columns, strict=True)
            if column.null_count < len(column)]
    return data.select(keep or data.column_names[:1])


def key_hashes(keys: pa.Table, con: Any) -> Any:
    """64-bit DuckDB ``hash(source, source_id)`` of each row of ``keys`` (numpy uint64), on
    the DuckDB connection ``con`` (any: the hash does not depend on the database)."""
    import numpy as np

    _cx_key_cols = keys.select(["source", "source_id"])  # noqa: F841 - read by the SQL
    hashes = con.execute("SELECT hash(source, source_id) AS h FROM _cx_key_cols").fetchnumpy()
    return np.asarray(hashes["h"], dtype=np.uint64)


def _must_delete(raw: Any, table: str, keys: pa.Table, written: WrittenKeys | None,
                 hashes: Any = None, repeats: bool | None = None) -> bool:
    """Whether a write's (source, source_id) ``keys`` need the upsert's DELETEs."""
    if written is None:
        return True
    if hashes is None and repeats is None:
        hashes = key_hashes(keys, raw)
    sources = pc.unique(keys.column("source")).to_pylist()
    return written.may_exist(raw, table, sources, hashes, repeats)


def _interaction_ids(data: pa.Table) -> pa.Array | pa.ChunkedArray:
    """``schema.interaction_id`` of every row, vectorised when no key part is null (the
    per-row Python form cost ~3 s per million rows)."""
    source, source_id = data.column("source"), data.column("source_id")
    if source.null_count or source_id.null_count:
        return pa.array([schema.interaction_id(s, i) for s, i in zip(
            source.to_pylist(), source_id.to_pylist(), strict=True)], pa.string())
    return pc.binary_join_element_wise(source.cast(pa.string()), source_id.cast(pa.string()),
                                       ":")


def _with_column(data: pa.Table, name: str, value: str) -> pa.Table:
    column = pa.repeat(pa.scalar(value, pa.string()), data.num_rows)
    if name in data.column_names:
        return data.set_column(data.column_names.index(name), name, column)
    return data.append_column(name, column)


def _stamp_quarantine(rows: pa.Table, ingest_id: str | None) -> pa.Table:
    now = datetime.now(UTC).replace(tzinfo=None)
    if "quarantined_at" not in rows.column_names:
        rows = rows.append_column(
            "quarantined_at", pa.repeat(pa.scalar(now, pa.timestamp("us")), rows.num_rows)
        )
    if ingest_id is not None:
        rows = _with_column(rows, "ingest_id", ingest_id)
    return schema.conform("quarantine", rows)
