"""Probabilistic matching with Splink for person records that share no clean identifier.

Scope: the ``parties`` records (CRM/billing people, where duplicates with a typo'd phone or a
homophone name live). Splink runs on its own in-memory DuckDB over a bounded extract of those
records, trained unsupervised: u by random sampling, m by expectation maximisation on two
blocking rules (e-mail, phone). Pairs at or above ``identity.splink_threshold`` (match
probability) become weighted edges (``kind = 'splink'``) and are written to ``identity_matches`` for audit.
The same :func:`splink_settings` drive the "Splink alone" benchmark.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import datetime
from typing import TYPE_CHECKING, Any

_log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa

    from cxlens.workspace import Workspace


def person_rows(ws: Workspace, nodes: ir.Table | None = None) -> ir.Table:
    """The parties extract Splink compares: node id, name, city, birth date, phone, e-mail,
    then each party's source and source_id (dropped before Splink sees them).
    ``nodes``: the parties' (source, source_id, node_id); by default from ``identity_nodes``."""
    wh = ws.warehouse
    if nodes is None:
        nodes = wh.table("identity_nodes")
        nodes = nodes.filter(nodes.record_table == "parties")
    parties = wh.table("parties")
    j = parties.join(nodes, ["source", "source_id"])
    digits = j.phone.re_replace(r"[^0-9]", "")
    return j.select(
        unique_id=j.node_id,
        name=j.name.strip().lower(),
        surname=j.name.strip().substr(0, 1),
        city=j.city,
        birth_date=j.birth_date.cast("string"),
        gender=j.gender,
        phone=digits.right(11).nullif(""),
        email=j.email.strip().lower(),
        source=j.source,
        source_id=j.source_id,
    )


def splink_settings(threshold_rules: bool = True) -> Any:
    """Splink comparisons and blocking rules for person records."""
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            cl.JaroWinklerAtThresholds("name", [0.92, 0.8]),
            cl.ExactMatch("city"),
            cl.ExactMatch("birth_date"),
            cl.LevenshteinAtThresholds("phone", [1, 2]),
            cl.ExactMatch("email"),
            cl.ExactMatch("gender"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("surname", "city", "birth_date"),
            block_on("phone"),
            block_on("email"),
            block_on("name", "city"),
        ],
        retain_intermediate_calculation_columns=False,
    )


def train_and_predict(rows: pa.Table, threshold: float, seed: int = 7,
                      threads: int | None = 1) -> pa.Table:
    """Train Splink on ``rows`` (unsupervised) and return pairs ≥ ``threshold``:
    unique_id_l, unique_id_r, match_weight, match_probability.

    ``threads``: of Splink's in-memory DuckDB (``None``: DuckDB's default, one per core). One
    by default: the stage runs Splink beside the warehouse's own work, which keeps the other
    core busy, and on the demo's 29k parties a second thread only added parallel overhead
    (0.9–1.0 instead of 1.3–1.4 CPU-s, same wall time at load 7, identical pairs and weights).
    """
    import duckdb
    from splink import DuckDBAPI, Linker, block_on

    con = duckdb.connect(":memory:")
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}")
    db_api = DuckDBAPI(connection=con)
    frame = db_api.register(rows, dataset_display_name="persons")
    linker = Linker(frame, splink_settings(), log_level=logging.ERROR)
    training = linker.training
    training.estimate_probability_two_random_records_match(
        [block_on("phone"), block_on("email")], recall=0.8)
    # u from 1e5 random pairs; m by EM on pairs sharing an e-mail, then on pairs sharing a
    # phone (between them every comparison gets estimated). Chosen on the seed-7 demo's
    # parties against the earlier 5e5 pairs + EM on surname+city blocks (whose candidate pairs
    # are mostly strangers): 8,381 of 8,382 pairs correct instead of 8,210 of 8,219, and a
    # quarter of the CPU (2.5 s instead of 11.6 s); see docs/identity.md.
    training.estimate_u_using_random_sampling(max_pairs=1e5, seed=seed)
    training.estimate_parameters_using_expectation_maximisation(
        block_on("email"), estimate_without_term_frequencies=True)
    training.estimate_parameters_using_expectation_maximisation(
        block_on("phone"), estimate_without_term_frequencies=True)
    pairs = linker.inference.predict(threshold_match_probability=threshold)
    return pairs.as_duckdbpyrelation().select(
        "unique_id_l, unique_id_r, match_weight, match_probability").fetch_arrow_table()


