"""The cleaning stage applied to every connector's canonical rows, and the validity rules.

:func:`clean_rows` normalises a batch of one canonical table (phones E.164, e-mails, names,
vocabularies, free text); :func:`validate` flags impossible values, each with the reason that
goes into ``quarantine``. Both are vectorised; Python runs once per distinct value only.
"""

from __future__ import annotations

from collections.abc import Collection

import pyarrow as pa
import pyarrow.compute as pc

from cxlens.clean import identifiers, vocab
from cxlens.clean import values as V
from cxlens.clean.quarantine import Checks

NAME_COLUMNS = ("name", "contact_name")
TEXT_COLUMNS = ("text", "subject", "comment")
DAY_S = 86_400.0
# Score scales of the surveys table (outside → quarantine).
SURVEY_SCALES = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}
# Seconds columns that cannot be negative, per table.
DURATIONS = {
    "interactions": ("wait_s", "talk_s", "hold_s", "acw_s"),
    "web_events": ("dwell_s",),
}
# (start, end) pairs where end before start is impossible.
ORDERED = {
    "interactions": (("started_at", "ended_at"), ("started_at", "answered_at")),
    "outreach": (("sent_at", "responded_at"),),
    "surveys": (("sent_at", "responded_at"),),
    "cases": (("opened_at", "closed_at"),),
}


def _phone_e164(region: str):  # noqa: ANN202 - returns a closure
    def fn(value: str) -> str | None:
        return identifiers.normalize_phone(value, region) or (value.strip() or None)
    return fn


def _email(value: str) -> str | None:
    return identifiers.normalize_email(value) or (value.strip() or None)


def clean_rows(table: str, rows: pa.Table, region: str,
               already_clean: Collection[str] = ()) -> pa.Table:
    """Normalise a batch of canonical rows of ``table`` (columns it lacks are left alone).

    Phones become E.164 where they parse (kept as written otherwise, so nothing is lost);
    e-mails are trimmed and lower-cased (dots kept); names NFKC-folded (full-width → half-width,
    whitespace collapsed; 繁/简 kept as given); channel/direction/disposition mapped to the
    canonical vocabularies; NUL bytes removed from text.

    ``already_clean``: columns the connector built in their cleaned form (a canonical code,
    or values already through :func:`values.blank_to_null` where that is all this function
    does to the column), left as they are — cleaning them again gives the same values.
    """
    for name in rows.column_names:
        column = rows.column(name)
        if column.type != pa.string() or name in already_clean:
            continue
        if name == "phone":
            column = V.blank_to_null(column)
            fast = identifiers.phone_fast_path(column, region)
            rest = pc.if_else(pc.is_null(fast), column, pa.scalar(None, pa.string()))
            cleaned = fast if rest.null_count == len(rest) else pc.coalesce(
                fast, V.map_distinct(rest, _phone_e164(region), pa.string()))
        elif name == "email":
            cleaned = V.map_distinct(V.blank_to_null(column), _email, pa.string())
        elif name in NAME_COLUMNS:
            cleaned = V.clean_names(column)
        elif name == "channel":
            cleaned = V.map_vocabulary(V.blank_to_null(column), vocab.CHANNEL_MAP)
        elif name == "direction":
            cleaned = V.map_vocabulary(V.blank_to_null(column), vocab.DIRECTION_MAP)
        elif name == "disposition":
            cleaned = V.map_vocabulary(V.blank_to_null(column), vocab.DISPOSITION_MAP)
        elif name in TEXT_COLUMNS:
            cleaned = V.clean_text(column)
        elif name in ("source", "source_id", "interaction_id"):
            continue
        else:
            cleaned = V.blank_to_null(column)
        rows = rows.set_column(rows.column_names.index(name), name, cleaned)
    return rows


def validate(table: str, rows: pa.Table, checks: Checks | None = None) -> Checks:
    """Flag impossible values of ``table`` rows (the first reason per row is kept)."""
    checks = checks or Checks(rows.num_rows)
    names = set(rows.column_names)
    if "source_id" in names:
        checks.add(pc.is_null(rows.column("source_id")), "missing record id")
    for column in DURATIONS.get(table, ()):
        if column in names:
            checks.add(pc.less(rows.column(column), 0), f"negative {column}")
    if table == "interactions" and "talk_s" in names:
        checks.add(pc.greater(rows.column("talk_s"), DAY_S), "talk longer than 24 h")
    for start, end in ORDERED.get(table, ()):
        if start in names and end in names:
            checks.add(pc.less(rows.column(end), rows.column(start)), f"{end} before {start}")
    if table == "surveys":
        for column, (low, high) in SURVEY_SCALES.items():
            if column in names:
                value = rows.column(column)
                checks.add(pc.or_(pc.less(value, low), pc.greater(value, high)),
                           f"{column} outside {low}-{high}")
    if table == "interactions" and "channel" in names:
        channel = rows.column("channel")
        known = pc.is_in(channel, value_set=pa.array(list(vocab.schema.CHANNELS)))
        checks.add(pc.and_(pc.is_valid(channel), pc.invert(known)), "unknown channel")
    return checks
