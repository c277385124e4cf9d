"""Customer 360 as Ibis aggregations: one row per ``customer_key``, summary JSON included.

Every figure is an aggregate over the customer's records (through ``identity_map``), computed
on the warehouse engine; nothing is pulled into Python. "Recent" windows (30/90 days) are
measured back from the newest interaction in the warehouse — the data's own "now" — so a
replayed or demo data set reads sensibly. Contact hours are shown in the configured time zone.
Optional inputs (journeys, interaction_insights, scores) add their fields when they have rows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from cxlens import schema

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cxlens.warehouse import Warehouse
    from cxlens.workspace import Workspace

KEY = ["record_table", "source", "source_id"]


def _mine(wh: Warehouse, table: str) -> ir.Table:
    """Rows of ``table`` with their customer_key."""
    import ibis

    t = wh.table(table)
    imap = wh.table("identity_map")
    imap = imap.filter(imap.record_table == table).select("source", "source_id", "customer_key")
    j = t.join(imap, ["source", "source_id"])
    return j.mutate(_one=ibis.literal(1))


def _nonempty(wh: Warehouse, table: str) -> bool:
    # the store's count (raw count(*) / manifest): an Ibis scalar goes through compile + pandas
    return table in wh.tables() and wh.count(table) > 0


def as_of(wh: Warehouse) -> datetime:
    """The data's "now": the newest interaction start (or the clock when there is none)."""
    value = wh.table("interactions").started_at.max().execute()
    if value is None or str(value) == "NaT":
        return datetime.now(UTC).replace(tzinfo=None)
    return value.to_pydatetime() if hasattr(value, "to_pydatetime") else value


