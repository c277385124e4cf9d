"""Asterisk ``cdr_csv`` (``/var/log/asterisk/cdr-csv/Master.csv``) → ``interactions``.

Field list per ``cdr_csv.c`` / the Asterisk CDR specification: 16 base columns
``accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp, lastdata, start, answer,
end, duration, billsec, disposition, amaflags``, then ``uniqueid`` and ``userfield`` when
``loguniqueid``/``loguserfield`` are on, then ``peeraccount, linkedid, sequence`` with
``newcdrcolumns``. No header line; times are local (``usegmtime=no``, the default) as
``YYYY-MM-DD HH:MM:SS``; ``answer`` is empty for an unanswered call. A header line, if a user
added one, is recognised and skipped.

Mapping (vectorised with pyarrow.compute):
* direction from ``dcontext`` (``from-trunk``/``from-pstn``/``from-external``/``from-did``/
  ``incoming`` → inbound; ``from-internal``/``outbound`` → outbound when the number dialled is
  external, else internal), else from number lengths;
* customer phone = ``src`` (inbound) or ``dst`` (outbound); agent = the extension in
  ``dstchannel`` (inbound) or ``channel`` (outbound); queue = first ``lastdata`` argument when
  ``lastapp`` is ``Queue``;
* talk_s = billsec; wait_s = duration − billsec (ring/queue time before the answer);
* disposition ANSWERED/NO ANSWER/BUSY/FAILED/CONGESTION → answered/no_answer/busy/failed/
  congestion; an inbound call never answered is ``abandoned``;
* source_id = ``uniqueid`` (``uniqueid:sequence`` with ``newcdrcolumns``), else
  ``channel|start|dst`` — stable across re-exports, so a re-export upserts onto the same rows.

Quarantined: unparseable or missing start, negative duration/billsec, billsec > duration,
end before start, a call longer than 24 h, wrong number of fields.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from cxlens.clean import records as R
from cxlens.clean import values as V
from cxlens.connectors.base import Batch, Checks, ReadOptions, quarantine_rows
from cxlens.connectors.cdr import call_times
from cxlens.connectors.csvio import CsvChunk, first_record, iter_csv
from cxlens.connectors.readahead import ordered_map

BASE = ("accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp",
        "lastdata", "start", "answer", "end", "duration", "billsec", "disposition", "amaflags")
LAYOUTS = {
    16: BASE,
    17: (*BASE, "uniqueid"),
    18: (*BASE, "uniqueid", "userfield"),
    21: (*BASE, "uniqueid", "userfield", "peeraccount", "linkedid", "sequence"),
}
DISPOSITION = {"answered": "answered", "no_answer": "no_answer", "busy": "busy",
               "failed": "failed", "congestion": "congestion"}
INBOUND_CONTEXT = r"(?i)(from[-_]?(trunk|pstn|external|did|sip[-_]?external)|incoming|inbound|ext[-_]?did)"
OUTBOUND_CONTEXT = r"(?i)(from[-_]?internal|outbound|outrt|dialout)"
EXTERNAL_NUMBER = r"^\+?\d{7,}$"
EXTENSION = r"^[A-Za-z0-9_]+/(?P<ext>[^-@/;]+)"
# Greedy: the name may keep trailing blanks before "<", which blank_to_null trims; RE2 ran
# the lazy form (…*?) at about half this speed.
CLID_NAME = r'^"?(?P<name>[^"<]*)"?\s*<'
# CLID_NAME in two parts: RE2 extracts the group ~4x faster without the trailing `"?\s*<`, and
# matching the whole form without a group is as cheap. Same names: a value of the form has one
# match, whose group is the longest run after the optional quote — what the head extracts.
_CLID_HEAD = r'^"?(?P<name>[^"<]*)'
_CLID_FORM = r'^"?[^"<]*"?\s*<'


# Columns convert() builds in their cleaned form: canonical codes (channel, direction,
# disposition) and values already through blank_to_null, which is all clean_rows does to them.
_BUILT_CLEAN = frozenset({"channel", "direction", "disposition", "queue", "agent_id", "account",
                          "audio_ref"})


class AsteriskConnector:
    name = "asterisk"
    description = "Asterisk cdr_csv Master.csv (16/17/18/21 columns, no header, local time)"
    tables = ("interactions",)
    # Capability as data: the ingest runner may load this format with SQL inside the store
    # (cxlens.connectors.fastpath) when the store says it can.
    supports_sql_ingest = True

    def sniff(self, path: Path, head: bytes) -> bool:
        try:
            row = first_record(path, "utf-8")
        except Exception:  # noqa: BLE001 - sniffing must never fail a run
            return False
        if not row:
            return False
        if row[0].strip().lower() == "accountcode" and "billsec" in [c.lower() for c in row]:
            return True
        return len(row) in LAYOUTS and row[14].strip().upper() in {
            "ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION"}

    def read(self, path: Path, options: ReadOptions) -> Iterator[Batch]:
        row = first_record(path, options.encoding)
        if row is None:
            return
        skip = 0
        if row[0].strip().lower() == "accountcode":
            skip = 1
        width = len(row)
        if width not in LAYOUTS:
            from cxlens.errors import InputError

            raise InputError(
                f"{path.name}: {width} fields per line is not an Asterisk cdr_csv layout",
                "Master.csv has 16, 17, 18 or 21 fields; use --format mapped for other CSVs",
            )
        columns = LAYOUTS[width]

        def to_batch(chunk: CsvChunk) -> Batch:
            rows, quarantine, dups = convert(chunk.data, options, path.name, chunk.first_line)
            if chunk.bad_rows:
                extra = quarantine_rows(options.source, "interactions",
                                        [(loc, "wrong number of fields", raw)
                                         for loc, raw in chunk.bad_rows])
                quarantine = pa.concat_tables([quarantine, extra])
            return Batch("interactions", rows, quarantine,
                         read=chunk.data.num_rows + len(chunk.bad_rows), duplicates=dups,
                         position=chunk.position)

        # each chunk is converted on its own (line numbers come with it), so ordered_map may
        # clean several at once on threads (readahead.CONVERT_WORKERS; 1 = inline), in order
        chunks = iter_csv(path, columns, skip_rows=skip, encoding=options.encoding,
                          batch_rows=options.batch_rows)
        with contextlib.closing(chunks), contextlib.closing(ordered_map(to_batch, chunks)) as batches:
            yield from batches


def clid_names(clid: pa.Array) -> pa.Array:
    """The caller name of ``"Name" <number>`` caller-ids (null when there is none)."""
    clid = pc.fill_null(V.blank_to_null(clid), "")
    name = pc.struct_field(pc.extract_regex(clid, _CLID_HEAD), [0])
    name = pc.if_else(pc.match_substring_regex(clid, _CLID_FORM), name,
                      pa.scalar(None, pa.string()))
    return V.blank_to_null(name)


def disposition_key(disposition: pa.Array) -> pa.Array:
    """The look-up key of a raw disposition (``NO ANSWER`` → ``no_answer``)."""
    disposition = V.blank_to_null(disposition)
    return pc.replace_substring(pc.utf8_lower(pc.fill_null(disposition, "")), " ", "_")


def convert(raw: pa.Table, options: ReadOptions, file_name: str = "",
            first_line: int = 1, locators: pa.Array | None = None,
            ) -> tuple[pa.Table, pa.Table, int]:
    """Canonical interactions + quarantine rows + in-batch duplicates of one CDR chunk.

    ``locators`` (``file:line`` per row) default to consecutive lines from ``first_line``."""
    n = raw.num_rows
    # blank → null once per column used as is; the time, number, caller-id and disposition
    # columns are blanked by the functions that read them (raw.column below)
    unused = {"amaflags", "peeraccount", "linkedid", "answer", "end", "duration", "billsec",
              "clid", "disposition"}
    col = {name: V.blank_to_null(raw.column(name)) for name in raw.column_names
           if name not in unused}
    tz = options.timezone
    checks = Checks(n)
    times = call_times(col["start"], raw.column("answer"), raw.column("end"),
                       raw.column("duration"), raw.column("billsec"), tz, checks)
    started, answered, ended = times.started, times.answered, times.ended
    duration, billsec = times.duration, times.billsec

    src, dst = col["src"], col["dst"]
    context = pc.fill_null(col["dcontext"], "")
    src_external = pc.fill_null(pc.match_substring_regex(src, EXTERNAL_NUMBER), False)
    dst_external = pc.fill_null(pc.match_substring_regex(dst, EXTERNAL_NUMBER), False)
    ctx_in = V.per_distinct(context, lambda c: pc.match_substring_regex(c, INBOUND_CONTEXT))
    ctx_out = V.per_distinct(context, lambda c: pc.match_substring_regex(c, OUTBOUND_CONTEXT))
    direction = pc.case_when(
        pc.make_struct(ctx_in, pc.and_(ctx_out, dst_external), ctx_out, src_external,
                       dst_external),
        "inbound", "outbound", "internal", "inbound", "outbound", "internal",
    )
    inbound = pc.equal(direction, "inbound")
    outbound = pc.equal(direction, "outbound")
    phone = pc.if_else(inbound, src, pc.if_else(outbound, dst, pa.scalar(None, pa.string())))
    agent_from = pc.if_else(inbound, col["dstchannel"], col["channel"])
    agent = pc.struct_field(pc.extract_regex(pc.fill_null(agent_from, ""), EXTENSION), [0])
    agent = V.blank_to_null(agent)
    is_queue = pc.fill_null(pc.equal(pc.utf8_lower(pc.fill_null(col["lastapp"], "")), "queue"),
                            False)
    queue_name = V.per_distinct(pc.fill_null(col["lastdata"], ""),
                                lambda d: pc.list_element(pc.split_pattern(d, ","), 0))
    queue = V.blank_to_null(pc.if_else(is_queue, queue_name, pa.scalar(None, pa.string())))

    disposition = V.map_vocabulary(disposition_key(raw.column("disposition")), DISPOSITION,
                                   default="failed")
    is_answered = pc.equal(disposition, "answered")
    abandoned = pc.and_(inbound, pc.invert(is_answered))
    disposition = pc.if_else(abandoned, "abandoned", disposition)
    talk = billsec
    wait = pc.if_else(is_answered, pc.subtract(duration, billsec), duration)
    wait = pc.if_else(pc.less(wait, 0), 0.0, wait)

    contact_name = clid_names(raw.column("clid"))

    if "uniqueid" in col:
        key = col["uniqueid"]
        if "sequence" in col:
            key = pc.if_else(pc.is_valid(col["sequence"]),
                             pc.binary_join_element_wise(key, col["sequence"], ":"), key)
        fallback = pc.binary_join_element_wise(
            pc.fill_null(col["channel"], ""), pc.fill_null(col["start"], ""),
            pc.fill_null(col["dst"], ""), "|")
        source_id = pc.coalesce(key, fallback)
    else:
        source_id = pc.binary_join_element_wise(
            pc.fill_null(col["channel"], ""), pc.fill_null(col["start"], ""),
            pc.fill_null(col["dst"], ""), "|")
    rows = pa.table({
        "source": pa.repeat(pa.scalar(options.source, pa.string()), n),
        "source_id": source_id,
        "channel": pa.repeat(pa.scalar("phone", pa.string()), n),
        "direction": direction,
        "queue": queue,
        "agent_id": agent,
        "started_at": started,
        "answered_at": answered,
        "ended_at": ended,
        "wait_s": wait,
        "talk_s": talk,
        "abandoned": abandoned,
        "disposition": disposition,
        "phone": phone,
        "contact_name": contact_name,
        "account": col["accountcode"],
        "audio_ref": col["userfield"] if "userfield" in col else pa.nulls(n, pa.string()),
    })
    rows = R.clean_rows("interactions", rows, options.region, already_clean=_BUILT_CLEAN)
    good, quarantine = checks.split(rows, raw, options.source, "interactions",
                                    locators if locators is not None
                                    else _line_locators(file_name, first_line))
    # repeated keys are resolved (last wins) by the ingest runner over its whole write buffer
    return good, quarantine, 0


def _line_locators(file_name: str, first_line: int):  # noqa: ANN202 - returns a closure
    """``file:line`` of the rows at the given positions of a batch starting at ``first_line``."""
    def locate(positions: pa.Array) -> pa.Array:
        lines = pc.cast(pc.add(positions.cast(pa.int64()), first_line), pa.string())
        return pc.binary_join_element_wise(
            pa.repeat(pa.scalar(file_name, pa.string()), len(positions)), lines, ":")
    return locate
