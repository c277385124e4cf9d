"""Shared machinery of the JSON-record connectors (Amazon Connect, Genesys, Zendesk, ...).

A format module supplies ``to_rows(record) -> {table: [row, ...]}`` (plain dicts, timestamps as
the vendor wrote them) for each source record; this module turns a stream of records into
batches: timestamps parsed to UTC, rows cleaned and validated, a record whose primary row is
impossible quarantined *with its child rows dropped*, so each record is counted exactly once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from cxlens import schema
from cxlens.clean import records as R
from cxlens.clean import values as V
from cxlens.clean.dedupe import keep_last
from cxlens.connectors.base import Batch, Checks, ReadOptions, dump_raw, quarantine_rows
from cxlens.connectors.jsonio import JsonRecord

Rows = dict[str, list[dict[str, Any]]]
ToRows = Callable[[Any], Rows]
REC = "_rec"


class Reject(Exception):
    """Raised by ``to_rows`` for a record that cannot be used; the message is the reason."""


def rows_to_table(table: str, rows: list[dict[str, Any]], tz: str) -> tuple[pa.Table, pa.Array]:
    """Typed canonical Arrow rows (+ ``_rec``) and a mask of rows with unparseable times."""
    types = schema.CANONICAL[table]
    names = [c for c in types if any(c in r for r in rows)]
    cols: dict[str, pa.Array] = {}
    bad = pa.array([False] * len(rows))
    for name in names:
        values = [r.get(name) for r in rows]
        kind = types[name]
        if kind == "timestamp":
            text = pa.array([None if v is None else str(v) for v in values], pa.string())
            parsed, wrong = V.to_utc(text, tz, ())
            cols[name] = parsed
            bad = pc.or_(bad, wrong)
        elif kind == "date":
            text = pa.array([None if v is None else str(v) for v in values], pa.string())
            parsed, wrong = V.to_utc(text, "UTC", (), earliest=V.MIN_DATE)
            cols[name] = parsed.cast(pa.date32())
        elif kind in ("float64", "int64"):
            nums = [_number(v) for v in values]
            cols[name] = pa.array(nums, pa.float64()).cast(schema._ARROW[kind], safe=False)
        elif kind == "boolean":
            cols[name] = pa.array([None if v is None else bool(v) for v in values], pa.bool_())
        else:
            cols[name] = pa.array([None if v is None else str(v) for v in values], pa.string())
    cols[REC] = pa.array([r[REC] for r in rows], pa.int64())
    return pa.table(cols), bad


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) < 1e15 else None  # NaN / absurd → null


def batches_from_records(
    records: Iterable[JsonRecord],
    to_rows: ToRows,
    primary: str,
    options: ReadOptions,
    *,
    batch_records: int = 5_000,
) -> Iterator[Batch]:
    """Batches of canonical rows from parsed vendor records (see module docstring)."""
    pending: list[JsonRecord] = []
    for record in records:
        pending.append(record)
        if len(pending) >= batch_records:
            yield from _convert(pending, to_rows, primary, options)
            pending = []
    if pending:
        yield from _convert(pending, to_rows, primary, options)


def _convert(records: list[JsonRecord], to_rows: ToRows, primary: str,
             options: ReadOptions) -> Iterator[Batch]:
    by_table: Rows = {}
    rejected: list[tuple[str, str, str]] = []
    kept_records: list[JsonRecord] = []
    superseded = 0
    for record in records:
        if record.duplicate:  # a later version of the same record exists (connector's rule)
            superseded += 1
            continue
        if record.error is not None:
            rejected.append((record.locator, record.error, record.raw))
            continue
        try:
            produced = to_rows(record.value)
            rows = produced.get(primary, [])
            if len(rows) != 1:
                raise Reject("no record id" if not rows else "record yields several rows")
        except Reject as exc:
            rejected.append((record.locator, str(exc), dump_raw(record.value)))
            continue
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # the record does not have the vendor's shape: quarantine it, never crash
            rejected.append((record.locator, f"unexpected record shape: {type(exc).__name__}"
                             f" {exc}"[:200], dump_raw(record.value)))
            continue
        index = len(kept_records)
        kept_records.append(record)
        for table, table_rows in produced.items():
            for row in table_rows:
                row[REC] = index
                row.setdefault("source", options.source)
            by_table.setdefault(table, []).extend(table_rows)
    quarantine = quarantine_rows(options.source, primary, rejected)
    position = records[-1].position if records else 0
    main_rows = by_table.pop(primary, [])
    if not main_rows:
        yield Batch(primary, schema.arrow_schema(primary).empty_table(), quarantine,
                    read=len(records), duplicates=superseded, position=position)
        return
    table, bad_time = rows_to_table(primary, main_rows, options.timezone)
    table = R.clean_rows(primary, table, options.region)
    checks = Checks(table.num_rows)
    checks.add(bad_time, "unparseable time")
    checks.add(pc.is_null(table.column("source_id")), "missing record id")
    R.validate(primary, table, checks)
    raw = pa.table({"record": pa.array([dump_raw(r.value) for r in kept_records], pa.string())})
    locators = pa.array([r.locator for r in kept_records], pa.string())
    good, bad_rows = checks.split(table, raw.take(table.column(REC)), options.source, primary,
                                  pc.take(locators, table.column(REC)))
    good, dups = keep_last(good)
    dups += superseded
    alive = good.column(REC)
    yield Batch(primary, good.drop_columns([REC]), pa.concat_tables([quarantine, bad_rows]),
                read=len(records), duplicates=dups, position=position)
    for child, child_rows in by_table.items():
        if not child_rows:
            continue
        ctable, _ = rows_to_table(child, child_rows, options.timezone)
        ctable = R.clean_rows(child, ctable, options.region)
        ctable = ctable.filter(pc.is_in(ctable.column(REC), value_set=alive))
        ctable = ctable.filter(pc.is_valid(ctable.column("source_id")))
        if ctable.num_rows:
            yield Batch(child, ctable.drop_columns([REC]), read=0, primary=False,
                        position=position)
