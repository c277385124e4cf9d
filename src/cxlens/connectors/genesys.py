"""Genesys Cloud analytics conversation details → ``interactions``.

Input: the ``POST /api/v2/analytics/conversations/details/query`` page ``{"conversations":
[...]}``, a bare array, or JSON Lines (the async details job writes pages). Per the Genesys
analytics model a conversation has ``conversationId, conversationStart, conversationEnd,
originatingDirection`` and ``participants[]`` (``purpose`` customer|external|ivr|acd|agent|user,
``participantName, userId``), each with ``sessions[]`` (``mediaType`` voice|chat|email|message|
callback, ``ani, dnis, direction, addressFrom``) made of ``segments[]`` (``segmentType``
interact|hold|wrapup|alert|ivr|dialing|contacting|system, ``segmentStart, segmentEnd, queueId,
wrapUpCode, disconnectType``).

Mapping: channel from the customer session's mediaType; phone from its ``ani``/``dnis``
(``tel:`` stripped) or e-mail from ``addressFrom``; queue = the ACD participant's name (else
its queueId); agent = the first agent's userId; answered_at = the first agent ``interact``
start; talk/hold/acw = summed agent interact/hold/wrapup segments; wait = ACD time before the
answer; transfers = agents − 1; abandoned = queued (an ACD participant) but no agent interact;
disposition = the agent's wrap-up code when there is one.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from cxlens.connectors.base import Batch, ReadOptions
from cxlens.connectors.jsonio import iter_records
from cxlens.connectors.records import Reject, Rows, batches_from_records

MEDIA = {"voice": "phone", "callback": "phone", "chat": "chat", "message": "chat",
         "email": "email", "cobrowse": "web", "video": "app", "screenshare": "web"}


class GenesysConnector:
    name = "genesys"
    description = "Genesys Cloud analytics conversation-detail JSON (participants/sessions/segments)"
    tables = ("interactions",)

    def sniff(self, path: Path, head: bytes) -> bool:
        text = head[:16384]
        return b'"conversationId"' in text and b'"participants"' in text

    def read(self, path: Path, options: ReadOptions) -> Iterator[Batch]:
        records = iter_records(path, options.encoding, ("conversations",))
        yield from batches_from_records(records, to_rows, "interactions", options)


def _ts(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _seconds(segments: list[dict[str, Any]], kind: str) -> float:
    total = 0.0
    for seg in segments:
        if seg.get("segmentType") == kind:
            start, end = _ts(seg.get("segmentStart")), _ts(seg.get("segmentEnd"))
            if start and end:
                total += (end - start).total_seconds()
    return total


def _strip_tel(value: Any) -> str | None:
    if not value:
        return None
    text = str(value)
    return text[4:] if text.lower().startswith("tel:") else text


def to_rows(conv: Any) -> Rows:
    if not isinstance(conv, dict):
        raise Reject("conversation is not a JSON object")
    if not conv.get("conversationId"):
        raise Reject("missing conversationId")
    if not conv.get("conversationStart"):
        raise Reject("missing conversationStart")
    participants = [p for p in conv.get("participants") or [] if isinstance(p, dict)]
    by_purpose: dict[str, list[dict[str, Any]]] = {}
    for p in participants:
        by_purpose.setdefault(str(p.get("purpose") or "").lower(), []).append(p)
    customers = by_purpose.get("customer", []) + by_purpose.get("external", [])
    agents = by_purpose.get("agent", []) + by_purpose.get("user", [])
    acd = by_purpose.get("acd", [])
    customer_session = next((s for p in customers for s in p.get("sessions") or []), {})
    media = str(customer_session.get("mediaType") or next(
        (s.get("mediaType") for p in participants for s in p.get("sessions") or []), "voice"))
    direction = str(conv.get("originatingDirection") or "inbound").lower()
    agent_segments = [seg for p in agents for s in p.get("sessions") or []
                      for seg in s.get("segments") or []]
    interacts = sorted(str(seg.get("segmentStart")) for seg in agent_segments
                       if seg.get("segmentType") == "interact" and seg.get("segmentStart"))
    answered = interacts[0] if interacts else None
    acd_segments = [seg for p in acd for s in p.get("sessions") or [] for seg in s.get("segments") or []]
    acd_starts = sorted(str(seg.get("segmentStart")) for seg in acd_segments if seg.get("segmentStart"))
    wait = None
    if acd_starts:
        first, end = _ts(acd_starts[0]), _ts(answered) if answered else None
        wait = (end - first).total_seconds() if first and end else _seconds(acd_segments, "interact")
    wrapups = [seg.get("wrapUpCode") for seg in agent_segments if seg.get("wrapUpCode")]
    queue = None
    if acd:
        queue = acd[0].get("participantName") or next(
            (seg.get("queueId") for seg in acd_segments if seg.get("queueId")), None)
    abandoned = bool(acd) and not answered
    phone_value = customer_session.get("ani") if direction == "inbound" else customer_session.get("dnis")
    row: dict[str, Any] = {
        "source_id": str(conv["conversationId"]),
        "channel": MEDIA.get(media.lower(), media.lower()),
        "direction": direction,
        "queue": queue,
        "agent_id": next((str(p.get("userId")) for p in agents if p.get("userId")), None),
        "started_at": conv.get("conversationStart"),
        "answered_at": answered,
        "ended_at": conv.get("conversationEnd"),
        "wait_s": wait,
        "talk_s": _seconds(agent_segments, "interact") if agents else None,
        "hold_s": _seconds(agent_segments, "hold") if agents else None,
        "acw_s": _seconds(agent_segments, "wrapup") if agents else None,
        "transfers": max(len(agents) - 1, 0),
        "abandoned": abandoned,
        "disposition": "abandoned" if abandoned else (wrapups[0] if wrapups else
                                                      "answered" if answered else "no_answer"),
        "contact_name": customers[0].get("participantName") if customers else None,
    }
    if MEDIA.get(media.lower()) == "email":
        row["email"] = customer_session.get("addressFrom")
    else:
        row["phone"] = _strip_tel(phone_value)
    return {"interactions": [row]}
