"""The ingest runner: one file (or folder) of one format into the warehouse, atomically.

>>> import cxlens
>>> from cxlens.ingest import ingest
>>> ws = cxlens.open("demo-ws")                                    # doctest: +SKIP
>>> ingest(ws, "Master.csv", format="asterisk").as_dict()["stored"]  # doctest: +SKIP

Guarantees (DESIGN principle 2):

* **Nothing lost** — every source record read is stored, quarantined with a reason, or counted
  as a resolved duplicate: ``read == stored + quarantined + duplicates``.
* **Atomic** — the whole file is one warehouse transaction (DuckDB); an error or a kill leaves
  the warehouse as it was. The Spark store has no transactions (see docs/connectors.md).
* **Idempotent** — a file whose SHA-256 was already loaded for the same source adds nothing and
  says so.
* **Bounded memory** — connectors stream batches; the runner buffers at most
  :data:`WRITE_ROWS` rows per table before writing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from cxlens.connectors import get_connector
from cxlens.connectors.base import Batch, ReadOptions
from cxlens.connectors.readahead import read_ahead
from cxlens.errors import CxlensError, InputError
from cxlens.workspace import Workspace

if TYPE_CHECKING:
    from cxlens.load import PreparedRecords

WRITE_ROWS = 500_000
# A table's first write is this small, so the writer thread starts after a few CSV batches
# instead of idling while the first 500k rows are read and cleaned.
FIRST_WRITE_ROWS = 100_000
# The whole file is one DuckDB transaction; capping DuckDB's memory makes it spill the
# uncommitted rows to its temp folder instead of holding them, so RSS stays bounded.
DUCKDB_MEMORY_LIMIT = "256MB"
# One DuckDB thread for the writes: the other core parses and cleans the next batches
# (connectors.readahead). On the shared 2-core benchmark machine DuckDB's second thread made
# the inserts several times slower (threads waiting on each other), not faster.
DUCKDB_INGEST_THREADS = 1
Progress = Callable[[int, int, int], None]  # (bytes done, bytes total, records read)


@dataclass
class IngestResult:
    """What one ingest did; ``read == stored + quarantined + duplicates``."""

    ingest_id: str
    path: str
    format: str
    source: str
    sha256: str
    status: str  # loaded | already ingested | dry run
    read: int = 0
    stored: int = 0
    quarantined: int = 0
    duplicates: int = 0
    tables: dict[str, int] = field(default_factory=dict)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    superseded_elsewhere: int = 0
    seconds: float = 0.0
    method: str = "generic"  # generic | sql (the store's SQL fast path, same result)
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, or of a folder's files (names and contents, sorted)."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for item in files:
        if path.is_dir():
            digest.update(str(item.relative_to(path)).encode() + b"\0")
        with item.open("rb") as handle:
            while chunk := handle.read(1 << 22):
                digest.update(chunk)
    return digest.hexdigest()


def _total_bytes(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def _already_loaded(ws: Workspace, sha: str, source: str) -> dict[str, Any] | None:
    log = ws.warehouse.table("ingest_log")
    hits = (log.filter((log.sha256 == sha) & (log.source == source) & (log.status == "loaded"))
            .order_by(log.finished_at.desc()).limit(1).to_pyarrow().to_pylist())
    return hits[0] if hits else None


def ingest(
    ws: Workspace,
    path: Path | str,
    format: str = "auto",  # noqa: A002 - the user's word
    *,
    source: str | None = None,
    encoding: str | None = None,
    mapping: Path | str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    write_rows: int = WRITE_ROWS,
    fast_path: bool = False,
) -> IngestResult:
    """Ingest ``path`` (format name from :data:`cxlens.connectors.REGISTRY`, or ``auto``).

    ``fast_path=True`` lets a store that supports SQL ingest load formats that support it
    (:mod:`cxlens.connectors.fastpath`; same result). Off by default: on the shared
    benchmark machine it was not faster than the generic path (docs/connectors.md)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist", "check the path")
    if format == "auto":
        from cxlens.connectors.sniff import sniff

        format = sniff(path)  # noqa: A001
    connector = get_connector(format)
    mapping_path = Path(mapping) if mapping else None
    if format == "mapped" and mapping_path is None:
        raise InputError("--format mapped needs --mapping FILE",
                         "write a YAML mapping (see docs/connectors.md)")
    if mapping_path is not None and not mapping_path.is_file():
        raise InputError(f"mapping file {mapping_path} does not exist")
    if path.is_dir() and format not in {"email"}:
        raise InputError(f"{path} is a folder", f"--format {format} reads one file at a time")
    if source is None:
        source = _default_source(format, path, mapping_path)
    settings = ws.settings
    options = ReadOptions(source=source, timezone=settings.locale.timezone,
                          region=settings.locale.region, encoding=encoding, mapping=mapping_path)
    # A source with no loaded ingest cannot hold this file yet: the generic path then hashes
    # the file on a background thread (hashlib releases the GIL; 2.5 s for the 2.4 GB
    # 10M-line file) while the rows are read, cleaned and written, and waits for it only
    # to log the ingest. Otherwise the hash comes first, for the already-ingested check.
    hashing = (_hash_in_background(path) if not dry_run and not fast_path
               and not _source_loaded(ws, source) else None)
    if hashing is not None:
        _import_pandas_beside()
    sha = "" if hashing is not None else file_sha256(path)
    result = IngestResult(ingest_id=uuid.uuid4().hex, path=str(path), format=format,
                          source=source, sha256=sha, status="dry run" if dry_run else "loaded")
    if not dry_run and hashing is None:
        previous = _already_loaded(ws, sha, source)
        if previous is not None:
            result.status = "already ingested"
            result.message = (f"{path.name} was already ingested for source {source!r} "
                              f"(ingest {previous['ingest_id']}, {previous['finished_at']}); "
                              "nothing added")
            return result
    started = datetime.now(UTC).replace(tzinfo=None)
    t0 = time.perf_counter()
    total = _total_bytes(path)
    try:
        if dry_run:
            with contextlib.closing(read_ahead(connector.read(path, options))) as batches:
                _run(batches, result, None, progress, total, write_rows)
        elif not (fast_path and _run_fast(ws, connector, path, options, result, started,
                                          progress, total)):
            with _bounded_memory(ws), ws.warehouse.transaction():
                # closing(): a failed write must stop the reader thread now, not when the
                # traceback holding the generator is collected
                with contextlib.closing(read_ahead(connector.read(path, options))) as batches:
                    primary = _run(batches, result, ws, progress, total, write_rows)
                _finish(ws, result, primary)
                if hashing is not None:
                    result.sha256 = hashing.result()
                _log(ws, result, started, "loaded", "")
    except CxlensError as exc:
        if not dry_run:
            if hashing is not None and not result.sha256:
                result.sha256 = hashing.result()
            result.status = "failed"
            _log(ws, result, started, "failed", str(exc))
        raise
    result.seconds = round(time.perf_counter() - t0, 3)
    if not result.message:
        result.message = _summary_line(result)
    return result


