"""Chatwoot webhook payloads and conversation exports → ``interactions`` + ``messages``.

Records (JSON Lines of webhook deliveries, an array of them, or exported conversations) are:

* webhook events with ``"event"``: ``conversation_created``, ``conversation_updated``,
  ``conversation_status_changed``, ``conversation_resolved`` (payload = the conversation:
  ``id, inbox_id, status`` open|resolved|pending|snoozed, ``channel`` e.g. ``Channel::WebWidget``,
  ``meta {sender {id, name, email, phone_number}, assignee {id, name}}, messages [...],
  created_at, timestamp, labels, additional_attributes``) and ``message_created`` /
  ``message_updated`` (payload = the message: ``id, content, message_type`` incoming|outgoing|
  activity|template, ``private, created_at, sender {type contact|user, ...}, conversation {...}``);
* exported conversations: the conversation object with its ``messages``.

All records about one conversation are merged into one interaction (later non-empty values win;
messages keyed by message id), so ``read`` counts records and the merged ones are reported as
duplicates. The file is held in memory while merging (webhook logs are per day or hour).
Times are epoch seconds or ISO 8601 (both accepted). ``incoming`` messages are customer turns,
``outgoing`` agent turns (``bot`` when the sender is an agent bot), activity/private ones system.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cxlens import schema
from cxlens.connectors.base import Batch, ReadOptions, quarantine_rows
from cxlens.connectors.jsonio import JsonRecord, iter_records
from cxlens.connectors.records import Reject, Rows, batches_from_records

CHANNEL = {"channel::webwidget": "chat", "channel::api": "chat", "channel::email": "email",
           "channel::whatsapp": "social", "channel::facebookpage": "social",
           "channel::twitterprofile": "social", "channel::telegram": "social",
           "channel::line": "social", "channel::sms": "sms", "channel::twiliosms": "sms",
           "channel::instagram": "social", "channel::voice": "phone"}
CONVERSATION_EVENTS = {"conversation_created", "conversation_updated",
                       "conversation_status_changed", "conversation_resolved",
                       "conversation_opened", None}
MESSAGE_EVENTS = {"message_created", "message_updated"}


class ChatwootConnector:
    name = "chatwoot"
    description = "Chatwoot webhook payloads (JSON Lines / array) and conversation exports"
    tables = ("interactions", "messages")

    def sniff(self, path: Path, head: bytes) -> bool:
        text = head[:16384]
        return (b'"message_created"' in text or b'"conversation_' in text
                or (b'"inbox_id"' in text and b'"message_type"' in text))

    def read(self, path: Path, options: ReadOptions) -> Iterator[Batch]:
        conversations: dict[str, dict[str, Any]] = {}
        first_locator: dict[str, str] = {}
        rejected: list[tuple[str, str, str]] = []
        records = 0
        position = 0
        for record in iter_records(path, options.encoding, ("payload", "data")):
            records += 1
            position = record.position
            if record.error is not None:
                rejected.append((record.locator, record.error, record.raw))
                continue
            try:
                key, state = _fold(record.value)
            except Reject as exc:
                import json

                rejected.append((record.locator, str(exc), json.dumps(record.value, default=str,
                                                                     ensure_ascii=False)))
                continue
            if key in conversations:
                _merge(conversations[key], state)
            else:
                conversations[key] = state
                first_locator[key] = record.locator
        merged = records - len(rejected) - len(conversations)
        yield Batch("interactions", schema.arrow_schema("interactions").empty_table(),
                    quarantine_rows(options.source, "interactions", rejected),
                    read=len(rejected) + merged, duplicates=merged, position=position)
        items = (JsonRecord(first_locator[k], v, "", None, position)
                 for k, v in conversations.items())
        yield from batches_from_records(items, lambda c: to_rows(c, options.source),
                                        "interactions", options)


def _time(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC).replace(tzinfo=None).isoformat() + "Z"
    return value


def _fold(payload: Any) -> tuple[str, dict[str, Any]]:
    """(conversation id, partial state) of one record."""
    if not isinstance(payload, dict):
        raise Reject("record is not a JSON object")
    event = payload.get("event")
    if event in MESSAGE_EVENTS or (event is None and "message_type" in payload):
        conversation = payload.get("conversation") or {}
        cid = conversation.get("id") or payload.get("conversation_id")
        if cid is None:
            raise Reject("message without conversation id")
        state = _conversation_state(conversation)
        state["messages"] = {str(payload.get("id")): payload}
        return str(cid), state
    if event in CONVERSATION_EVENTS:
        cid = payload.get("id")
        if cid is None:
            raise Reject("conversation without id")
        state = _conversation_state(payload)
        state["messages"] = {str(m.get("id")): m for m in payload.get("messages") or []
                             if isinstance(m, dict)}
        return str(cid), state
    raise Reject(f"event {event!r} carries no conversation")


def _conversation_state(conv: dict[str, Any]) -> dict[str, Any]:
    meta = conv.get("meta") or {}
    sender = meta.get("sender") or conv.get("contact") or {}
    assignee = meta.get("assignee") or {}
    return {
        "id": conv.get("id"),
        "status": conv.get("status"),
        "channel": conv.get("channel") or (conv.get("inbox") or {}).get("channel_type"),
        "inbox_id": conv.get("inbox_id"),
        "created_at": _time(conv.get("created_at")),
        "last_activity_at": _time(conv.get("last_activity_at") or conv.get("timestamp")),
        "contact_name": sender.get("name"),
        "email": sender.get("email"),
        "phone": sender.get("phone_number"),
        "agent_id": None if assignee.get("id") is None else str(assignee.get("id")),
        "labels": conv.get("labels"),
        "attributes": conv.get("custom_attributes") or {},
    }


def _merge(held: dict[str, Any], new: dict[str, Any]) -> None:
    for key, value in new.items():
        if key == "messages":
            held["messages"].update(value)
        elif value not in (None, "", [], {}):
            held[key] = value


def to_rows(conv: dict[str, Any], source: str) -> Rows:
    """A merged conversation → one interaction and its turns."""
    cid = str(conv["id"])
    iid = schema.interaction_id(source, cid)
    messages = sorted(conv["messages"].values(),
                      key=lambda m: (str(_time(m.get("created_at")) or ""), str(m.get("id"))))
    turns = []
    for seq, message in enumerate(messages):
        kind = str(message.get("message_type"))
        sender_type = str((message.get("sender") or {}).get("type") or "").lower()
        speaker = ("system" if kind in ("activity", "2") or message.get("private") else
                   "customer" if kind in ("incoming", "0") else
                   "bot" if "bot" in sender_type else "agent")
        turns.append({"interaction_id": iid, "source_id": f"{cid}:{seq}", "seq": seq,
                      "speaker": speaker, "ts": _time(message.get("created_at")),
                      "text": message.get("content")})
    status = str(conv.get("status") or "") or None
    started = conv.get("created_at") or (turns[0]["ts"] if turns else None)
    if not started:
        raise Reject("conversation without a start time")
    ended = conv.get("last_activity_at") or (turns[-1]["ts"] if turns else None)
    labels = conv.get("labels") or []
    reason = next((str(x) for x in labels if str(x) in schema.REASONS), None) \
        if isinstance(labels, list) else None
    attrs = conv.get("attributes") or {}
    row = {
        "source_id": cid,
        "channel": CHANNEL.get(str(conv.get("channel") or "").lower(), "chat"),
        "direction": "inbound",
        "queue": None if conv.get("inbox_id") is None else str(conv["inbox_id"]),
        "agent_id": conv.get("agent_id"),
        "started_at": started,
        "ended_at": ended if status == "resolved" else None,
        "disposition": attrs.get("disposition") or status,
        "resolved": status == "resolved" if status else None,
        "reason": reason or attrs.get("reason"),
        "contact_name": conv.get("contact_name"),
        "email": conv.get("email"),
        "phone": conv.get("phone"),
        "account": attrs.get("account"),
        "language": attrs.get("language"),
        "text": "\n".join(str(t["text"]) for t in turns if t["text"]) or None,
    }
    return {"interactions": [row], "messages": turns}
