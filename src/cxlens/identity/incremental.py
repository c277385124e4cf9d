"""Incremental identity: assign newly arrived records to customers without redoing the graph.

Only the new records and the identifier values they carry are read. The batch is handled
incrementally when the answer is provably the one a full run would give; otherwise
:func:`try_run` returns None and the stage falls back to a full run. It falls back when:

* records were deleted, or no record is new (an update may have changed identifiers);
* Splink is on and new ``parties`` arrived (their fuzzy matches need the whole model);
* a value the new records carry changes status (becomes household or too common);
* a phone (weak value) is carried by a new record that is itself identified (its anchor
  could make the phone shared);
* the new records would merge two existing customers (merges are logged by the full run).

Otherwise new records join the one customer their values point to, and groups of new records
with no existing customer get new keys in the order a full run would number them.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from cxlens.identity import graph, keys
from cxlens.identity.graph import RECORD_KEY
from cxlens.workspace import Workspace


class _Fallback(Exception):
    """The batch needs a full run (the reason is the message)."""


def try_run(ws: Workspace, required: bool = False) -> dict[str, Any] | None:
    """Run incrementally, or return None when a full run is needed (raise if ``required``)."""
    try:
        return _run(ws)
    except _Fallback as why:
        if required:
            from cxlens.errors import CxlensError

            raise CxlensError(f"cannot resolve incrementally: {why}",
                              "run the identity stage in full mode") from None
        return None


def _count(t: Any) -> int:
    return int(t.count().execute())


def _run(ws: Workspace) -> dict[str, Any]:
    from cxlens.identity.stage import edge_rules, map_summary

    wh = ws.warehouse
    t0 = time.perf_counter()
    nodes = wh.table("identity_nodes")
    n_nodes = _count(nodes)
    if n_nodes == 0 or _count(wh.table("identity_map")) == 0:
        raise _Fallback("no earlier identity map")
    if _count(wh.table("identity_keys")):
        # written by an earlier version, whose identity_edges held every kept membership (now
        # only the excluded ones): a full run rewrites both in the current form
        raise _Fallback("identity tables of an earlier version")
    recs = graph.records(wh)
    new = recs.anti_join(nodes, list(RECORD_KEY))
    n_new, n_all = _count(new), _count(recs)
    if n_new == 0 or n_nodes + n_new != n_all:
        raise _Fallback("records were updated or deleted")
    settings = ws.settings.identity
    if settings.splink and _count(new.filter(new.record_table == "parties")):
        raise _Fallback("new party records need probabilistic matching")

    offset = int(nodes.node_id.max().execute() or 0)
    new_nodes = graph.numbered(new, offset).to_pyarrow()
    import ibis

    new_t = ibis.memtable(new_nodes)
    all_nodes = ibis.union(nodes.select("node_id", *RECORD_KEY),
                           new_t.select("node_id", *RECORD_KEY))
    ids = graph.identifier_rows(wh, settings)
    new_ids = ids.semi_join(new_t, list(RECORD_KEY))
    touched = new_ids.select(edge=graph.edge_key(new_ids.id_type, new_ids.id_value)).distinct()
    ids_touched = ids.mutate(edge=graph.edge_key(ids.id_type, ids.id_value)).semi_join(
        touched, "edge").drop("edge")
    active = graph.memberships(ids_touched, all_nodes, edge_rules(ws), all_ids=ids).to_pyarrow()

    # the old records' active memberships of these values must be exactly as before
    old_active = [r for r in active.to_pylist() if r["node_id"] <= offset]
    before = wh.table("identity_edges_all")
    before = before.filter(before.kind != "splink").semi_join(touched, "edge")
    if len(old_active) != _count(before):
        raise _Fallback("a value changed status (household or too common)")

    final_touched = graph.active_edges(wh).semi_join(touched, "edge")
    key_of_edge: dict[str, set[str]] = {}
    # node → key of the touched records only (identity_nodes ⋈ identity_map on the record key)
    their_nodes = nodes.semi_join(final_touched, "node_id")
    imap = wh.table("identity_map")
    kmap = their_nodes.join(imap, list(RECORD_KEY)).select("node_id", "customer_key")
    for row in final_touched.join(kmap, "node_id").select("edge", "customer_key").distinct() \
            .to_pyarrow().to_pylist():
        key_of_edge.setdefault(row["edge"], set()).add(row["customer_key"])
    excluded = wh.table(graph.EXCLUDED)
    excluded_weak = {r["edge"] for r in excluded.semi_join(touched, "edge").select("edge")
                     .distinct().to_pyarrow().to_pylist()}

    new_rows = [r for r in active.to_pylist() if r["node_id"] > offset]
    weak_kinds = set(settings.weak_types)
    anchored = {r["node_id"] for r in new_rows
                if r["kind"] not in {*weak_kinds, *graph.NON_ANCHOR_KINDS}}
    parent: dict[Any, Any] = {}

    def find(x: Any) -> Any:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: Any, b: Any) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb, key=str)] = min(ra, rb, key=str)

    for r in new_rows:
        node, edge = r["node_id"], r["edge"]
        find(node)
        if r["kind"] in weak_kinds:
            if node in anchored:
                raise _Fallback("an identified new record carries a phone")
            if edge in excluded_weak:
                continue
        union(("edge", edge), node)
        for key in key_of_edge.get(edge, ()):
            union(("edge", edge), ("key", key))
    for node in new_nodes.column("node_id").to_pylist():
        find(node)

    groups: dict[Any, dict[str, Any]] = {}
    for node in new_nodes.column("node_id").to_pylist():
        g = groups.setdefault(find(node), {"nodes": [], "keys": set()})
        g["nodes"].append(node)
    for x in list(parent):
        if isinstance(x, tuple) and x[0] == "key" and find(x) in groups:
            groups[find(x)]["keys"].add(x[1])
    if any(len(g["keys"]) > 1 for g in groups.values()):
        raise _Fallback("new records merge existing customers")

    now = datetime.now(UTC).replace(tzinfo=None)
    next_number = keys.highest_key_number(wh) + 1
    assigned: list[dict[str, Any]] = []
    for g in sorted(groups.values(), key=lambda g: min(g["nodes"])):
        if g["keys"]:
            key, method = next(iter(g["keys"])), "identifier"
        else:
            key, next_number = keys.format_key(next_number), next_number + 1
            method = "identifier" if len(g["nodes"]) > 1 else "singleton"
        assigned.extend({"node_id": n, "customer_key": key, "method": method,
                         "updated_at": now} for n in g["nodes"])
    _write(ws, new_nodes, active, assigned, excluded_weak)
    return {"mode": "incremental", "new_records": n_new,
            "seconds_graph": round(time.perf_counter() - t0, 2), **map_summary(ws, now)}


def _write(ws: Workspace, new_nodes: Any, active: Any, assigned: list[dict[str, Any]],
           excluded_weak: set[str]) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    wh = ws.warehouse
    offset = pc.min(new_nodes.column("node_id")).as_py() - 1
    mine = active.filter(pc.greater(active.column("node_id"), offset))
    by_node = {r["node_id"]: r for r in assigned}
    with wh.transaction():
        wh.append("identity_nodes", new_nodes)
        wh.append("identity_edges_all", mine)
        # new memberships of a value excluded as a shared line stay excluded
        dropped = mine.filter(pc.is_in(mine.column("edge"),
                                       pa.array(sorted(excluded_weak), pa.string())))
        wh.append(graph.EXCLUDED, dropped)
        rows = [{**r, **{k: by_node[r["node_id"]][k] for k in
                         ("customer_key", "method", "updated_at")}}
                for r in new_nodes.to_pylist()]
        wh.append("identity_map", rows)
