"""The canonical tables: the contract between stages (see docs/data-model.md).

Names are fixed; columns may be added (the warehouse migrates by adding missing columns).
Timestamps are naive and in UTC; the local zone is a setting used only for display and slicing.
Every source record is keyed by ``(source, source_id)``, unique within its table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import pyarrow as pa

if TYPE_CHECKING:
    import ibis

S, I, F, B, T, D = "string", "int64", "float64", "boolean", "timestamp", "date"  # noqa: E741

_ARROW = {
    S: pa.string(), I: pa.int64(), F: pa.float64(), B: pa.bool_(), T: pa.timestamp("us"),
    D: pa.date32(),
}

# id_type vocabulary of the identifiers table
ID_TYPES: Final = ("phone", "email", "account", "device", "social", "wechat", "order")
CHANNELS: Final = ("phone", "ivr", "chat", "email", "web", "app", "social", "sms", "store")
DIRECTIONS: Final = ("inbound", "outbound", "internal")
SPEAKERS: Final = ("customer", "agent", "bot", "system")

_RECORD = {"source": S, "source_id": S}
_CONTACT_IDS = {"phone": S, "email": S, "account": S, "handle": S, "device": S}
_LOAD = {"ingest_id": S}

CANONICAL: Final[dict[str, dict[str, str]]] = {
    "parties": {
        **_RECORD, "name": S, "birth_date": D, "gender": S, "city": S, "region": S, "tier": S,
        "language": S, "plan": S, "created_at": T, **_CONTACT_IDS, "wechat": S, **_LOAD,
    },
    "identifiers": {
        "record_table": S, **_RECORD, "id_type": S, "id_value": S, "raw_value": S, **_LOAD,
    },
    "interactions": {
        "interaction_id": S, **_RECORD, "channel": S, "direction": S, "queue": S, "agent_id": S,
        "started_at": T, "answered_at": T, "ended_at": T, "wait_s": F, "talk_s": F, "hold_s": F,
        "acw_s": F, "transfers": I, "abandoned": B, "disposition": S, "resolved": B, "reason": S,
        "language": S, "subject": S, "text": S, "audio_ref": S, "contact_name": S,
        "contact_city": S, **_CONTACT_IDS, "thread_id": S, "wechat": S, **_LOAD,
        # the CRM case / ticket number the contact was logged under (follow-ups reference it)
        "case_id": S,
    },
    "messages": {
        "interaction_id": S, **_RECORD, "seq": I, "speaker": S, "ts": T, "text": S, **_LOAD,
    },
    "orders": {
        **_RECORD, "ordered_at": T, "amount": F, "currency": S, "product": S, "status": S,
        "order_channel": S, **_CONTACT_IDS, **_LOAD,
    },
    "web_events": {
        **_RECORD, "session_id": S, "ts": T, "page": S, "event_type": S, "dwell_s": F,
        **_CONTACT_IDS, **_LOAD,
    },
    "surveys": {
        **_RECORD, "interaction_ref": S, "sent_at": T, "responded_at": T, "csat": I, "nps": I,
        "ces": I, "comment": S, "language": S, **_CONTACT_IDS, **_LOAD,
    },
    "outreach": {
        **_RECORD, "campaign": S, "variant": S, "channel": S, "sent_at": T, "responded_at": T,
        "converted": B, **_CONTACT_IDS, **_LOAD,
    },
    "agents": {
        **_RECORD, "name": S, "team": S, "skills": S, "site": S, "hired_at": T, "phone": S,
        **_LOAD,
    },
    "cases": {
        **_RECORD, "interaction_ref": S, "opened_at": T, "closed_at": T, "status": S, "reason": S,
        "priority": S, "subject": S, **_CONTACT_IDS, **_LOAD,
    },
    "quarantine": {
        "source": S, "record_table": S, "locator": S, "reason": S, "raw": S, "ingest_id": S,
        "quarantined_at": T,
    },
    "ingest_log": {
        "ingest_id": S, "source": S, "format": S, "path": S, "sha256": S, "rows_read": I,
        "rows_stored": I, "rows_quarantined": I, "rows_duplicate": I, "started_at": T,
        "finished_at": T, "status": S, "detail": S,
    },
}

DERIVED: Final[dict[str, dict[str, str]]] = {
    "identity_map": {
        "record_table": S, **_RECORD, "customer_key": S, "method": S, "updated_at": T,
    },
    "identity_changes": {
        "old_key": S, "new_key": S, "change": S, "records": I, "changed_at": T,
    },
    "identity_matches": {
        "left_table": S, "left_source": S, "left_source_id": S, "right_table": S,
        "right_source": S, "right_source_id": S, "match_weight": F, "match_probability": F,
        "matched_at": T,
    },
    # scratch tables of the identity stage (node ids, graph edges, label-propagation rounds)
    "identity_nodes": {"node_id": I, "record_table": S, **_RECORD},
    "identity_edges": {"node_id": I, "edge": S, "kind": S},
    "identity_edges_all": {"node_id": I, "edge": S, "kind": S},
    "identity_labels_a": {"node_id": I, "label": I},
    "identity_labels_b": {"node_id": I, "label": I},
    "identity_labels_round": {"node_id": I, "label": I},
    "identity_keys": {"node_id": I, "customer_key": S, "method": S, "updated_at": T},
    "journeys": {
        "journey_id": S, "customer_key": S, "reason": S, "started_at": T, "ended_at": T,
        "contacts": I, "assisted_contacts": I, "channels": S, "channel_path": S,
        "duration_h": F, "resolved": B, "first_contact_resolved": B, "transfers": I,
        "effort_score": F, "self_service_touches": I, "abandoned_contacts": I,
        "first_channel": S, "wait_s": F,
    },
    # One row per touch of a journey (interactions, plus linked web sessions as self-service
    # touches): the flags every journey KPI (true/channel FCR, repeat rate, containment) reads.
    "journey_contacts": {
        "journey_id": S, "interaction_id": S, "seq": I, "customer_key": S, "channel": S,
        "started_at": T, "reason": S, "kind": S, "first_assisted": B, "repeat_any": B, "repeat_channel": B,
        "followed_by_assisted": B, "offered": B, "resolved": B,
    },
    # Daily KPI numerators/denominators per (local day, channel, queue, reason, language): what
    # the dashboard overview reads instead of scanning interactions (see docs/kpis.md).
    "kpi_rollup": {
        "day": D, "channel": S, "queue": S, "reason": S, "language": S, "kpi": S,
        "numerator": F, "denominator": F, "fingerprint": S, "built_at": T, "tier": S,
    },
    # The same per agent (with the agent's team): the agents page and KPIs sliced by agent/team.
    "kpi_rollup_agents": {
        "day": D, "channel": S, "queue": S, "tier": S, "agent": S, "team": S, "kpi": S,
        "numerator": F, "denominator": F, "fingerprint": S, "built_at": T,
    },
    # Offered contacts per local day × hour (the overview heatmap) and the distinct customers
    # per local day (contacts per customer, a distinct count that daily sums cannot give).
    "kpi_rollup_hourly": {
        "day": D, "hour": I, "channel": S, "queue": S, "reason": S, "language": S,
        "contacts": I, "fingerprint": S, "tier": S,
    },
    "kpi_rollup_customers": {
        "day": D, "channel": S, "queue": S, "reason": S, "language": S, "customer_no": I,
        "contacts": I, "fingerprint": S, "tier": S,
    },
    "interaction_insights": {
        "interaction_id": S, "language": S, "sentiment": F, "sentiment_label": S,
        "sentiment_start": F, "sentiment_end": F, "intent": S, "intent_confidence": F,
        "redacted_text": S, "pii_found": I, "qa_score": F, "qa_passed": B, "keywords": S,
        "sub_intent": S,
    },
    "topics": {
        "period": S, "reason": S, "term": S, "count": I, "docs": I, "share": F,
        "baseline_share": F, "lift": F, "emerging": B,
    },
    "scores": {"customer_key": S, "model": S, "score": F, "label": S, "reasons": S, "scored_at": T},
    "customer_360": {
        "customer_key": S, "profile_json": S, "updated_at": T, "name": S, "tier": S,
        "city": S, "segment": S, "records": I, "orders": I, "spend": F, "contacts_90d": I,
        "last_contact_at": T, "open_cases": I,
    },
    # point-lookup tables of the profile stage, sorted by their first column (see docs/identity.md)
    "identity_lookup": {"id_value": S, "id_type": S, "customer_key": S},
    "customer_identifiers": {
        "customer_key": S, "id_type": S, "id_value": S, "written": S, "records": I, "sources": I,
    },
    "customer_timeline": {
        "customer_key": S, "at": T, "kind": S, "channel": S, "detail": S, "ref": S,
    },
    "decisions": {
        "decision_id": S, "kind": S, "customer_key": S, "request": S, "answer": S,
        "reasons": S, "decided_at": T,
    },
    "audit_log": {
        "event_id": S, "at": T, "actor": S, "action": S, "target": S, "detail": S,
    },
    "users": {
        "username": S, "role": S, "password_hash": S, "api_key_hash": S, "created_at": T,
        "disabled": B,
    },
    "stage_runs": {
        "stage": S, "fingerprint": S, "started_at": T, "finished_at": T, "summary": S,
    },
    "qa_results": {
        "interaction_id": S, "agent_id": S, "rule": S, "passed": B, "applicable": B,
        "weight": F, "evidence": S, "score": F, "scored_at": T,
    },
    "speech_metrics": {
        "interaction_id": S, "audio_ref": S, "status": S, "engine": S, "language": S,
        "channels": I, "duration_s": F, "talk_s": F, "agent_talk_s": F, "customer_talk_s": F,
        "talk_ratio": F, "silence_share": F, "longest_silence_s": F, "longest_silence_at_s": F,
        "overtalk_s": F,
        "overtalk_share": F, "segments": I, "rtf": F, "processed_at": T,
    },
}

ALL_TABLES: Final[dict[str, dict[str, str]]] = {**CANONICAL, **DERIVED}

# Tables whose rows belong to one person: ``forget`` and the identity graph walk these.
PERSONAL_TABLES: Final = (
    "parties", "interactions", "orders", "web_events", "surveys", "outreach", "cases",
)


def ibis_schema(table: str) -> ibis.Schema:
    """The Ibis schema of a canonical or derived table."""
    import ibis
    import ibis.expr.datatypes as dt

    return ibis.schema({k: dt.dtype(v) for k, v in ALL_TABLES[table].items()})


def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema of a table (timestamps in microseconds, naive UTC)."""
    return pa.schema([pa.field(k, _ARROW[v]) for k, v in ALL_TABLES[table].items()])


def conform(table: str, data: pa.Table) -> pa.Table:
    """Cast ``data`` to the table's Arrow schema, adding missing columns as nulls.

    Columns the schema does not know are dropped; the caller decides whether that is an error.
    """
    target = arrow_schema(table)
    columns = []
    for field in target:
        if field.name in data.column_names:
            columns.append(data.column(field.name).cast(field.type))
        else:
            columns.append(pa.nulls(data.num_rows, type=field.type))
    return pa.Table.from_arrays(columns, schema=target)

# Contact-reason codes shared by synth, journeys and the intent taxonomy (text/taxonomy.yaml).
REASONS: Final = (
    "billing", "delivery", "technical", "account_access", "product_enquiry", "cancellation",
    "complaint", "refund",
)


def interaction_id(source: str, source_id: str) -> str:
    """The global id of an interaction: ``source:source_id``."""
    return f"{source}:{source_id}"
