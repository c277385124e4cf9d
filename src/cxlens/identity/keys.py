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
    import numpy as np
    import pyarrow as pa

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


def old_keys(wh: Warehouse) -> ir.Table:
    """(node_id, customer_key, updated_at) of the records the current ``identity_map`` keys:
    the freshly numbered ``identity_nodes`` joined to the map on the record key (the one
    string-keyed join the key assignment needs)."""
    nodes = wh.table("identity_nodes")
    old_map = wh.table("identity_map")
    j = nodes.join(old_map.filter(old_map.customer_key.notnull()), list(RECORD_KEY))
    return j.select("node_id", "customer_key", "method", "updated_at")


def rows_to_write(by_node: pa.Table, old: pa.Table) -> np.ndarray:
    """Which rows of :func:`assign_in_memory`'s keys differ from the map's current row of the
    same record (``old``: :func:`old_keys`, one row per node at most): a new record, another
    key, method or stamp. A boolean mask over ``by_node``'s rows (node ids 1 … n in order)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = by_node.num_rows
    if not old.num_rows:
        return np.ones(n, dtype=bool)
    o_node = old.column("node_id").to_numpy().astype(np.int64, copy=False)
    has_old = np.zeros(n + 1, dtype=bool)
    has_old[o_node] = True
    position = pa.array(_row_of_node(o_node, n)[1:])
    same = has_old[1:]
    for column in ("customer_key", "method", "updated_at"):
        before = old.column(column).combine_chunks().take(position)
        equal = pc.fill_null(pc.equal(before, by_node.column(column).combine_chunks()
                                      .cast(before.type)), False)
        same &= equal.to_numpy(zero_copy_only=False)
    return ~same


def _row_of_node(o_node: np.ndarray, n: int) -> np.ndarray:
    """Each node id's row in :func:`old_keys` (``o_node``: its node ids; 0 where none)."""
    import numpy as np

    at = np.zeros(n + 1, dtype=np.int64)
    at[o_node] = np.arange(len(o_node))
    return at


def assign_in_memory(label: np.ndarray, old: pa.Table, fuzzy_nodes: np.ndarray, floor: int,
                     now: datetime) -> tuple[pa.Table, pa.Table] | None:
    """:func:`assign` on fetched arrays: the same keys and changes, computed with NumPy.

    ``label``: each record's component label, indexed by node id (node ids are 1 … n, entry 0
    unused); ``old``: :func:`old_keys`; ``fuzzy_nodes``: node ids a probabilistic match joined;
    ``floor``: :func:`highest_key_number`. Returns (node_id, customer_key, method, updated_at)
    of every record and the ``identity_changes`` rows, or None when ``old`` keys a record twice
    (a broken map: :func:`assign`'s joins then decide what the rows become).
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(label) - 1
    label = np.asarray(label, dtype=np.int64)
    o_node = old.column("node_id").to_numpy().astype(np.int64, copy=False)
    if len(o_node) and np.bincount(o_node, minlength=n + 1).max() > 1:
        return None
    # the old keys as ranks in string order (the oldest key is the smallest string)
    encoded = pc.dictionary_encode(old.column("customer_key")).combine_chunks()
    order = pc.sort_indices(encoded.dictionary).to_numpy()
    names = encoded.dictionary.take(pa.array(order))
    rank_of = np.empty(len(order), dtype=np.int64)
    rank_of[order] = np.arange(len(order), dtype=np.int64)
    o_key = rank_of[encoded.indices.to_numpy(zero_copy_only=False)]
    o_label = label[o_node]

    # claims: records of each old key per component, ranked by size (ties: smaller label)
    combined, count = np.unique(o_key * (n + 1) + o_label, return_counts=True)
    c_key, c_label = combined // (n + 1), combined % (n + 1)
    by_rank = np.lexsort((c_label, -count, c_key))
    c_key, c_label, count = c_key[by_rank], c_label[by_rank], count[by_rank]
    first = np.ones(len(c_key), dtype=bool)
    first[1:] = c_key[1:] != c_key[:-1]
    # a component keeps the oldest key it won
    none = len(order)
    kept = np.full(n + 1, none, dtype=np.int64)
    np.minimum.at(kept, c_label[first], c_key[first])
    kept[kept == none] = -1
    # components with no old key get new numbers in order of their label (smallest record)
    labels = np.unique(label[1:])
    fresh = labels[kept[labels] < 0]
    number = np.zeros(n + 1, dtype=np.int64)
    number[fresh] = floor + 1 + np.arange(len(fresh), dtype=np.int64)

    key_names = pa.concat_arrays([
        names.cast(pa.string()),
        pa.array([format_key(int(v)) for v in number[fresh]], pa.string())])
    slot = np.full(n + 1, -1, dtype=np.int64)  # each label's row in key_names
    has_old = kept >= 0
    slot[has_old] = kept[has_old]
    slot[fresh] = len(names) + np.arange(len(fresh), dtype=np.int64)

    size = np.bincount(label[1:], minlength=n + 1)
    method = np.where(size[label] > 1, 1, 2)
    method[np.asarray(fuzzy_nodes, dtype=np.int64)] = 0
    old_key = np.full(n + 1, -1, dtype=np.int64)
    old_key[o_node] = o_key
    unchanged = (old_key[1:] >= 0) & (old_key[1:] == kept[label[1:]])
    stamp = pa.scalar(now, pa.timestamp("us"))
    old_updated = pa.nulls(n + 1, pa.timestamp("us"))
    if len(o_node):
        old_updated = (old.column("updated_at").cast(pa.timestamp("us")).combine_chunks()
                       .take(pa.array(_row_of_node(o_node, n))))
    updated = pc.if_else(pa.array(unchanged), old_updated.slice(1), stamp)
    keys = pa.table({
        "node_id": pa.array(np.arange(1, n + 1, dtype=np.int64)),
        "customer_key": key_names.take(pa.array(slot[label[1:]])),
        "method": pa.array(["splink", "identifier", "singleton"]).take(pa.array(method[1:])),
        "updated_at": updated,
    })

    merged = first.copy()
    merged[first] = kept[c_label[first]] != c_key[first]
    split = ~first
    change = np.concatenate([np.zeros(merged.sum(), dtype=np.int8),
                             np.ones(split.sum(), dtype=np.int8)])
    rows = np.concatenate([np.flatnonzero(merged), np.flatnonzero(split)])
    changes = pa.table({
        "old_key": names.take(pa.array(c_key[rows])).cast(pa.string()),
        "new_key": key_names.take(pa.array(slot[c_label[rows]])),
        "change": pa.array(["merge", "split"]).take(pa.array(change)),
        "records": pa.array(count[rows], pa.int64()),
        "changed_at": pa.array([now] * len(rows), pa.timestamp("us")),
    })
    return keys, changes
