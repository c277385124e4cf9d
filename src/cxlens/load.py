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

import pyarrow as pa

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
    if table not in RECORD_TABLES:
        raise InputError(f"{table!r} is not a source-record table",
                         f"choose one of {', '.join(RECORD_TABLES)}")
    if ingest_id is not None:
        data = _with_column(data, "ingest_id", ingest_id)
    if table == "interactions" and "interaction_id" not in data.column_names:
        ids = [schema.interaction_id(s, i) for s, i in zip(
            data.column("source").to_pylist(), data.column("source_id").to_pylist(), strict=True)]
        data = data.append_column("interaction_id", pa.array(ids, pa.string()))
    data = schema.conform(table, data)
    ids = identifiers.extract(
        table, data, ws.settings.locale.region, hasher=pseudonymiser(ws)
    )
    wh = ws.warehouse
    with wh.transaction():
        wh.upsert(table, data)
        if data.num_rows:
            keys = data.select(["source", "source_id"]).append_column(
                "record_table", pa.array([table] * data.num_rows, pa.string())
            )
            wh.delete_where("identifiers", keys)
        wh.append("identifiers", ids)
        if quarantine is not None and quarantine.num_rows:
            wh.append("quarantine", _stamp_quarantine(quarantine, ingest_id))
    return StoreResult(table, data.num_rows, ids.num_rows,
                       0 if quarantine is None else quarantine.num_rows)


def _with_column(data: pa.Table, name: str, value: str) -> pa.Table:
    column = pa.array([value] * data.num_rows, pa.string())
    if name in data.column_names:
        return data.set_column(data.column_names.index(name), name, column)
    return data.append_column(name, column)


def _stamp_quarantine(rows: pa.Table, ingest_id: str | None) -> pa.Table:
    now = datetime.now(UTC).replace(tzinfo=None)
    if "quarantined_at" not in rows.column_names:
        rows = rows.append_column(
            "quarantined_at", pa.array([now] * rows.num_rows, pa.timestamp("us"))
        )
    if ingest_id is not None:
        rows = _with_column(rows, "ingest_id", ingest_id)
    return schema.conform("quarantine", rows)
