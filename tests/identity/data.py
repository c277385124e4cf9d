"""A tiny hand-made contact centre with known people, for the identity and profile tests."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa

from cxlens.load import store_records

T0 = datetime(2026, 8, 1, 9, 0)

# person -> what the records know. Alice: CRM + billing + calls + orders + web; Bob: CRM, chat
# with wechat; Carol and Dan share a household phone; Erin is a switchboard caller.
PARTIES = [
    # source, source_id, name, city, phone, email, account, wechat, person
    ("crm", "P1", "Alice Wang", "Shanghai", "138-0013-8000", "Alice@Example.com", "A-1", None, "alice"),
    ("billing", "B1", "Alice Wang", "Shanghai", "+86 13800138000", None, "a-1", None, "alice"),
    ("crm", "P2", "Bob Li", "Beijing", "13900139000", "bob@example.com", "A-2", "bob_wx", "bob"),
    ("crm", "P3", "Carol Zhang", "Shenzhen", "0755-8888-0001", "carol@example.com", "A-3", None, "carol"),
    ("crm", "P4", "Dan Zhang", "Shenzhen", "0755-8888-0001", "dan@example.com", "A-4", None, "dan"),
    ("crm", "P5", "Eve Zhang", "Shenzhen", "0755-8888-0001", "eve@example.com", "A-5", None, "eve"),
    ("crm", "P6", "Junk Person", "Wuhan", "000000", "unknown", "null", "+86", "junk"),
    ("crm", "P7", "Other Junk", "Wuhan", "", "null", "unknown", "", "junk2"),
]
INTERACTIONS = [
    # source, source_id, channel, phone, email, wechat, started_at offset h, person
    ("pbx", "c1", "phone", "13800138000", None, None, 1, "alice"),
    ("pbx", "c2", "phone", "+8613800138000", None, None, 30, "alice"),
    ("mail", "m1", "email", None, "ALICE@example.com ", None, 50, "alice"),
    ("chat", "w1", "chat", None, None, "bob_wx", 5, "bob"),
    ("pbx", "c3", "phone", "13900139000", None, None, 7, "bob"),
    ("pbx", "c4", "phone", "0755 8888 0001", None, None, 9, "carol"),  # household: unresolvable
    ("pbx", "c5", "phone", "400-820-8820", None, None, 11, "frank"),  # blocked switchboard
    ("pbx", "c6", "phone", "400-820-8820", None, None, 12, "gina"),
    ("pbx", "c7", "phone", "021-6000-0000", None, None, 13, "hank"),  # an agent's phone
    ("pbx", "c8", "phone", "021-6000-0000", None, None, 14, "ivy"),
]
ORDERS = [("shop", "O-1", "A-1", 120.0, 2, "alice"), ("shop", "O-2", "A-2", 80.5, 3, "bob"),
          ("shop", "O-3", "A-1", 15.0, 40, "alice")]
WEB = [("web", "e1", "dev-9", "A-1", 3, "alice"), ("web", "e2", "dev-9", None, 4, "alice")]
AGENTS = [("hr", "ag1", "Agent Smith", "021-6000-0000")]


def truth() -> dict[tuple[str, str, str], str]:
    out = {("parties", s, i): p for s, i, *_, p in PARTIES}
    out.update({("interactions", s, i): p for s, i, *_, p in INTERACTIONS})
    out.update({("orders", s, i): p for s, i, *_, p in ORDERS})
    out.update({("web_events", s, i): p for s, i, *_, p in WEB})
    return out


def _ts(hours: float) -> datetime:
    from datetime import timedelta

    return T0 + timedelta(hours=hours)


def load(ws, parts: tuple[str, ...] = ("parties", "interactions", "orders", "web", "agents")) -> None:
    """Store the fixture through the loader (so identifiers are extracted as in production)."""
    if "agents" in parts:
        store_records(ws, "agents", pa.table({
            "source": [a[0] for a in AGENTS], "source_id": [a[1] for a in AGENTS],
            "name": [a[2] for a in AGENTS], "phone": [a[3] for a in AGENTS]}))
    if "parties" in parts:
        cols = list(zip(*PARTIES, strict=True))
        store_records(ws, "parties", pa.table({
            "source": cols[0], "source_id": cols[1], "name": cols[2], "city": cols[3],
            "phone": cols[4], "email": cols[5], "account": cols[6], "wechat": cols[7],
            "tier": ["gold", "gold", "silver", "bronze", "bronze", "bronze", None, None],
            "created_at": [T0] * len(PARTIES)}))
    if "interactions" in parts:
        cols = list(zip(*INTERACTIONS, strict=True))
        store_records(ws, "interactions", pa.table({
            "source": cols[0], "source_id": cols[1], "channel": cols[2], "phone": cols[3],
            "email": cols[4], "handle": pa.array(cols[5], pa.string()),
            "started_at": [_ts(h) for h in cols[6]], "direction": ["inbound"] * len(cols[0]),
            "reason": ["billing"] * len(cols[0]), "text": ["hello"] * len(cols[0])}))
    if "orders" in parts:
        cols = list(zip(*ORDERS, strict=True))
        store_records(ws, "orders", pa.table({
            "source": cols[0], "source_id": cols[1], "account": cols[2], "amount": cols[3],
            "ordered_at": [_ts(h) for h in cols[4]], "currency": ["CNY"] * len(cols[0])}))
    if "web" in parts:
        cols = list(zip(*WEB, strict=True))
        store_records(ws, "web_events", pa.table({
            "source": cols[0], "source_id": cols[1], "device": cols[2],
            "account": pa.array(cols[3], pa.string()), "ts": [_ts(h) for h in cols[4]],
            "dwell_s": [30.0, 45.0], "session_id": ["s1", "s1"], "page": ["/", "/pay"]}))
