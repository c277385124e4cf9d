"""Generic CSV / JSON Lines / Parquet reader driven by a YAML mapping — the escape hatch.

A mapping says which canonical table the file feeds and how each canonical column is found::

    table: parties              # parties orders web_events surveys agents interactions
                                # outreach cases messages
    source: crm                 # default --source
    format: csv                 # csv | jsonl | json | parquet (default: from the file suffix)
    encoding: gb18030           # default utf-8 (--encoding wins)
    delimiter: ","
    timezone: Asia/Shanghai     # zone of naive timestamps (default: settings.locale.timezone)
    timestamp_format: "%Y/%m/%d %H:%M:%S"   # tried first for every timestamp column
    id: customer_no             # column(s) giving source_id; a list is joined with ":"
    columns:
      name: 姓名                 # short form: canonical column: source column
      phone: {column: mobile}
      created_at: {column: reg_time, format: "%Y-%m-%d %H:%M", timezone: UTC}
      tier: {column: level, map: {"1": gold, "2": silver}, default: bronze}
      birth_date: {column: dob, optional: true}     # tolerate the column being absent
      wechat: {column: profile.wechat}              # JSON: dotted path into nested objects
      hired_at: {column: hired, type: epoch}        # epoch | epoch_ms for numeric times
    constants:
      channel: phone

Columns of the file that the mapping does not name are **ignored** (they are not lost: the file
stays where it is and its hash is in ``ingest_log``). A mapped column missing from the file is
an error naming it, and nothing is loaded. Values that do not convert (a date that is not a
date, an NPS of 11) send the row to quarantine with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from cxlens import schema
from cxlens.clean import records as R
from cxlens.clean import values as V
from cxlens.clean.dedupe import keep_last
from cxlens.connectors.base import Batch, Checks, ReadOptions, dump_raw, quarantine_rows
from cxlens.errors import InputError

TABLES = ("parties", "orders", "web_events", "surveys", "agents", "interactions", "outreach",
          "cases", "messages")
_TRUE = {"true", "t", "1", "yes", "y", "是", "对", "true.0", "1.0"}
_FALSE = {"false", "f", "0", "no", "n", "否", "错", "0.0"}


class ColumnSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    column: str | None = None
    value: Any = None
    type: Literal["auto", "epoch", "epoch_ms", "text"] = "auto"
    format: str | None = None
    timezone: str | None = None
    map: dict[str, Any] | None = None
    default: Any = None
    optional: bool = False
    required: bool = False


class Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    table: Literal["parties", "orders", "web_events", "surveys", "agents", "interactions",
                   "outreach", "cases", "messages"]
    source: str | None = None
    format: Literal["csv", "jsonl", "json", "parquet"] | None = None
    encoding: str | None = None
    delimiter: str = ","
    timezone: str | None = None
    timestamp_format: str | None = None
    id: str | list[str] | None = None
    columns: dict[str, str | ColumnSpec] = {}
    constants: dict[str, Any] = {}

    @field_validator("columns")
    @classmethod
    def _specs(cls, value: dict[str, str | ColumnSpec]) -> dict[str, str | ColumnSpec]:
        return {k: ColumnSpec(column=v) if isinstance(v, str) else v for k, v in value.items()}

    def spec(self, name: str) -> ColumnSpec:
        value = self.columns[name]
        return value if isinstance(value, ColumnSpec) else ColumnSpec(column=value)

    def id_columns(self) -> list[str]:
        if self.id is None:
            return []
        return [self.id] if isinstance(self.id, str) else list(self.id)

    def source_columns(self) -> list[str]:
        names = self.id_columns()
        for target in self.columns:
            spec = self.spec(target)
            if spec.column and not spec.optional:
                names.append(spec.column)
        return list(dict.fromkeys(names))


def load_mapping(path: Path) -> Mapping:
    """Read and check a YAML mapping; errors name the problem and the file."""
    import yaml

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(f"mapping {path.name} is not valid YAML: {str(exc).splitlines()[0]}") from exc
    if not isinstance(doc, dict):
        raise InputError(f"mapping {path.name} must be a YAML mapping with table: and columns:")
    try:
        mapping = Mapping.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        hint = ("quote names YAML reads as booleans or numbers ('no', 'yes', 'on', '01')"
                if isinstance(first.get("input"), bool | int | float)
                else "see docs/connectors.md for the mapping format")
        raise InputError(f"mapping {path.name}: {where}: {first['msg']}", hint) from exc
    known = schema.CANONICAL[mapping.table]
    unknown = [c for c in [*mapping.columns, *mapping.constants] if c not in known]
    if unknown:
        raise InputError(f"mapping {path.name}: {', '.join(unknown)} not column(s) of "
                         f"{mapping.table}", f"columns: {', '.join(known)}")
    if not mapping.id_columns() and mapping.table != "messages" and "source_id" not in mapping.columns:
        raise InputError(f"mapping {path.name} has no id:",
                         "name the column that identifies a record (id: customer_no)")
    return mapping


class MappedConnector:
    name = "mapped"
    description = "CSV / JSON Lines / Parquet + a YAML mapping (--mapping FILE)"
    tables = TABLES

    def sniff(self, path: Path, head: bytes) -> bool:
        return False  # needs a mapping; never chosen by auto

    def read(self, path: Path, options: ReadOptions) -> Iterator[Batch]:
        if options.mapping is None:
            raise InputError("--format mapped needs --mapping FILE")
        mapping = load_mapping(options.mapping)
        kind = mapping.format or _kind_from_suffix(path)
        encoding = options.encoding or mapping.encoding
        for raw, locators, position in _raw_chunks(path, kind, mapping, encoding, options):
            _check_columns(path, mapping, raw.column_names)
            yield convert(raw, locators, mapping, options, position)


def _kind_from_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in {".parquet", ".pq"}:
        return "parquet"
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    return "csv"


def _check_columns(path: Path, mapping: Mapping, have: list[str]) -> None:
    missing = [c for c in mapping.source_columns() if c not in have and "." not in c]
    if missing:
        raise InputError(f"{path.name} lacks required column(s): {', '.join(missing)}",
                         "fix the file or the mapping (mark a column optional: true)")


def _raw_chunks(path: Path, kind: str, mapping: Mapping, encoding: str | None,
                options: ReadOptions) -> Iterator[tuple[pa.Table, pa.Array, int]]:
    if kind == "csv":
        from cxlens.connectors.csvio import first_record, iter_csv

        header = first_record(path, encoding, mapping.delimiter)
        if header is None:
            return
        header = [h.strip().lstrip("\ufeff") for h in header]
        if len(set(header)) != len(header):
            dup = sorted({h for h in header if header.count(h) > 1})
            raise InputError(f"{path.name} repeats column name(s) {', '.join(dup)}")
        for chunk in iter_csv(path, header, skip_rows=1, encoding=encoding,
                              delimiter=mapping.delimiter, batch_rows=options.batch_rows):
            n = chunk.data.num_rows
            loc = pa.array([f"{path.name}:{chunk.first_line + i}" for i in range(n)], pa.string())
            table = chunk.data
            if chunk.bad_rows:
                # wrong-width lines: pass them through as rows whose every field is null except
                # a marker, so convert() quarantines them with the rest
                yield table, loc, chunk.position
                yield _bad_row_table(header, chunk.bad_rows), pa.array(
                    [b[0] for b in chunk.bad_rows], pa.string()), chunk.position
            else:
                yield table, loc, chunk.position
    elif kind == "parquet":
        import pyarrow.parquet as pq

        try:
            file = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"{path.name} is not a readable Parquet file: {exc}") from exc
        start = 0
        for batch in file.iter_batches(batch_size=options.batch_rows):
            table = pa.Table.from_batches([batch])
            loc = pa.array([f"{path.name}#{start + i}" for i in range(table.num_rows)], pa.string())
            start += table.num_rows
            yield table, loc, 0
    else:
        yield from _json_chunks(path, mapping, encoding, options)


BAD_ROW = "__cxlens_bad_row__"


def _bad_row_table(header: list[str], bad: list[tuple[str, str]]) -> pa.Table:
    cols = {h: pa.nulls(len(bad), pa.string()) for h in header}
    cols[BAD_ROW] = pa.array([raw for _, raw in bad], pa.string())
    return pa.table(cols)


def _json_chunks(path: Path, mapping: Mapping, encoding: str | None,
                 options: ReadOptions) -> Iterator[tuple[pa.Table, pa.Array, int]]:
    from cxlens.connectors.jsonio import iter_records

    wanted = mapping.source_columns() + [
        s.column for s in map(mapping.spec, mapping.columns) if s.column and s.optional]
    rows: list[dict[str, Any]] = []
    locs: list[str] = []
    position = 0
    seen: set[str] = set()

    def flush() -> tuple[pa.Table, pa.Array, int]:
        names = list(dict.fromkeys([*wanted, BAD_ROW]))
        table = pa.table({n: pa.array([r.get(n) for r in rows], pa.string()) for n in names})
        present = [n for n in names if n in seen or n == BAD_ROW]
        return table.select(present), pa.array(list(locs), pa.string()), position

    for record in iter_records(path, encoding):
        position = record.position
        if record.error is not None or not isinstance(record.value, dict):
            reason = record.error or "record is not a JSON object"
            rows.append({BAD_ROW: f"{reason}: {record.raw or dump_raw(record.value)}"})
            seen.update(wanted)
        else:
            flat: dict[str, Any] = {}
            for name in wanted:
                value = _dig(record.value, name)
                if value is not None:
                    seen.add(name)
                    flat[name] = value if isinstance(value, str) else (
                        json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list)
                        else str(value).lower() if isinstance(value, bool) else str(value))
            # a key present in some record counts as present in the file
            seen.update(k for k in wanted if "." not in k and k in record.value)
            rows.append(flat)
        locs.append(record.locator)
        if len(rows) >= options.batch_rows:
            yield flush()
            rows, locs = [], []
    if rows:
        yield flush()


def _dig(record: dict[str, Any], path: str) -> Any:
    if path in record:
        return record[path]
    node: Any = record
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def convert(raw: pa.Table, locators: pa.Array, mapping: Mapping, options: ReadOptions,
            position: int = 0) -> Batch:
    """One chunk of source rows → canonical rows of ``mapping.table`` + quarantine."""
    table = mapping.table
    types = schema.CANONICAL[table]
    n = raw.num_rows
    checks = Checks(n)
    if BAD_ROW in raw.column_names:
        marker = raw.column(BAD_ROW)
        checks.add(pc.is_valid(marker), "malformed record")
    out: dict[str, pa.Array] = {}
    tz_default = mapping.timezone or options.timezone
    for target in mapping.columns:
        spec = mapping.spec(target)
        if spec.column is None:
            column = pa.array([spec.value] * n).cast(pa.string()) if n else pa.array([], pa.string())
        elif spec.column in raw.column_names:
            column = raw.column(spec.column)
            if isinstance(column, pa.ChunkedArray):
                column = column.combine_chunks()
        else:
            column = pa.nulls(n, pa.string())
        out[target] = _convert(column, types[target], spec, tz_default, mapping, checks, target)
        if spec.required:
            checks.add(pc.is_null(out[target]), f"missing {target}")
    for target, value in mapping.constants.items():
        out[target] = pa.array([value] * n).cast(schema._ARROW[types[target]]) if n else \
            pa.array([], schema._ARROW[types[target]])
    ids = mapping.id_columns()
    if ids:
        parts = [V.blank_to_null(raw.column(c)) if c in raw.column_names else pa.nulls(n, pa.string())
                 for c in ids]
        out["source_id"] = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, ":")
    elif table == "messages" and "interaction_id" in out and "seq" in out:
        local = pc.list_element(pc.split_pattern(pc.fill_null(out["interaction_id"], ""), ":",
                                                 max_splits=1), -1)
        out["source_id"] = pc.binary_join_element_wise(
            local, pc.cast(out["seq"], pa.string()), ":")
    out["source"] = pa.array([options.source] * n, pa.string()) if n else pa.array([], pa.string())
    rows = pa.table(out)
    rows = R.clean_rows(table, rows, options.region)
    R.validate(table, rows, checks)
    good, quarantine = checks.split(rows, raw, options.source, table, locators)
    good, dups = keep_last(good)
    return Batch(table, good, quarantine, read=n, duplicates=dups, position=position)


def _convert(column: pa.Array, kind: str, spec: ColumnSpec, tz: str, mapping: Mapping,
             checks: Checks, target: str) -> pa.Array:
    """Convert one source column to the canonical type, flagging values that do not convert."""
    if spec.map:
        lookup = {str(k).strip().lower(): v for k, v in spec.map.items()}
        default = spec.default

        def look(value: str) -> Any:
            key = value.strip().lower()
            return lookup.get(key, default if default is not None else value)

        column = V.map_distinct(V.as_string(column), lambda v: None if (r := look(v)) is None
                                else str(r), pa.string())
    elif spec.default is not None:
        column = pc.coalesce(V.blank_to_null(V.as_string(column)), pa.scalar(str(spec.default)))
    typ = column.type
    if kind == "timestamp":
        if pa.types.is_timestamp(typ):
            if typ.tz is not None:
                return column.cast(pa.timestamp("us", tz=typ.tz)).cast(V.TS)
            return pc.assume_timezone(column.cast(V.TS), timezone=spec.timezone or tz,
                                      ambiguous="earliest", nonexistent="earliest").cast(V.TS)
        if spec.type in ("epoch", "epoch_ms"):
            values, bad = V.to_float(V.as_string(column))
            scale = 1_000 if spec.type == "epoch_ms" else 1_000_000
            ts = pc.cast(pc.round(pc.multiply(values, scale)), pa.int64()).cast(V.TS)
            checks.add(bad, f"{target}: not an epoch time")
            return ts
        formats = [f for f in (spec.format, mapping.timestamp_format) if f]
        ts, bad = V.to_utc(V.as_string(column), spec.timezone or tz,
                           formats + list(V.DEFAULT_TS_FORMATS))
        checks.add(bad, f"{target}: unparseable time")
        return ts
    if kind == "date":
        if pa.types.is_date(typ):
            return column.cast(pa.date32())
        ts, bad = V.to_utc(V.as_string(column), "UTC",
                           [f for f in (spec.format,) if f] + list(V.DEFAULT_TS_FORMATS),
                           earliest=V.MIN_DATE)
        checks.add(bad, f"{target}: unparseable date")
        return ts.cast(pa.date32())
    if kind in ("float64", "int64"):
        if pa.types.is_integer(typ) or pa.types.is_floating(typ):
            return column.cast(pa.float64()).cast(pa.int64() if kind == "int64" else pa.float64(),
                                                  safe=False)
        fn = V.to_int if kind == "int64" else V.to_float
        values, bad = fn(V.as_string(column))
        checks.add(bad, f"{target}: not a number")
        return values
    if kind == "boolean":
        if pa.types.is_boolean(typ):
            return column
        text = pc.utf8_lower(V.blank_to_null(V.as_string(column)))
        is_true = pc.is_in(text, value_set=pa.array(sorted(_TRUE)))
        is_false = pc.is_in(text, value_set=pa.array(sorted(_FALSE)))
        checks.add(pc.and_(pc.is_valid(text), pc.invert(pc.or_(is_true, is_false))),
                   f"{target}: not true/false")
        return pc.if_else(is_true, True, pc.if_else(is_false, False, pa.scalar(None, pa.bool_())))
    return V.blank_to_null(V.as_string(column))


def quarantine_everything(path: Path, source: str, table: str, reason: str) -> Batch:
    """A batch that quarantines a whole unreadable file as one record."""
    return Batch(table, schema.arrow_schema(table).empty_table(),
                 quarantine_rows(source, table, [(path.name, reason, "")]), read=1)
