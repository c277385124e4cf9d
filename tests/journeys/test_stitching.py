"""Journey stitching on a hand-made fixture; parity DuckDB/PySpark; scoring against truth."""

from __future__ import annotations

import json

import journey_fixture as fx
import pandas as pd
import pytest
from typer.testing import CliRunner

from cxlens.cli.main import app
from cxlens.errors import NotFoundError
from cxlens.journeys import stage
from cxlens.journeys.evaluate import evaluate, score


def _groups(ws) -> list[set[str]]:
    return fx.groups(ws, skip_web=True)


def _journeys(ws) -> pd.DataFrame:
    return ws.warehouse.table("journeys").to_pandas().set_index("journey_id").sort_index()


@pytest.fixture
def stitched(make_workspace):
    ws = make_workspace("duckdb")
    fx.load(ws)
    summary = stage.run(ws)
    return ws, summary


def test_episodes_follow_customer_reason_and_window(stitched):
    ws, summary = stitched
    assert _groups(ws) == sorted(fx.EXPECTED, key=sorted)
    # 7 contact journeys + c2's help session long after its contacts is a journey of its own
    assert summary["journeys"] == 8
    assert summary["touches"] == 13    # 11 interactions + 2 help sessions (browsing ignored)


def test_journey_rows(stitched):
    ws, _ = stitched
    j = _journeys(ws)
    first = j.loc["j:crm:i01"]
    assert first.channel_path == "web > chat > phone"   # help session, two chats, a call
    assert first.channels == "chat,phone,web"
    assert (first.contacts, first.assisted_contacts, first.self_service_touches) == (3, 3, 1)
    assert first.resolved and not first.first_contact_resolved
    assert first.transfers == 1 and first.first_channel == "web"
    # effort: 2 extra contacts + 0.5*1 transfer + 0.5*2 switches + 90 s wait/600 = 3.65
    assert first.effort_score == pytest.approx(3.65)
    delivery = j.loc["j:crm:i05"]
    assert delivery.channel_path == "phone > email" and not delivery.first_contact_resolved
    assert j.loc["j:crm:i07"].first_contact_resolved        # a different reason: own journey
    assert j.loc["j:crm:i04"].first_contact_resolved        # same reason, 20 days later
    tech = j.loc["j:crm:i08"]
    assert (tech.contacts, tech.abandoned_contacts) == (2, 1) and tech.first_contact_resolved
    ivr = j.loc["j:crm:i10"]
    assert ivr.assisted_contacts == 0 and not ivr.first_contact_resolved
    web_only = j.loc["j:session:web:s2"]
    assert web_only.contacts == 0 and web_only.channel_path == "web"
    assert j.loc["j:crm:i11"].customer_key == "u:crm:i11"   # unlinked: its own journey


def test_contact_flags(stitched):
    ws, _ = stitched
    jc = ws.warehouse.table("journey_contacts").to_pandas().set_index("interaction_id")
    assert jc.loc["crm:i05", "repeat_any"] and not jc.loc["crm:i05", "repeat_channel"]
    assert jc.loc["crm:i01", "first_assisted"] and not jc.loc["crm:i02", "first_assisted"]
    assert jc.loc["crm:i02", "repeat_channel"] is False or not jc.loc["crm:i02", "repeat_channel"]
    assert jc.loc["crm:i01", "reason"] == "billing"          # borrowed from i02 (no code)
    assert jc.loc["session:web:s1", "followed_by_assisted"]
    assert not jc.loc["session:web:s2", "followed_by_assisted"]
    assert "session:web:s3" not in jc.index                   # browsing, not self-service


def test_window_and_reason_settings(make_workspace):
    short = make_workspace("duckdb", name="short")
    short.settings.journeys.window_days = 1.0
    fx.load(short)
    stage.run(short)
    groups = _groups(short)
    assert {"i01", "i02"} in groups and {"i03"} in groups    # 2-day gap > 1-day window
    mixed = make_workspace("duckdb", name="mixed")
    mixed.settings.journeys.split_by_reason = False
    fx.load(mixed)
    stage.run(mixed)
    assert {"i05", "i06", "i07"} in _groups(mixed)


def test_empty_workspace_and_missing_identity(make_workspace):
    ws = make_workspace("duckdb", name="empty")
    assert stage.run(ws)["journeys"] == 0
    fx.load(ws, with_web=False)
    ws.warehouse.replace("identity_map", [])
    stage.run(ws)
    assert len(_groups(ws)) == len(fx.ROWS)                   # nothing linked: one each


@pytest.mark.slow
def test_duckdb_and_pyspark_agree(make_workspace):
    tables = {}
    for engine in ("duckdb", "pyspark"):
        ws = make_workspace(engine, name=engine)
        fx.load(ws)
        stage.run(ws)
        j = ws.warehouse.table("journeys").to_pandas().sort_values("journey_id")
        c = ws.warehouse.table("journey_contacts").to_pandas().sort_values("interaction_id")
        tables[engine] = (j.reset_index(drop=True), c.reset_index(drop=True))
    pd.testing.assert_frame_equal(tables["duckdb"][0], tables["pyspark"][0], check_dtype=False)
    pd.testing.assert_frame_equal(tables["duckdb"][1], tables["pyspark"][1], check_dtype=False)


def test_score_counts_exact_split_and_merged():
    truth = pd.DataFrame({"interaction_id": list("abcdef"),
                          "problem_id": ["P1", "P1", "P2", "P3", "P3", "P4"]})
    mapped = pd.DataFrame({"interaction_id": list("abcdef"),
                           "journey_id": ["J1", "J1", "J2", "J2", "J3", "J4"]})
    result = score(truth, mapped)
    assert result["true_episodes"] == 4 and result["exact"] == 2     # P1, P4
    assert result["split_episodes"] == 1 and result["merged_journeys"] == 1
    assert result["exact_rate"] == 0.5


def test_evaluate_against_truth_file_and_cli(stitched):
    ws, _ = stitched
    with pytest.raises(NotFoundError, match="no synth truth"):
        evaluate(ws)
    rows = [{"interaction_id": f"crm:{i}", "problem_id": f"P{n}"}
            for n, group in enumerate(fx.EXPECTED) for i in sorted(group)]
    ws.truth_dir.mkdir()
    pd.DataFrame(rows).to_parquet(ws.truth_dir / "interactions.parquet")
    assert evaluate(ws)["exact_rate"] == 1.0
    rows[0]["problem_id"] = "P99"   # pretend i01 belonged to another problem
    pd.DataFrame(rows).to_parquet(ws.truth_dir / "interactions.parquet")
    assert evaluate(ws)["exact"] == len(fx.EXPECTED) - 1
    ws.close()
    result = CliRunner().invoke(app, ["eval", "journeys", "--workspace", str(ws.path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["true_episodes"] == len(fx.EXPECTED) + 1
