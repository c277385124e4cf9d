"""The daily KPI rollup gives the overview the same numbers as a scan, and never stale ones."""

from __future__ import annotations

from datetime import datetime

import metrics_fixture
import pyarrow as pa
import pytest

from cxlens import metrics
from cxlens.load import store_records
from cxlens.metrics import rollup
from cxlens.pipeline import STAGE_NAMES

START, END = "2026-10-05", "2026-10-11"


def _key(tiles):
    return [(t["kpi"], t["value"], t["previous"], t["status"]) for t in tiles]


def test_rollup_matches_scan_and_goes_stale(make_workspace):
    ws = make_workspace("duckdb")
    metrics_fixture.load(ws)
    assert not rollup.is_fresh(ws)
    summary = rollup.run(ws)
    assert summary["rollup_rows"] > 0 and rollup.is_fresh(ws)
    for flt in ({}, {"channel": "phone"}, {"reason": ["billing", "complaint"]}, {"tier": "vip"}):
        assert _key(metrics.overview(ws, START, END, flt)) == _key(
            metrics.overview(ws, START, END, flt, use_rollup=False)), flt
    tiles = {t["kpi"]: t for t in metrics.overview(ws, START, END)}
    assert tiles["aht"]["value"] == pytest.approx(2855 / 11)
    assert tiles["contacts_per_customer"]["value"] == pytest.approx(3.5)   # not in the rollup
    # new data: the rollup no longer matches the warehouse, so the overview scans
    store_records(ws, "interactions", pa.Table.from_pylist([{
        "source": "fx", "source_id": "new", "channel": "phone", "direction": "inbound",
        "agent_id": "a1", "started_at": datetime(2026, 10, 6, 2), "wait_s": 5.0,
        "talk_s": 100.0, "abandoned": False, "resolved": True}]))
    assert not rollup.is_fresh(ws)
    assert {t["kpi"]: t for t in metrics.overview(ws, START, END)}["offered"]["value"] == 16


def test_rollup_is_a_pipeline_stage():
    assert STAGE_NAMES[-1] == "kpis"