@contextlib.contextmanager
def _bounded_memory(ws: Workspace) -> Iterator[None]:
    """Cap DuckDB's memory for the ingest (restored afterwards); other stores: nothing to do."""
    raw = getattr(ws.warehouse.store, "raw", None)  # the DuckDB connection, when there is one
    if raw is None or ws.warehouse.backend != "duckdb":
        yield
        return
    before = raw.execute("SELECT current_setting('memory_limit'), "
                         "current_setting('threads')").fetchone()
    # our constants as literals: binding a parameter imports pandas (see _source_loaded)
    raw.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
    raw.execute(f"SET threads = {int(DUCKDB_INGEST_THREADS)}")
    try:
        yield
    finally:
        raw.execute("SET memory_limit = ?", [before[0]])
        raw.execute("SET threads = ?", [int(before[1])])


def _run_fast(ws: Workspace, connector: Any, path: Path, options: ReadOptions,
              result: IngestResult, started: datetime, progress: Progress | None,
              total: int) -> bool:
    """The store's SQL path when both it and the connector declare it; False = not taken
    (nothing written), the generic path then runs. Same guarantees and result as generic."""
    from cxlens.connectors import fastpath

    if not fastpath.eligible(ws, connector, options):
        return False
    con = ws.warehouse.store.raw
    with _bounded_memory(ws):
        try:
            columns, skip = fastpath.stage(con, path, options)  # outside the transaction
        except fastpath.StepAside:
            return False
        try:
            with ws.warehouse.transaction():
                done = fastpath.run(ws, path, options, columns, skip, result.ingest_id)
                result.read = done.read
                result.quarantined = 0 if done.quarantine is None else done.quarantine.num_rows
                result.quarantine_reasons = done.reasons
                result.tables = {"interactions": 0}
                _finish(ws, result, {"interactions"})
                _log(ws, result, started, "loaded", "")
        except fastpath.StepAside:  # rolled back: nothing was written
            return False
        finally:
            fastpath.drop_stage(con)
    result.method = "sql"
    if progress is not None:
        progress(total, total, result.read)
    return True


