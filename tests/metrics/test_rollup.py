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


# -- every rollup-served query gives the scan's numbers ---------------------------------------
CASES = [  # (by, grain, filters, start, end)
    (None, None, {}, START, END),
    ("channel", "day", {}, START, END),
    (["reason", "language"], "week", {"channel": ["phone", "chat"]}, START, END),
    ("queue", "month", {}, None, None),
    (None, "day", {"reason": "complaint"}, "2026-09-20", "2026-10-25"),
    # what the web pages filter and slice by: tier (daily rollup), agent and team (agent rollup)
    ("queue", "day", {"tier": ["vip", "regular"]}, START, END),
    (["team", "agent"], None, {"channel": "phone", "tier": "vip"}, START, END),
    ("agent", "week", {"queue": ["q_zh", "q_en"]}, None, None),
    ("team", None, {}, START, END),
]


def _same_frames(a, b):
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    for col in a.columns:
        for x, y in zip(a[col].tolist(), b[col].tolist(), strict=True):
            if isinstance(x, float) and isinstance(y, float):
                assert x == pytest.approx(y, rel=1e-9, abs=1e-9, nan_ok=True), col
            else:
                assert str(x) == str(y), col


def _assert_rollup_matches_scan(ws, cases, kpis=None):
    # every KPI (or those named) with two cases each: the full product would take minutes
    for n, k in enumerate(k for k in rollup.rollup_kpis() if kpis is None or k.name in kpis):
        for by, grain, flt, start, end in cases[n % len(cases):][:2]:
            fast = metrics.compute(ws, k.name, by, grain, start, end, flt, compare=bool(start))
            slow = metrics.compute(ws, k.name, by, grain, start, end, flt, compare=bool(start),
                                   use_rollup=False)
            _same_frames(fast, slow)
    for flt in ({}, {"channel": "phone"}, {"language": ["en"]}, {"tier": "vip"}):
        for start, end in ((START, END), (None, None)):
            fast = metrics.heatmap(ws, start, end, flt)
            assert fast["contacts"].tolist() == metrics.heatmap(
                ws, start, end, flt, use_rollup=False)["contacts"].tolist()
        fast_tiles = _key(metrics.overview(ws, START, END, flt))
        slow_tiles = _key(metrics.overview(ws, START, END, flt, use_rollup=False))
        for a, b in zip(fast_tiles, slow_tiles, strict=True):
            # sums of seconds re-added per day differ from one sum in the last bits
            assert (a[0], a[3]) == (b[0], b[3]), flt
            for x, y in zip(a[1:3], b[1:3], strict=True):
                assert x == y if x is None or y is None else x == pytest.approx(y, rel=1e-12)


# p20 (2026-10-04 17:00 UTC) is on 10-05 only in Shanghai: hand counts of the period per zone
BY_ZONE = {"Asia/Shanghai": {"offered": 15, "per_customer": (14, 3.5)},
           "UTC": {"offered": 14, "per_customer": (13, 3.25)}}


def _check_rollup_tables(ws, timezone, kpis):
    metrics_fixture.load(ws)
    summary = rollup.run(ws)
    assert summary["kpi_rollup_hourly_rows"] > 0 and summary["kpi_rollup_customers_rows"] > 0
    assert rollup.fresh_tables(ws) == set(rollup.TABLES)
    _assert_rollup_matches_scan(ws, CASES, kpis)
    expected = BY_ZONE[timezone]
    assert int(metrics.heatmap(ws, START, END)["contacts"].sum()) == expected["offered"]
    tiles = {t["kpi"]: t for t in metrics.overview(ws, START, END)}
    assert tiles["contacts_per_customer"]["numerator"] == expected["per_customer"][0]
    assert tiles["contacts_per_customer"]["value"] == pytest.approx(expected["per_customer"][1])


def test_rollup_serves_heatmap_and_distinct_customers_in_utc(make_workspace):
    _check_rollup_tables(make_workspace("duckdb", timezone="UTC"), "UTC",
                         {"offered", "aht", "csat", "fcr_true"})


@pytest.mark.slow
def test_rollup_serves_every_kpi(make_workspace):
    _check_rollup_tables(make_workspace("duckdb"), "Asia/Shanghai", None)


