"""Journey stitching as Ibis expressions (window functions only, so DuckDB and PySpark agree).

A journey (episode) is one customer's contacts about one problem:

1. every interaction gets its ``customer_key`` from ``identity_map`` (an unlinked interaction is a
   journey of its own: ``u:<interaction_id>``); keys whose contacts are back to back on one
   identifier are stitched as one customer (:mod:`cxlens.journeys.links`);
2. a contact with no reason borrows the reason of the nearest contact of the same customer that
   has one, if that contact is within ``reason_borrow_hours`` (an IVR leg or abandoned attempt
   just before a coded call);
3. per (customer, reason) in time order, a new journey starts at a new CRM case, or when the gap
   since the previous contact ended exceeds the window (default 7 days) and the contact is not
   under the same open case — the window chains, so a problem that takes three contacts five
   days apart is one journey; a journey that returns to an earlier case rejoins that case's;
4. each contact gets the flags the journey KPIs read: is it the first assisted contact, is it
   followed by another customer-initiated contact (any channel / same channel), and is it
   followed by an assisted contact (self-service containment);
5. linked web sessions (``web_events``) join the journey they precede or fall inside, as
   self-service touches (they never split or merge journeys).

See docs/journeys.md for the definitions and the effort-score formula.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import ibis

from cxlens.journeys.links import LINK_S, back_to_back_keys

if TYPE_CHECKING:
    import ibis.expr.types as ir

SEQ_WIDTH = 6  # zero-padded position used to sort channel paths without ordered aggregates


def linked_contacts(
    interactions: ir.Table, identity_map: ir.Table, self_service_channels: Sequence[str]
) -> ir.Table:
    """Interactions with their customer key, kind (assisted/self_service/abandoned) and flags."""
    im = identity_map.filter(identity_map.record_table == "interactions")
    # One key per record even if identity_map were to hold duplicates.
    im = im.group_by(["source", "source_id"]).aggregate(customer_key=im.customer_key.max())
    i = interactions.filter(interactions.direction.fill_null("inbound") != "internal")
    j = i.left_join(im, ["source", "source_id"])
    # Replies in one e-mail thread are about one thing: share the thread's coded reason.
    thread_reason = j.reason.max().over(ibis.window(group_by=j.thread_id))
    j = j.mutate(reason=ibis.coalesce(
        j.reason, ibis.cases((j.thread_id.notnull(), thread_reason), else_=None)))
    if "case_id" in j.columns:
        # Contacts logged under one CRM case are about one thing: the case keeps the reason its
        # first coded contact gave it (a later mis-keyed wrap-up code does not move the contact).
        # Per customer, so a case number that two systems happen to share cannot mix customers.
        j = j.mutate(case_id=j.case_id.strip().nullif(""))
        case_key = [j.customer_key, j.case_id]
        j = j.mutate(_coded_seq=ibis.row_number().over(ibis.window(
            group_by=[*case_key, j.reason.isnull()], order_by=[j.started_at, j.interaction_id])))
        case_key = [j.customer_key, j.case_id]
        case_reason = ibis.cases((j.reason.notnull() & (j._coded_seq == 0), j.reason),
                                 else_=None).max().over(ibis.window(group_by=case_key))
        j = j.mutate(reason=ibis.cases((j.case_id.notnull() & case_reason.notnull(), case_reason),
                                       else_=j.reason))
        case_id = j.case_id
    else:
        case_id = ibis.null("string")
    abandoned = j.abandoned.fill_null(False)
    self_service = j.channel.isin(list(self_service_channels)) & j.agent_id.isnull()
    kind = ibis.cases(
        (abandoned, "abandoned"), (self_service, "self_service"), else_="assisted"
    )
    return j.select(
        interaction_id=j.interaction_id,
        customer_key=j.customer_key.fill_null("u:" + j.interaction_id),
        channel=j.channel.fill_null("unknown"),
        started_at=j.started_at,
        end_ts=ibis.coalesce(j.ended_at, j.started_at),
        raw_reason=j.reason,
        case_id=case_id,
        resolved=j.resolved,
        transfers=j.transfers.fill_null(0),
        wait_s=j.wait_s,
        kind=kind,
        customer_initiated=j.direction.isnull() | (j.direction == "inbound"),
        # the KPI layer's "offered" (inbound, not a self-service leg), kept for scans
        offered=(j.direction.isnull() | (j.direction == "inbound")) & ~self_service,
    ).filter(lambda t: t.started_at.notnull())


def _assign_reason(t: ir.Table, borrow_s: float, split_by_reason: bool) -> ir.Table:
    """Give reason-less contacts the reason of the nearest coded contact within ``borrow_s``."""
    if not split_by_reason:
        return t.mutate(reason=t.raw_reason, _pk=ibis.literal(""))
    order = [t.started_at, t.interaction_id]
    fwd = ibis.window(group_by=t.customer_key, order_by=order)
    back = ibis.window(group_by=t.customer_key, order_by=[t.started_at.desc(),
                                                         t.interaction_id.desc()])
    known = t.raw_reason.notnull().cast("int64")
    t = t.mutate(_g1=known.cumsum().over(fwd), _g2=known.cumsum().over(back))
    known_ts = ibis.cases((t.raw_reason.notnull(), t.started_at.epoch_seconds()), else_=None)
    g1 = ibis.window(group_by=[t.customer_key, t._g1])
    g2 = ibis.window(group_by=[t.customer_key, t._g2])
    t = t.mutate(
        _prev_reason=t.raw_reason.max().over(g1), _prev_ts=known_ts.max().over(g1),
        _next_reason=t.raw_reason.max().over(g2), _next_ts=known_ts.max().over(g2),
    )
    now = t.started_at.epoch_seconds()
    gap_prev = now - t._prev_ts
    gap_next = t._next_ts - now
    prev_ok = t._prev_reason.notnull() & (gap_prev <= borrow_s)
    next_ok = t._next_reason.notnull() & (gap_next <= borrow_s)
    reason = ibis.cases(
        (t.raw_reason.notnull(), t.raw_reason),
        (prev_ok & (~next_ok | (gap_prev <= gap_next)), t._prev_reason),
        (next_ok, t._next_reason),
        else_=None,
    )
    t = t.mutate(reason=reason)
    return t.mutate(_pk=t.reason.fill_null(""))


def _case_change(t: ir.Table, attach_s: float) -> ir.BooleanColumn:
    """True where a contact's CRM case differs from the previous contact's (same customer/reason).

    A contact without a case (IVR leg, abandoned attempt) takes the case of the next handled
    contact if that starts within ``attach_s`` (the call it led to), else the previous one's.
    ``_case_same`` marks a contact under the same case as the one before — logged under it, or
    the leg that led to a contact logged under it — which continues a journey past the window.
    """
    key = [t.customer_key, t._pk]
    fwd = ibis.window(group_by=key, order_by=[t.started_at, t.interaction_id])
    back = ibis.window(group_by=key, order_by=[t.started_at.desc(), t.interaction_id.desc()])
    has = t.case_id.notnull().cast("int64")
    t = t.mutate(_c1=has.cumsum().over(fwd), _c2=has.cumsum().over(back))
    key = [t.customer_key, t._pk]
    case_ts = ibis.cases((t.case_id.notnull(), t.started_at.epoch_seconds()), else_=None)
    after = ibis.window(group_by=[*key, t._c2])
    t = t.mutate(
        _prev_case=t.case_id.max().over(ibis.window(group_by=[*key, t._c1])),
        _next_case=t.case_id.max().over(after), _next_case_ts=case_ts.max().over(after),
    )
    key = [t.customer_key, t._pk]
    near_next = t._next_case.notnull() & (
        (t._next_case_ts - t.started_at.epoch_seconds()) <= attach_s)
    t = t.mutate(_case=ibis.coalesce(t.case_id, ibis.cases((near_next, t._next_case),
                                                           else_=None), t._prev_case),
                 # logged under its case, or the leg that led to a contact logged under it
                 _case_led=t.case_id.notnull() | near_next)
    key = [t.customer_key, t._pk]
    before = t._case.lag().over(ibis.window(group_by=key, order_by=[t.started_at,
                                                                    t.interaction_id]))
    t = t.mutate(_case_before=before)
    return t.mutate(_case_new=t._case.notnull() & t._case_before.notnull()
                    & (t._case != t._case_before),
                    # not a leg merely following the case (an abandoned call days later)
                    _case_same=t._case_led & (t._case == t._case_before))


def _rejoin_case(t: ir.Table) -> ir.Table:
    """An episode that starts by returning to a case seen in an earlier episode rejoins it.

    Two problems of one reason can interleave (case A, then case B, then a follow-up under A):
    the follow-up belongs to A's journey, not to a third one.
    """
    first_ep = t._ep.min().over(ibis.window(group_by=[t.customer_key, t._pk, t._case]))
    back = t._case_new & (t._new == 1) & t._case.notnull() & (first_ep < t._ep)
    t = t.mutate(_back=ibis.cases((back, first_ep), else_=None))
    target = t._back.max().over(ibis.window(group_by=[t.customer_key, t._pk, t._ep]))
    return t.mutate(_ep=ibis.coalesce(target, t._ep))


CASE_ATTACH_S = 6 * 3600.0  # an IVR leg or abandoned attempt belongs to the contact it led to


def episodes(contacts: ir.Table, window_s: float, split_by_reason: bool = True,
             borrow_s: float | None = None, split_by_case: bool = True,
             case_attach_s: float = CASE_ATTACH_S) -> ir.Table:
    """Contacts with ``journey_id``, position and the repeat/containment flags.

    ``borrow_s`` bounds how far an uncoded contact looks for a coded one (default: the window).
    ``split_by_case`` starts a new journey where the CRM case changes (a new case is a new issue).
    """
    borrow = window_s if borrow_s is None else min(borrow_s, window_s)
    t = _assign_reason(contacts, borrow, split_by_reason)
    if split_by_case:
        t = _case_change(t, case_attach_s)
    else:
        t = t.mutate(_case_new=ibis.literal(False), _case_same=ibis.literal(False))
    part = ibis.window(group_by=[t.customer_key, t._pk], order_by=[t.started_at, t.interaction_id])
    # Gap from the latest end so far, so a long call that overlaps the next contact still chains.
    prev_end = t.end_ts.epoch_seconds().max().over(
        ibis.window(group_by=[t.customer_key, t._pk], order_by=[t.started_at, t.interaction_id],
                    rows=(None, -1))
    )
    t = t.mutate(_gap=t.started_at.epoch_seconds() - prev_end)
    # A follow-up logged under the same open case continues the journey however late it is.
    late = (t._gap > window_s) & ~t._case_same.fill_null(False)
    t = t.mutate(_new=(t._gap.isnull() | late | t._case_new).cast("int64"))
    t = t.mutate(_ep=t._new.cumsum().over(part))
    if split_by_case:
        t = _rejoin_case(t)
    keys = [t.customer_key, t._pk, t._ep]
    ordered = ibis.window(group_by=keys, order_by=[t.started_at, t.interaction_id])
    whole = ibis.window(group_by=keys)
    t = t.mutate(_pos=ibis.row_number().over(ordered))
    t = t.mutate(
        journey_id="j:" + ibis.cases((t._pos == 0, t.interaction_id), else_=None).max().over(whole)
    )
    ci = t.customer_initiated.cast("int64")
    assisted = (t.kind == "assisted").cast("int64")
    by_channel = ibis.window(group_by=[t.journey_id, t.channel],
                             order_by=[t.started_at, t.interaction_id])
    by_channel_all = ibis.window(group_by=[t.journey_id, t.channel])
    jw = ibis.window(group_by=t.journey_id, order_by=[t.started_at, t.interaction_id])
    jall = ibis.window(group_by=t.journey_id)
    t = t.mutate(
        _ci_later=ci.sum().over(jall) - ci.cumsum().over(jw),
        _ci_later_channel=ci.sum().over(by_channel_all) - ci.cumsum().over(by_channel),
        _a_cum=assisted.cumsum().over(jw),
        _a_later=assisted.sum().over(jall) - assisted.cumsum().over(jw),
    )
    return t.mutate(
        first_assisted=(t.kind == "assisted") & (t._a_cum == 1),
        repeat_any=t._ci_later > 0,
        repeat_channel=t._ci_later_channel > 0,
        followed_by_assisted=t._a_later > 0,
    )


def web_sessions(
    web_events: ir.Table, identity_map: ir.Table, help_prefixes: Sequence[str]
) -> ir.Table:
    """Help-seeking web sessions of known customers (a page under one of ``help_prefixes``).

    Plain browsing is not a self-service attempt, so sessions without a help page are left out.
    """
    im = identity_map.filter(identity_map.record_table == "web_events")
    im = im.group_by(["source", "source_id"]).aggregate(customer_key=im.customer_key.max())
    ev = web_events.filter(web_events.session_id.notnull() & web_events.ts.notnull())
    ev = ev.left_join(im, ["source", "source_id"])
    is_help = ibis.literal(False)
    for prefix in help_prefixes:
        is_help = is_help | ev.page.fill_null("").startswith(prefix)
    g = ev.group_by([ev.source, ev.session_id]).aggregate(
        customer_key=ev.customer_key.max(), started_at=ev.ts.min(), end_ts=ev.ts.max(),
        help_pages=ev.count(where=is_help),
    )
    return g.filter((g.help_pages > 0) & g.customer_key.notnull())


def attach_sessions(journey_touches: ir.Table, sessions: ir.Table, window_s: float) -> ir.Table:
    """Session touches, each in the nearest journey of its customer that it precedes or sits in.

    A help session with no such journey is a self-service journey of its own
    (``j:session:<source>:<session_id>``): the customer tried the web and did not need to call.
    """
    spans = journey_touches.group_by([journey_touches.journey_id,
                                      journey_touches.customer_key]).aggregate(
        j_start=journey_touches.started_at.min().epoch_seconds(),
        j_end=journey_touches.end_ts.max().epoch_seconds(),
        j_reason=journey_touches.reason.max(),
    )
    s = sessions.mutate(
        s_start=sessions.started_at.epoch_seconds(),
        session_key="session:" + sessions.source + ":" + sessions.session_id,
    )
    pairs = s.inner_join(spans, s.customer_key == spans.customer_key).filter(
        lambda p: (p.s_start >= p.j_start - window_s) & (p.s_start <= p.j_end)
    )
    pairs = pairs.mutate(_dist=(pairs.j_start - pairs.s_start).abs())
    pick = ibis.window(group_by=pairs.session_key, order_by=[pairs._dist, pairs.journey_id])
    pairs = pairs.mutate(_rank=ibis.row_number().over(pick)).filter(lambda p: p._rank == 0)
    chosen = pairs.select(session_key=pairs.session_key, journey_id=pairs.journey_id,
                          reason=pairs.j_reason)
    s = s.left_join(chosen, "session_key")
    return s.select(
        journey_id=s.journey_id.fill_null("j:" + s.session_key),
        interaction_id=s.session_key,
        customer_key=s.customer_key,
        channel=ibis.literal("web"),
        started_at=s.started_at,
        end_ts=s.end_ts,
        reason=s.reason,
        kind=ibis.literal("web_session"),
        customer_initiated=ibis.literal(False),
        offered=ibis.literal(False),
        resolved=ibis.null("boolean"),
        first_assisted=ibis.literal(False),
        repeat_any=ibis.literal(False),
        repeat_channel=ibis.literal(False),
        followed_by_assisted=ibis.literal(False),
    )


TOUCH_COLUMNS = (
    "journey_id", "interaction_id", "customer_key", "channel", "started_at", "end_ts", "reason",
    "kind", "customer_initiated", "first_assisted", "repeat_any", "repeat_channel",
    "followed_by_assisted", "offered", "resolved",
)


def touches(
    interactions: ir.Table,
    identity_map: ir.Table,
    *,
    window_s: float,
    self_service_channels: Sequence[str],
    split_by_reason: bool = True,
    web_events: ir.Table | None = None,
    help_prefixes: Sequence[str] = ("/help",),
    borrow_s: float | None = None,
    split_by_case: bool = True,
    case_attach_s: float = CASE_ATTACH_S,
    identifiers: ir.Table | None = None,
    link_s: float = LINK_S,
    link_blocked: Sequence[str] = (),
    link_max_records: int | None = None,
) -> ir.Table:
    """Every touch of every journey with its ``seq`` — the ``journey_contacts`` rows.

    With ``identifiers``, keys whose contacts follow each other on one identifier within
    ``link_s`` are stitched as one customer (:mod:`cxlens.journeys.links`); ``link_s = 0``
    turns that off; ``link_blocked`` and ``link_max_records`` keep switchboards out of it (the
    identity stage's ``blocked_values`` and ``max_records_per_value``).
    """
    contacts = linked_contacts(interactions, identity_map, self_service_channels)
    if identifiers is not None and link_s > 0:
        keys = back_to_back_keys(contacts, interactions, identifiers, link_s, link_blocked,
                                 link_max_records)
        contacts = contacts.left_join(keys, "customer_key")
        contacts = contacts.mutate(_identity_key=contacts.customer_key,
                                   customer_key=ibis.coalesce(contacts.journey_key,
                                                              contacts.customer_key))
        eps = episodes(contacts.drop("journey_key"), window_s, split_by_reason, borrow_s,
                       split_by_case, case_attach_s)
        # each touch keeps the key identity gave it
        eps = eps.mutate(customer_key=eps._identity_key)
    else:
        eps = episodes(contacts, window_s, split_by_reason, borrow_s, split_by_case,
                       case_attach_s)
    eps = eps.select(*TOUCH_COLUMNS)
    rows = eps
    if web_events is not None:
        sessions = attach_sessions(
            eps, web_sessions(web_events, identity_map, help_prefixes), window_s
        )
        rows = eps.union(sessions.select(*TOUCH_COLUMNS))
        # A session is "followed" when a contact of its journey starts after it.
        order = [rows.started_at, rows.interaction_id]
        jw = ibis.window(group_by=rows.journey_id, order_by=order)
        jall = ibis.window(group_by=rows.journey_id)
        ci = rows.customer_initiated.cast("int64")
        assisted = (rows.kind == "assisted").cast("int64")
        rows = rows.mutate(
            _ci_later=ci.sum().over(jall) - ci.cumsum().over(jw),
            _a_later=assisted.sum().over(jall) - assisted.cumsum().over(jw),
        )
        session = rows.kind == "web_session"
        rows = rows.mutate(
            repeat_any=ibis.cases((session, rows._ci_later > 0), else_=rows.repeat_any),
            followed_by_assisted=ibis.cases((session, rows._a_later > 0),
                                            else_=rows.followed_by_assisted),
        )
    seq = ibis.window(group_by=rows.journey_id, order_by=[rows.started_at, rows.interaction_id])
    return rows.mutate(seq=ibis.row_number().over(seq) + 1)


def summarise(touches: ir.Table, interactions: ir.Table) -> ir.Table:
    """One row per journey (the ``journeys`` table) from its touches and their interactions."""
    i = interactions.select("interaction_id", "transfers", "wait_s", "ended_at")
    t = touches.left_join(i, "interaction_id")
    t = t.mutate(end_ts=ibis.coalesce(t.ended_at, t.started_at))
    jw = ibis.window(group_by=t.journey_id, order_by=[t.seq])
    last_known = ibis.window(group_by=t.journey_id,
                             order_by=[t.resolved.isnull(), t.started_at.desc(), t.seq.desc()])
    t = t.mutate(
        _changed=t.channel.lag().over(jw).isnull() | (t.channel != t.channel.lag().over(jw)),
        _last_known=ibis.row_number().over(last_known) == 0,
    )
    step = t.seq.cast("string").lpad(SEQ_WIDTH, "0") + ":" + t.channel
    g = t.group_by(t.journey_id).aggregate(
        customer_key=t.customer_key.max(),
        reason=t.reason.max(),
        started_at=t.started_at.min(),
        ended_at=t.end_ts.max(),
        contacts=t.count(where=t.kind != "web_session"),
        assisted_contacts=t.count(where=t.kind == "assisted"),
        self_service_touches=t.count(where=t.kind.isin(["self_service", "web_session"])),
        abandoned_contacts=t.count(where=t.kind == "abandoned"),
        transfers=t.transfers.fill_null(0).sum(),
        wait_s=t.wait_s.fill_null(0).sum(),
        _switches=t.count(where=t._changed & (t.seq > 1)),
        _path=step.collect(where=t._changed),
        _channels=t.channel.collect(),
        first_channel=ibis.cases((t.seq == 1, t.channel), else_=None).max(),
        _resolved=ibis.cases((t._last_known & t.resolved.notnull(), t.resolved.cast("int64")),
                             else_=None).max(),
        _fcr=ibis.cases(
            (t.first_assisted, (t.resolved.fill_null(False) & ~t.repeat_any).cast("int64")),
            else_=None,
        ).max(),
    )
    g = g.mutate(
        channel_path=g._path.sort().map(lambda s: s.substr(SEQ_WIDTH + 1)).join(" > "),
        channels=g._channels.unique().sort().join(","),
        # explicit doubles: Spark would otherwise type ``x / 3600.0`` as a DECIMAL
        duration_h=(g.ended_at.epoch_seconds() - g.started_at.epoch_seconds()).cast("float64")
        / 3600,
        resolved=g._resolved == 1,
        first_contact_resolved=g._fcr.fill_null(0) == 1,
    )
    return g.mutate(effort_score=effort_score(g))


def effort_score(g: ir.Table) -> ir.FloatingValue:
    """Customer effort, 0 (one contact, solved) to 10 — the formula of docs/journeys.md.

    ``(contacts - 1) + 0.5 * transfers + 0.5 * channel switches + wait minutes / 10
    + 2 if not resolved``, clipped to [0, 10].
    """
    raw = (
        (g.contacts - 1).cast("float64")
        + 0.5 * g.transfers.cast("float64")
        + 0.5 * g._switches.cast("float64")
        + g.wait_s.cast("float64") / 600
        + ibis.cases((g.resolved, 0), else_=2).cast("float64")
    )
    return ibis.greatest(ibis.least(raw, 10.0), 0.0).cast("float64").round(2)