def _source_loaded(ws: Workspace, source: str) -> bool:
    """Whether any ingest of ``source`` was loaded (then a file may repeat one)."""
    raw = getattr(ws.warehouse.store, "raw", None)
    if raw is not None and ws.warehouse.backend == "duckdb":
        # plain DuckDB, no bound parameter: Ibis' execute() and DuckDB's parameter binding
        # both import pandas (~0.8 s) here, before any row is read (the log is small)
        loaded = raw.execute("SELECT DISTINCT source FROM ingest_log "
                             "WHERE status = 'loaded'").fetchall()
        return any(row[0] == source for row in loaded)
    log = ws.warehouse.table("ingest_log")
    return bool(log.filter((log.source == source) & (log.status == "loaded"))
                .count().execute())


def _import_pandas_beside() -> None:
    """Start importing pandas on a thread of its own, if it is installed and not imported.

    DuckDB's first replacement scan — the ingest's first write — imports pandas when it can
    (~0.8 s); begun here, the import overlaps the first reads instead of delaying the writer
    thread, which paces a big ingest."""
    import importlib
    import importlib.util
    import sys
    import threading

    if "pandas" in sys.modules or importlib.util.find_spec("pandas") is None:
        return
    threading.Thread(target=importlib.import_module, args=("pandas",),
                     name="cxlens-import-pandas").start()


def _hash_in_background(path: Path) -> Future[str]:
    """:func:`file_sha256` of ``path`` on a thread of its own; ``result()`` waits for it and
    re-raises what it raised."""
    pool = ThreadPoolExecutor(1, thread_name_prefix="cxlens-sha256")
    try:
        return pool.submit(file_sha256, path)
    finally:
        pool.shutdown(wait=False)  # the thread ends with its one task


def _default_source(format: str, path: Path, mapping: Path | None) -> str:  # noqa: A002
    if format == "mapped" and mapping is not None:
        from cxlens.connectors.mapped import load_mapping

        return load_mapping(mapping).source or path.stem
    return format


class _Buffer:
    """Per-table rows waiting to be written (bounded by ``limit``; a table's first write at
    most :data:`FIRST_WRITE_ROWS`)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.rows: dict[str, list[pa.Table]] = {}
        self.quarantine: dict[str, list[pa.Table]] = {}
        self.sizes: Counter[str] = Counter()
        self.taken: set[str] = set()  # tables written at least once

    def add(self, batch: Batch) -> bool:
        if batch.rows.num_rows:
            self.rows.setdefault(batch.table, []).append(batch.rows)
            self.sizes[batch.table] += batch.rows.num_rows
        if batch.quarantine.num_rows:
            self.quarantine.setdefault(batch.table, []).append(batch.quarantine)
        limit = self.limit if batch.table in self.taken else min(self.limit, FIRST_WRITE_ROWS)
        return self.sizes[batch.table] >= limit

    def take(self, table: str) -> tuple[list[pa.Table], list[pa.Table]]:
        """Remove and return one table's buffered (rows, quarantine) parts."""
        self.sizes[table] = 0
        self.taken.add(table)
        return self.rows.pop(table, []), self.quarantine.pop(table, [])