def _utc_offset_hours(zone: str) -> int:
    offset = datetime.now(ZoneInfo(zone)).utcoffset() or timedelta(0)
    return int(offset.total_seconds() // 3600)


def _mode(t: ir.Table, column: str, name: str) -> ir.Table:
    """(customer_key, name): the most frequent value of ``column`` (ties: smallest value)."""
    import ibis

    counts = t.group_by(["customer_key", column]).aggregate(n=t.count())
    rank = ibis.row_number().over(group_by=counts.customer_key,
                                  order_by=[counts.n.desc(), counts[column]])
    ranked = counts.mutate(rank=rank)
    top = ranked.filter(ranked.rank == 0)
    return top.select("customer_key", **{name: top[column]})


def _latest(t: ir.Table, order: str, columns: dict[str, str]) -> ir.Table:
    import ibis

    rank = ibis.row_number().over(group_by=t.customer_key, order_by=t[order].desc())
    ranked = t.mutate(rank=rank)
    top = ranked.filter(ranked.rank == 0)
    return top.select("customer_key", **{k: top[v] for k, v in columns.items()})


def customer_360(ws: Workspace) -> ir.Table:
    """The ``customer_360`` expression (typed columns + ``profile_json``)."""
    import ibis

    wh = ws.warehouse
    now = as_of(wh)
    d30 = ibis.literal(now - timedelta(days=30), type="timestamp")
    d90 = ibis.literal(now - timedelta(days=90), type="timestamp")
    imap = wh.table("identity_map")
    base = imap.group_by("customer_key").aggregate(
        records=imap.count(),
        sources=imap.source.nunique(),
    )

    parties = _mine(wh, "parties")
    party = parties.group_by("customer_key").aggregate(
        name=parties.name.max(), tier=parties.tier.max(), city=parties.city.max(),
        language=parties.language.max(), customer_since=parties.created_at.min(),
        party_records=parties.count(),
    )

    orders = _mine(wh, "orders")
    live = orders.filter(orders.status.isnull() | ~orders.status.isin(["cancelled", "returned"]))
    value = live.group_by("customer_key").aggregate(
        orders=live.count(), spend=live.amount.sum().round(2),
        last_purchase_at=live.ordered_at.max(),
    )

    inter = _mine(wh, "interactions")
    hour_offset = _utc_offset_hours(ws.settings.locale.timezone)
    per_channel = {}
    for channel in schema.CHANNELS:
        hit = inter.channel == channel
        per_channel[f"{channel}_30d"] = (hit & (inter.started_at >= d30)).cast("int64").sum()
        per_channel[f"{channel}_90d"] = (hit & (inter.started_at >= d90)).cast("int64").sum()
    contacts = inter.group_by("customer_key").aggregate(
        contacts=inter.count(),
        contacts_30d=(inter.started_at >= d30).cast("int64").sum(),
        contacts_90d=(inter.started_at >= d90).cast("int64").sum(),
        first_contact_at=inter.started_at.min(),
        last_contact_at=inter.started_at.max(),
        abandoned=inter.abandoned.cast("int64").sum(),
        **per_channel,
    )
    preferred_channel = _mode(inter, "channel", "preferred_channel")
    hours = inter.mutate(hour=((inter.started_at.hour() + hour_offset + 24) % 24).cast("int64"))
    preferred_hour = _mode(hours, "hour", "preferred_hour")

    web = _mine(wh, "web_events")
    browsing = web.group_by("customer_key").aggregate(
        web_sessions=web.session_id.nunique(), web_dwell_s=web.dwell_s.sum().round(1),
        last_visit_at=web.ts.max(),
    )

    surveys = _mine(wh, "surveys")
    answered = surveys.filter(surveys.responded_at.notnull())
    last_survey = _latest(answered, "responded_at", {
        "last_csat": "csat", "last_nps": "nps", "last_ces": "ces",
        "last_survey_at": "responded_at"})

    cases = _mine(wh, "cases")
    open_case = cases.closed_at.isnull() & (
        cases.status.isnull() | ~cases.status.lower().isin(["closed", "resolved", "solved"]))
    case_counts = cases.group_by("customer_key").aggregate(
        cases=cases.count(), open_cases=open_case.cast("int64").sum())

    parts: list[ir.Table] = [party, value, contacts, preferred_channel, preferred_hour,
                             browsing, last_survey, case_counts]
    if _nonempty(wh, "interaction_insights"):
        parts.append(_sentiment(wh, inter, d30))
    if _nonempty(wh, "journeys"):
        j = wh.table("journeys")
        parts.append(j.group_by("customer_key").aggregate(
            journeys=j.count(),
            open_journeys=(~j.resolved.fill_null(False)).cast("int64").sum(),
            repeat_contacts=(j.contacts - 1).clip(lower=0).sum(),
        ))
    if _nonempty(wh, "scores"):
        parts.append(_scores(wh))

    wide = base
    for part in parts:
        wide = wide.left_join(part, "customer_key").drop("customer_key_right")
    stamp = ibis.literal(datetime.now(UTC).replace(tzinfo=None), type="timestamp")
    fields = [c for c in wide.columns if c != "customer_key"]
    wide = wide.mutate(profile_json=json_object(wide, fields), updated_at=stamp)
    segment = wide.segment if "segment" in wide.columns else ibis.null("string")
    return wide.select(
        "customer_key", "profile_json", "updated_at", "name", "tier", "city",
        segment=segment, records="records", orders=wide.orders.fill_null(0),
        spend=wide.spend.fill_null(0.0), contacts_90d=wide.contacts_90d.fill_null(0),
        last_contact_at="last_contact_at", open_cases=wide.open_cases.fill_null(0),
    )


def _sentiment(wh: Warehouse, inter: ir.Table, d30: ir.Value) -> ir.Table:
    ins = wh.table("interaction_insights").select("interaction_id", "sentiment")
    j = inter.select("customer_key", "interaction_id", "started_at").join(ins, "interaction_id")
    recent = j.started_at >= d30
    return j.group_by("customer_key").aggregate(
        sentiment_avg=j.sentiment.mean().round(3),
        sentiment_30d=j.sentiment.mean(where=recent).round(3),
        sentiment_before=j.sentiment.mean(where=~recent).round(3),
    ).mutate(sentiment_trend=(lambda t: (t.sentiment_30d - t.sentiment_before).round(3)))


def _scores(wh: Warehouse) -> ir.Table:
    s = wh.table("scores")
    latest = s.mutate(
        rank=__import__("ibis").row_number().over(group_by=[s.customer_key, s.model],
                                                   order_by=s.scored_at.desc())
    )
    latest = latest.filter(latest.rank == 0)
    return latest.group_by("customer_key").aggregate(
        churn_risk=latest.score.max(where=latest.model == "churn").round(3),
        clv=latest.score.max(where=latest.model == "clv").round(2),
        segment=latest.label.max(where=latest.model == "segment"),
    )


def json_object(t: ir.Table, fields: list[str]) -> ir.StringValue:
    """A JSON object string built with engine string functions (portable DuckDB ↔ Spark)."""
    import ibis

    pieces: list[ir.StringValue] = []
    for i, name in enumerate(fields):
        col = t[name]
        dtype = col.type()
        if dtype.is_string():
            escaped = col.replace("\\", "\\\\").replace('"', '\\"')
            value = ibis.ifelse(col.isnull(), "null", ibis.literal('"').concat(escaped, '"'))
        elif dtype.is_timestamp() or dtype.is_date():
            # date and time apart: Spark's date_format rejects a bare "T" in the pattern
            text = (col.strftime("%Y-%m-%d").concat("T", col.strftime("%H:%M:%S"))
                    if dtype.is_timestamp() else col.cast("string"))
            value = ibis.ifelse(col.isnull(), "null", ibis.literal('"').concat(text, '"'))
        elif dtype.is_boolean():
            value = ibis.ifelse(col.isnull(), "null", ibis.ifelse(col, "true", "false"))
        else:
            value = ibis.ifelse(col.isnull(), "null", col.cast("string"))
        prefix = ("{" if i == 0 else ",") + f'"{name}":'
        pieces.append(ibis.literal(prefix).concat(value))
    if not pieces:
        return ibis.literal("{}")
    # One n-ary join (CONCAT_WS on DuckDB and Spark), not a chain of binary ``||``: the chain
    # copied the growing string at every one of its ~120 steps, and that projection was half
    # of the customer_360 query. No piece is NULL (each says "null" instead), so the two agree.
    return ibis.literal("").join([*pieces, ibis.literal("}")])
