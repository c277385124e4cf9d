"""The identity stage (`cxlens run identity`): source records → ``identity_map``.

Full run: number the records, build the active identifier memberships, add Splink's matches,
label connected components, hand out stable keys. Incremental run (the default once a map
exists and only new records arrived): see :mod:`cxlens.identity.incremental`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Literal

from cxlens.identity import graph, keys
from cxlens.workspace import Workspace

Mode = Literal["auto", "full", "incremental"]


def edge_rules(ws: Workspace) -> graph.EdgeRules:
    """The settings' edge rules with blocked values normalised (and hashed when pseudonymised)."""
    from cxlens.load import pseudonymiser

    settings = ws.settings.identity
    blocked = graph.blocked_values(settings.blocked_values, ws.settings.locale.region,
                                   pseudonymiser(ws))
    return graph.EdgeRules.from_settings(settings, blocked)


def run(ws: Workspace, mode: Mode = "auto") -> dict[str, Any]:
    """Resolve every source record to a ``customer_key``; returns a summary of counts.

    >>> import cxlens
    >>> ws = cxlens.open("demo-ws")                # doctest: +SKIP
    >>> run(ws)["customers"]                       # doctest: +SKIP
    18734
    """
    if mode != "full" and ws.settings.identity.incremental:
        from cxlens.identity import incremental

        summary = incremental.try_run(ws, required=mode == "incremental")
        if summary is not None:
            return summary
    return full_run(ws)


def full_run(ws: Workspace) -> dict[str, Any]:
    """Recompute the whole graph (keys stay stable; merges and splits are logged)."""
    import ibis

    wh = ws.warehouse
    t0 = time.perf_counter()
    now = datetime.now(UTC).replace(tzinfo=None)
    wh.replace("identity_nodes", graph.numbered(graph.records(wh, distinct=False)))
    rules = edge_rules(ws)
    settings = ws.settings.identity
    wh.replace("identity_edges_all",
               graph.memberships(graph.identifier_rows(wh, settings), wh.table("identity_nodes"),
                                 rules))
    matches = 0
    if settings.splink:
        from cxlens.identity import fuzzy

        matches = fuzzy.add_matches(ws, now)
    # pass 1: strong edges only; pass 2: plus the weak values that touch one anchored customer.
    # Components are computed on the values' roots (graph.value_roots, labelled in memory by
    # graph.components); intermediate results are engine-side cached tables (in memory on
    # DuckDB, persisted frames on Spark).
    edges_all = wh.table("identity_edges_all")
    strong = edges_all.filter(~edges_all.kind.isin(settings.weak_types))
    roots = graph.value_roots(strong).cache()
    cached = [roots]
    try:
        labels, final = graph.LABELS
        # each record's first root: read by the links and the labels (grouped once)
        fr = graph.first_roots(roots).cache()
        cached.append(fr)
        linked = graph.components(wh, graph.root_links(roots, fr), labels,
                                  settings.components, settings.max_iterations)
        # the pass-1 label of every linked record: read twice by the weak rule
        first = graph.node_labels(fr, wh.table(labels)).cache()
        cached.append(first)
        # the weak memberships kept (read twice: cached); only the few excluded are written
        kept_weak = graph.anchored_weak_edges(edges_all, first, settings.weak_types).cache()
        cached.append(kept_weak)
        every_weak = edges_all.filter(edges_all.kind.isin(settings.weak_types))
        wh.replace(graph.EXCLUDED, every_weak.anti_join(kept_weak, ["node_id", "edge"]))
        all_roots = ibis.union(roots, graph.value_roots(kept_weak), distinct=True).cache()
        cached.append(all_roots)
        fr_all = graph.first_roots(all_roots).cache()
        cached.append(fr_all)
        linked = graph.components(wh, graph.root_links(all_roots, fr_all), final,
                                  settings.components, settings.max_iterations)
        labelled = graph.node_labels(fr_all, wh.table(final))
        return _write_keys(ws, labelled, now, {
            "mode": "full", "linked_roots": linked, "fuzzy_matches": matches,
            "seconds_graph": round(time.perf_counter() - t0, 2),
        })
    finally:
        for table in cached:
            table.release()


def _write_keys(ws: Workspace, labels: Any, now: datetime,
                summary: dict[str, Any]) -> dict[str, Any]:
    wh = ws.warehouse
    keys_expr, changes = keys.assign(wh, labels, now)
    with wh.transaction():
        wh.append_expr("identity_changes", changes)
        wh.replace("identity_map", keys.identity_map(wh, keys_expr))
        # no longer written (node → key is identity_nodes ⋈ identity_map): emptied so no
        # stale copy of an earlier run's keys lingers
        if wh.table("identity_keys").count().execute():
            wh.replace("identity_keys", keys_expr.limit(0))
    return {**summary, **map_summary(ws, now)}


def map_summary(ws: Workspace, now: datetime) -> dict[str, Any]:
    """Records, customers and the changes logged at ``now``."""
    wh = ws.warehouse
    imap = wh.table("identity_map")
    changes = wh.table("identity_changes")
    logged = changes.filter(changes.changed_at == now)
    by_change = logged.group_by("change").aggregate(n=logged.count()).to_pyarrow().to_pylist()
    return {
        "records": int(imap.count().execute()),
        "customers": int(imap.customer_key.nunique().execute()),
        **{f"{row['change']}s": int(row["n"]) for row in by_change},
    }