def _run(batches: Any, result: IngestResult, target: Workspace | None,
         progress: Progress | None, total: int, write_rows: int) -> set[str]:
    """Consume the connector's batches, writing every ``write_rows`` rows per table.

    Writes run on one background thread (:class:`_Writer`), in order, while the next rows
    are read and buffered. Returns the primary tables (those whose rows are the records
    counted in ``read``)."""
    buffer = _Buffer(write_rows)
    primary: set[str] = set()
    reasons: Counter[str] = Counter()
    with _Writer(target, result) as writer:
        for batch in batches:
            accounted = batch.rows.num_rows + batch.quarantine.num_rows + batch.duplicates
            if batch.primary:
                if accounted != batch.read:
                    raise RuntimeError(  # a connector bug, never a user error
                        f"connector {result.format} lost records: read {batch.read}, "
                        f"accounted for {accounted}")
                primary.add(batch.table)
                result.read += batch.read
                result.duplicates += batch.duplicates
            result.quarantined += batch.quarantine.num_rows
            if batch.quarantine.num_rows:
                reasons.update(batch.quarantine.column("reason").to_pylist())
            if buffer.add(batch):
                writer.submit(batch.table, *buffer.take(batch.table))
            if progress is not None:
                progress(batch.position, total, result.read)
        for table in sorted(set(buffer.rows) | set(buffer.quarantine)):
            writer.submit(table, *buffer.take(table))
    written = writer.written
    result.duplicates += sum(writer.duplicates[t] for t in primary)
    result.quarantine_reasons = dict(reasons.most_common())
    result.tables = dict(written)
    result.stored = sum(written[t] for t in primary)
    return primary


class _Writer:
    """Writes buffered rows on one background thread, in submission order, one write ahead
    at most (memory stays bounded); the caller keeps reading meanwhile. Leaving the ``with``
    waits for the last write and re-raises its error."""

    def __init__(self, target: Workspace | None, result: IngestResult) -> None:
        self.target = target
        self.result = result
        self.written: Counter[str] = Counter()
        self.duplicates: Counter[str] = Counter()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cxlens-write")
        self._pending: Future[object] | None = None
        from cxlens.load import WrittenKeys

        self.keys = WrittenKeys()  # one per transaction: lets writes skip futile DELETEs
        import duckdb

        # key hashes are computed on this thread, on a private in-memory connection (the
        # warehouse connection belongs to the writer thread)
        self._hash_con = duckdb.connect()
        self._hash_con.execute("SET threads = 1")

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._wait()
        finally:
            self._pool.shutdown(wait=True)
            self._hash_con.close()

    def submit(self, table: str, parts: list[pa.Table], quarantine: list[pa.Table]) -> None:
        """Prepare one table's buffered rows here, then write them on the writer thread."""
        if not parts and not quarantine:
            return
        rows, dups, prepared = _prepare(self.target, table, parts, quarantine,
                                        self.result.ingest_id, self._hash_con)
        if prepared is not None and prepared.key_hashes is not None:
            # in submission order, so the writes see the keys of every earlier write
            prepared.repeats_written = self.keys.record(table, prepared.key_hashes,
                                                        is_sorted=True)
        self._wait()
        self.written[table] += rows
        self.duplicates[table] += dups
        if prepared is not None:
            from cxlens.load import write_records

            self._pending = self._pool.submit(write_records, self.target, prepared, scan=True,
                                              keys=self.keys)

    def _wait(self) -> None:
        if self._pending is None:
            return
        future, self._pending = self._pending, None
        future.result()


def _prepare(target: Workspace | None, table: str, parts: list[pa.Table],
             quarantine: list[pa.Table], ingest_id: str, hash_con: Any = None,
             ) -> tuple[int, int, PreparedRecords | None]:
    """(rows to write, duplicates dropped inside the buffer, the prepared write — None on a
    dry run) of one table's buffered rows. ``hash_con`` (a DuckDB connection) lets it skip
    the key group-by when no key repeats and hash the keys for :class:`load.WrittenKeys`
    (``key_hashes`` then holds them sorted)."""
    from cxlens.load import key_hashes, prepare_records

    dups = 0
    hashes = None
    if parts:
        rows = pa.concat_tables(parts, promote_options="permissive")
        rows, dups, hashes = _keep_last(rows, hash_con)
    else:
        from cxlens.schema import arrow_schema

        rows = arrow_schema(table).empty_table()
    if target is None:
        return rows.num_rows, dups, None
    prepared = prepare_records(target, table, rows, ingest_id=ingest_id,
                               quarantine=pa.concat_tables(quarantine) if quarantine else None)
    if hash_con is not None and prepared.data.num_rows:
        import numpy as np

        # prepare_records keeps each row's source and source_id: the hashes of the rows
        # _keep_last looked at are those of the rows to write
        prepared.key_hashes = (hashes if hashes is not None
                               else np.sort(key_hashes(prepared.data, hash_con)))
    return rows.num_rows, dups, prepared


