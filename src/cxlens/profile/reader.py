"""Find a customer by any identifier, in any written form, and read their 360 profile.

An identifier typed by an agent (``138-0013-8000``, an e-mail in capitals, an account, an order
number, a WeChat id, or a customer key) is normalised under every id type it could be, hashed
the way the loader hashes when pseudonymisation is on, and looked up in ``identifiers``.
Reads are written to the audit log with the customer key only, never the identifier typed.

Reads are point filters on the tables the profile stage materialises (``identity_lookup``,
``customer_360``, ``customer_identifiers``, ``customer_timeline``; see
:mod:`cxlens.profile.lookups`). A customer the stage has not seen yet (records resolved since its
last run) is read with the slower full-scan queries instead, so a lookup is never stale-empty.
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
    # The warehouse's own connection (callers hold it one at a time: the server's gate) and
    # plain tuples: a cursor or an Arrow round trip per query costs more than the query.
    found = raw.execute(sql, list(values))
    names = [d[0] for d in found.description]
    return [dict(zip(names, row, strict=True)) for row in found.fetchall()]


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
        if (_query(ws, "key_in_360", lambda k: _key_in_360(wh, k), text)
                or _query(ws, "key_exists", lambda k: _key_exists(wh, k), text)):
            return [text]
    values = candidate_values(ws, text)[:MAX_CANDIDATES]
    if not values:
        return []
    n = len(values)  # one compiled query per number of forms (1 to 7)
    rows = _query(ws, f"keys_by_lookup:{n}", lambda *v: _keys_by_lookup(wh, list(v)), *values)
    if not rows:  # not in the profile stage's lookup table (yet): scan the identity tables
        rows = _query(ws, f"keys_by_value:{n}", lambda *v: _keys_by_value(wh, list(v)), *values)
    return sorted({r["customer_key"] for r in rows})


def _key_in_360(wh: Any, key: Any) -> ir.Table:
    c360 = wh.table("customer_360")
    return c360.filter(c360.customer_key == key).select("customer_key").limit(1)


def _key_exists(wh: Any, key: Any) -> ir.Table:
    imap = wh.table("identity_map")
    return imap.filter(imap.customer_key == key).select("customer_key").limit(1)


def _keys_by_lookup(wh: Any, values: list[Any]) -> ir.Table:
    # A UNION ALL of equalities: each one an index probe on DuckDB (an IN list or an OR is a
    # scan there); duplicates are dropped in Python, cheaper than a DISTINCT operator.
    import ibis

    look = wh.table("identity_lookup")
    parts = [look.filter(look.id_value == value).select("customer_key") for value in values]
    return parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)


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
    # a customer without a 360 row is newer than the profile stage: read at query time
    fresh = bool(found)
    result = {
        "customer_key": key,
        "profile": profile,
        "profile_updated_at": found[0]["updated_at"] if found else None,
        "identifiers": identifiers_of(ws, key, materialised=fresh),
        "timeline": timeline(ws, key, timeline_limit, materialised=fresh),
    }
    audit.record(ws, actor=actor, action="profile.read", target=key)
    return result


def _profile_row(wh: Any, key: Any) -> ir.Table:
    c360 = wh.table("customer_360")
    return c360.filter(c360.customer_key == key).select("profile_json", "updated_at")


def identifiers_of(ws: Workspace, customer_key: str,
                   materialised: bool = True) -> list[dict[str, Any]]:
    """Distinct (id_type, value as written, sources) of one customer.

    ``materialised`` reads the profile stage's ``customer_identifiers`` (a point filter);
    ``False`` computes them from ``identifiers`` at read time.
    """
    if materialised:
        out = _query(ws, "identifiers_of_mat",
                     lambda k: _identifiers_mat(ws.warehouse, k), customer_key)
        # a handful of rows: sorting here is cheaper than an ORDER BY operator in the query
        out.sort(key=lambda r: r["id_value"])
        out.sort(key=lambda r: r["records"] or 0, reverse=True)
        out.sort(key=lambda r: r["id_type"])
    else:
        out = _query(ws, "identifiers_of",
                     lambda k: _identifiers_expr(ws.warehouse, k), customer_key)
    return [{"type": r["id_type"], "value": r["written"], "records": r["records"],
             "sources": r["sources"]} for r in out]


def _identifiers_mat(wh: Any, key: Any) -> ir.Table:
    t = wh.table("customer_identifiers")
    mine = t.filter(t.customer_key == key)
    return mine.select("id_type", "id_value", "written", "records", "sources")


def _identifiers_expr(wh: Any, key: Any) -> ir.Table:
    ids = wh.table("identifiers")
    mine = ids.semi_join(records_of(wh, key), ["record_table", "source", "source_id"])
    grouped = mine.group_by(["id_type", "id_value"]).aggregate(
        written=mine.raw_value.min(), records=mine.count(), sources=mine.source.nunique())
    # id_value breaks ties so both read paths list identifiers in the same order
    return grouped.order_by(["id_type", grouped.records.desc(), "id_value"])


def timeline(ws: Workspace, customer_key: str, limit: int = TIMELINE_LIMIT,
             materialised: bool = True) -> list[dict[str, Any]]:
    """Every event of one customer across channels, newest first (bounded by ``limit``).

    ``materialised`` reads the profile stage's ``customer_timeline``; ``False`` assembles the
    events from the source tables at read time.
    """
    if materialised:
        # One customer's events (tens): sorted and cut here, cheaper than ORDER BY … LIMIT.
        rows = _query(ws, "timeline_mat", lambda k: _timeline_mat(ws.warehouse, k), customer_key)
        rows.sort(key=lambda r: r["at"], reverse=True)
        return rows[:limit]
    return _query(ws, f"timeline:{limit}", lambda k: _timeline_expr(ws.warehouse, k, limit),
                  customer_key)


def _timeline_mat(wh: Any, key: Any) -> ir.Table:
    t = wh.table("customer_timeline")
    return t.filter(t.customer_key == key).select("at", "kind", "channel", "detail", "ref")


def _timeline_expr(wh: Any, key: Any, limit: int) -> ir.Table:
    from cxlens.profile.lookups import events

    recs = records_of(wh, key)

    def mine(table: str) -> ir.Table:
        t = wh.table(table)
        r = recs.filter(recs.record_table == table)
        return t.semi_join(r, ["source", "source_id"])

    out = events(wh, mine, [])
    return out.order_by(out.at.desc()).limit(limit)
