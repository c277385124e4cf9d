"""A tiny hand-made journey fixture: 4 customers, 11 interactions, 3 web sessions."""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa

from cxlens.load import store_records

T0 = datetime(2026, 10, 5, 9, 0)


def _at(days: float, minutes: float = 0) -> datetime:
    return T0 + timedelta(days=days, minutes=minutes)


# (source_id, customer, channel, day offset, reason, resolved, agent, abandoned, direction, transfers)
ROWS = [
    # c1: web chat (no reason) -> chat billing unresolved -> phone billing resolved 2 days later
    ("i01", "c1", "chat", 0.0, None, None, None, False, "inbound", 0),
    ("i02", "c1", "chat", 0.01, "billing", False, "a1", False, "inbound", 0),
    ("i03", "c1", "phone", 2.0, "billing", True, "a2", False, "inbound", 1),
    # c1: a new billing problem 20 days later, resolved first time
    ("i04", "c1", "phone", 22.0, "billing", True, "a1", False, "inbound", 0),
    # c2: delivery on phone resolved (agent claim) but customer e-mails 3 days later
    ("i05", "c2", "phone", 1.0, "delivery", True, "a1", False, "inbound", 0),
    ("i06", "c2", "email", 4.0, "delivery", True, "a3", False, "inbound", 0),
    # c2: a different reason the same week is a separate journey
    ("i07", "c2", "chat", 5.0, "refund", True, "a3", False, "inbound", 0),
    # c3: abandoned call, then answered call about technical, resolved
    ("i08", "c3", "phone", 3.0, "technical", None, None, True, "inbound", 0),
    ("i09", "c3", "phone", 3.02, "technical", True, "a2", False, "inbound", 0),
    # c4: IVR self-service contained (never followed by an agent)
    ("i10", "c4", "ivr", 6.0, "account_access", True, None, False, "inbound", 0),
    # unlinked interaction (no identity_map row): its own journey
    ("i11", None, "phone", 6.0, "billing", True, "a2", False, "inbound", 0),
]

# A help session of c1 just before i01 (a self-service touch of c1's first journey); a help
# session of c2 long after its contacts (a self-service journey of its own); a browsing session
# of c3 (not a self-service attempt: ignored).
WEB = [("w1-0", "s1", "c1", _at(-0.01), "/"), ("w1-1", "s1", "c1", _at(-0.005), "/help/billing"),
       ("w2-0", "s2", "c2", _at(15), "/help/delivery"),
       ("w3-0", "s3", "c3", _at(2.9), "/products")]

# the expected journeys as sets of interaction source ids
EXPECTED = [{"i01", "i02", "i03"}, {"i04"}, {"i05", "i06"}, {"i07"}, {"i08", "i09"}, {"i10"},
            {"i11"}]


def load(ws, with_web: bool = True) -> None:
    """Store the fixture through store_records and write a matching identity_map."""
    cols: dict[str, list] = {k: [] for k in (
        "source", "source_id", "channel", "direction", "agent_id", "started_at", "answered_at",
        "ended_at", "wait_s", "talk_s", "transfers", "abandoned", "resolved", "reason")}
    imap = []
    for sid, cust, ch, day, reason, resolved, agent, abandoned, direction, transfers in ROWS:
        start = _at(day)
        cols["source"].append("crm")
        cols["source_id"].append(sid)
        cols["channel"].append(ch)
        cols["direction"].append(direction)
        cols["agent_id"].append(agent)
        cols["started_at"].append(start)
        cols["answered_at"].append(None if abandoned else start + timedelta(seconds=30))
        cols["ended_at"].append(start + timedelta(minutes=6))
        cols["wait_s"].append(30.0)
        cols["talk_s"].append(None if abandoned else 300.0)
        cols["transfers"].append(transfers)
        cols["abandoned"].append(abandoned)
        cols["resolved"].append(resolved)
        cols["reason"].append(reason)
        if cust:
            imap.append({"record_table": "interactions", "source": "crm", "source_id": sid,
                         "customer_key": cust, "method": "fixture", "updated_at": T0})
    store_records(ws, "interactions", pa.table(cols))
    if with_web:
        web = {"source": [], "source_id": [], "session_id": [], "ts": [], "page": []}
        for sid, session, cust, ts, page in WEB:
            web["source"].append("web")
            web["source_id"].append(sid)
            web["session_id"].append(session)
            web["ts"].append(ts)
            web["page"].append(page)
            imap.append({"record_table": "web_events", "source": "web", "source_id": sid,
                         "customer_key": cust, "method": "fixture", "updated_at": T0})
        store_records(ws, "web_events", pa.table(web))
    ws.warehouse.replace("identity_map", imap)


def groups(ws, skip_web: bool = False) -> list[set[str]]:
    """The journeys as sets of source ids (``crm:x1`` -> ``x1``), sorted: what tests compare."""
    jc = ws.warehouse.table("journey_contacts").to_pandas()
    if skip_web:
        jc = jc[jc.kind != "web_session"]
    return sorted(({i.split(":", 1)[1] for i in g.interaction_id}
                   for _, g in jc.groupby("journey_id")), key=sorted)


def store_contacts(ws, source: str, contacts: list[dict]) -> None:
    """Store inbound interactions, two minutes long each, and map each one to its
    ``customer_key`` (as if the identity stage had run). A contact is a dict of interaction
    columns (``source_id``, ``channel``, ``started_at``, ``reason``, ``case_id``…) plus
    ``customer_key``."""
    rows = [{k: v for k, v in c.items() if k != "customer_key"} for c in contacts]
    cols = {k: [r.get(k) for r in rows] for k in dict.fromkeys(k for r in rows for k in r)}
    cols["source"] = [source] * len(rows)
    cols["direction"] = ["inbound"] * len(rows)
    cols["ended_at"] = [start + timedelta(minutes=2) for start in cols["started_at"]]
    store_records(ws, "interactions", pa.table(cols))
    ws.warehouse.replace("identity_map", [
        {"record_table": "interactions", "source": source, "source_id": c["source_id"],
         "customer_key": c["customer_key"], "method": "fixture", "updated_at": T0}
        for c in contacts])