def _keep_last(rows: pa.Table, hash_con: Any) -> tuple[pa.Table, int, Any]:
    """:func:`cxlens.clean.dedupe.keep_last`, skipped when the sorted 64-bit hashes of the
    keys hold no repeat — then no key repeats (equal keys hash equal; a collision only sends
    the rows through the group-by). 40 ms per 500k keys instead of 180 ms.

    Returns (rows, duplicates dropped, sorted ``load.key_hashes`` of the rows or None). When
    every row has the same source (a connector's batches do), ``hash(source, source_id)``
    answers both questions — does a ``source_id`` repeat, and which keys does the write hold
    for :class:`load.WrittenKeys` — in one DuckDB query and one sort."""
    from cxlens.clean.dedupe import keep_last

    if hash_con is not None and rows.num_rows > 1 and "source_id" in rows.column_names:
        import numpy as np

        one_source = False
        if "source" in rows.column_names and rows.column("source").null_count == 0:
            import pyarrow.compute as pc

            bounds = pc.min_max(rows.column("source")).as_py()
            one_source = bounds["min"] == bounds["max"]
        _cx_ids = rows.select(["source", "source_id"] if one_source  # noqa: F841 - read by the SQL
                              else ["source_id"])
        query = ("SELECT hash(source, source_id) AS h FROM _cx_ids" if one_source
                 else "SELECT hash(source_id) AS h FROM _cx_ids")
        got = hash_con.execute(query).fetchnumpy()
        hashes = np.sort(np.asarray(got["h"], dtype=np.uint64))
        if not bool((hashes[1:] == hashes[:-1]).any()):
            return rows, 0, hashes if one_source else None
    return (*keep_last(rows), None)


def _finish(ws: Workspace, result: IngestResult, primary: set[str]) -> None:
    """Reconcile counts with what the warehouse holds, then apply the same-call rule."""
    wh = ws.warehouse

    def stored_in(table: str) -> int:
        t = wh.table(table)
        return int(t.filter(t.ingest_id == result.ingest_id).count().execute())

    if "interactions" in primary:
        from cxlens.clean.dedupe import resolve_same_calls

        same = resolve_same_calls(ws, result.ingest_id, result.source)
        result.superseded_elsewhere = same["earlier_ingests"]
    for table in list(result.tables):
        result.tables[table] = stored_in(table)
    result.stored = sum(result.tables.get(t, 0) for t in primary)
    # Same key in different write buffers collapses on upsert; the same-call rule removes
    # more: whatever is neither stored nor quarantined was resolved as a duplicate.
    result.duplicates = result.read - result.quarantined - result.stored


def _log(ws: Workspace, result: IngestResult, started: datetime, status: str, detail: str) -> None:
    ws.warehouse.append("ingest_log", [{
        "ingest_id": result.ingest_id, "source": result.source, "format": result.format,
        "path": result.path, "sha256": result.sha256, "rows_read": result.read,
        "rows_stored": result.stored, "rows_quarantined": result.quarantined,
        "rows_duplicate": result.duplicates, "started_at": started,
        "finished_at": datetime.now(UTC).replace(tzinfo=None), "status": status,
        "detail": detail or json.dumps({"tables": result.tables,
                                        "quarantine_reasons": result.quarantine_reasons,
                                        "superseded_elsewhere": result.superseded_elsewhere},
                                       ensure_ascii=False),
    }])


def _summary_line(result: IngestResult) -> str:
    return (f"read {result.read:,} · stored {result.stored:,} · quarantined "
            f"{result.quarantined:,} · duplicates {result.duplicates:,}")
