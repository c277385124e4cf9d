"""The audit log: who read or changed personal data, when. Entries carry no personal data.

Every profile read writes one entry, so the write sits on the agent's critical path. On DuckDB
it is one bound-parameter ``INSERT`` on the warehouse's own connection: no Arrow/pandas
conversion and no temporary view, and — being the same connection — it joins a surrounding
transaction (``cxlens forget`` logs its erasure atomically with the deletes). Committed entries
are durable as soon as the statement returns (DuckDB's write-ahead log), and they are ordinary
``audit_log`` rows, so ``forget``, the tests and any SQL client see every one at once. Other
stores take the generic append.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Final

from cxlens import schema
from cxlens.workspace import Workspace

_COLUMNS: Final = tuple(schema.ALL_TABLES["audit_log"])
# Column names are schema constants, values are bound parameters: nothing from a user in the SQL.
_INSERT: Final = (
    'INSERT INTO "audit_log" (' + ", ".join(f'"{c}"' for c in _COLUMNS) + ") VALUES ("
    + ", ".join(f"${i + 1}" for i in range(len(_COLUMNS))) + ")"
)


def record(ws: Workspace, actor: str, action: str, target: str, detail: str = "") -> str:
    """Append one audit entry and return its id. ``target`` must be a key, never a raw value.

    >>> record(ws, actor="li.na", action="profile.read", target="C0000001234")  # doctest: +SKIP
    '3f1c…'
    """
    event_id = uuid.uuid4().hex
    entry = {
        "event_id": event_id, "at": datetime.now(UTC).replace(tzinfo=None), "actor": actor,
        "action": action, "target": target, "detail": detail,
    }
    wh = ws.warehouse
    raw = getattr(wh.store, "raw", None)
    if raw is None:
        wh.append("audit_log", [entry])
    else:
        raw.execute(_INSERT, [entry[c] for c in _COLUMNS])
    return event_id
