"""Point-lookup tables written by the profile stage, so a profile read is a few point filters.

Without them every lookup joined ``identifiers``/``identity_map``/the event tables in full
(seconds per read on the demo). The profile stage materialises, next to ``customer_360``:

- ``identity_lookup`` (id_value, id_type, customer_key), sorted by ``id_value``: find a customer;
- ``customer_identifiers`` (customer_key, id_type, id_value, written, records, sources), sorted
  by ``customer_key``: the identifiers panel;
- ``customer_timeline`` (customer_key, at, kind, channel, detail, ref), sorted by
  ``customer_key``: every event of every customer.

Sorted storage gives DuckDB min/max zone maps per row group, but string zone maps keep only a
short prefix, and phone numbers or customer keys share long prefixes: a point filter still read
most of the table (≈ 9 ms of CPU per query on 40k customers). On DuckDB the stage therefore also
builds an ART index on each lookup column (:data:`INDEXES`; dropped before the tables are
rewritten and rebuilt after, which is cheaper than maintaining it row by row), so a read is an
index probe (≈ 1-3 ms). Stores without indexes (Spark) keep the sorted scans. The tables are as
fresh as ``customer_360`` (same stage); the reader falls back to the full-scan queries for a
customer the stage has not seen yet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cxlens.warehouse import Warehouse

RECORD_KEY = ["record_table", "source", "source_id"]
# table -> the column it is sorted by (what the reader filters on)
LOOKUP_TABLES = {
    "identity_lookup": "id_value",
    "customer_identifiers": "customer_key",
    "customer_timeline": "customer_key",
}


def identity_lookup(wh: Warehouse) -> ir.Table:
    """Every stored identifier value with the customer(s) whose records carry it.

    Read from the materialised ``customer_identifiers`` (:func:`refresh` writes it first): its
    keys are the distinct (customer, id_type, id_value) of the same identifiers ⋈ identity_map
    join, so joining the two big tables again would only repeat that work.
    """
    t = wh.table("customer_identifiers")
    return t.select("id_value", "id_type", "customer_key").order_by(["id_value", "customer_key"])


def customer_identifiers(wh: Warehouse) -> ir.Table:
    """Per customer: distinct (id_type, id_value), as first written, with record/source counts."""
    ids = wh.table("identifiers")
    imap = wh.table("identity_map").select(*RECORD_KEY, "customer_key")
    j = ids.join(imap, RECORD_KEY)
    grouped = j.group_by(["customer_key", "id_type", "id_value"]).aggregate(
        written=j.raw_value.min(), records=j.count(), sources=j.source.nunique())
    return grouped.order_by(["customer_key", "id_type", grouped.records.desc()])


def events(wh: Warehouse, mine: Callable[[str], ir.Table], by: list[str]) -> ir.Table:
    """The cross-channel events (at, kind, channel, detail, ref, *by) of the rows ``mine`` picks.

    ``by`` is ``[]`` for one customer's records, ``["customer_key"]`` for everyone's (web events
    are grouped into sessions per customer either way).
    """
    import ibis

    def event(t: ir.Table, at: ir.Value, kind: str, channel: ir.Value, detail: ir.Value,
              ref: ir.Value) -> ir.Table:
        return t.select(*by, at=at.cast("timestamp"), kind=ibis.literal(kind),
                        channel=channel.cast("string"), detail=detail.cast("string"),
                        ref=ref.cast("string"))

    inter = mine("interactions")
    orders = mine("orders")
    web = mine("web_events")
    sessions = web.group_by([*by, "session_id"]).aggregate(
        at=web.ts.min(), pages=web.count(), dwell=web.dwell_s.sum(), first=web.source_id.min())
    surveys = mine("surveys")
    cases = mine("cases")
    parts = [
        event(inter, inter.started_at, "interaction", inter.channel,
              ibis.coalesce(inter.reason, inter.subject, inter.disposition, ibis.literal("")),
              inter.interaction_id),
        event(orders, orders.ordered_at, "order", orders.order_channel,
              ibis.coalesce(orders.product, ibis.literal("")).concat(
                  " ", ibis.coalesce(orders.amount.round(2).cast("string"), ibis.literal(""))),
              orders.source_id),
        event(sessions, sessions.at, "web_session", ibis.literal("web"),
              sessions.pages.cast("string").concat(" pages"), sessions.session_id),
        event(surveys, ibis.coalesce(surveys.responded_at, surveys.sent_at), "survey",
              ibis.literal("survey"),
              ibis.literal("csat=").concat(ibis.coalesce(surveys.csat.cast("string"), ibis.literal("-")),
                                           " nps=", ibis.coalesce(surveys.nps.cast("string"), ibis.literal("-"))),
              surveys.source_id),
        event(cases, cases.opened_at, "case", ibis.literal("case"),
              ibis.coalesce(cases.status, ibis.literal("")).concat(
                  " ", ibis.coalesce(cases.subject, cases.reason, ibis.literal(""))),
              cases.source_id),
    ]
    out = ibis.union(*parts)
    return out.filter(out.at.notnull())


def customer_timeline(wh: Warehouse) -> ir.Table:
    """Every event of every resolved customer, sorted by customer then newest first."""
    imap = wh.table("identity_map")

    def mine(table: str) -> ir.Table:
        t = wh.table(table)
        keys = imap.filter(imap.record_table == table).select("source", "source_id", "customer_key")
        return t.join(keys, ["source", "source_id"])

    out = events(wh, mine, ["customer_key"])
    return out.order_by([out.customer_key, out.at.desc()])


# index name -> (table, column): the profile reader's point filters
INDEXES: dict[str, tuple[str, str]] = {
    "cx_ix_customer_360": ("customer_360", "customer_key"),
    **{f"cx_ix_{table}": (table, column) for table, column in LOOKUP_TABLES.items()},
}

# in build order: identity_lookup reads customer_identifiers
BUILDERS: dict[str, Callable[[Warehouse], ir.Table]] = {
    "customer_identifiers": customer_identifiers,
    "identity_lookup": identity_lookup,
    "customer_timeline": customer_timeline,
}


def refresh(wh: Warehouse) -> dict[str, Any]:
    """Rebuild the three lookup tables, each sorted by its lookup column; returns row counts."""
    return {name: wh.replace(name, build(wh)) for name, build in BUILDERS.items()}


def drop_indexes(wh: Warehouse) -> None:
    """Drop the lookup indexes before the stage rewrites the tables (no-op without SQL)."""
    raw = getattr(wh.store, "raw", None)
    if raw is None:
        return
    for name in INDEXES:  # names are constants of this module
        raw.execute(f'DROP INDEX IF EXISTS "{name}"')


def create_indexes(wh: Warehouse) -> list[str]:
    """Build the ART index of each lookup column (DuckDB); returns the names built."""
    raw = getattr(wh.store, "raw", None)
    if raw is None:
        return []
    for name, (table, column) in INDEXES.items():
        raw.execute(f'DROP INDEX IF EXISTS "{name}"')
        raw.execute(f'CREATE INDEX "{name}" ON "{table}" ("{column}")')
    return list(INDEXES)
