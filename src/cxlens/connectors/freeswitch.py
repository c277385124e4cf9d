"""FreeSWITCH ``mod_cdr_csv`` with the shipped ``default`` template → ``interactions``.

The default template (``conf/autoload_configs/cdr_csv.conf.xml``) writes 15 quoted fields::

    "${caller_id_name}","${caller_id_number}","${destination_number}","${context}",
    "${start_stamp}","${answer_stamp}","${end_stamp}","${duration}","${billsec}",
    "${hangup_cause}","${uuid}","${bleg_uuid}","${accountcode}","${read_codec}","${write_codec}"

No header; stamps are local time ``YYYY-MM-DD HH:MM:SS``; ``answer_stamp`` is empty when the
call was not answered; ``hangup_cause`` is the Q.850 cause name (NORMAL_CLEARING, USER_BUSY,
NO_ANSWER, ORIGINATOR_CANCEL, ...).

Mapping: context ``public`` (calls from the outside world) → inbound; other contexts →
outbound when the destination is an external number (≥ 7 digits), else internal. Answered
(answer_stamp set or billsec > 0) → disposition ``answered``; otherwise the Q.850 cause decides
(:data:`cxlens.clean.vocab.Q850`) and an inbound call not answered is ``abandoned``.
source_id = ``uuid``. Quarantine rules as for Asterisk.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from cxlens.clean import records as R
from cxlens.clean import values as V
from cxlens.clean import vocab
from cxlens.connectors.base import Batch, Checks, ReadOptions, quarantine_rows
from cxlens.connectors.cdr import call_times
from cxlens.connectors.csvio import first_record, iter_csv
from cxlens.errors import InputError

COLUMNS = ("caller_id_name", "caller_id_number", "destination_number", "context", "start_stamp",
           "answer_stamp", "end_stamp", "duration", "billsec", "hangup_cause", "uuid",
           "bleg_uuid", "accountcode", "read_codec", "write_codec")
EXTERNAL = r"^\+?\d{7,}$"
SHORT = r"^\d{2,6}$"


class FreeSwitchConnector:
    name = "freeswitch"
    description = "FreeSWITCH mod_cdr_csv, default template (15 fields, Q.850 hangup causes)"
    tables = ("interactions",)

    def sniff(self, path: Path, head: bytes) -> bool:
        try:
            row = first_record(path, "utf-8")
        except Exception:  # noqa: BLE001 - sniffing must never fail a run
            return False
        return bool(row) and len(row) == len(COLUMNS) and (
            row[0] == "caller_id_name" or (row[9].isupper() and "_" in row[9]
                                           and len(row[10]) >= 32))

    def read(self, path: Path, options: ReadOptions) -> Iterator[Batch]:
        row = first_record(path, options.encoding)
        if row is None:
            return
        if len(row) != len(COLUMNS):
            raise InputError(f"{path.name}: {len(row)} fields per line, the FreeSWITCH default "
                             f"template has {len(COLUMNS)}",
                             "use --format mapped for a custom cdr_csv template")
        skip = 1 if row[0] == "caller_id_name" else 0
        for chunk in iter_csv(path, COLUMNS, skip_rows=skip, encoding=options.encoding,
                              batch_rows=options.batch_rows):
            rows, quarantine, dups = convert(chunk.data, options, path.name, chunk.first_line)
            if chunk.bad_rows:
                extra = quarantine_rows(options.source, "interactions",
                                        [(loc, "wrong number of fields", raw)
                                         for loc, raw in chunk.bad_rows])
                quarantine = pa.concat_tables([quarantine, extra])
            yield Batch("interactions", rows, quarantine,
                        read=chunk.data.num_rows + len(chunk.bad_rows), duplicates=dups,
                        position=chunk.position)


def convert(raw: pa.Table, options: ReadOptions, file_name: str = "",
            first_line: int = 1) -> tuple[pa.Table, pa.Table, int]:
    """Canonical interactions + quarantine rows + in-batch duplicates of one CDR chunk."""
    n = raw.num_rows
    col = {name: V.blank_to_null(raw.column(name)) for name in raw.column_names}
    tz = options.timezone
    checks = Checks(n)
    checks.add(pc.is_null(col["uuid"]), "missing uuid")
    times = call_times(col["start_stamp"], col["answer_stamp"], col["end_stamp"], col["duration"], col["billsec"],
                       tz, checks)
    started, answered, ended = times.started, times.answered, times.ended
    duration, billsec = times.duration, times.billsec

    caller, dest = col["caller_id_number"], col["destination_number"]
    public = pc.fill_null(pc.equal(pc.utf8_lower(pc.fill_null(col["context"], "")), "public"),
                          False)
    dest_external = pc.fill_null(pc.match_substring_regex(dest, EXTERNAL), False)
    direction = pc.if_else(public, "inbound", pc.if_else(dest_external, "outbound", "internal"))
    inbound = pc.equal(direction, "inbound")
    outbound = pc.equal(direction, "outbound")
    phone = pc.if_else(inbound, caller, pc.if_else(outbound, dest, pa.scalar(None, pa.string())))
    agent_candidate = pc.if_else(inbound, dest, caller)
    is_short = pc.fill_null(pc.match_substring_regex(agent_candidate, SHORT), False)
    agent = pc.if_else(is_short, agent_candidate, pa.scalar(None, pa.string()))

    was_answered = pc.or_(pc.is_valid(answered), pc.fill_null(pc.greater(billsec, 0), False))
    cause = V.map_vocabulary(col["hangup_cause"], vocab.Q850, default="failed")
    disposition = pc.if_else(was_answered, "answered", pc.fill_null(cause, "failed"))
    abandoned = pc.and_(inbound, pc.invert(was_answered))
    disposition = pc.if_else(abandoned, "abandoned", disposition)
    wait = pc.if_else(was_answered, pc.subtract(duration, billsec), duration)
    wait = pc.if_else(pc.less(wait, 0), 0.0, wait)

    rows = pa.table({
        "source": pa.array([options.source] * n, pa.string()),
        "source_id": col["uuid"],
        "channel": pa.array(["phone"] * n, pa.string()),
        "direction": direction,
        "agent_id": agent,
        "started_at": started,
        "answered_at": answered,
        "ended_at": ended,
        "wait_s": wait,
        "talk_s": billsec,
        "abandoned": abandoned,
        "disposition": disposition,
        "phone": phone,
        "contact_name": pc.if_else(inbound, col["caller_id_name"], pa.scalar(None, pa.string())),
        "account": col["accountcode"],
    })
    rows = R.clean_rows("interactions", rows, options.region)
    locators = pa.array([f"{file_name}:{first_line + i}" for i in range(n)], pa.string())
    good, quarantine = checks.split(rows, raw, options.source, "interactions", locators)
    # repeated keys are resolved (last wins) by the ingest runner over its whole write buffer
    return good, quarantine, 0
