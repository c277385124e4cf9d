"""The warehouse: canonical tables behind one Ibis connection.

Two stores implement the same small interface, and say what they can do as data
(``supports_transactions``) rather than callers testing the backend name:

* :class:`DuckDBStore` — the embedded default: one DuckDB file, real transactions.
* :class:`SparkStore` — PySpark (``pyspark://local[2]`` or a cluster master): every table is a
  set of Parquet batch folders listed in a manifest that is replaced atomically, so a write that
  fails leaves the previous manifest (and so the previous table) in force.

Reads are always Ibis tables; stages build Ibis expressions and hand them back to
:meth:`Warehouse.replace` / :meth:`Warehouse.append` to materialise.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute  # noqa: F401 - pa.compute in SparkStore
import pyarrow.parquet as pq

from cxlens import schema
from cxlens.errors import NotFoundError, WarehouseError, WorkspaceError

if TYPE_CHECKING:
    from concurrent.futures import Future

    import ibis.expr.types as ir

KEY = ("source", "source_id")
# The storage format a new DuckDB warehouse file is created with (an existing file keeps its
# own). DuckDB's default for new files is still v0.10.2's, whose string compression
# (Dictionary or FSST, each analysed per column segment) made the constant and low-cardinality
# string columns of an ingest cost ~0.08 CPU-s per 564k rows each; v1.5.0's DICT_FSST ~0.05
# (interactions insert -21 % CPU; file +6 %). Such a file needs DuckDB >= 1.5 to be read.
DUCKDB_STORAGE_VERSION = "v1.5.0"


def _to_arrow(table: str, data: pa.Table | pa.RecordBatch | Any) -> pa.Table:
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    elif not isinstance(data, pa.Table):  # pandas DataFrame or list of dicts
        import pandas as pd

        frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(list(data))
        data = pa.Table.from_pandas(frame, preserve_index=False)
    return schema.conform(table, data)


def _conform_expr(table: str, expr: ir.Table) -> ir.Table:
    import ibis

    target = schema.ibis_schema(table)
    cols = []
    for name, dtype in target.items():
        if name in expr.columns:
            cols.append(expr[name].cast(dtype).name(name))
        else:
            cols.append(ibis.null(dtype).name(name))
    return expr.select(cols)


class DuckDBStore:
    """Tables in one DuckDB file; writes are transactions."""

    supports_transactions = True
    supports_sql_ingest = True  # DuckDB reads files itself (cxlens.connectors.fastpath)
    # a second connection in this process shares the open database: two pipeline stages that
    # share no table may run at the same time (cxlens.pipeline, Stage.beside)
    concurrent_connections = True
    name = "duckdb"

    def __init__(self, path: Path, read_only: bool = False) -> None:
        import duckdb
        import ibis

        self.path = path
        try:
            if not read_only and not path.exists():
                # the version is written into the new file's header: later connections need
                # no (and so cannot conflict on) storage configuration
                duckdb.connect(str(path), config={
                    "storage_compatibility_version": DUCKDB_STORAGE_VERSION}).close()
            self.con = ibis.duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            text = str(exc)
            if "lock" in text.lower():
                raise WorkspaceError(
                    f"warehouse {path} is locked by another process",
                    "stop the other cxlens process (e.g. `cxlens serve`) or wait for it to finish",
                ) from exc
            raise WorkspaceError(f"cannot open warehouse {path}: {text.splitlines()[0]}") from exc
        except duckdb.Error as exc:
            raise WorkspaceError(
                f"{path} is not a readable DuckDB warehouse: {str(exc).splitlines()[0]}",
                "point --workspace at a cxlens workspace or run `cxlens init`",
            ) from exc
        self.raw = self.con.con
        self._depth = 0

    def list_tables(self) -> list[str]:
        return list(self.con.list_tables())

    def count(self, name: str) -> int:
        return int(self.raw.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])

    def columns(self) -> dict[str, set[str]]:
        """The column names of every table, in one catalog query (migrate's check; a schema
        lookup per table cost ~0.2 CPU-s on each open of a warehouse)."""
        rows = self.raw.execute(
            "SELECT table_name, column_name FROM duckdb_columns() "
            "WHERE database_name = current_database() AND schema_name = current_schema() "
            "AND NOT internal").fetchall()
        found: dict[str, set[str]] = {}
        for table, column in rows:
            found.setdefault(table, set()).add(column)
        return found

    def table(self, name: str) -> ir.Table:
        return self.con.table(name)

    def create(self, name: str, arrow_schema: pa.Schema) -> None:
        self.create_many({name: arrow_schema})

    def create_many(self, tables: dict[str, pa.Schema]) -> None:
        """Create several tables in one statement batch (the DDL Ibis' create_table emits; one
        round trip instead of one Ibis call each: a new workspace's 41 tables 0.39 -> 0.1 s)."""
        import sqlglot as sg
        import sqlglot.expressions as sge

        statements = [
            sge.Create(kind="TABLE", this=sge.Schema(
                this=sg.table(name, quoted=True),
                expressions=_ibis_schema_from_arrow(arrow).to_sqlglot_column_defs("duckdb"),
            )).sql("duckdb")
            for name, arrow in tables.items()
        ]
        if statements:
            with self.transaction():
                self.raw.execute(";\n".join(statements))

    def add_column(self, name: str, column: str, dtype: str) -> None:
        sql_type = self.con.compiler.type_mapper.to_string(_dtype(dtype))
        self.raw.execute(f'ALTER TABLE "{name}" ADD COLUMN "{column}" {sql_type}')

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.raw.execute("BEGIN TRANSACTION")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self.raw.execute("ROLLBACK")
            raise
        self._depth = 0
        self.raw.execute("COMMIT")

    def append(self, name: str, data: pa.Table) -> None:
        if data.num_rows == 0:
            return
        view = f"_cx_in_{uuid.uuid4().hex}"
        self.raw.register(view, data)
        try:
            self.raw.execute(f'INSERT INTO "{name}" BY NAME SELECT * FROM "{view}"')
        finally:
            self.raw.unregister(view)

    def delete_keys(self, name: str, keys: pa.Table) -> None:
        if keys.num_rows == 0:
            return
        view = f"_cx_keys_{uuid.uuid4().hex}"
        self.raw.register(view, keys)
        cols = keys.column_names
        cond = " AND ".join(f't."{c}" IS NOT DISTINCT FROM k."{c}"' for c in cols)
        try:
            self.raw.execute(
                f'DELETE FROM "{name}" t WHERE EXISTS (SELECT 1 FROM "{view}" k WHERE {cond})'
            )
        finally:
            self.raw.unregister(view)

    def update_columns(self, name: str, data: pa.Table, keys: Sequence[str]) -> None:
        view = f"_cx_set_{uuid.uuid4().hex}"
        self.raw.register(view, data)
        sets = ", ".join(f'"{c}" = u."{c}"' for c in data.column_names if c not in keys)
        cond = " AND ".join(f't."{c}" IS NOT DISTINCT FROM u."{c}"' for c in keys)
        try:
            self.raw.execute(f'UPDATE "{name}" AS t SET {sets} FROM "{view}" AS u WHERE {cond}')
        finally:
            self.raw.unregister(view)

    def replace_expr(self, name: str, expr: ir.Table) -> None:
        sql = self.con.compile(expr)
        with self.transaction():
            if f'"{name}"' in sql:
                # the expression reads the table it replaces: DELETE first would leave it
                # empty, so the result is computed into a temp table before the DELETE
                scratch = f"_cx_replace_{uuid.uuid4().hex}"
                self.raw.execute(f'CREATE TEMP TABLE "{scratch}" AS {sql}')
                try:
                    self.raw.execute(f'DELETE FROM "{name}"')
                    self.raw.execute(f'INSERT INTO "{name}" BY NAME SELECT * FROM "{scratch}"')
                finally:
                    self.raw.execute(f'DROP TABLE IF EXISTS "{scratch}"')
                return
            self.raw.execute(f'DELETE FROM "{name}"')
            self.raw.execute(f'INSERT INTO "{name}" BY NAME {sql}')

    def replace_arrow(self, name: str, data: pa.Table) -> None:
        with self.transaction():
            self.raw.execute(f'DELETE FROM "{name}"')
            self.append(name, data)

    def replace_arrow_beside(self, name: str, data: pa.Table) -> Future[None]:
        """:meth:`replace_arrow` in a transaction of its own, on a worker thread with its own
        connection to the database (a cursor), so this connection's queries go on meanwhile."""
        from concurrent.futures import ThreadPoolExecutor

        cursor = self.raw.cursor()

        def write() -> None:
            view = f"_cx_in_{uuid.uuid4().hex}"
            try:
                cursor.execute("BEGIN TRANSACTION")
                cursor.execute(f'DELETE FROM "{name}"')
                cursor.register(view, data)
                cursor.execute(f'INSERT INTO "{name}" BY NAME SELECT * FROM "{view}"')
                cursor.unregister(view)
                cursor.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(Exception):
                    cursor.execute("ROLLBACK")
                raise
            finally:
                cursor.close()

        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cxlens-write")
        future = pool.submit(write)
        pool.shutdown(wait=False)  # the worker ends with its one task
        return future

    def append_expr(self, name: str, expr: ir.Table) -> None:
        self.raw.execute(f'INSERT INTO "{name}" BY NAME {self.con.compile(expr)}')

    def export_parquet(self, name: str, path: Path) -> None:
        self.con.table(name).to_parquet(path)

    def drop(self, name: str) -> None:
        self.raw.execute(f'DROP TABLE IF EXISTS "{name}"')

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.con.disconnect()


class SparkStore:
    """Tables as Parquet batch folders under ``<workspace>/spark/``, read through PySpark.

    The manifest of a table lists its batches and their row counts, so counting is free and a
    write becomes visible only when the manifest is replaced (``os.replace``, atomic). Key-based
    deletes of the upsert path rewrite the affected table with pyarrow (the batches are plain
    Parquet files in the workspace); transforms (``replace_expr``/``append_expr``) run in Spark.
    """

    supports_transactions = False
    name = "pyspark"

    def __init__(self, root: Path, master: str) -> None:
        import ibis

        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.session = _spark_session(master, root)
        self.con = ibis.pyspark.connect(self.session)
        self._schemas: dict[str, pa.Schema] = {}
        for manifest in sorted(self.root.glob("*/_manifest.json")):
            self._register(manifest.parent.name)

    # -- manifest handling -------------------------------------------------------------------
    def _manifest(self, name: str) -> dict[str, Any]:
        path = self.root / name / "_manifest.json"
        if not path.exists():
            raise NotFoundError(f"table {name!r} does not exist")
        return json.loads(path.read_text())

    def _write_manifest(
        self, name: str, batches: list[dict[str, Any]], arrow_schema: pa.Schema
    ) -> None:
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        doc = {"batches": batches, "schema": arrow_schema.serialize().to_pybytes().hex()}
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".manifest-")
        with os.fdopen(fd, "w") as handle:
            json.dump(doc, handle)
        os.replace(tmp, folder / "_manifest.json")  # the atomic step
        live = {b["name"] for b in batches}
        for stale in [p for p in folder.iterdir() if p.is_dir() and p.name not in live]:
            shutil.rmtree(stale, ignore_errors=True)
        self._register(name)

    def _register(self, name: str) -> None:
        doc = self._manifest(name)
        arrow_schema = pa.ipc.read_schema(pa.py_buffer(bytes.fromhex(doc["schema"])))
        self._schemas[name] = arrow_schema
        ddl = _spark_ddl(arrow_schema)
        paths = [str(self.root / name / b["name"]) for b in doc["batches"]]
        # An explicit schema spares Spark a footer-inference job per table and read.
        if paths:
            frame = self.session.read.schema(ddl).parquet(*paths)
        else:
            frame = self.session.createDataFrame([], schema=ddl)
        frame.createOrReplaceTempView(name)

    def _new_batch(self, name: str, data: pa.Table) -> dict[str, Any]:
        batch = f"batch-{uuid.uuid4().hex}"
        folder = self.root / name / batch
        folder.mkdir(parents=True)
        pq.write_table(data, folder / "part-0.parquet", coerce_timestamps="us")
        return {"name": batch, "rows": data.num_rows}

    def _read_arrow(self, name: str) -> pa.Table:
        doc = self._manifest(name)
        files = [f for b in doc["batches"] for f in sorted((self.root / name / b["name"]).glob("*.parquet"))]
        if not files:
            return self._schemas[name].empty_table()
        return pa.concat_tables([pq.read_table(f).cast(self._schemas[name]) for f in files])

    def _write_frame(self, name: str, frame: Any, replace: bool) -> None:
        batch = f"batch-{uuid.uuid4().hex}"
        frame.write.parquet(str(self.root / name / batch))
        rows = sum(pq.read_metadata(f).num_rows for f in (self.root / name / batch).glob("*.parquet"))
        batches = [] if replace else self._manifest(name)["batches"]
        self._write_manifest(name, [*batches, {"name": batch, "rows": rows}], self._schemas[name])

    # -- store interface --------------------------------------------------------------------
    def list_tables(self) -> list[str]:
        return sorted(p.parent.name for p in self.root.glob("*/_manifest.json"))

    def table(self, name: str) -> ir.Table:
        if name not in self._schemas:
            raise NotFoundError(f"table {name!r} does not exist")
        return self.con.table(name)

    def count(self, name: str) -> int:
        return sum(int(b["rows"]) for b in self._manifest(name)["batches"])

    def create(self, name: str, arrow_schema: pa.Schema) -> None:
        self._write_manifest(name, [], arrow_schema)

    def create_many(self, tables: dict[str, pa.Schema]) -> None:
        for name, arrow_schema in tables.items():
            self.create(name, arrow_schema)

    def add_column(self, name: str, column: str, dtype: str) -> None:
        current = self._read_arrow(name)
        target = self._schemas[name].append(pa.field(column, schema._ARROW[dtype]))
        data = current.append_column(column, pa.nulls(current.num_rows, schema._ARROW[dtype]))
        self._write_manifest(name, [self._new_batch(name, data.cast(target))], target)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        yield

    def append(self, name: str, data: pa.Table) -> None:
        if data.num_rows == 0:
            return
        doc = self._manifest(name)
        self._write_manifest(
            name, [*doc["batches"], self._new_batch(name, data)], self._schemas[name]
        )

    def delete_keys(self, name: str, keys: pa.Table) -> None:
        if keys.num_rows == 0 or self.count(name) == 0:
            return
        current = self._read_arrow(name)
        marked = keys.append_column("_cx_hit", pa.array([True] * keys.num_rows))
        joined = current.join(marked, keys=keys.column_names, join_type="left outer")
        kept = joined.filter(pa.compute.is_null(joined.column("_cx_hit"))).drop(["_cx_hit"])
        if kept.num_rows != current.num_rows:
            self.replace_arrow(name, kept.select(self._schemas[name].names))

    def update_columns(self, name: str, data: pa.Table, keys: Sequence[str]) -> None:
        if self.count(name) == 0:
            return
        current = self._read_arrow(name)
        cols = [c for c in data.column_names if c not in keys]
        new = data.rename_columns([c if c in keys else f"_cx_new_{c}" for c in data.column_names])
        new = new.append_column("_cx_hit", pa.array([True] * new.num_rows))
        joined = current.join(new, keys=list(keys), join_type="left outer")
        hit = pa.compute.fill_null(joined.column("_cx_hit"), False)
        if not pa.compute.any(hit).as_py():
            return
        for c in cols:
            joined = joined.set_column(joined.schema.get_field_index(c), c, pa.compute.if_else(
                hit, joined.column(f"_cx_new_{c}"), joined.column(c)))
        self.replace_arrow(name, joined.select(self._schemas[name].names))

    def replace_expr(self, name: str, expr: ir.Table) -> None:
        self._write_frame(name, self.session.sql(str(self.con.compile(expr))), replace=True)

    def replace_arrow(self, name: str, data: pa.Table) -> None:
        data = data.cast(self._schemas[name])
        self._write_manifest(name, [self._new_batch(name, data)], self._schemas[name])

    def append_expr(self, name: str, expr: ir.Table) -> None:
        self._write_frame(name, self.session.sql(str(self.con.compile(expr))), replace=False)

    def export_parquet(self, name: str, path: Path) -> None:
        pq.write_table(self._read_arrow(name), path)

    def drop(self, name: str) -> None:
        self._schemas.pop(name, None)
        with contextlib.suppress(Exception):
            self.session.catalog.dropTempView(name)
        with contextlib.suppress(FileNotFoundError):
            (self.root / name / "_manifest.json").unlink()  # the table is gone from here on
        shutil.rmtree(self.root / name, ignore_errors=True)

    def close(self) -> None:
        """Spark sessions are shared per process; nothing to release per warehouse."""


