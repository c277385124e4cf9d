"""Amazon Connect contact trace records (CTR) → ``interactions``.

Fields per the Amazon Connect *Contact records data model*: ``ContactId``, ``Channel``
(VOICE, CHAT, TASK, EMAIL), ``InitiationMethod`` (INBOUND, OUTBOUND, TRANSFER, QUEUE_TRANSFER,
CALLBACK, API, DISCONNECT, ...), ``InitiationTimestamp``, ``DisconnectTimestamp``,
``LastUpdateTimestamp``, ``CustomerEndpoint {Address, Type}``, ``Queue {Name, EnqueueTimestamp,
DequeueTimestamp, Duration}``, ``Agent {Username, ConnectedToAgentTimestamp,
AgentInteractionDuration, CustomerHoldDuration, NumberOfHolds, AfterContactWorkDuration}``,
``TransferCompletedTimestamp``, ``DisconnectReason``, ``Recording {Location}``, ``Attributes``
(contact attributes set by flows). Timestamps are ISO 8601 UTC.

Delivery is at-least-once and a contact's CTR is re-sent when updated: per ContactId the record
with the latest ``LastUpdateTimestamp`` is kept (the others count as duplicates); across files,
the later ingest wins. JSON Lines (the Kinesis Firehose layout), a JSON array, or concatenated
lines of arrays are accepted.

Mapping: abandoned = enqueued but never connected to an agent; wait_s = Queue.Duration;
talk_s = Agent.AgentInteractionDuration; hold_s = Agent.CustomerHoldDuration; acw_s =
Agent.AfterContactWorkDuration; transfers = 1 when TransferCompletedTimestamp is set. Contact
attributes ``reason``/``contact_reason``, ``account``, ``email``, ``language``, ``customer_name``
fill the matching canonical columns.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cxlens.connectors.base import Batch, ReadOptions
from cxlens.connectors.jsonio import JsonRecord, iter_records
from cxlens.connectors.records import Reject, Rows, batches_from_records

CHANNEL = {"VOICE": "phone", "CHAT": "chat", "TASK": "web", "EMAIL": "email"}
OUTBOUND = {"OUTBOUND", "CALLBACK", "API", "CAMPAIGN"}
# Contact attributes (set by flows and wrap-up) that fill canonical columns.
ATTRIBUTES = {"reason": "reason", "contact_reason": "reason", "account": "account",
              "accountnumber": "account", "email": "email", "language": "language",
              "customer_name": "contact_name", "customername": "contact_name",
              "disposition": "disposition", "wrapup": "disposition", "resolved": "resolved"}
_TRUE = {"true", "1", "yes", "y"}


class AmazonConnectConnector:
    name = "amazon-connect"
    description = "Amazon Connect contact trace records (JSON Lines or array)"
    tables = ("interactions",)

    def sniff(self, path: Path, head: bytes) -> bool:
        text = head[:8192]
        return b'"ContactId"' in text and (b'"InitiationMethod"' in text or b'"Channel"' in text)

    def read(self, path: Path, options: ReadOptions) -> Iterator[Batch]:
        latest = _latest_versions(path, options.encoding)
        records = _mark_superseded(iter_records(path, options.encoding), latest)
        yield from batches_from_records(records, to_rows, "interactions", options)


def _key(value: Any) -> tuple[str, str] | None:
    if not isinstance(value, dict) or not value.get("ContactId"):
        return None
    return str(value["ContactId"]), str(value.get("LastUpdateTimestamp") or "")


def _latest_versions(path: Path, encoding: str | None) -> dict[str, tuple[str, str]]:
    """First pass: ContactId → (latest LastUpdateTimestamp, locator of the record holding it)."""
    latest: dict[str, tuple[str, str]] = {}
    for record in iter_records(path, encoding):
        key = _key(record.value) if record.error is None else None
        if key is None:
            continue
        contact, updated = key
        held = latest.get(contact)
        # ISO-8601 UTC strings of one feed compare in time order; ties → the later record
        if held is None or updated >= held[0]:
            latest[contact] = (updated, record.locator)
    return latest


def _mark_superseded(records: Iterator[JsonRecord],
                     latest: dict[str, tuple[str, str]]) -> Iterator[JsonRecord]:
    for record in records:
        key = _key(record.value) if record.error is None else None
        if key is not None and latest.get(key[0], ("", record.locator))[1] != record.locator:
            record.duplicate = True
        yield record


def _get(node: Any, *path: str) -> Any:
    for part in path:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def to_rows(ctr: Any) -> Rows:
    """One CTR → one interaction row."""
    if not isinstance(ctr, dict):
        raise Reject("record is not a JSON object")
    contact_id = ctr.get("ContactId")
    if not contact_id:
        raise Reject("missing ContactId")
    agent = ctr.get("Agent") or {}
    queue = ctr.get("Queue") or {}
    method = str(ctr.get("InitiationMethod") or "").upper()
    connected = _get(agent, "ConnectedToAgentTimestamp")
    enqueued = _get(queue, "EnqueueTimestamp")
    abandoned = bool(enqueued) and not connected
    channel_raw = str(ctr.get("Channel") or "VOICE").upper()
    transferred = bool(ctr.get("TransferCompletedTimestamp"))
    disposition = "abandoned" if abandoned else (
        "transferred" if transferred else "answered" if connected else "no_answer")
    endpoint = ctr.get("CustomerEndpoint") or {}
    address = endpoint.get("Address") if isinstance(endpoint, dict) else None
    row: dict[str, Any] = {
        "source_id": str(contact_id),
        "channel": CHANNEL.get(channel_raw, channel_raw.lower()),
        "direction": "outbound" if method in OUTBOUND else "inbound",
        "queue": queue.get("Name"),
        "agent_id": agent.get("Username"),
        "started_at": ctr.get("InitiationTimestamp"),
        "answered_at": connected,
        "ended_at": ctr.get("DisconnectTimestamp"),
        "wait_s": queue.get("Duration"),
        "talk_s": agent.get("AgentInteractionDuration"),
        "hold_s": agent.get("CustomerHoldDuration"),
        "acw_s": agent.get("AfterContactWorkDuration"),
        "transfers": 1 if transferred else 0,
        "abandoned": abandoned,
        "disposition": disposition,
        "audio_ref": _get(ctr, "Recording", "Location"),
    }
    if endpoint.get("Type", "TELEPHONE_NUMBER") == "TELEPHONE_NUMBER":
        row["phone"] = address
    elif address and "@" in str(address):
        row["email"] = address
    attributes = ctr.get("Attributes") or {}
    if isinstance(attributes, dict):
        for key, value in attributes.items():
            target = ATTRIBUTES.get(str(key).lower())
            if target == "resolved" and value not in (None, ""):
                row[target] = str(value).strip().lower() in _TRUE
            elif target and value not in (None, ""):
                row[target] = value
    if not row["started_at"]:
        raise Reject("missing InitiationTimestamp")
    return {"interactions": [row]}
