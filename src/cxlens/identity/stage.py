"""The identity stage (`cxlens run identity`): source records → ``identity_map``.

Full run: number the records, build the active identifier memberships, add Splink's matches,
label connected components, hand out stable keys. Incremental run (the default once a map
exists and only new records arrived): see :mod:`cxlens.identity.incremental`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from cxlens.identity import graph, keys
from cxlens.workspace import Workspace

if TYPE_CHECKING:
    import pyarrow as pa

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
    wh = ws.warehouse
    t0 = time.perf_counter()
    now = datetime.now(UTC).replace(tzinfo=None)
    rules = edge_rules(ws)
    settings = ws.settings.identity
    # Splink (its own in-memory DuckDB) trains on a worker thread while the warehouse numbers
    # the records and builds and writes the identifier memberships; it starts on the parties'
    # node ids numbered on their own (graph.table_nodes, checked against identity_nodes when
    # it finishes), and its matches are appended after the memberships
    splink_run = None
    if settings.splink:
        from cxlens.identity import fuzzy

        splink_run = fuzzy.start_matches(ws, now, graph.table_nodes(wh, "parties"))
    local = settings.components == "local"
    members = None
    try:
        wh.replace("identity_nodes", graph.numbered_records(wh))
        ids = graph.identifier_rows(wh, settings)
        if local:  # the rules on fetched rows (integer codes), kept in memory for the labelling;
            # written with Splink's memberships beside the labelling (_resolve_local)
            members = graph.memberships_in_memory(
                graph.located_identifiers(ids, wh.table("identity_nodes")).to_pyarrow(),
                graph.agent_values(ids).to_pyarrow().column("id_value").combine_chunks(), rules)
        else:
            wh.replace("identity_edges_all",
                       graph.memberships(ids, wh.table("identity_nodes"), rules))
    except BaseException:
        if splink_run is not None:
            splink_run.abandon()
        raise
    matches = splink_run.finish(append_edges=not local) if splink_run is not None else 0
    # pass 1: strong edges only; pass 2: plus the weak values that touch one anchored customer.
    if members is not None:
        summary = _resolve_local(ws, now, matches, t0, members,
                                 splink_run.edges if splink_run is not None else None)
    else:
        summary = _resolve_engine(ws, now, matches, t0)
    if splink_run is not None and splink_run.skipped:
        summary["fuzzy_skipped"] = splink_run.skipped
    return summary


def _resolve_local(ws: Workspace, now: datetime, matches: int, t0: float,
                   members: graph.Memberships, fuzzy_edges: pa.Table | None) -> dict[str, Any]:
    """Both passes in memory (graph.resolve_in_memory) on the memberships in memory
    (``members``, with their value codes) and Splink's (``fuzzy_edges``). Both are written to
    ``identity_edges_all`` beside the labelling and the keys (Warehouse.replace_beside: a second
    connection on DuckDB), waited for before the stage returns. The keys are assigned in
    memory too (keys.assign_in_memory: the labels, Splink's records and the current map's keys
    by node) and ``identity_map`` is updated in place when few of its rows change
    (:func:`_update_map`), else rewritten as ``identity_nodes`` joined to the keys by node id
    (a temporary table on DuckDB; ``identity_keys``, emptied afterwards, on other engines)."""
    import ibis
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    wh = ws.warehouse
    edges, value_id, n_values = members.table, members.value_id, members.n_values
    if fuzzy_edges is not None and fuzzy_edges.num_rows:
        fuzzy_values = pc.dictionary_encode(fuzzy_edges.column("edge")).combine_chunks()
        edges = pa.concat_tables([edges, fuzzy_edges.select(edges.column_names)
                                  .cast(edges.schema)])
        value_id = np.concatenate([value_id, n_values + fuzzy_values.indices.to_numpy(
            zero_copy_only=False).astype(np.int64)])
        n_values += len(fuzzy_values.dictionary)
    wait_edges = wh.replace_beside("identity_edges_all", edges)
    try:
        found = graph.resolve_in_memory(edges, ws.settings.identity.weak_types,
                                        (value_id, n_values))
        del value_id
        wh.replace(graph.EXCLUDED, found.excluded)
        for name in graph.LABELS:  # not computed on this path: no stale copy lingers
            if wh.count(name):
                wh.replace(name, [])
        summary = {"mode": "full", "linked_records": found.linked, "fuzzy_matches": matches,
                   "seconds_graph": round(time.perf_counter() - t0, 2)}
        # the records Splink joined, from memory (identity_edges_all is being written)
        fuzzy_nodes = edges.filter(pc.equal(edges.column("kind"), "splink")).column("node_id")
        label = np.arange(wh.count("identity_nodes") + 1, dtype=np.int64)
        label[found.labels.column("node_id").to_numpy()] = found.labels.column("label").to_numpy()
        old = keys.old_keys(wh).to_pyarrow()
        assigned = keys.assign_in_memory(
            label, old, fuzzy_nodes.to_numpy().astype(np.int64, copy=False),
            keys.highest_key_number(wh), now)
        if assigned is None:  # an old map keying a record twice: the joins decide, as before
            fuzzy = None  # read from identity_edges_all on other engines
            if wh.backend == "duckdb":
                fuzzy = ibis.memtable(pa.table({"node_id": fuzzy_nodes}))
            else:
                wait_edges()
            labels = _scratch_table(wh, graph.LABELS[1], found.labels)
            try:
                keys_expr, changes = keys.assign(wh, labels, now, fuzzy)
                _write_map(wh, keys.identity_map(wh, keys_expr), changes)
            finally:
                _release(wh, labels)
        elif (write := _rows_to_write(wh, assigned[0], old)) is not None:
            _update_map(wh, *assigned, write)
        else:
            by_node, logged = assigned
            keyed = _scratch_table(wh, "identity_keys", by_node)
            try:
                _write_map(wh, _keyed_records(wh, keyed), logged)
            finally:
                _release(wh, keyed)
    finally:
        wait_edges()  # never left writing; its error (if any) is raised
    return {**summary, **map_summary(ws, now)}


def _resolve_engine(ws: Workspace, now: datetime, matches: int, t0: float) -> dict[str, Any]:
    """Both passes as Ibis expressions (``components = "engine"``): components are computed
    on the values' roots (graph.value_roots, labelled by graph.propagate_components);
    intermediate results are engine-side cached tables (in memory on DuckDB, persisted frames
    on Spark)."""
    import ibis

    wh = ws.warehouse
    settings = ws.settings.identity
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
    _write_map(wh, keys.identity_map(wh, keys_expr), changes)
    return {**summary, **map_summary(ws, now)}


def _rows_to_write(wh: Any, by_node: pa.Table, old: pa.Table) -> Any:
    """:func:`keys.rows_to_write` when updating ``identity_map`` in place is the cheaper write:
    every row it holds is a current record's (``old`` holds them all) and at most half of the
    rows change; else None (the map is rewritten)."""
    if not old.num_rows or wh.count("identity_map") != old.num_rows:
        return None
    write = keys.rows_to_write(by_node, old)
    return write if 2 * int(write.sum()) <= len(write) else None


def _update_map(wh: Any, by_node: pa.Table, logged: pa.Table, write: Any) -> None:
    """Write to ``identity_map`` only the rows that differ from it (``write``, a mask over
    ``by_node``), when every row it holds is one of a current record's: a full run after a
    batch of new records rewrites those and the records whose key moved, not the whole map
    (on the demo a rewrite of its 666k rows costs ≈ 0.6 CPU-s)."""
    import pyarrow as pa

    rows = by_node.filter(pa.array(write))
    with wh.transaction():
        wh.append("identity_changes", logged)
        if rows.num_rows:
            keyed = _scratch_table(wh, "identity_keys", rows)
            try:
                new = _keyed_records(wh, keyed).to_pyarrow()
            finally:
                _release(wh, keyed)
            wh.delete_where("identity_map", new.select(list(graph.RECORD_KEY)))
            wh.append("identity_map", new)
        _empty_keys_scratch(wh)


def _keyed_records(wh: Any, keyed: Any) -> Any:
    """``identity_map`` rows of keys by node id (``keyed``): ``identity_nodes`` joined to them."""
    nodes = wh.table("identity_nodes")
    j = nodes.join(keyed, "node_id")
    return j.select(*graph.RECORD_KEY, "customer_key", "method", "updated_at")


def _empty_keys_scratch(wh: Any) -> None:
    """``identity_keys`` is no longer kept (node → key is identity_nodes ⋈ identity_map; other
    engines use it as the scratch of the keys by node): emptied so no stale copy lingers."""
    if wh.count("identity_keys"):
        wh.replace("identity_keys", [])


def _scratch_table(wh: Any, name: str, data: pa.Table) -> Any:
    """``data`` as a table the engine can join: a temporary table on DuckDB (in memory;
    :func:`_release` drops it), written to the scratch table ``name`` on other engines."""
    if wh.backend == "duckdb":
        import uuid

        return wh.con.create_table(f"_cx_{name}_{uuid.uuid4().hex}", data, temp=True)
    wh.replace(name, data)
    return wh.table(name)


def _release(wh: Any, table: Any) -> None:
    """Drop a :func:`_scratch_table` that is a temporary table."""
    if wh.backend == "duckdb":
        wh.con.drop_table(table.get_name(), force=True)


def _write_map(wh: Any, map_rows: Any, changes: Any) -> None:
    """Write ``identity_map`` (an expression of its rows) and log ``changes`` (an expression or
    an Arrow table) in one transaction."""
    import pyarrow as pa

    with wh.transaction():
        if isinstance(changes, pa.Table):
            wh.append("identity_changes", changes)
        else:
            wh.append_expr("identity_changes", changes)
        wh.replace("identity_map", map_rows)
        _empty_keys_scratch(wh)


def map_summary(ws: Workspace, now: datetime) -> dict[str, Any]:
    """Records, customers and the changes logged at ``now``."""
    wh = ws.warehouse
    imap = wh.table("identity_map")
    changes = wh.table("identity_changes")
    logged = changes.filter(changes.changed_at == now)
    by_change = logged.group_by("change").aggregate(n=logged.count()).to_pyarrow().to_pylist()
    return {
        "records": wh.count("identity_map"),
        "customers": int(imap.customer_key.nunique().execute()),
        **{f"{row['change']}s": int(row["n"]) for row in by_change},
    }