def _spark_session(master: str, root: Path) -> Any:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)  # type: ignore[attr-defined]
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise WarehouseError(
            "the pyspark backend needs PySpark", "pip install 'cxlens[spark]'"
        ) from exc
    scratch = tempfile.mkdtemp(prefix="cxlens-spark-")
    session = (
        SparkSession.builder.master(master)
        .appName("cxlens")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", scratch)
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.parquet.inferTimestampNTZ.enabled", "true")
        .config("spark.sql.timestampType", "TIMESTAMP_NTZ")
        .config("spark.driver.memory", "2g")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def _spark_ddl(arrow_schema: pa.Schema) -> str:
    names = {
        pa.string(): "STRING", pa.int64(): "BIGINT", pa.float64(): "DOUBLE",
        pa.bool_(): "BOOLEAN", pa.date32(): "DATE",
    }
    parts = []
    for field in arrow_schema:
        kind = "TIMESTAMP_NTZ" if pa.types.is_timestamp(field.type) else names[field.type]
        parts.append(f"`{field.name}` {kind}")
    return ", ".join(parts)


def _dtype(name: str) -> Any:
    import ibis.expr.datatypes as dt

    return dt.dtype(name)


def _ibis_schema_from_arrow(arrow_schema: pa.Schema) -> Any:
    import ibis

    return ibis.Schema.from_pyarrow(arrow_schema)


class Warehouse:
    """The canonical tables of one workspace, on the configured backend.

    >>> import cxlens
    >>> ws = cxlens.open("demo-ws")                          # doctest: +SKIP
    >>> ws.warehouse.table("interactions").count().execute()  # doctest: +SKIP
    """

    def __init__(self, url: str, workspace_path: Path, read_only: bool = False) -> None:
        self.url = url
        if url.startswith("duckdb://"):
            target = url[len("duckdb://") :]
            path = Path(target[1:]) if target.startswith("/") and target[1:2] == "/" else None
            path = Path(target) if path is None else path
            if not target or target in {"/", ":memory:", "/:memory:"}:
                raise WarehouseError(f"backend URL {url!r} names no DuckDB file")
            self.store: DuckDBStore | SparkStore = DuckDBStore(path, read_only=read_only)
        elif url.startswith("pyspark://"):
            master = url[len("pyspark://") :] or "local[2]"
            self.store = SparkStore(workspace_path / "spark", master)
        else:
            scheme = url.split("://", 1)[0] if "://" in url else url
            raise WarehouseError(
                f"unknown backend {scheme!r} in {url!r}",
                "use duckdb:///path/to/file.duckdb or pyspark://local[2]",
            )
        # The names of the backend's tables, listed once: listing them costs a catalog query
        # (DuckDB) or a directory scan (Spark), and every stage asks for tables many times.
        # Emptied by whatever changes the set of tables (migrate, replace, drop, a failed
        # transaction); a name not in it is looked up again before it is called unknown, so a
        # table made behind Warehouse's back is still found.
        self._names: set[str] | None = None

    @property
    def backend(self) -> str:
        return self.store.name

    @property
    def con(self) -> Any:
        """The Ibis backend (for stages that need ``ibis.memtable`` or raw compilation)."""
        return self.store.con

    # -- schema -------------------------------------------------------------------------------
    def _table_names(self, refresh: bool = False) -> set[str]:
        if refresh or self._names is None:
            self._names = set(self.store.list_tables())
        return self._names

    def _forget_tables(self) -> None:
        """The set of tables may have changed: list it again on the next look-up."""
        self._names = None

    def migrate(self, tables: Sequence[str] | None = None) -> list[str]:
        """Create missing tables and add missing columns. Returns what was changed."""
        self._forget_tables()
        try:
            return self._migrate(tables)
        finally:
            self._forget_tables()

    def _migrate(self, tables: Sequence[str] | None) -> list[str]:
        changed: list[str] = []
        existing = set(self.store.list_tables())
        known = self.store.columns() if isinstance(self.store, DuckDBStore) else {}
        missing = [name for name in tables or schema.ALL_TABLES if name not in existing]
        self.store.create_many({name: schema.arrow_schema(name) for name in missing})
        changed.extend(missing)
        for name in tables or schema.ALL_TABLES:
            if name not in existing:
                continue
            have = known.get(name) or set(self.store.table(name).columns)
            for column, dtype in schema.ALL_TABLES[name].items():
                if column not in have:
                    self.store.add_column(name, column, dtype)
                    changed.append(f"{name}.{column}")
        return changed

    def tables(self) -> list[str]:
        return sorted(self._table_names(refresh=True))

    def table(self, name: str) -> ir.Table:
        """The Ibis table ``name``; raises :class:`NotFoundError` for an unknown name."""
        if name not in self._table_names() and name not in self._table_names(refresh=True):
            raise self._unknown(name)
        try:
            return self.store.table(name)
        except Exception as exc:
            # a cached name whose table went away (dropped outside this Warehouse)
            if name not in self._table_names(refresh=True):
                raise self._unknown(name) from exc
            raise

    @staticmethod
    def _unknown(name: str) -> NotFoundError:
        known = ", ".join(sorted(schema.ALL_TABLES))
        return NotFoundError(f"no table {name!r} in this warehouse", f"known tables: {known}")

    def drop(self, name: str) -> None:
        """Drop table ``name`` (a no-op when it does not exist)."""
        self._forget_tables()
        try:
            self.store.drop(name)
        finally:
            self._forget_tables()

    def count(self, name: str) -> int:
        """Rows of table ``name`` (NotFoundError for an unknown name)."""
        self.table(name)
        return self.store.count(name)

    def counts(self) -> dict[str, int]:
        """Rows per table, every table of the warehouse (quarantine included)."""
        return {name: self.store.count(name) for name in self.tables()}

    # -- writes -------------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes: all or nothing on stores that support transactions."""
        try:
            with self.store.transaction():
                yield
        except BaseException:
            self._forget_tables()  # a rolled-back transaction may have undone a create
            raise

    def append(self, name: str, data: Any) -> int:
        """Append rows (Arrow/pandas/records), conformed to the table's schema."""
        arrow = _to_arrow(name, data)
        with self.transaction():
            self.store.append(name, arrow)
        return arrow.num_rows

    def upsert(self, name: str, data: Any, keys: Sequence[str] = KEY) -> int:
        """Insert rows, replacing any existing row with the same ``keys`` (idempotent)."""
        arrow = _to_arrow(name, data)
        if arrow.num_rows == 0:
            return 0
        key_table = _distinct(arrow.select(list(keys)))
        with self.transaction():
            self.store.delete_keys(name, key_table)
            self.store.append(name, arrow)
        return arrow.num_rows

    def update_columns(self, name: str, data: pa.Table, keys: Sequence[str] = KEY) -> int:
        """Set the non-key columns of ``data`` on the rows whose ``keys`` match one of its rows
        (nulls match nulls); other columns and rows without a match are left as they are.

        Only the named columns are written: an upsert would rewrite whole rows."""
        if data.num_rows == 0:
            return 0
        target = schema.arrow_schema(name)
        missing = [c for c in data.column_names if target.get_field_index(c) < 0]
        if missing or not set(keys) <= set(data.column_names) or set(data.column_names) == set(keys):
            raise WarehouseError(
                f"update_columns({name}): needs the keys {list(keys)} and at least one other "
                f"column of {name}; unknown columns: {missing}")
        data = pa.table({c: data.column(c).cast(target.field(c).type) for c in data.column_names})
        with self.transaction():
            self.store.update_columns(name, data, keys)
        return data.num_rows

    def delete_where(self, name: str, keys: pa.Table) -> None:
        """Delete the rows whose columns match one of the rows of ``keys``."""
        with self.transaction():
            self.store.delete_keys(name, keys)

    def replace(self, name: str, data: Any) -> int:
        """Replace the whole content of a (derived) table by an Ibis expression or Arrow data."""
        from ibis.expr.types import Table as IbisTable

        self._forget_tables()
        if isinstance(data, IbisTable):
            self.store.replace_expr(name, _conform_expr(name, data))
            # the store's own count: a raw count(*) on DuckDB, the manifest on Spark (an Ibis
            # scalar .execute() would go through pandas)
            return self.store.count(name)
        arrow = _to_arrow(name, data)
        self.store.replace_arrow(name, arrow)
        return arrow.num_rows

    def replace_beside(self, name: str, data: Any) -> Callable[[], int]:
        """Start replacing ``name`` by Arrow ``data`` beside the caller's own work: on DuckDB a
        worker thread writes it through a second connection, in its own transaction; stores
        without one write it now. Returns a function that waits for the write (raising its
        error) and returns the rows written. Until then the caller must not read or write
        ``name``, and must call it before the warehouse is closed."""
        self._forget_tables()
        arrow = _to_arrow(name, data)
        beside = getattr(self.store, "replace_arrow_beside", None)
        if beside is None:
            self.store.replace_arrow(name, arrow)
            return lambda: arrow.num_rows
        future = beside(name, arrow)

        def wait() -> int:
            future.result()
            return arrow.num_rows

        return wait

    def append_expr(self, name: str, expr: ir.Table) -> None:
        """Append the result of an Ibis expression without pulling it into Python."""
        self.store.append_expr(name, _conform_expr(name, expr))

    def export_parquet(self, name: str, path: Path) -> Path:
        self.table(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.store.export_parquet(name, path)
        return path

    def close(self) -> None:
        self.store.close()


def _distinct(table: pa.Table) -> pa.Table:
    return table.group_by(table.column_names).aggregate([])
