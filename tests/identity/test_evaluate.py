"""`cxlens eval identity`: pairwise scores and the evidence ceiling, counted by hand on the
hand-made fixture (tests/identity/data.py) plus one anonymous web event of Alice's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
import data  # noqa: E402

from cxlens.cli.main import app  # noqa: E402
from cxlens.identity import stage  # noqa: E402
from cxlens.identity.evaluate import evaluate  # noqa: E402
from cxlens.load import store_records  # noqa: E402

# Alice browses once more on a shared computer: no login, a session-only device
ANON = ("web", "e3", "anon-s9", "alice")


def _truth(ws) -> Path:
    truth = data.truth()
    truth[("web_events", ANON[0], ANON[1])] = ANON[3]
    rows = [(t, s, i, p) for (t, s, i), p in sorted(truth.items())]
    cols = list(zip(*rows, strict=True))
    path = ws.truth_dir / "records.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"record_table": cols[0], "source": cols[1], "source_id": cols[2],
                             "person_id": cols[3]}), path)
    return path


@pytest.fixture
def resolved(make_workspace):
    return _resolve(make_workspace())


def _resolve(ws):
    ws.settings.identity.splink = False
    ws.settings.identity.blocked_values = ["400 820 8820"]
    data.load(ws)
    store_records(ws, "web_events", pa.table({
        "source": [ANON[0]], "source_id": [ANON[1]], "device": [ANON[2]],
        "account": pa.array([None], pa.string()), "ts": [data._ts(6)], "dwell_s": [12.0],
        "session_id": ["s9"], "page": ["/help"]}))
    stage.full_run(ws)
    _truth(ws)
    return ws


@pytest.mark.slow
def test_scores_and_evidence_ceiling_counted_by_hand(workspace):
    result = evaluate(_resolve(workspace))  # DuckDB and PySpark
    # true pairs: Alice 10 records (45), Bob 4 (6), Carol's CRM row + her household-line call (1)
    assert result["true_pairs"] == 52
    # the resolver links Alice's 9 identified records (36) and Bob's 4 (6); it holds Carol's
    # call back (the household line is shared by three accounts) and has nothing for e3
    assert result["recall"] == round(42 / 52, 5)
    assert result["precision"] == 1.0
    ev = result["evidence"]
    # the household line does tie Carol's two records: evidence the resolver declines to use
    assert ev["recall_cap"] == round(43 / 52, 5)
    assert ev["recall_cap_deterministic"] == ev["recall_cap"]  # Splink off
    assert ev["recall_within_cap"] == round(42 / 43, 5)
    assert ev["f1_cap"] == round(2 * (43 / 52) / (1 + 43 / 52), 5)
    # only the anonymous event lies outside its person's main evidence component
    assert ev["records_outside_evidence"] == 1
    assert ev["outside_by_source"] == [{"record_table": "web_events", "source": "web",
                                         "records": 1}]


def test_fuzzy_matches_count_in_the_cap_but_not_the_deterministic_cap(resolved):
    wh = resolved.warehouse
    node = {(r["record_table"], r["source"], r["source_id"]): r["node_id"]
            for r in wh.table("identity_nodes").to_pyarrow().to_pylist()}
    # a match (as Splink's are stored) of the anonymous event with Alice's CRM record, and
    # one of Bob's CRM record with Carol's: a false match must not raise the ceiling
    pairs = [(("web_events", "web", "e3"), ("parties", "crm", "P1")),
             (("parties", "crm", "P2"), ("parties", "crm", "P3"))]
    rows = [{"node_id": node[r], "edge": f"splink:{node[a]}", "kind": "splink"}
            for a, b in pairs for r in (a, b)]
    wh.append("identity_edges_all", pa.Table.from_pylist(
        rows, schema=pa.schema([("node_id", pa.int64()), ("edge", pa.string()),
                                ("kind", pa.string())])))
    ev = evaluate(resolved)["evidence"]
    assert ev["recall_cap"] == 1.0  # 45 + 6 + 1 of 52
    assert ev["recall_cap_deterministic"] == round(43 / 52, 5)
    assert ev["records_outside_evidence"] == 0


def test_cli_prints_the_ceiling_and_json(resolved):
    runner = CliRunner()
    out = runner.invoke(app, ["eval", "identity", "--workspace", str(resolved.path), "--json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.output)
    assert result["evidence"]["recall_cap"] == round(43 / 52, 5)
    out = runner.invoke(app, ["eval", "identity", "--workspace", str(resolved.path)])
    assert out.exit_code == 0, out.output
    assert "evidence: recall_cap" in out.output and "web_events" in out.output


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cxlens.cli.main", *args], capture_output=True,
                          text=True, timeout=120, check=False)


def test_eval_without_truth_or_map_says_what_to_do(make_workspace):
    ws = make_workspace()
    ws.close()
    out = _cli("eval", "identity", "--workspace", str(ws.path))
    assert out.returncode == 1, out.stderr
    assert "no ground truth" in out.stderr and "Traceback" not in out.stderr
    _truth(ws)
    out = _cli("eval", "identity", "--workspace", str(ws.path))
    assert out.returncode == 1, out.stderr
    assert "identity_map is empty" in out.stderr and "Traceback" not in out.stderr
