"""The data-quality report: where every row went and how good what arrived is.

``report(ws)`` returns plain JSON-ready data (the CLI prints it; the web UI renders it):

* ``ingests`` — per source and format: files loaded, rows read / stored / quarantined /
  duplicates (from ``ingest_log``), failed attempts, last load, and ``unaccounted`` (read minus
  the other three: always 0 unless something is wrong);
* ``tables`` — per canonical table and source: rows, null rate of each key column, duplicate
  keys, time coverage (first/last of the table's main timestamp) and value ranges of numeric
  columns;
* ``quarantine`` — rows per source, table and reason;
* ``totals`` — the same counts summed.

Every figure is one Ibis aggregate per table, so it runs on DuckDB and PySpark alike.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from cxlens import schema
from cxlens.workspace import Workspace

RECORD_TABLES = ("parties", "interactions", "messages", "orders", "web_events", "surveys",
                 "outreach", "agents", "cases")
KEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "parties": ("name", "phone", "email", "account", "city", "tier", "created_at"),
    "interactions": ("channel", "direction", "started_at", "ended_at", "phone", "email",
                     "account", "queue", "agent_id", "disposition", "talk_s"),
    "messages": ("interaction_id", "seq", "speaker", "ts", "text"),
    "orders": ("ordered_at", "amount", "status", "phone", "account"),
    "web_events": ("ts", "session_id", "page", "event_type", "account", "device"),
    "surveys": ("responded_at", "csat", "nps", "ces", "interaction_ref"),
    "outreach": ("campaign", "channel", "sent_at", "responded_at", "converted"),
    "agents": ("name", "team", "site", "hired_at"),
    "cases": ("opened_at", "closed_at", "status", "reason", "interaction_ref"),
}
TIME_COLUMN = {
    "parties": "created_at", "interactions": "started_at", "messages": "ts",
    "orders": "ordered_at", "web_events": "ts", "surveys": "responded_at",
    "outreach": "sent_at", "agents": "hired_at", "cases": "opened_at",
}


def _numeric_columns(table: str) -> list[str]:
    return [c for c, t in schema.CANONICAL[table].items() if t in ("int64", "float64")]


def _plain(value: Any) -> Any:
    if hasattr(value, "item") and not isinstance(value, datetime | date):
        value = value.item()
    if isinstance(value, float) and value != value:  # NaN
        return None
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def table_profile(ws: Workspace, table: str) -> list[dict[str, Any]]:
    """Per-source profile of one canonical table (one aggregate query)."""
    t = ws.warehouse.table(table)
    metrics: dict[str, Any] = {"rows": t.count(), "distinct_keys": t.source_id.nunique()}
    keys = [c for c in KEY_COLUMNS.get(table, ()) if c in t.columns]
    for column in keys:
        metrics[f"null__{column}"] = t[column].isnull().sum()
    time_column = TIME_COLUMN.get(table)
    if time_column in t.columns:
        metrics["time_from"] = t[time_column].min()
        metrics["time_to"] = t[time_column].max()
    numeric = [c for c in _numeric_columns(table) if c in t.columns]
    for column in numeric:
        metrics[f"min__{column}"] = t[column].min()
        metrics[f"max__{column}"] = t[column].max()
    grouped = t.group_by("source").aggregate(**metrics).order_by("source")
    out = []
    for row in grouped.to_pyarrow().to_pylist():
        rows = int(row["rows"] or 0)
        out.append({
            "table": table,
            "source": row["source"],
            "rows": rows,
            "duplicate_keys": rows - int(row["distinct_keys"] or 0),
            "null_rates": {c: round(int(row[f"null__{c}"] or 0) / rows, 4) if rows else 0.0
                           for c in keys},
            "time_from": _plain(row.get("time_from")),
            "time_to": _plain(row.get("time_to")),
            "ranges": {c: [_plain(row[f"min__{c}"]), _plain(row[f"max__{c}"])] for c in numeric
                       if row[f"min__{c}"] is not None},
        })
    return out


def ingest_summary(ws: Workspace) -> list[dict[str, Any]]:
    """Per source and format: counts of successful ingests, failures, last load."""
    log = ws.warehouse.table("ingest_log")
    ok = log.status == "loaded"
    grouped = log.group_by(["source", "format"]).aggregate(
        files=ok.cast("int64").sum(),
        failed=(log.status == "failed").cast("int64").sum(),
        read=ok.ifelse(log.rows_read, 0).sum(),
        stored=ok.ifelse(log.rows_stored, 0).sum(),
        quarantined=ok.ifelse(log.rows_quarantined, 0).sum(),
        duplicates=ok.ifelse(log.rows_duplicate, 0).sum(),
        last_loaded=log.finished_at.max(),
    ).order_by(["source", "format"])
    out = []
    for row in grouped.to_pyarrow().to_pylist():
        doc = {k: _plain(v) if not isinstance(v, int) else v for k, v in row.items()}
        for key in ("files", "failed", "read", "stored", "quarantined", "duplicates"):
            doc[key] = int(doc[key] or 0)
        doc["unaccounted"] = doc["read"] - doc["stored"] - doc["quarantined"] - doc["duplicates"]
        out.append(doc)
    return out


def recent_ingests(ws: Workspace, limit: int = 20) -> list[dict[str, Any]]:
    log = ws.warehouse.table("ingest_log")
    rows = log.order_by(log.finished_at.desc()).limit(limit).to_pyarrow().to_pylist()
    return [{k: _plain(v) for k, v in row.items()} for row in rows]


def quarantine_summary(ws: Workspace) -> list[dict[str, Any]]:
    q = ws.warehouse.table("quarantine")
    grouped = q.group_by(["source", "record_table", "reason"]).aggregate(rows=q.count())
    grouped = grouped.order_by([grouped.source, grouped.record_table, grouped.rows.desc()])
    return [{**row, "rows": int(row["rows"])} for row in grouped.to_pyarrow().to_pylist()]


def report(ws: Workspace) -> dict[str, Any]:
    """The whole data-quality report as JSON-ready data (see the module docstring).

    >>> import cxlens, cxlens.quality
    >>> doc = cxlens.quality.report(cxlens.open("demo-ws"))   # doctest: +SKIP
    >>> doc["totals"]["unaccounted"]                          # doctest: +SKIP
    0
    """
    tables = [p for t in RECORD_TABLES for p in table_profile(ws, t)]
    ingests = ingest_summary(ws)
    quarantine = quarantine_summary(ws)
    totals = {k: sum(i[k] for i in ingests)
              for k in ("files", "failed", "read", "stored", "quarantined", "duplicates",
                        "unaccounted")}
    totals["quarantine_rows"] = sum(q["rows"] for q in quarantine)
    totals["stored_rows_by_table"] = {
        t: sum(p["rows"] for p in tables if p["table"] == t) for t in RECORD_TABLES}
    return {"ingests": ingests, "recent": recent_ingests(ws), "tables": tables,
            "quarantine": quarantine, "totals": totals}
