"""Quarantine rows and per-row checks: how a record that cannot be used is kept, with why."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

QUARANTINE_SCHEMA = pa.schema([
    ("source", pa.string()), ("record_table", pa.string()), ("locator", pa.string()),
    ("reason", pa.string()), ("raw", pa.string()),
])
MAX_RAW_CHARS = 16 << 20  # a quarantined payload is kept whole up to 16 M characters


def clip(text: str) -> str:
    if len(text) <= MAX_RAW_CHARS:
        return text
    return text[:MAX_RAW_CHARS] + f"…[{len(text) - MAX_RAW_CHARS} more chars]"


def quarantine_rows(source: str, table: str, items: list[tuple[str, str, str]]) -> pa.Table:
    """Quarantine rows from (locator, reason, raw) triples."""
    return pa.table({
        "source": pa.repeat(pa.scalar(source, pa.string()), len(items)),
        "record_table": pa.repeat(pa.scalar(table, pa.string()), len(items)),
        "locator": pa.array([i[0] for i in items], pa.string()),
        "reason": pa.array([i[1] for i in items], pa.string()),
        "raw": pa.array([clip(i[2]) for i in items], pa.string()),
    }, schema=QUARANTINE_SCHEMA)


def dump_raw(record: Any) -> str:
    return json.dumps(record, ensure_ascii=False, default=str)


class Checks:
    """Collects per-row problems; the first reason found for a row is the one recorded."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.reason = pa.nulls(n, pa.string())

    def add(self, mask: pa.Array, reason: str) -> None:
        mask = pc.fill_null(mask, False)
        if pc.any(mask).as_py():
            self.reason = pc.if_else(
                pc.and_(mask, pc.is_null(self.reason)), pa.scalar(reason), self.reason
            )

    @property
    def ok(self) -> pa.Array:
        return pc.is_null(self.reason)

    def split(self, rows: pa.Table, raw: pa.Table, source: str, table: str,
              locators: pa.Array | Callable[[pa.Array], pa.Array],
              ) -> tuple[pa.Table, pa.Table]:
        """(good canonical rows, quarantine rows built from ``raw`` columns of bad rows).

        ``locators``: one per row, or a function from the bad rows' positions to theirs
        (so a batch does not build a ``file:line`` string for every good row)."""
        ok = self.ok
        if pc.all(ok).as_py():
            return rows, QUARANTINE_SCHEMA.empty_table()
        bad = pc.invert(ok)
        bad_raw = raw.filter(bad).to_pylist()
        bad_locators = (locators(pc.indices_nonzero(bad)) if callable(locators)
                        else pc.filter(locators, bad))
        items = [(loc, reason, dump_raw(rec)) for loc, reason, rec in zip(
            bad_locators.to_pylist(), pc.filter(self.reason, bad).to_pylist(),
            bad_raw, strict=True)]
        return rows.filter(ok), quarantine_rows(source, table, items)


def stamp(rows: pa.Table, ingest_id: str | None) -> pa.Table:
    """Quarantine rows ready to append: ``quarantined_at`` now, ``ingest_id`` set, conformed."""
    from datetime import UTC, datetime

    from cxlens import schema

    now = datetime.now(UTC).replace(tzinfo=None)
    rows = rows.append_column("quarantined_at", pa.repeat(pa.scalar(now, pa.timestamp("us")), rows.num_rows))
    rows = rows.append_column("ingest_id", pa.repeat(pa.scalar(ingest_id, pa.string()), rows.num_rows))
    return schema.conform("quarantine", rows)
