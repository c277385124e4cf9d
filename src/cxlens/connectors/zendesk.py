"""Zendesk ticket export JSON → ``interactions`` (+ ``messages`` from comments, ``surveys`` from
``satisfaction_rating``).

Accepted layouts: the incremental/Tickets API page ``{"tickets": [...], "users": [...]}`` (users
side-loaded with ``include=users``), a bare array of tickets, or JSON Lines of tickets. Fields
per the Zendesk Tickets API: ``id, subject, description, status`` (new, open, pending, hold,
solved, closed), ``priority, type, requester_id, assignee_id, group_id, tags, via.channel``
(email, web, chat, native_messaging, voice, api, mobile_sdk, twitter, facebook, sms, ...),
``via.source.from {address, name, phone}``, ``satisfaction_rating {id, score: good|bad|offered|
unoffered, comment}``, ``created_at, updated_at`` (ISO 8601 UTC). Comments (Ticket Comments API:
``id, author_id, body, plain_body, public, created_at``) are read from ``ticket["comments"]``
when the export embeds them.

Mapping: a ticket is one interaction (source_id = ticket id; queue = group; agent = assignee;
resolved = status solved/closed; ended_at = updated_at once solved/closed; reason = the first tag
that is a cxlens reason code). A comment by the requester is a ``customer`` turn, a public
comment by anyone else an ``agent`` turn, a private note a ``system`` turn. CSAT good → 5,
bad → 1 (Zendesk's scale is binary); offered/unoffered ratings are not responses.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cxlens import schema
from cxlens.connectors.base import Batch, ReadOptions, decode
from cxlens.connectors.jsonio import JsonRecord, iter_records
from cxlens.connectors.records import Reject, Rows, batches_from_records

CHANNEL = {"email": "email", "web": "web", "chat": "chat", "native_messaging": "chat",
           "voice": "phone", "api": "web", "mobile_sdk": "app", "mobile": "app",
           "twitter": "social", "facebook": "social", "instagram_dm": "social",
           "whatsapp": "social", "wechat": "social", "sms": "sms", "any_channel": "web"}
CSAT = {"good": 5, "bad": 1}


class ZendeskConnector:
    name = "zendesk"
    description = "Zendesk ticket export JSON (tickets, comments, satisfaction ratings)"
    tables = ("interactions", "messages", "surveys")

    def sniff(self, path: Path, head: bytes) -> bool:
        text = head[:16384]
        return (b'"tickets"' in text or b'"requester_id"' in text) and b'"via"' in text

    def read(self, path: Path, options: ReadOptions) -> Iterator[Batch]:
        users = _side_loaded_users(path, options.encoding)

        def convert(ticket: Any) -> Rows:
            return to_rows(ticket, options.source, users)

        records: Iterator[JsonRecord] = iter_records(path, options.encoding, ("tickets", "results"))
        yield from batches_from_records(records, convert, "interactions", options)


def _side_loaded_users(path: Path, encoding: str | None) -> dict[str, dict[str, Any]]:
    """``users`` side-loaded next to the tickets of a page (empty for JSON Lines)."""
    with path.open("rb") as handle:
        head = handle.read(1 << 20)
    if b'"users"' not in head and path.stat().st_size > len(head):
        return {}
    try:
        doc = json.loads(decode(path, path.read_bytes(), encoding))
    except (json.JSONDecodeError, ValueError):
        return {}
    users = doc.get("users") if isinstance(doc, dict) else None
    if not isinstance(users, list):
        return {}
    return {str(u.get("id")): u for u in users if isinstance(u, dict)}


def _reason(tags: Any) -> str | None:
    if isinstance(tags, list):
        for tag in tags:
            if str(tag) in schema.REASONS:
                return str(tag)
    return None


def to_rows(ticket: Any, source: str, users: dict[str, dict[str, Any]]) -> Rows:
    """One ticket → its interaction, comment turns and satisfaction response."""
    if not isinstance(ticket, dict):
        raise Reject("ticket is not a JSON object")
    if ticket.get("id") in (None, ""):
        raise Reject("ticket without id")
    if not ticket.get("created_at"):
        raise Reject("ticket without created_at")
    ticket_id = str(ticket["id"])
    via = ticket.get("via") or {}
    channel_raw = str(via.get("channel") or "web").lower()
    status = str(ticket.get("status") or "").lower() or None
    done = status in ("solved", "closed")
    requester_id = str(ticket.get("requester_id")) if ticket.get("requester_id") is not None else None
    requester = ticket.get("requester") or users.get(requester_id or "", {}) or {}
    sender = (via.get("source") or {}).get("from") or {}
    row: dict[str, Any] = {
        "source_id": ticket_id,
        "channel": CHANNEL.get(channel_raw, channel_raw),
        "direction": "outbound" if channel_raw == "api" and ticket.get("type") == "task" else "inbound",
        "queue": None if ticket.get("group_id") is None else str(ticket["group_id"]),
        "agent_id": None if ticket.get("assignee_id") is None else str(ticket["assignee_id"]),
        "started_at": ticket.get("created_at"),
        "ended_at": ticket.get("updated_at") if done else None,
        "disposition": status,
        "resolved": done if status else None,
        "reason": _reason(ticket.get("tags")),
        "subject": ticket.get("subject") or ticket.get("raw_subject"),
        "text": ticket.get("description"),
        "contact_name": requester.get("name") or sender.get("name"),
        "email": requester.get("email") or sender.get("address"),
        "phone": requester.get("phone") or sender.get("phone"),
        "account": None if ticket.get("external_id") in (None, "") else str(ticket["external_id"]),
    }
    iid = schema.interaction_id(source, ticket_id)
    messages = []
    for seq, comment in enumerate(ticket.get("comments") or []):
        if not isinstance(comment, dict):
            continue
        author = str(comment.get("author_id")) if comment.get("author_id") is not None else None
        speaker = ("customer" if author is not None and author == requester_id else
                   "agent" if comment.get("public", True) else "system")
        messages.append({
            "interaction_id": iid, "source_id": f"{ticket_id}:{seq}", "seq": seq,
            "speaker": speaker, "ts": comment.get("created_at"),
            "text": comment.get("plain_body") or comment.get("body"),
        })
    surveys = []
    rating = ticket.get("satisfaction_rating") or {}
    score = str(rating.get("score") or "").lower() if isinstance(rating, dict) else ""
    if score in CSAT:
        surveys.append({
            "source_id": str(rating.get("id") or f"csat-{ticket_id}"), "interaction_ref": iid,
            "responded_at": rating.get("updated_at") or rating.get("created_at")
            or ticket.get("updated_at"),
            "csat": CSAT[score], "comment": rating.get("comment"),
            "email": row["email"], "phone": row["phone"],
        })
    return {"interactions": [row], "messages": messages, "surveys": surveys}
