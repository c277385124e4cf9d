"""The API and report on a synth workspace: same numbers everywhere, audits, render time."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _audit(demo_client, demo_ws):
    """Audit rows, read with the server's own connection (one process may hold the file)."""
    gate = demo_client.app.state.gate
    with gate.workspace() as ws:
        return ws.warehouse.table("audit_log").to_pyarrow().to_pylist()


def test_api_views_have_data(demo_client):
    overview = demo_client.get("/api/v1/overview").json()
    tiles = {t["kpi"]: t for t in overview["tiles"]}
    assert tiles["offered"]["value"] > 0 and tiles["aht"]["value"] > 0
    journeys = demo_client.get("/api/v1/journeys").json()
    assert journeys["paths"] and journeys["fcr_by_reason"]["fcr_true"]
    assert sum(p["journeys"] for p in journeys["paths"]) > 0
    agents = demo_client.get("/api/v1/agents").json()
    assert agents["queue"] and agents["agent"] and agents["team"]
    # Teams are re-aggregated from agents: handled per team sums to handled per queue.
    assert sum(r["handled"] for r in agents["team"]) == sum(r["handled"] for r in agents["queue"])
    heat = demo_client.get("/api/v1/heatmap").json()["cells"]
    assert len(heat) == 168 and sum(c["contacts"] for c in heat) == tiles["offered"]["value"]
    quality = demo_client.get("/api/v1/quality").json()
    assert quality["counts"]["interactions"] > 0
    rows = demo_client.get("/api/v1/kpi/aht", params={"by": "channel"}).json()["rows"]
    assert {r["channel"] for r in rows} >= {"phone"}


def test_a_period_without_data_says_no_data_not_zero(demo_client):
    r = demo_client.get("/api/v1/overview", params={"start": "2020-01-01", "end": "2020-01-31"})
    tiles = {t["kpi"]: t for t in r.json()["tiles"]}
    assert tiles["csat"]["no_data"] and tiles["csat"]["value"] is None
    assert tiles["aht"]["no_data"]


def test_report_has_the_same_numbers_as_the_ui(demo_client, demo_ws, tmp_path):
    from cxlens import report

    gate = demo_client.app.state.gate
    with gate.workspace() as ws:
        first, last = __import__("cxlens.server.data", fromlist=["x"]).data_period(ws)
        month = f"{first.year:04d}-{first.month:02d}"
        out = tmp_path / "report.html"
        summary = report.build(ws, month, out)
        doc = report.collect(ws, month)
    html = out.read_text(encoding="utf-8")
    assert summary["charts"] >= 6 and summary["kpis"] >= 10
    assert (
        "<script src=" not in html
        and "echarts" in html
        and "http://" not in html.split("<script>")[0]
    )
    ui = demo_client.get("/api/v1/overview", params={"start": doc["start"], "end": doc["end"]})
    ui_tiles = {t["kpi"]: t["value"] for t in ui.json()["tiles"]}
    for tile in doc["tiles"]:
        assert tile["value"] == ui_tiles[tile["kpi"]], tile["kpi"]
        if tile["value"] is not None:
            assert tile["display"] in html
    assert any(
        a["action"] == "report" and a["target"] == month for a in _audit(demo_client, demo_ws)
    )


def test_drill_down_csv_is_an_audited_export(demo_client, demo_ws):
    r = demo_client.get("/api/v1/contacts.csv", params={"kpi": "handled"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows and "interaction_id" in rows[0]
    listed = demo_client.get("/api/v1/contacts", params={"kpi": "handled", "limit": 5}).json()
    assert len(listed["rows"]) == 5 and listed["more"]
    exports = [a for a in _audit(demo_client, demo_ws) if a["action"] == "export"]
    assert (
        exports and exports[-1]["actor"] == "demo" and exports[-1]["target"] == "contacts:handled"
    )


def test_profile_read_is_audited_without_the_identifier(demo_client, demo_ws):
    gate = demo_client.app.state.gate
    with gate.workspace() as ws:
        ids = ws.warehouse.table("identifiers")
        # A phone seen on a contact, so the customer has at least one timeline event.
        mine = ids.filter((ids.id_type == "phone") & (ids.record_table == "interactions"))
        row = mine.order_by("source_id").limit(1).to_pyarrow().to_pylist()[0]
    written = row["raw_value"] or row["id_value"]
    r = demo_client.get(f"/api/v1/customers/{written}")
    assert r.status_code == 200, r.text
    profile = r.json()
    assert profile["customer_key"] and profile["timeline"]
    reads = [a for a in _audit(demo_client, demo_ws) if a["action"] == "profile.read"]
    assert reads and reads[-1]["actor"] == "demo"
    assert reads[-1]["target"] == profile["customer_key"]
    assert all(row["id_value"] not in (a["target"] or "") + (a["detail"] or "") for a in reads)


def test_pages_render_under_a_second_once_warm(demo_client):
    from cxlens.server.pages import warm

    assert warm(demo_client.app.state.gate, languages=("en",)) >= 5
    for path in ("/", "/journeys", "/agents", "/quality", "/workforce"):
        r = demo_client.get(path + "?lang=en", headers={"accept": "text/html"})
        assert r.status_code == 200
        server_ms = int(r.headers["server-timing"].split("dur=")[1])
        assert server_ms < 1000, (path, server_ms)


def test_demo_summary(demo_ws):
    import json

    from rich.console import Console

    from cxlens import demo

    path = demo_ws / ".demo-summary.json"
    if not path.exists():  # a prebuilt workspace was copied in (WEB_TEST_PREBUILT_WS)
        pytest.skip("workspace not built by demo.build in this session")
    summary = json.loads(path.read_text())
    assert summary["tables"]["interactions"] > 0 and summary["tables"]["journeys"] > 0
    assert summary["login"] == {"username": "demo", "password": "demo"}
    assert {s["stage"] for s in summary["stages"]} >= {"identity", "journeys", "profile"}
    assert all(s["status"] in {"done", "up to date"} for s in summary["stages"])
    assert summary["kpis"] and summary["period"]["start"] <= summary["period"]["end"]
    assert Path(summary["report"]).exists()
    console = Console(record=True, width=120)
    demo.print_summary(summary, console)
    text = console.export_text()
    assert "interactions" in text and "report:" in text
