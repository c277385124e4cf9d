"""The fact tables KPIs aggregate: one Ibis expression each, joined only to what is asked for.

- ``contacts``: one row per interaction with the KPI inputs and the slicing dimensions;
- ``surveys``: one row per survey, sliced by the contact it rates (``interaction_ref``);
- ``touches``: one row per ``journey_contacts`` touch with its contact's dimensions.

Every fact has ``ts`` (naive UTC) — the instant a row is counted at — and one column per
dimension in :data:`cxlens.metrics.registry.DIMENSIONS`. Joins to ``agents`` (team),
``identity_map``/``parties`` (tier), ``scores`` (segment) and ``interaction_insights``
(sentiment) are added only when a dimension, filter or KPI needs them, so a plain overview is a
single scan of ``interactions``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

import ibis

from cxlens.workspace import Workspace

if TYPE_CHECKING:
    import ibis.expr.types as ir

DIM_COLUMNS = ("channel", "queue", "agent", "team", "reason", "tier", "segment", "language")


Moment = datetime | None


def _seconds_between(later: ir.TimestampValue, earlier: ir.TimestampValue) -> ir.FloatingValue:
    return (later.epoch_seconds() - earlier.epoch_seconds()).cast("float64")


def _within(t: ir.Table, column: str, start: Moment, end: Moment) -> ir.Table:
    """Rows whose ``column`` lies in [start, end) (naive UTC; an open side is no bound)."""
    if start is not None:
        t = t.filter(t[column] >= start)
    if end is not None:
        t = t.filter(t[column] < end)
    return t


def contacts(ws: Workspace, joins: Iterable[str] = (), start: Moment = None,
             end: Moment = None) -> ir.Table:
    """Interactions as KPI rows between ``start`` and ``end`` (naive UTC, end exclusive)."""
    joins = set(joins)
    wh = ws.warehouse
    m = ws.settings.metrics
    self_channels = list(ws.settings.journeys.self_service_channels)
    i = wh.table("interactions")
    i = _within(i.filter(i.started_at.notnull()), "started_at", start, end)
    abandoned = i.abandoned.fill_null(False)
    inbound = i.direction.isnull() | (i.direction == "inbound")
    self_service = i.channel.isin(self_channels) & i.agent_id.isnull()
    offered = inbound & ~self_service
    wait = ibis.coalesce(i.wait_s, _seconds_between(i.answered_at, i.started_at))
    talk = ibis.coalesce(i.talk_s, _seconds_between(i.ended_at, i.answered_at))
    t = i.select(
        "source", "source_id", "interaction_id",
        ts=i.started_at,
        channel=i.channel, queue=i.queue, agent=i.agent_id, reason=i.reason,
        language=i.language,
        offered=offered,
        handled=offered & ~abandoned,
        abandoned=abandoned,
        short_abandon=abandoned & (wait.fill_null(0.0) < m.short_abandon_seconds),
        live=i.channel.isin(list(m.live_channels)),
        wait=wait,
        handle_s=talk + i.hold_s.fill_null(0.0) + i.acw_s.fill_null(0.0),
        assisted=i.agent_id.notnull(),
        transfers=i.transfers.fill_null(0),
        resolved=i.resolved,
        complaint=(i.reason == "complaint").fill_null(False),
    )
    if joins & {"customer", "tier", "segment"}:
        t = t.left_join(customer_keys(ws), ["source", "source_id"])
    t = _add_customer_dims(ws, t, joins)
    if "team" in joins:
        agents = wh.table("agents")
        teams = agents.group_by(agent=agents.source_id).aggregate(team=agents.team.max())
        t = t.left_join(teams, "agent")
    if "sentiment" in joins:
        ins = wh.table("interaction_insights")
        ins = ins.group_by("interaction_id").aggregate(sentiment=ins.sentiment.mean())
        t = t.left_join(ins, "interaction_id")
    return t


def customer_keys(ws: Workspace, only: ir.Table | None = None) -> ir.Table:
    """(source, source_id) of each interaction → its customer key (the resolved identity).

    ``only``: a table of interactions (``source_id`` column) to look up, instead of all.
    """
    im = ws.warehouse.table("identity_map")
    im = im.filter(im.record_table == "interactions")
    if only is not None:
        im = im.filter(im.source_id.isin(only.source_id))
    return im.group_by(["source", "source_id"]).aggregate(customer_key=im.customer_key.max())


def _add_customer_dims(ws: Workspace, t: ir.Table, joins: set[str]) -> ir.Table:
    wh = ws.warehouse
    if "tier" in joins:
        im = wh.table("identity_map")
        parties = wh.table("parties")
        pm = parties.inner_join(
            im.filter(im.record_table == "parties"), ["source", "source_id"]
        )
        tiers = pm.group_by("customer_key").aggregate(tier=pm.tier.max())
        t = t.left_join(tiers, "customer_key")
    if "segment" in joins:
        scores = wh.table("scores")
        seg = scores.filter(scores.model == "segment")
        seg = seg.group_by("customer_key").aggregate(segment=seg.label.max())
        t = t.left_join(seg, "customer_key")
    return t


def surveys(ws: Workspace, joins: Iterable[str] = (), start: Moment = None,
            end: Moment = None) -> ir.Table:
    """Surveys counted at the rated contact's start (else when answered or sent)."""
    s = ws.warehouse.table("surveys")
    c = contacts(ws, joins)
    s = s.select(
        survey_id=s.source + ":" + s.source_id, interaction_id=s.interaction_ref,
        s_ts=ibis.coalesce(s.responded_at, s.sent_at), csat=s.csat, nps=s.nps, ces=s.ces,
    )
    cols = ["interaction_id", "ts", *(d for d in _dims_of(c)), "offered"]
    j = s.left_join(c.select(*cols), "interaction_id")
    j = j.mutate(ts=ibis.coalesce(j.ts, j.s_ts)).drop("s_ts")
    return _within(j.filter(j.ts.notnull()), "ts", start, end)


def touches(ws: Workspace, joins: Iterable[str] = (), start: Moment = None,
            end: Moment = None) -> ir.Table:
    """Journey touches (``journey_contacts``) with the dimensions of their contact."""
    joins = set(joins)
    j = _within(ws.warehouse.table("journey_contacts"), "started_at", start, end)
    if joins & {"contact", "team"}:
        # queue/agent/language/team live on the contact; the KPI inputs are on the touch
        c = contacts(ws, joins - {"customer", "tier", "segment"})
        keep = ["interaction_id", "queue", "agent", "language"]
        if "team" in joins:
            keep.append("team")
        j = j.left_join(c.select(*keep), "interaction_id")
    flags = ("offered", "first_assisted", "repeat_any", "repeat_channel", "followed_by_assisted")
    j = j.mutate(ts=j.started_at, **{f: j[f].fill_null(False) for f in flags})
    return _add_customer_dims(ws, j, joins)


def _dims_of(t: ir.Table) -> list[str]:
    return [d for d in DIM_COLUMNS if d in t.columns]


FACTS = {"contacts": contacts, "surveys": surveys, "touches": touches}
