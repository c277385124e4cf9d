"""SQL fast path for Asterisk CDR ingest on stores that can run SQL over files (DuckDB).

The generic path (:mod:`cxlens.ingest`) parses the CSV with pyarrow, cleans each batch in
Arrow and inserts the rows through Python; at 10M lines about half of its time is DuckDB
inserting Arrow batches. Here DuckDB reads the file itself and the cleaning is SQL:

1. **Stage** — ``read_csv`` with our explicit all-VARCHAR columns into a TEMP table (outside
   the transaction: a CSV DuckDB will not read strictly — wrong field count, a field over
   its line limit, invalid UTF-8 — makes the fast path step aside and the generic path runs,
   with its own quarantine rows and error messages). ``rowid`` keeps file order, so locators
   (``file:line``) are those of the generic path.
2. **Classify** — a row is *plain* when every value the generic path would look at has the
   documented shape (``YYYY-MM-DD HH:MM:SS`` times, whole-number seconds) and passes every
   validity rule. Plain rows are converted in SQL with the same rules as
   :func:`cxlens.connectors.asterisk.convert` (same RE2 regexes, same whitespace trimming).
3. **Distinct values in Python** — phones, caller names, account codes and dispositions are
   mapped once per *distinct raw value* with the existing cleaning functions
   (:func:`cxlens.clean.records.clean_rows`, :func:`cxlens.clean.identifiers.extract`),
   registered as Arrow tables and joined, so E.164, NFKC names, vocabularies and identifier
   values (pseudonymised when a secret is set) are exactly those of the generic path.
4. **Write** — ``INSERT … SELECT`` into ``interactions`` and ``identifiers`` (upsert: stored
   rows of the same keys are deleted first). Rows that are not plain (impossible values,
   unusual spellings) — a fraction of a percent in real exports — go through ``convert`` and
   :func:`cxlens.load.store_records`, i.e. exactly the generic path, quarantine included.

A file with repeated record keys also steps aside (the generic last-wins rule then applies).
Only fixed-offset time zones (Asia/Shanghai…) are converted in SQL; others use the generic
path. Column names in SQL are our own constants; values (path, source, ids) are bound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from cxlens.clean import values as V
from cxlens.connectors.asterisk import EXTENSION, EXTERNAL_NUMBER, INBOUND_CONTEXT, OUTBOUND_CONTEXT

if TYPE_CHECKING:
    from cxlens.connectors.base import ReadOptions
    from cxlens.workspace import Workspace

STAGE = "_cx_cdr_stage"
# The characters pyarrow's utf8_trim_whitespace removes (measured over the BMP), so SQL trims
# exactly as the generic path's blank_to_null does.
WHITESPACE = "".join(chr(c) for c in (
    0x9, 0xA, 0xB, 0xC, 0xD, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B),
    0x2028, 0x2029, 0x202F, 0x205F, 0x3000))
TS_SHAPE = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"
SECONDS_SHAPE = r"^\d{1,9}$"
UTF8_NAMES = {"utf8", "utf8sig"}


@dataclass
class FastResult:
    """What the SQL path did (the ingest runner reconciles and logs it)."""

    read: int = 0
    stored_sql: int = 0
    quarantine: pa.Table | None = None
    reasons: dict[str, int] = field(default_factory=dict)


class StepAside(Exception):
    """The file needs the generic path (not an error: nothing has been written yet)."""


def eligible(ws: Workspace, connector: Any, options: ReadOptions) -> bool:
    """Whether the store and the connector both declare the SQL capability for this read."""
    store = ws.warehouse.store
    if not getattr(store, "supports_sql_ingest", False):
        return False
    if not getattr(connector, "supports_sql_ingest", False):
        return False
    if options.encoding and options.encoding.replace("-", "").replace("_", "").lower() \
            not in UTF8_NAMES:
        return False
    return V.fixed_offset(options.timezone) is not None


def _lit(text: str) -> str:
    """A SQL string literal of one of OUR constants (regexes, the whitespace set) — never user
    data, which is always bound. Inlined because DuckDB compiles a bound regex per row."""
    return "'" + text.replace("'", "''") + "'"


def _inline(sql: str) -> str:
    consts = {"ws": WHITESPACE, "edge": EDGE, "ts_shape": TS_SHAPE, "sec_shape": SECONDS_SHAPE,
              "inb": INBOUND_CONTEXT, "outb": OUTBOUND_CONTEXT, "ext": EXTERNAL_NUMBER,
              "extension": EXTENSION}
    return re.sub(r"\$(ws|edge|ts_shape|sec_shape|inb|outb|ext|extension)\b",
                  lambda m: _lit(consts[m.group(1)]), sql)


def _t(column: str) -> str:
    """SQL: a column of a *plain* row (no edge whitespace, DuckDB reads '' as NULL)."""
    return f'"{column}"'


# Columns whose text the SQL path uses as is (others are shape-checked or mapped in Python).
TEXT_COLUMNS = ("channel", "dst", "src", "dcontext", "dstchannel", "lastapp", "lastdata",
                "uniqueid", "sequence", "userfield")
_WS_CLASS = (r"[\t-\r\x1c-\x20\x85\xa0\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}"
             r"\x{205f}\x{3000}]")
EDGE = rf"(^|\x01){_WS_CLASS}|{_WS_CLASS}(\x01|$)"


def stage(con: Any, path: Path, options: ReadOptions) -> tuple[tuple[str, ...], int]:
    """Read the CDR file into the TEMP stage table with the per-row SQL columns (``_key``,
    ``_plain``, ``_dir``, UTC times…) computed once; returns (columns, header lines skipped).

    Raises :class:`StepAside` when the generic path must read this file."""
    import duckdb

    from cxlens.connectors.asterisk import LAYOUTS
    from cxlens.connectors.csvio import first_record
    from cxlens.errors import CxlensError

    try:
        row = first_record(path, options.encoding)
    except CxlensError as exc:  # not UTF-8 etc.: the generic path says so properly
        raise StepAside(str(exc)) from exc
    if row is None or len(row) not in LAYOUTS:
        raise StepAside("empty file or not a cdr_csv layout")
    skip = 1 if row[0].strip().lower() == "accountcode" else 0
    columns = LAYOUTS[len(row)]
    offset = V.fixed_offset(options.timezone)
    assert offset is not None  # eligible() checked
    spec = ", ".join(f"'{c}': 'VARCHAR'" for c in columns)  # our constants
    sql = _inline(f"""CREATE TEMP TABLE "{STAGE}" AS SELECT *, {_computed(columns, offset)}
        FROM read_csv($path, columns = {{{spec}}}, header = false, auto_detect = false,
                      delim = ',', quote = '"', escape = '"', skip = $skip,
                      strict_mode = true, max_line_size = 2097152)""")
    con.execute(f'DROP TABLE IF EXISTS temp."{STAGE}"')
    try:
        con.execute(sql, {"path": str(path), "skip": skip})
    except duckdb.Error as exc:
        con.execute(f'DROP TABLE IF EXISTS temp."{STAGE}"')
        raise StepAside(str(exc).splitlines()[0]) from exc
    return columns, skip


def _computed(columns: tuple[str, ...], offset: Any) -> str:
    """SQL select-list items (DuckDB lets later items use earlier aliases)."""
    off = int(offset.total_seconds())
    text = ", ".join(f'"{c}"' for c in TEXT_COLUMNS if c in columns)

    def ts(col: str) -> str:
        return f"try_strptime(\"{col}\", '%Y-%m-%d %H:%M:%S') - to_seconds({off})"

    in_range = "BETWEEN TIMESTAMP '1990-01-01' AND TIMESTAMP '2099-12-31 23:59:59.999999'"
    ctx = "coalesce(dcontext, '')"
    src_ext = "coalesce(regexp_matches(src, $ext), false)"
    dst_ext = "coalesce(regexp_matches(dst, $ext), false)"
    return f"""
        CASE WHEN regexp_matches({ctx}, $inb) THEN 'inbound'
             WHEN regexp_matches({ctx}, $outb) AND {dst_ext} THEN 'outbound'
             WHEN regexp_matches({ctx}, $outb) THEN 'internal'
             WHEN {src_ext} THEN 'inbound' WHEN {dst_ext} THEN 'outbound'
             ELSE 'internal' END AS _dir,
        CASE _dir WHEN 'inbound' THEN src WHEN 'outbound' THEN dst END AS _raw_phone,
        regexp_extract(coalesce(CASE WHEN _dir = 'inbound' THEN dstchannel ELSE channel END, ''),
                       $extension, 1) AS _agent,
        split_part(coalesce(lastdata, ''), ',', 1) AS _queue,
        {ts('start')} AS _start, {ts('answer')} AS _answer, {ts('end')} AS _end,
        TRY_CAST(duration AS DOUBLE) AS _dur, TRY_CAST(billsec AS DOUBLE) AS _bill,
        {_key_sql(columns)} AS _key,
        (NOT coalesce(regexp_matches(concat_ws(chr(1), {text}, _agent, _queue),
                                  $edge), false)
         AND coalesce(regexp_matches("start", $ts_shape), false)
         AND coalesce(regexp_matches("end", $ts_shape), false)
         AND ("answer" IS NULL OR coalesce(regexp_matches("answer", $ts_shape), false))
         AND coalesce(regexp_matches(duration, $sec_shape), false)
         AND coalesce(regexp_matches(billsec, $sec_shape), false)
         AND coalesce(_start {in_range}, false) AND coalesce(_end {in_range}, false)
         AND ("answer" IS NULL OR coalesce(_answer {in_range}, false))
         AND coalesce(_end >= _start, false)
         AND ("answer" IS NULL OR coalesce(_answer >= _start, false))
         AND coalesce(_bill <= _dur + 1 AND _dur <= 86400 AND _bill <= 86400, false)) AS _plain"""


def drop_stage(con: Any) -> None:
    con.execute(f'DROP TABLE IF EXISTS temp."{STAGE}"')
    for name in ("_cx_map_phone", "_cx_map_name", "_cx_map_acct", "_cx_map_disp",
                 "_cx_ids_phone", "_cx_ids_acct"):
        try:
            con.unregister(name)
        except Exception:  # noqa: BLE001 - unregistering a view that is not there is harmless
            pass


def _key_sql(columns: tuple[str, ...]) -> str:
    fallback = (f"coalesce({_t('channel')}, '') || '|' || coalesce({_t('start')}, '') || '|' "
                f"|| coalesce({_t('dst')}, '')")
    if "uniqueid" not in columns:
        return f"({fallback})"
    key = _t("uniqueid")
    if "sequence" in columns:
        key = (f"(CASE WHEN {_t('sequence')} IS NOT NULL THEN {_t('uniqueid')} || ':' || "
               f"{_t('sequence')} ELSE {_t('uniqueid')} END)")
    return f"coalesce({key}, {fallback})"


def _q(con: Any, sql: str, params: dict[str, Any]) -> Any:
    """Execute with the named parameters the statement uses (DuckDB rejects unused ones)."""
    sql = _inline(sql)
    used = set(re.findall(r"\$(\w+)", sql))
    return con.execute(sql, {k: v for k, v in params.items() if k in used})


def _distinct(con: Any, sql: str, params: dict[str, Any]) -> pa.Array:
    table = _q(con, sql, params).fetch_arrow_table()
    return table.column(0).combine_chunks().cast(pa.string())


def _maps(con: Any, ws: Workspace, options: ReadOptions, base: str,
          params: dict[str, Any]) -> str:
    """Register the distinct-value maps; returns the disposition of an empty field."""
    from cxlens.clean import identifiers
    from cxlens.clean import records as R
    from cxlens.connectors.asterisk import DISPOSITION, clid_names, disposition_key
    from cxlens.load import pseudonymiser

    region = options.region
    hasher = pseudonymiser(ws)

    def id_map(column: str, cleaned: pa.Array) -> pa.Table:
        distinct = pc.unique(pc.drop_null(cleaned))
        ids = identifiers.extract("interactions", pa.table({
            "source": pa.array([""] * len(distinct), pa.string()), "source_id": distinct,
            column: distinct}), region, hasher=hasher)
        return pa.table({"value": ids.column("source_id"), "id_value": ids.column("id_value")})

    raw = _distinct(con, f"{base} SELECT DISTINCT _raw_phone FROM plain WHERE _raw_phone IS NOT NULL",
                    params)
    phone = R.clean_rows("interactions", pa.table({"phone": V.blank_to_null(raw)}),
                         region).column("phone").combine_chunks()
    con.register("_cx_map_phone", pa.table({"raw": raw, "phone": phone}))
    con.register("_cx_ids_phone", id_map("phone", phone))

    raw = _distinct(con, f"{base} SELECT DISTINCT clid FROM plain WHERE clid IS NOT NULL", params)
    names = R.clean_rows("interactions", pa.table({"contact_name": clid_names(raw)}),
                         region).column("contact_name").combine_chunks()
    con.register("_cx_map_name", pa.table({"raw": raw, "name": names}))

    raw = _distinct(con, f"{base} SELECT DISTINCT accountcode FROM plain "
                         "WHERE accountcode IS NOT NULL", params)
    account = R.clean_rows("interactions", pa.table({"account": V.blank_to_null(raw)}),
                           region).column("account").combine_chunks()
    con.register("_cx_map_acct", pa.table({"raw": raw, "account": account}))
    con.register("_cx_ids_acct", id_map("account", account))

    raw = _distinct(con, f"{base} SELECT DISTINCT disposition FROM plain "
                         "WHERE disposition IS NOT NULL", params)
    with_empty = pa.concat_arrays([raw, pa.array([""], pa.string())])
    canon = V.map_vocabulary(disposition_key(with_empty), DISPOSITION, default="failed")
    con.register("_cx_map_disp", pa.table({"raw": raw, "disp": canon.slice(0, len(raw))}))
    return str(canon[len(raw)].as_py())


def _no_collision(con: Any, keys: pa.ChunkedArray) -> None:
    """Step aside when a key converted in Python repeats (last-wins needs the generic path)."""
    if len(pc.unique(keys)) != len(keys):
        raise StepAside("repeated record keys")
    con.register("_cx_rest_keys", pa.table({"k": keys}))
    try:
        hits = con.execute(f'SELECT count(*) FROM temp."{STAGE}" s JOIN _cx_rest_keys r '
                           "ON s._key = r.k WHERE s._plain").fetchone()[0]
    finally:
        con.unregister("_cx_rest_keys")
    if hits:
        raise StepAside("repeated record keys")


def run(ws: Workspace, path: Path, options: ReadOptions, columns: tuple[str, ...],
        skip: int, ingest_id: str) -> FastResult:
    """Load the staged CDR file (see module docstring); call inside the ingest transaction."""
    from cxlens.connectors.asterisk import convert
    from cxlens.load import store_records

    con = ws.warehouse.store.raw
    params: dict[str, Any] = {}  # our constants are inlined by _q; values are added below
    base = f'WITH plain AS (SELECT * FROM temp."{STAGE}" WHERE _plain)'
    read = int(con.execute(f'SELECT count(*) FROM temp."{STAGE}"').fetchone()[0])
    dups = _q(con, f'SELECT count(*) - count(DISTINCT _key) FROM temp."{STAGE}" WHERE _plain',
              params).fetchone()[0]
    if dups:
        raise StepAside("repeated record keys: the generic last-wins rule applies")
    params["disp_null"] = _maps(con, ws, options, base, params)

    answered = "(coalesce(md.disp, $disp_null) = 'answered')"
    abandoned = f"(_dir = 'inbound' AND NOT {answered})"
    dur, bill = "_dur", "_bill"
    wait = f"CASE WHEN {answered} THEN {dur} - {bill} ELSE {dur} END"
    # _queue and _agent have no edge whitespace in plain rows (checked with the others)
    queue = "CASE WHEN lower(coalesce(lastapp, '')) = 'queue' THEN nullif(_queue, '') END"
    agent = "nullif(_agent, '')"
    audio = _t("userfield") if "userfield" in columns else "CAST(NULL AS VARCHAR)"
    select = f"""{base}
        SELECT $source || ':' || _key AS interaction_id, $source AS source, _key AS source_id,
            'phone' AS channel, _dir AS direction, {queue} AS queue, {agent} AS agent_id,
            _start AS started_at, _answer AS answered_at, _end AS ended_at,
            greatest({wait}, 0.0) AS wait_s, {bill} AS talk_s,
            {abandoned} AS abandoned,
            CASE WHEN {abandoned} THEN 'abandoned' ELSE coalesce(md.disp, $disp_null) END
                AS disposition,
            mp.phone AS phone, mn.name AS contact_name, ma.account AS account,
            {audio} AS audio_ref, $ingest AS ingest_id
        FROM plain
        LEFT JOIN _cx_map_phone mp ON mp.raw = plain._raw_phone
        LEFT JOIN _cx_map_name mn ON mn.raw = plain.clid
        LEFT JOIN _cx_map_acct ma ON ma.raw = plain.accountcode
        LEFT JOIN _cx_map_disp md ON md.raw = plain.disposition"""
    insert_params = {**params, "source": options.source, "ingest": ingest_id}
    existing = con.execute("SELECT count(*) FROM (SELECT 1 FROM interactions "
                           "WHERE source = ? LIMIT 1)", [options.source]).fetchone()[0]
    if existing:  # upsert: a re-export replaces the stored rows of the same keys
        keys = f"{base} SELECT _key FROM plain"
        _q(con, f"DELETE FROM interactions WHERE source = $source AND source_id IN ({keys})",
           insert_params)
        _q(con, f"DELETE FROM identifiers WHERE record_table = 'interactions' AND "
                f"source = $source AND source_id IN ({keys})", insert_params)
    _q(con, f"INSERT INTO interactions BY NAME {select}", insert_params)
    stored = int(con.execute("SELECT count(*) FROM interactions WHERE ingest_id = ?",
                             [ingest_id]).fetchone()[0])
    for column, ids in (("phone", "_cx_ids_phone"), ("account", "_cx_ids_acct")):
        con.execute(
            f"INSERT INTO identifiers BY NAME SELECT 'interactions' AS record_table, i.source, "
            f"i.source_id, ? AS id_type, m.id_value, i.{column} AS raw_value, i.ingest_id "
            f"FROM interactions i JOIN {ids} m ON m.value = i.{column} WHERE i.ingest_id = ?",
            [column, ingest_id])

    # The rest (not plain) through the generic conversion, exactly as the generic path would.
    names = ", ".join(f"coalesce(\"{c}\", '') AS \"{c}\"" for c in columns)
    rest = _q(con, f'SELECT rowid AS _row, {names} FROM temp."{STAGE}" WHERE NOT '
                   "_plain ORDER BY rowid", params).fetch_arrow_table()
    result = FastResult(read=read, stored_sql=stored)
    if rest.num_rows:
        lines = pc.add(rest.column("_row"), 1 + skip)
        locators = pc.binary_join_element_wise(
            pa.array([path.name] * rest.num_rows, pa.string()), pc.cast(lines, pa.string()), ":")
        good, quarantine, _ = convert(rest.drop_columns(["_row"]), options, path.name,
                                      locators=locators)
        if good.num_rows:
            _no_collision(con, good.column("source_id"))
            store_records(ws, "interactions", good, ingest_id=ingest_id, quarantine=quarantine)
        elif quarantine.num_rows:
            from cxlens.clean.quarantine import stamp

            ws.warehouse.append("quarantine", stamp(quarantine, ingest_id))
        result.quarantine = quarantine
        if quarantine.num_rows:
            counts = pc.value_counts(quarantine.column("reason")).to_pylist()
            result.reasons = {c["values"]: c["counts"] for c in
                              sorted(counts, key=lambda c: -c["counts"])}
    return result