def test_a_stale_customer_rollup_is_not_read(make_workspace):
    ws = make_workspace("duckdb")
    metrics_fixture.load(ws)
    rollup.run(ws)
    # a customer rollup from another build (wrong counts) must be ignored, not summed
    bogus = ws.warehouse.table(rollup.CUSTOMERS).to_pyarrow()
    bogus = bogus.set_column(bogus.schema.get_field_index("fingerprint"), "fingerprint",
                             pa.array(["old"] * bogus.num_rows))
    ws.warehouse.replace(rollup.CUSTOMERS, pa.concat_tables([bogus, bogus]))
    assert rollup.fresh_tables(ws) == {rollup.DAILY, rollup.HOURLY, rollup.AGENTS}
    tiles = {t["kpi"]: t for t in metrics.overview(ws, START, END)}
    assert tiles["contacts_per_customer"]["numerator"] == 14


@pytest.mark.slow
def test_rollup_matches_scan_on_a_synth_sample(make_workspace):
    from cxlens import synth
    from cxlens.pipeline import run as run_pipeline

    ws = make_workspace("duckdb")
    synth.generate(ws, synth.SynthConfig.checked(customers=300, days=40, seed=3,
                                                 start="2026-09-01"), workers=1)
    run_pipeline(ws, ["identity", "journeys", "kpis"])
    assert rollup.fresh_tables(ws) == set(rollup.TABLES)
    cases = [(by, grain, flt, "2026-09-22", "2026-10-10") for by, grain, flt, _, _ in CASES]
    _assert_rollup_matches_scan(ws, [*cases, (["channel", "queue"], None, {}, None, None)])


@pytest.mark.slow
def test_rollup_reads_through_ibis_match_the_scan(make_workspace, monkeypatch):
    # other engines than DuckDB read the rollups through Ibis: the same numbers
    from cxlens.metrics import rollup_read

    ws = make_workspace("duckdb")
    metrics_fixture.load(ws)
    rollup.run(ws)
    monkeypatch.setattr(rollup_read, "connection", lambda ws: None)
    _assert_rollup_matches_scan(ws, CASES[:3])


def test_rollup_reads_bind_values_and_handle_empty_periods(make_workspace):
    ws = make_workspace("duckdb")
    metrics_fixture.load(ws)
    rollup.run(ws)
    nasty = {"channel": ["phone'); DELETE FROM kpi_rollup; --", 'x" OR TRUE']}
    tiles = {t["kpi"]: t for t in metrics.overview(ws, START, END, nasty)}
    assert tiles["offered"]["value"] == 0 and tiles["aht"]["value"] is None
    assert int(metrics.heatmap(ws, START, END, nasty)["contacts"].sum()) == 0
    assert metrics.compute(ws, "offered", by="channel", start=START, end=END,
                           filters=nasty).empty
    assert rollup.fresh_tables(ws) == set(rollup.TABLES)  # nothing was deleted
    # a period without contacts: the rollup answers as the scan does ("no data", not 0)
    empty = ("2027-03-01", "2027-03-07")
    assert _key(metrics.overview(ws, *empty)) == _key(
        metrics.overview(ws, *empty, use_rollup=False))
    frame = metrics.compute(ws, "aht", grain="day", start=empty[0], end=empty[1])
    assert frame.empty and list(frame.columns) == ["period", "value", "numerator", "denominator"]


def test_compute_many_equals_compute_one_by_one(make_workspace):
    # the agents page asks five KPIs at once: one rollup query, the frames of five scans
    ws = make_workspace("duckdb")
    metrics_fixture.load(ws)
    rollup.run(ws)
    names = ["handled", "aht", "fcr_channel", "fcr_true", "csat", "contacts_per_customer"]
    for by, grain, flt in ((["team", "agent"], None, {"tier": "vip"}), ("queue", None, {}),
                           (None, None, {"channel": "phone"}), (None, "day", {"tier": "vip"}),
                           ("segment", None, {})):
        many = metrics.compute_many(ws, names, by, grain, START, END, flt)
        assert list(many) == names
        for name in names:
            _same_frames(many[name], metrics.compute(ws, name, by, grain, START, END, flt,
                                                     use_rollup=False))
    with pytest.raises(metrics.query.NotFoundError):
        metrics.compute_many(ws, ["handled", "no_such_kpi"])


@pytest.mark.slow
@pytest.mark.spark
def test_pyspark_builds_the_same_rollups(make_workspace):
    """The rollup build (one query per fact, the sentiment KPI riding with the contacts) gives
    the same rows on Spark as on DuckDB."""
    duck = make_workspace("duckdb")
    spark = make_workspace("pyspark", name="spark")
    rows = {}
    for ws in (duck, spark):
        metrics_fixture.load(ws)
        table = rollup.build(ws).drop_columns(["built_at"])
        rows[ws.warehouse.backend] = sorted(
            (tuple(round(v, 6) if isinstance(v, float) else v for v in row.values())
             for row in table.to_pylist()), key=repr)
    assert rows["duckdb"] and rows["duckdb"] == rows["pyspark"]
