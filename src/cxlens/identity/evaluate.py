"""Score ``identity_map`` against synth ground truth (``truth/records.parquet``).

Pairwise metrics without listing pairs: with n_ij = records of person j in cluster i,
true-positive pairs = Σ C(n_ij, 2), predicted pairs = Σ_i C(n_i, 2), true pairs = Σ_j C(n_j, 2).
Precision = TP / predicted, recall = TP / true. Over-merged = clusters holding more than one
person (one person's data shown to another: the costly error); under-merged = people split
across more than one cluster.

The *evidence ceiling* (:func:`evidence`) says how much of the misses is the data's and how much
the resolver's: a perfect resolver that links only records of one true person, by every
identifier value, CRM case and Splink match the records carry, links ``recall_cap`` of the true
pairs; ``recall_within_cap`` is the share of those the resolver linked. Records outside their
person's largest evidence component are counted by table and source: they carry nothing that
ties them to the rest of that person.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cxlens.errors import NotFoundError

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import numpy as np
    import pyarrow as pa

    from cxlens.workspace import Workspace


def pairs(n: ir.IntegerValue) -> ir.IntegerValue:
    return (n * (n - 1) / 2).cast("int64")


def score(assigned: ir.Table) -> dict[str, Any]:
    """Metrics for a table of (cluster, person) rows, one per record."""
    cells = assigned.group_by(["cluster", "person"]).aggregate(n=assigned.count())
    clusters = cells.group_by("cluster").aggregate(n=cells.n.sum(), people=cells.count())
    persons = cells.group_by("person").aggregate(n=cells.n.sum(), clusters=cells.count())
    tp = int(pairs(cells.n).sum().execute() or 0)
    predicted = int(pairs(clusters.n).sum().execute() or 0)
    true = int(pairs(persons.n).sum().execute() or 0)
    precision = tp / predicted if predicted else 1.0
    recall = tp / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "records": int(assigned.count().execute()),
        "clusters": int(clusters.count().execute()),
        "people": int(persons.count().execute()),
        "precision": round(precision, 5),
        "recall": round(recall, 5),
        "f1": round(f1, 5),
        "true_pairs": true,
        "predicted_pairs": predicted,
        "over_merged": int(clusters.filter(clusters.people > 1).count().execute()),
        "under_merged": int(persons.filter(persons.clusters > 1).count().execute()),
    }


def _pair_count(sizes: np.ndarray) -> int:
    import numpy as np

    sizes = sizes.astype(np.int64, copy=False)
    return int((sizes * (sizes - 1) // 2).sum())


def _codes(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, int]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(column)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    indices = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    return indices, len(encoded.dictionary)


def evidence(ws: Workspace, joined: ir.Table, top: int = 10) -> dict[str, Any] | None:
    """The evidence ceiling of the last identity run (see the module doc), or ``None`` when
    no record of the map is in the truth. ``joined``: the map's records that the truth knows
    (record key, ``customer_key``, ``person``), as :func:`evaluate` joins them.

    Evidence is every identifier value of the records (``identifiers``, less bare junk such as
    ``+86``; agents' numbers, switchboards and household lines included), the CRM case numbers
    and the contacts that surveys and cases name when ``case_edges`` / ``ref_edges`` are on
    (:func:`cxlens.identity.graph.identifier_rows`), and Splink's matches of the run
    (``identity_edges_all``). Vertices are the records the map resolved that the truth knows and one value vertex per (value,
    true person): a value shared by two people is two vertices, so no component spans two
    people. That makes it an upper bound: the recall of a resolver that never merges two
    people *and* knew whose each shared line is. ``recall_cap_deterministic`` leaves Splink's
    matches out.
    """
    import ibis
    import numpy as np
    import pyarrow.compute as pc

    from cxlens.identity import graph

    wh = ws.warehouse
    nodes = wh.table("identity_nodes")
    known = nodes.join(joined, list(graph.RECORD_KEY)).select(
        "node_id", "record_table", "source", "person", cluster=joined.customer_key)
    # in node order: a component's label (its smallest record index) then breaks ties between
    # a person's equally large components the same way on every run
    rec = known.order_by("node_id").to_pyarrow()
    if rec.num_rows == 0:
        return None
    located = graph.located_identifiers(graph.identifier_rows(wh, ws.settings.identity), nodes)
    located = located.filter(~located.id_value.re_search(graph.JUNK_PATTERN))
    values = located.select("node_id", edge=graph.edge_key(located.id_type, located.id_value),
                            kind=ibis.literal("identifier"))
    every = wh.table("identity_edges_all")
    matched = every.filter(every.kind == "splink").select("node_id", "edge", "kind")
    both = ibis.union(values, matched, distinct=True)
    mem = both.join(known.select("node_id", "person"), "node_id").select(
        "node_id", "edge", "kind").to_pyarrow()

    node_ids = rec.column("node_id").to_numpy().astype(np.int64, copy=False)
    order = np.argsort(node_ids)
    n = len(node_ids)
    person, n_people = _codes(rec.column("person"))
    cluster, _ = _codes(rec.column("cluster"))
    true_pairs = _pair_count(np.bincount(person))

    # memberships as (dense record index, value vertex per true person)
    m_rec = order[np.searchsorted(node_ids, mem.column("node_id").to_numpy(), sorter=order)]
    edge_code, _ = _codes(mem.column("edge"))
    m_person = person[m_rec]
    _, m_value = np.unique(edge_code * n_people + m_person, return_inverse=True)
    n_values = int(m_value.max()) + 1 if len(m_value) else 0
    fuzzy = pc.fill_null(pc.equal(mem.column("kind"), "splink"), False)
    not_fuzzy = ~fuzzy.to_numpy(zero_copy_only=False)

    def ceiling(keep: np.ndarray) -> tuple[np.ndarray, int]:
        """Each record's evidence component and the pairs those components link."""
        component = graph.smallest_member(n, n_values, m_rec[keep], m_value[keep])
        return component, _pair_count(np.bincount(component))

    component, cap_pairs = ceiling(np.ones(len(m_rec), dtype=bool))
    _, deterministic_pairs = ceiling(not_fuzzy)
    cap = cap_pairs / true_pairs if true_pairs else 1.0
    cap_deterministic = deterministic_pairs / true_pairs if true_pairs else 1.0
    # pairs the resolver linked inside evidence components: cells (component, cluster)
    _, cell = np.unique(component * (int(cluster.max()) + 1) + cluster, return_inverse=True)
    within = _pair_count(np.bincount(cell))

    # records outside their person's largest evidence component
    size = np.bincount(component)[component]
    by_person = np.lexsort((component, -size, person))  # largest component first per person
    first = np.r_[True, person[by_person][1:] != person[by_person][:-1]]
    main = np.empty(n_people, dtype=np.int64)
    main[person[by_person][first]] = component[by_person][first]
    outside = component != main[person]
    table = rec.column("record_table").to_numpy(zero_copy_only=False)[outside]
    source = rec.column("source").to_numpy(zero_copy_only=False)[outside]
    counts = Counter(zip(table.tolist(), source.tolist(), strict=True))
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return {
        "recall_cap": round(cap, 5),
        "f1_cap": round(2 * cap / (1 + cap), 5) if cap else 0.0,
        "recall_cap_deterministic": round(cap_deterministic, 5),
        "recall_within_cap": round(within / cap_pairs, 5) if cap_pairs else 1.0,
        "records_outside_evidence": int(outside.sum()),
        "outside_by_source": [{"record_table": t, "source": s, "records": c}
                              for (t, s), c in ranked],
    }


def evaluate(ws: Workspace, truth_path: Path | None = None) -> dict[str, Any]:
    """Pairwise precision/recall/F1 and over/under-merged counts of the workspace's map.

    >>> evaluate(cxlens.open("demo-ws"))["f1"]   # doctest: +SKIP
    0.991
    """
    path = truth_path or ws.truth_dir / "records.parquet"
    if not path.exists():
        raise NotFoundError(
            f"no ground truth at {path}",
            "evaluate a workspace made by `cxlens synth` (truth/records.parquet)",
        )
    wh = ws.warehouse
    imap = wh.table("identity_map")
    if int(imap.count().execute()) == 0:
        raise NotFoundError("identity_map is empty", "run `cxlens run identity` first")
    truth = wh.con.read_parquet(str(path))
    truth = truth.filter(truth.person_id.notnull()).select(
        "record_table", "source", "source_id", person=truth.person_id.cast("string")
    )
    joined = imap.join(truth, ["record_table", "source", "source_id"])
    assigned = joined.select(cluster=joined.customer_key, person=joined.person)
    result = score(assigned)
    result["unmapped_truth_records"] = int(
        truth.anti_join(imap, ["record_table", "source", "source_id"]).count().execute()
    )
    by_method = imap.group_by("method").aggregate(n=imap.count()).to_pyarrow().to_pylist()
    result["methods"] = {row["method"]: int(row["n"]) for row in by_method}
    result["evidence"] = evidence(ws, joined)
    return result
