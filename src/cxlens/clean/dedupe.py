"""Duplicate resolution rules (written down in docs/cleaning.md).

1. **Same record twice in one file or across re-exports** — records are keyed by
   ``(source, source_id)``; the *last* occurrence in a file wins (exports append updates), and
   a later ingest of the same source replaces the stored row (upsert). Amazon Connect CTRs keep
   the one with the latest ``LastUpdateTimestamp`` instead of the last in file order.
2. **The same call in two systems** (e.g. the switch's CDR and the cloud contact centre's CTR):
   two phone interactions from *different sources* are the same call when they have the same
   normalised customer phone (E.164, via ``identifiers``), start within
   :data:`SAME_CALL_START_S` seconds of each other and their talk times differ by at most
   :data:`SAME_CALL_TALK_S` second. The richer record (more of queue, agent, answer time, wait,
   talk, hold, ACW, disposition, transfers, text filled in) is kept; on a tie the one stored
   first is kept. The other is moved to ``quarantine`` with reason
   ``duplicate call (same as <interaction_id>)`` — counted as a duplicate, never lost.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from cxlens.workspace import Workspace

SAME_CALL_START_S = 5
SAME_CALL_TALK_S = 1.0
RICH_COLUMNS = ("queue", "agent_id", "answered_at", "wait_s", "talk_s", "hold_s", "acw_s",
                "disposition", "transfers", "text", "audio_ref", "reason")
DUPLICATE_REASON = "duplicate call"


def same_call_pairs(ws: Workspace, ingest_id: str, source: str) -> pa.Table:
    """Pairs (loser, winner) of phone interactions of this ingest that repeat another source's
    call. Columns: loser_source, loser_source_id, winner_id."""
    import ibis

    wh = ws.warehouse
    calls = wh.table("interactions")
    others = calls.filter((calls.source != source) & (calls.channel == "phone"))
    if int(others.count().execute()) == 0:
        return pa.table({"loser_source": pa.array([], pa.string()),
                         "loser_source_id": pa.array([], pa.string()),
                         "winner_id": pa.array([], pa.string())})
    ids = wh.table("identifiers")
    phones = ids.filter((ids.record_table == "interactions") & (ids.id_type == "phone"))
    phones = phones.select("source", "source_id", "id_value")
    def side(expr: ibis.Table, order: int) -> ibis.Table:
        richness = sum(expr[c].notnull().cast("int64") for c in RICH_COLUMNS)
        enriched = expr.mutate(rich=richness, order=ibis.literal(order))
        joined = enriched.join(phones, ["source", "source_id"])
        return joined.select(
            "source", "source_id", "interaction_id", "id_value", "rich", "order",
            epoch=joined.started_at.epoch_seconds(), talk=joined.talk_s.fill_null(0.0),
        )

    new = side(calls.filter((calls.ingest_id == ingest_id) & (calls.channel == "phone")), 1)
    old = side(others, 0).view()
    old = old.rename({f"o_{c}": c for c in old.columns})
    pairs = new.join(old, new.id_value == old.o_id_value)
    pairs = pairs.filter(((pairs.epoch - pairs.o_epoch).abs() <= SAME_CALL_START_S)
                         & ((pairs.talk - pairs.o_talk).abs() <= SAME_CALL_TALK_S))
    new_loses = pairs.rich <= pairs.o_rich
    result = pairs.select(
        loser_source=ibis.ifelse(new_loses, pairs.source, pairs.o_source),
        loser_source_id=ibis.ifelse(new_loses, pairs.source_id, pairs.o_source_id),
        winner_id=ibis.ifelse(new_loses, pairs.o_interaction_id, pairs.interaction_id),
    )
    table = result.to_pyarrow()
    if table.num_rows == 0:
        return table
    # A record loses once, to the first winner found.
    return table.group_by(["loser_source", "loser_source_id"]).aggregate(
        [("winner_id", "min")]).rename_columns(["loser_source", "loser_source_id", "winner_id"])


def resolve_same_calls(ws: Workspace, ingest_id: str, source: str) -> dict[str, int]:
    """Apply rule 2: move the poorer record of each same-call pair to quarantine.

    Returns ``{"this_ingest": n, "earlier_ingests": m}`` — how many duplicates came from this
    file and how many stored rows of other sources were superseded by it.
    """
    pairs = same_call_pairs(ws, ingest_id, source)
    if pairs.num_rows == 0:
        return {"this_ingest": 0, "earlier_ingests": 0}
    import ibis

    from cxlens.clean.quarantine import stamp

    wh = ws.warehouse
    calls = wh.table("interactions")
    keys = ibis.memtable(pairs)
    losers = calls.join(keys, [calls.source == keys.loser_source,
                               calls.source_id == keys.loser_source_id])
    rows = losers.to_pyarrow()
    items = rows.drop_columns(["loser_source", "loser_source_id", "winner_id"]).to_pylist()
    quarantine = pa.table({
        "source": rows.column("source"),
        "record_table": pa.repeat(pa.scalar("interactions", pa.string()), rows.num_rows),
        "locator": rows.column("interaction_id"),
        "reason": pc.binary_join_element_wise(
            pa.repeat(pa.scalar(f"{DUPLICATE_REASON} (same as", pa.string()), rows.num_rows),
            pc.binary_join_element_wise(rows.column("winner_id"), ")", ""), " "),
        "raw": pa.array([json.dumps(r, default=str, ensure_ascii=False) for r in items],
                        pa.string()),
    })
    key_table = rows.select(["source", "source_id"])
    mine = int(pc.sum(pc.equal(rows.column("ingest_id"), ingest_id)).as_py() or 0)
    with wh.transaction():
        wh.delete_where("interactions", key_table)
        wh.delete_where("identifiers", key_table.append_column(
            "record_table", pa.repeat(pa.scalar("interactions", pa.string()), rows.num_rows)))
        wh.append("quarantine", stamp(quarantine, ingest_id))
    return {"this_ingest": mine, "earlier_ingests": rows.num_rows - mine}


def keep_last(rows: pa.Table, key: str = "source_id") -> tuple[pa.Table, int]:
    """Drop earlier rows whose key repeats later in the batch (the last export line wins)."""
    if rows.num_rows == 0:
        return rows, 0
    indexed = rows.append_column("_i", pa.array(range(rows.num_rows), pa.int64()))
    last = indexed.group_by(key, use_threads=False).aggregate([("_i", "max")])
    if last.num_rows == rows.num_rows:
        return rows, 0
    keep = pc.sort_indices(last.column("_i_max"))
    taken = rows.take(pc.take(last.column("_i_max"), keep))
    return taken, rows.num_rows - taken.num_rows