class SplinkRun:
    """Splink training and prediction under way on a worker thread (:func:`start_matches`).

    Splink works in its own in-memory DuckDB, which releases the GIL while it runs, so the
    stage builds the identifier memberships in the warehouse meanwhile (the two DuckDBs share
    the cores); :meth:`finish` waits for the pairs and writes them.
    """

    def __init__(self, ws: Workspace, now: datetime, rows: pa.Table | None,
                 party_keys: pa.Table, check_nodes: bool) -> None:
        self.ws, self.now = ws, now
        # (unique_id, source, source_id) of the parties Splink compares: checked against
        # identity_nodes when ``check_nodes`` and read by the matches instead of identity_nodes
        self.party_keys = party_keys
        self.check_nodes = check_nodes
        self.skipped: str | None = None  # why Splink found nothing to learn, when it did not
        # the (node_id, edge, kind) memberships finish() appended, for an in-memory labelling
        self.edges: pa.Table | None = None
        self._future: Future[pa.Table] | None = None
        if rows is not None:
            threshold = ws.settings.identity.splink_threshold
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cxlens-splink")
            self._future = pool.submit(train_and_predict, rows, threshold)
            pool.shutdown(wait=False)  # the worker ends with its one task

    def finish(self, append_edges: bool = True) -> int:
        """Wait for Splink; append its matches to ``identity_edges_all`` (unless
        ``append_edges`` is false: the caller writes :attr:`edges` itself) and write
        ``identity_matches``. Returns the number of pairs."""
        if self._future is None:  # nothing to learn from
            return self._no_matches()
        from splink.internals.exceptions import EMTrainingException

        try:
            pairs = self._future.result()
        except EMTrainingException as exc:
            # too little to learn from (no two parties share an e-mail, or a phone): the
            # stage resolves on the identifiers alone and says so in its summary
            self.skipped = ("no parties share an e-mail or a phone to train on"
                            if "resulted in no record pairs" in str(exc)
                            else str(exc).splitlines()[0])
            _log.warning("identity: probabilistic matching skipped: %s", self.skipped)
            return self._no_matches()
        if self.check_nodes:
            _check_party_nodes(self.ws, self.party_keys)
        self.edges = _write_matches(self.ws, pairs, self.now, self.party_keys, append_edges)
        return pairs.num_rows

    def _no_matches(self) -> int:
        wh = self.ws.warehouse
        wh.replace("identity_matches", wh.table("identity_matches").limit(0))
        return 0

    def abandon(self) -> None:
        """Wait for the worker without writing (the stage failed meanwhile); its error, if
        any, is dropped in favour of the stage's own."""
        if self._future is not None:
            wait([self._future])


def start_matches(ws: Workspace, now: datetime, nodes: ir.Table | None = None) -> SplinkRun:
    """Read the parties extract and start Splink on it in the background;
    :meth:`SplinkRun.finish` writes the matches. ``nodes`` as in :func:`person_rows` (the
    stage passes :func:`graph.table_nodes`, so Splink starts before ``identity_nodes`` is
    written; ``finish`` then checks those ids against it)."""
    extract = person_rows(ws, nodes).to_pyarrow()
    rows = extract.drop_columns(["source", "source_id"])
    return SplinkRun(ws, now, rows if rows.num_rows >= 10 else None,
                     extract.select(["unique_id", "source", "source_id"]),
                     check_nodes=nodes is not None)


def _check_party_nodes(ws: Workspace, used: pa.Table) -> None:
    """The node ids Splink ran on (``used``: unique_id, source, source_id, from
    :func:`graph.table_nodes`) are those ``identity_nodes`` holds for the parties; anything
    else is a bug, never a silent mislink."""
    from cxlens.errors import CxlensError

    wh = ws.warehouse
    nodes = wh.table("identity_nodes")
    written = nodes.filter(nodes.record_table == "parties").select(
        "node_id", "source", "source_id").to_pyarrow().sort_by("node_id")
    used = used.rename_columns(["node_id", "source", "source_id"]).sort_by("node_id")
    if not used.cast(written.schema).equals(written):
        raise CxlensError("identity: Splink ran on party node ids that differ from "
                          "identity_nodes", "report this bug; set [identity] splink = false "
                          "to resolve without probabilistic matches meanwhile")


def add_matches(ws: Workspace, now: datetime) -> int:
    """Append Splink's matches to ``identity_edges_all`` and ``identity_matches``."""
    return start_matches(ws, now).finish()


def _write_matches(ws: Workspace, pairs: pa.Table, now: datetime, party_keys: pa.Table,
                   append_edges: bool = True) -> pa.Table:
    """Append the pairs to ``identity_edges_all`` (as memberships of ``splink:<left id>``) and
    write ``identity_matches`` (record keys from ``party_keys``: unique_id, source, source_id
    of every party compared, as ``identity_nodes`` numbers them); returns those memberships."""
    import pyarrow as pa

    wh = ws.warehouse
    left = pairs.column("unique_id_l")
    edges = pa.table({
        "node_id": pa.concat_arrays([left.combine_chunks(),
                                     pairs.column("unique_id_r").combine_chunks()]),
        "edge": pa.concat_arrays([pa.array([f"splink:{v}" for v in left.to_pylist()])] * 2),
        "kind": pa.array(["splink"] * (2 * pairs.num_rows)),
    })
    if append_edges:
        wh.append("identity_edges_all", edges)
    wh.replace("identity_matches", _matches_of(pairs, party_keys, now))
    return edges


def _matches_of(pairs: pa.Table, party_keys: pa.Table, now: datetime) -> pa.Table:
    """``identity_matches`` rows of Splink's pairs, both sides parties found by node id in
    ``party_keys`` (a pair naming a node not in it is left out, as a join would)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    keys = party_keys.sort_by("unique_id")
    ids = keys.column("unique_id").to_numpy()
    found = np.ones(pairs.num_rows, dtype=bool)
    at = {}
    for side in ("l", "r"):
        wanted = pairs.column(f"unique_id_{side}").to_numpy()
        at[side] = np.minimum(np.searchsorted(ids, wanted), max(len(ids) - 1, 0))
        found &= ids[at[side]] == wanted if len(ids) else False
    pairs = pairs.filter(pa.array(found))
    parties = pa.array(["parties"] * pairs.num_rows, pa.string())
    columns: dict[str, pa.Array] = {}
    for side, name in (("l", "left"), ("r", "right")):
        rows = pa.array(at[side][found])
        columns[f"{name}_table"] = parties
        columns[f"{name}_source"] = keys.column("source").take(rows)
        columns[f"{name}_source_id"] = keys.column("source_id").take(rows)
    return pa.table({
        **columns, "match_weight": pc.cast(pairs.column("match_weight"), pa.float64()),
        "match_probability": pc.cast(pairs.column("match_probability"), pa.float64()),
        "matched_at": pa.array([now] * pairs.num_rows, pa.timestamp("us")),
    })
