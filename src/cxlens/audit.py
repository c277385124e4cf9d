"""The audit log: who read or changed personal data, when. Entries carry no personal data."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from cxlens.workspace import Workspace


def record(ws: Workspace, actor: str, action: str, target: str, detail: str = "") -> str:
    """Append one audit entry and return its id. ``target`` must be a key, never a raw value."""
    event_id = uuid.uuid4().hex
    ws.warehouse.append("audit_log", [{
        "event_id": event_id, "at": datetime.now(UTC).replace(tzinfo=None), "actor": actor,
        "action": action, "target": target, "detail": detail,
    }])
    return event_id
