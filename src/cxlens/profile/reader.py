"""Find a customer by any identifier, in any written form, and read their 360 profile.

An identifier typed by an agent (``138-0013-8000``, an e-mail in capitals, an account, an order
number, a WeChat id, or a customer key) is normalised under every id type it could be, hashed
the way the loader hashes when pseudonymisation is on, and looked up in ``identifiers``.
Reads are written to the audit log with the customer key only, never the identifier typed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cxlens import schema
from cxlens.errors import InputError, NotFoundError

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cxlens.workspace import Workspace

KEY_PATTERN = re.compile(r"^C\d{10}$")
TIMELINE_LIMIT = 200
MAX_CANDIDATES = len(schema.ID_TYPES)
_SENTINEL = "__cxlens_param_{}__"
_SQL_CACHE: dict[tuple[int, str], str] = {}


def _query(ws: Workspace, name: str, build: Callable[..., ir.Table], *values: Any) -> list[dict]:
    """Run a small per-customer query built by ``build(*values)``.

    On DuckDB the expression is compiled once per warehouse with sentinel literals that become
    bound parameters (``$1``…), so a lookup costs one prepared query instead of an Ibis
    compilation; values never enter the SQL text. Other engines run the expression as is.
    """
    wh = ws.warehouse
    raw = getattr(wh.store, "raw", None)
    if raw is None:
        return build(*values).to_pyarrow().to_pylist()
    cache_key = (id(wh.store), name)
    sql = _SQL_CACHE.get(cache_key)
    if sql is None:
        sentinels = [_SENTINEL.format(i) for i in range(len(values))]
        sql = str(wh.con.compile(build(*sentinels)))
        for i, sentinel in enumerate(sentinels):
            sql = sql.replace(f"'{sentinel}'", f"${i + 1}")
        _SQL_CACHE[cache_key] = sql
    cursor = raw.cursor()
    try:
        return cursor.execute(sql, list(values)).fetch_arrow_table().to_pylist()
    finally:
        cursor.close()


def candidate_values(ws: Workspace, identifier: str) -> list[str]:
    """Every stored form ``identifier`` could take (normalised per id type, then hashed)."""
    from cxlens.clean.identifiers import normalize_value
    from cxlens.load import pseudonymiser

    region = ws.settings.locale.region
    values = {v for t in schema.ID_TYPES if (v := normalize_value(t, identifier, region))}
    hasher = pseudonymiser(ws)
    return sorted(hasher(v) for v in values) if hasher else sorted(values)


def find_customers(ws: Workspace, identifier: str) -> list[str]:
    """All customer keys whose records carry ``identifier`` (a key matches itself)."""
    wh = ws.warehouse
    text = identifier.strip()
    if KEY_PATTERN.match(text):
        if _query(ws, "key_exists", lambda k: _key_exists(wh, k), text):
            return [text]
    values = candidate_values(ws, text)[:MAX_CANDIDATES]
    if not values:
        return []
    padded = values + [values[0]] * (MAX_CANDIDATES - len(values))
    rows = _query(ws, "keys_by_value", lambda *v: _keys_by_value(wh, list(v)), *padded)
    return sorted(r["customer_key"] for r in rows)


def _key_exists(wh: Any, key: Any) -> ir.Table:
    imap = wh.table("identity_map")
    return imap.filter(imap.customer_key == key).select("customer_key").limit(1)


def _keys_by_value(wh: Any, values: list[Any]) -> ir.Table:
    ids = wh.table("identifiers")
    ids = ids.filter(ids.id_value.isin(values)).select("record_table", "source", "source_id")
    imap = wh.table("identity_map")
    keys = imap.semi_join(ids, ["record_table", "source", "source_id"])
    return keys.select("customer_key").distinct()


def find_customer(ws: Workspace, identifier: str) -> str:
    """The one ``customer_key`` behind ``identifier``.

    Raises :class:`NotFoundError` ("no customer matches …") when none does, and
    :class:`InputError` when it is shared by several customers (a household landline).
    """
    if not identifier or not identifier.strip():
        raise InputError("an empty identifier matches no one", "give a phone, e-mail, account…")
    keys = find_customers(ws, identifier)
    if not keys:
        hint = None
        if int(ws.warehouse.table("identity_map").count().execute()) == 0:
            hint = "the identity map is empty: run `cxlens run identity` first"
        raise NotFoundError(f"no customer matches {identifier!r}", hint)
    if len(keys) > 1:
        raise InputError(
            f"{identifier!r} is shared by {len(keys)} customers (a household or shared number)",
            "look up by something personal: mobile, e-mail, account or order number",
        )
    return keys[0]


def records_of(wh: Any, customer_key: Any) -> ir.Table:
    """(record_table, source, source_id) of one customer."""
    imap = wh.table("identity_map")
    return imap.filter(imap.customer_key == customer_key).select(
        "record_table", "source", "source_id")


def lookup(ws: Workspace, identifier: str, actor: str = "cli",
           timeline_limit: int = TIMELINE_LIMIT) -> dict[str, Any]:
    """The 360 profile of the customer behind ``identifier``, with identifiers and timeline.

    >>> lookup(ws, "Alice@Example.com")["profile"]["orders"]   # doctest: +SKIP
    2
    """
    from cxlens import audit

    key = find_customer(ws, identifier)
    wh = ws.warehouse
    found = _query(ws, "profile_row", lambda k: _profile_row(wh, k), key)
    profile = json.loads(found[0]["profile_json"]) if found else {}
    result = {
        "customer_key": key,
        "profile": profile,
        "profile_updated_at": found[0]["updated_at"] if found else None,
        "identifiers": identifiers_of(ws, key),
        "timeline": timeline(ws, key, timeline_limit),
    }
    audit.record(ws, actor=actor, action="profile.read", target=key)
    return result


def _profile_row(wh: Any, key: Any) -> ir.Table:
    c360 = wh.table("customer_360")
    return c360.filter(c360.customer_key == key).select("profile_json", "updated_at")


def identifiers_of(ws: Workspace, customer_key: str) -> list[dict[str, Any]]:
    """Distinct (id_type, value as written, sources) of one customer."""
    out = _query(ws, "identifiers_of", lambda k: _identifiers_expr(ws.warehouse, k), customer_key)
    return [{"type": r["id_type"], "value": r["written"], "records": r["records"],
             "sources": r["sources"]} for r in out]


def _identifiers_expr(wh: Any, key: Any) -> ir.Table:
    ids = wh.table("identifiers")
    mine = ids.semi_join(records_of(wh, key), ["record_table", "source", "source_id"])
    grouped = mine.group_by(["id_type", "id_value"]).aggregate(
        written=mine.raw_value.min(), records=mine.count(), sources=mine.source.nunique())
    return grouped.order_by(["id_type", grouped.records.desc()])


def timeline(ws: Workspace, customer_key: str, limit: int = TIMELINE_LIMIT) -> list[dict[str, Any]]:
    """Every event of one customer across channels, newest first (bounded by ``limit``)."""
    rows = _query(ws, f"timeline:{limit}", lambda k: _timeline_expr(ws.warehouse, k, limit),
                  customer_key)
    return rows


def _timeline_expr(wh: Any, key: Any, limit: int) -> ir.Table:
    import ibis

    recs = records_of(wh, key)

    def mine(table: str) -> ir.Table:
        t = wh.table(table)
        r = recs.filter(recs.record_table == table)
        return t.semi_join(r, ["source", "source_id"])

    def event(t: ir.Table, at: ir.Value, kind: str, channel: ir.Value, detail: ir.Value,
              ref: ir.Value) -> ir.Table:
        return t.select(at=at.cast("timestamp"), kind=ibis.literal(kind),
                        channel=channel.cast("string"), detail=detail.cast("string"),
                        ref=ref.cast("string"))

    inter = mine("interactions")
    orders = mine("orders")
    web = mine("web_events")
    sessions = web.group_by("session_id").aggregate(
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
    events = ibis.union(*parts)
    return events.filter(events.at.notnull()).order_by(events.at.desc()).limit(limit)
