"""Stable customer keys: components in, ``customer_key`` per record out, merges/splits logged.

Keys are ``C`` + ten digits, handed out in increasing order, so the *oldest* key is the smallest.
Re-running keeps every existing key whose records stay together:

* each old key is claimed by the component holding most of its records (ties: smaller label);
* a component keeps the oldest key it claimed; the other keys it claimed are *merged* into it;
* an old key's records left in other components get new keys (a *split*);
* components with no old key get new keys, numbered in order of their smallest record.

Old → new pairs go to ``identity_changes`` so downstream tables keyed by customer survive.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from cxlens.identity.graph import RECORD_KEY

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cxlens.warehouse import Warehouse

KEY_PREFIX = "C"
KEY_DIGITS = 10


def format_key(number: int) -> str:
    """``format_key(12) == 'C0000000012'``."""
    return f"{KEY_PREFIX}{number:0{KEY_DIGITS}d}"


def key_expr(number: ir.IntegerValue) -> ir.StringValue:
    import ibis

    return ibis.literal(KEY_PREFIX).concat(number.cast("string").lpad(KEY_DIGITS, "0"))


def highest_key_number(wh: Warehouse) -> int:
    """The largest key number ever handed out (live, merged away, split or erased)."""
    candidates: list[str] = []
    current = wh.table("identity_map").customer_key.max().execute()
    changes = wh.table("identity_changes")
    candidates.extend(v for v in (current, changes.old_key.max().execute(),
                                  changes.new_key.max().execute()) if isinstance(v, str))
    numbers = [int(v[len(KEY_PREFIX):]) for v in candidates
               if v.startswith(KEY_PREFIX) and v[len(KEY_PREFIX):].isdigit()]
    return max(numbers, default=0)


def assign(wh: Warehouse, labels: ir.Table, now: datetime,
           fuzzy_nodes: ir.Table | None = None) -> tuple[ir.Table, ir.Table]:
    """Expressions for the new keys by node (→ :func:`identity_map`) and the key changes.

    ``labels`` holds (node_id, label) of the linked records (:func:`graph.components`); a
    record absent from it is a component of its own. ``fuzzy_nodes`` (node_id): the records
    a probabilistic match joined, when the caller has them (else read from
    ``identity_edges_all``).
    """
    import ibis

    from cxlens.identity.graph import label_of

    nodes = wh.table("identity_nodes")
    cur = label_of(nodes, labels)
    old_map = wh.table("identity_map")
    old = old_map.select(*RECORD_KEY, old_key=old_map.customer_key,
                         old_updated=old_map.updated_at)
    # ``splink`` method: a probabilistic match joined the record (Splink's memberships are
    # never excluded: read from every membership)
    if fuzzy_nodes is None:
        edges = wh.table("identity_edges_all")
        fuzzy_nodes = edges.filter(edges.kind == "splink").select("node_id")
    fuzzy = fuzzy_nodes.select(fz=fuzzy_nodes.node_id).distinct()
    j = cur.left_join(old, list(RECORD_KEY)).left_join(fuzzy, ibis._.node_id == fuzzy.fz)
    j = j.select(*RECORD_KEY, "node_id", "label", "old_key", "old_updated",
                 fuzzy=j.fz.notnull())
    # read by the claims, the fresh keys and the per-node keys: computed once, engine-side
    # (released when the returned expressions are collected). It keeps the record key, so
    # the map is written from it without joining identity_nodes again.
    j = j.cache()

    claims = j.filter(j.old_key.notnull()).group_by(["old_key", "label"]).aggregate(
        n=ibis._.node_id.count()
    )
    rank = ibis.row_number().over(group_by=claims.old_key, order_by=[claims.n.desc(),
                                                                    claims.label])
    claims = claims.mutate(rank=rank)
    winners = claims.filter(claims.rank == 0)
    kept = winners.group_by("label").aggregate(customer_key=winners.old_key.min())
    fresh = j.select("label").distinct().anti_join(kept, "label")
    floor = highest_key_number(wh)
    fresh = fresh.mutate(
        customer_key=key_expr(ibis.dense_rank().over(order_by=fresh.label) + (floor + 1))
    )
    label_key = kept.union(fresh)

    # per component: its key and its size (one row per label, joined to the records once)
    sizes = j.group_by("label").aggregate(size=j.count())
    per_label = label_key.join(sizes, "label")
    # method: ``splink`` (above), ``identifier`` when the record shares a value with another
    # record, else ``singleton``
    by_node = j.join(per_label, "label")
    method = ibis.cases(
        (by_node.fuzzy, "splink"), (by_node.size > 1, "identifier"), else_="singleton"
    )
    stamp = ibis.literal(now, type="timestamp")
    keys = by_node.select(
        *RECORD_KEY,
        node_id=by_node.node_id,
        customer_key=by_node.customer_key,
        method=method,
        updated_at=ibis.ifelse(by_node.old_key == by_node.customer_key,
                               by_node.old_updated, stamp),
    )

    merged = winners.join(kept, "label")
    merged = merged.filter(merged.old_key != merged.customer_key).select(
        old_key=merged.old_key, new_key=merged.customer_key, change=ibis.literal("merge"),
        records=merged.n, changed_at=stamp,
    )
    split = claims.filter(claims.rank > 0).join(label_key, "label")
    split = split.select(
        old_key=split.old_key, new_key=split.customer_key, change=ibis.literal("split"),
        records=split.n, changed_at=stamp,
    )
    return keys, merged.union(split)


def identity_map(wh: Warehouse, keys: ir.Table) -> ir.Table:
    """``identity_map`` rows from :func:`assign`'s keys by record (written once: no scratch copy
    keyed by node id is kept; the incremental run reads node → key through ``identity_nodes``)."""
    return keys.select(*RECORD_KEY, "customer_key", "method", "updated_at")
