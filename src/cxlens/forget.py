"""Erasure (`cxlens forget IDENTIFIER`): remove one person from every table.

The person is the customer behind the identifier (see :func:`cxlens.profile.find_customer`);
when the identity stage has not run yet, the records carrying the identifier are the person.
Removed: their source records in every canonical table, the messages and text insights of their
interactions, their QA results and audio metrics, their identifiers, identity rows (map,
matches, every graph scratch table), customer_360, journeys and journey contacts, scores and
decisions. ``tests/profile/test_forget_everywhere.py`` runs every stage, forgets one person and
scans every column of every table for anything of theirs. The audit log gets one entry naming the erased customer key and
row counts only. Forgetting again finds nothing and says so (idempotent).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from cxlens import schema
from cxlens.errors import NotFoundError

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cxlens.workspace import Workspace

RECORD_KEY = ["record_table", "source", "source_id"]
# derived tables keyed by customer_key
BY_CUSTOMER = ("customer_360", "journeys", "journey_contacts", "scores", "decisions",
               "identity_lookup", "customer_identifiers", "customer_timeline")
# derived tables keyed by interaction_id (texts, QA evidence spans, audio metrics)
INTERACTION_TABLES = ("messages", "interaction_insights", "journey_contacts", "qa_results",
                      "speech_metrics")
# identity scratch tables keyed by node_id (identity_edges_all holds the normalised values)
NODE_TABLES = ("identity_nodes", "identity_edges", "identity_edges_all", "identity_keys",
               "identity_labels_a", "identity_labels_b", "identity_labels_round")


@dataclass
class Erasure:
    """What one ``forget`` removed (counts only: nothing personal)."""

    customer_key: str | None
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def erased(self) -> bool:
        return bool(self.rows)

    def as_dict(self) -> dict[str, Any]:
        return {"erased": self.erased, "customer_key": self.customer_key,
                "rows": dict(sorted(self.rows.items())), "total": sum(self.rows.values())}


def _records(ws: Workspace, identifier: str) -> tuple[str | None, pa.Table]:
    """(customer_key or None, the person's record keys)."""
    from cxlens.profile.reader import candidate_values, find_customers

    wh = ws.warehouse
    keys = find_customers(ws, identifier)
    if len(keys) > 1:
        from cxlens.errors import InputError

        raise InputError(
            f"{identifier!r} is shared by {len(keys)} customers; refusing to erase all of them",
            "forget by something personal: mobile, e-mail, account or order number",
        )
    if keys:
        imap = wh.table("identity_map")
        recs = imap.filter(imap.customer_key == keys[0]).select(*RECORD_KEY)
        return keys[0], recs.to_pyarrow()
    values = candidate_values(ws, identifier.strip())
    ids = wh.table("identifiers")
    mapped = wh.table("identity_map").select(*RECORD_KEY)
    # records not yet resolved (identity not run since they arrived): the identifier's own
    recs = ids.filter(ids.id_value.isin(values or ["\x00"])).select(*RECORD_KEY).distinct()
    recs = recs.anti_join(mapped, RECORD_KEY)
    return None, recs.to_pyarrow()


def _count(t: ir.Table) -> int:
    return int(t.count().execute())


def forget(ws: Workspace, identifier: str, actor: str = "cli") -> Erasure:
    """Erase the person behind ``identifier`` from every table; returns what was removed.

    >>> forget(ws, "138-0013-8000").as_dict()["erased"]   # doctest: +SKIP
    True
    """
    import ibis

    from cxlens import audit

    wh = ws.warehouse
    key, recs = _records(ws, identifier)
    result = Erasure(customer_key=key)
    if recs.num_rows == 0:
        return result
    rec_table = ibis.memtable(recs)
    plan: list[tuple[str, pa.Table]] = []  # (table, key rows to delete)

    def stage(table: str, keys: ir.Table) -> None:
        arrow = keys.distinct().to_pyarrow()
        if arrow.num_rows:
            plan.append((table, arrow))
            result.rows[table] = result.rows.get(table, 0) + arrow.num_rows

    for table in schema.PERSONAL_TABLES:
        t = wh.table(table)
        mine = rec_table.filter(rec_table.record_table == table).select("source", "source_id")
        stage(table, t.semi_join(mine, ["source", "source_id"]).select("source", "source_id"))
    inter = wh.table("interactions")
    mine_i = rec_table.filter(rec_table.record_table == "interactions").select("source", "source_id")
    iids = inter.semi_join(mine_i, ["source", "source_id"]).select("interaction_id")
    for table in INTERACTION_TABLES:
        t = wh.table(table)
        stage(table, t.semi_join(iids, "interaction_id").select("interaction_id"))
    ids = wh.table("identifiers")
    stage("identifiers", ids.semi_join(rec_table, RECORD_KEY).select(*RECORD_KEY))
    imap = wh.table("identity_map")
    stage("identity_map", imap.semi_join(rec_table, RECORD_KEY).select(*RECORD_KEY))
    nodes = wh.table("identity_nodes")
    node_ids = nodes.semi_join(rec_table, RECORD_KEY).select("node_id")
    for table in NODE_TABLES:
        t = wh.table(table)
        stage(table, t.semi_join(node_ids, "node_id").select("node_id"))
    matches = wh.table("identity_matches")
    for side in ("left", "right"):
        cols = [f"{side}_table", f"{side}_source", f"{side}_source_id"]
        on = [matches[c] == rec_table[k] for c, k in zip(cols, RECORD_KEY, strict=True)]
        stage("identity_matches", matches.semi_join(rec_table, on).select(*cols))
    if key is not None:
        for table in BY_CUSTOMER:
            t = wh.table(table)
            stage(table, t.filter(t.customer_key == key).select("customer_key"))
    with wh.transaction():
        for table, keys in plan:
            wh.delete_where(table, keys)
        now = datetime.now(UTC).replace(tzinfo=None)
        if key is not None:
            # keeps the key number retired, so no one else is ever given this person's key
            wh.append("identity_changes", [{"old_key": key, "new_key": None, "change": "erase",
                                            "records": recs.num_rows, "changed_at": now}])
        audit.record(ws, actor=actor, action="forget", target=key or "(unresolved records)",
                     detail=json.dumps({"rows": result.rows, "total": sum(result.rows.values())}))
    return result


def require_found(result: Erasure, identifier: str) -> None:
    """Raise :class:`NotFoundError` when nothing was erased (for callers that need a person)."""
    if not result.erased:
        raise NotFoundError(f"no customer matches {identifier!r}: nothing to erase")
