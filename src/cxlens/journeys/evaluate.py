"""Score journey stitching against synth ground truth (``truth/interactions.parquet``).

A true episode is one synth problem: the set of interactions carrying its ``problem_id``. It is
*reconstructed exactly* when one journey holds exactly that set of interactions (web-session
touches are not interactions and are ignored). Only ``cxlens eval`` and tests read the truth.
"""

from __future__ import annotations

from typing import Any

from cxlens.errors import NotFoundError
from cxlens.workspace import Workspace


def evaluate(ws: Workspace) -> dict[str, Any]:
    """Exact-episode recall, journey purity, splits and merges of the stored journeys.

    Returns a dict with ``exact_rate`` (share of true episodes reconstructed exactly; goal ≥ 0.95)
    and the counts behind it.
    """
    import pandas as pd

    path = ws.truth_dir / "interactions.parquet"
    if not path.exists():
        raise NotFoundError(
            f"no synth truth at {path}",
            "journeys can only be scored on a synth workspace (`cxlens synth`)",
        )
    truth = pd.read_parquet(path, columns=["interaction_id", "problem_id"]).dropna()
    jc = ws.warehouse.table("journey_contacts")
    mapped = jc.filter(jc.kind != "web_session").select("interaction_id", "journey_id").to_pandas()
    if mapped.empty:
        raise NotFoundError("no journeys in this workspace", "run `cxlens run` first")
    return score(truth, mapped)


def evaluate_stitching(ws: Workspace, **overrides: Any) -> dict[str, Any]:
    """Score stitching alone: identity taken from the synth truth, nothing written.

    ``overrides`` replace keyword arguments of :func:`cxlens.journeys.build.touches` (for
    example ``window_s`` or ``split_by_case``) to compare settings on one workspace.

    >>> import cxlens
    >>> evaluate_stitching(cxlens.open("synth-ws"))["exact_rate"]   # doctest: +SKIP
    0.9631
    """
    import ibis
    import pandas as pd

    from cxlens.journeys import build
    from cxlens.journeys.stage import stitching_options

    truth_dir = ws.truth_dir
    if not (truth_dir / "records.parquet").exists():
        raise NotFoundError(
            f"no synth truth at {truth_dir}",
            "journeys can only be scored on a synth workspace (`cxlens synth`)",
        )
    records = pd.read_parquet(truth_dir / "records.parquet",
                              columns=["record_table", "source", "source_id", "person_id"])
    true_map = ibis.memtable(records.rename(columns={"person_id": "customer_key"}))
    kwargs = {**stitching_options(ws), **overrides}
    touches = build.touches(ws.warehouse.table("interactions"), true_map, **kwargs)
    mapped = touches.select("interaction_id", "journey_id").to_pandas()
    truth = pd.read_parquet(truth_dir / "interactions.parquet",
                            columns=["interaction_id", "problem_id"]).dropna()
    return score(truth, mapped)


def score(truth: Any, mapped: Any) -> dict[str, Any]:
    """Compare ``truth`` (interaction_id, problem_id) with ``mapped`` (interaction_id, journey_id)."""
    both = truth.merge(mapped, on="interaction_id", how="left")
    unmapped = int(both.journey_id.isna().sum())
    both = both.fillna({"journey_id": "(none)"})
    per_problem = both.groupby("problem_id").agg(
        size=("interaction_id", "size"), journeys=("journey_id", "nunique"),
        journey=("journey_id", "first"),
    )
    journey_size = mapped.groupby("journey_id").size().rename("journey_size")
    per_problem = per_problem.join(journey_size, on="journey")
    exact = (per_problem.journeys == 1) & (per_problem.journey_size == per_problem["size"])
    exact &= per_problem.journey != "(none)"
    labelled = mapped.merge(truth, on="interaction_id", how="inner")
    per_journey = labelled.groupby("journey_id").problem_id.nunique()
    n = len(per_problem)
    return {
        "true_episodes": n,
        "exact": int(exact.sum()),
        "exact_rate": round(float(exact.mean()) if n else 0.0, 4),
        "goal": 0.95,
        "split_episodes": int((per_problem.journeys > 1).sum()),
        "journeys": int(mapped.journey_id.nunique()),
        "merged_journeys": int((per_journey > 1).sum()),
        "pure_journey_rate": round(float((per_journey == 1).mean()) if len(per_journey) else 0.0,
                                   4),
        "unmapped_interactions": unmapped,
        "multi_contact_episodes": int((per_problem["size"] > 1).sum()),
        "multi_contact_exact": int((exact & (per_problem["size"] > 1)).sum()),
    }
