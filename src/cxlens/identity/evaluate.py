"""Score ``identity_map`` against synth ground truth (``truth/records.parquet``).

Pairwise metrics without listing pairs: with n_ij = records of person j in cluster i,
true-positive pairs = Σ C(n_ij, 2), predicted pairs = Σ_i C(n_i, 2), true pairs = Σ_j C(n_j, 2).
Precision = TP / predicted, recall = TP / true. Over-merged = clusters holding more than one
person (one person's data shown to another: the costly error); under-merged = people split
across more than one cluster.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from cxlens.errors import NotFoundError

if TYPE_CHECKING:
    import ibis.expr.types as ir

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
    return result
