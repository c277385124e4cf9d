"""Every KPI against values computed by hand on tests/fixtures/metrics (20 interactions).

Period under test: local days 2026-10-05 .. 2026-10-11 in Asia/Shanghai
(= 2026-10-04 16:00 .. 2026-10-11 16:00 UTC). In it: 17 interactions (p17 is on 10-20, p19 on
09-28; p20 at 10-04 17:00 UTC is already 10-05 01:00 local). Offered = inbound, not a
self-service leg: 15 (i10, i12 are IVR without agent; p13 is outbound).
"""

from __future__ import annotations

from datetime import date, datetime

import metrics_fixture
import pytest

import cxlens
from cxlens import metrics
from cxlens.config import load_settings
from cxlens.errors import InputError, NotFoundError

START, END = "2026-10-05", "2026-10-11"

# kpi -> (value, numerator, denominator), with the working
EXPECTED = {
    "offered": (15, 15, 15),
    "handled": (12, 12, 12),                     # minus p03, p04, c16 (abandoned)
    "abandoned": (2, 2, 2),                      # p04 (60 s), c16 (100 s); p03 waited 3 s: short
    "abandon_rate": (2 / 14 * 100, 2, 14),       # short abandon out of both
    "asa": (238 / 10, 238, 10),                  # 50+10+40+15+25+20+30+5+25+18 over live handled
    "service_level": (5 / 12 * 100, 5, 12),      # p01 p05 p08(20 s) p11 p18 within 20 s
    "aht": (2855 / 11, 2855, 11),                # p14 has no talk/end time: excluded
    "transfer_rate": (1 / 12 * 100, 1, 12),      # p02
    "fcr_true": (6 / 9 * 100, 6, 9),             # s15 p20 e07 p08 p09 p11 of 9 journeys
    "fcr_channel": (8 / 11 * 100, 8, 11),        # p01 repeats on phone; p05, p18 unresolved
    "repeat_rate": (5 / 15 * 100, 5, 15),        # p01 p03 p04 p05 p14 were followed
    "csat": (3.5, 14, 4),                        # 5 2 4 3
    "csat_top2": (50.0, 2, 4),
    "nps": (25.0, 1, 4),                         # promoters p01 p09, detractor p05
    "ces": (11 / 3, 11, 3),                      # 2 6 3
    "sentiment_index": (-0.5 / 3 * 100, -0.5, 3),
    "complaint_rate": (20.0, 3, 15),             # p08 p09 p18
    "contacts_per_customer": (3.5, 14, 4),       # p18 is not linked
    "self_service_containment": (50.0, 1, 2),    # i10 led to p11; i12 did not
}


def _new(tmp_path_factory, name: str, **locale: str) -> cxlens.Workspace:
    settings = load_settings(None, environ={})
    for key, value in locale.items():
        setattr(settings.locale, key, value)
    return cxlens.init(tmp_path_factory.mktemp(name) / "ws", settings)


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    workspace = _new(tmp_path_factory, "kpi")
    metrics_fixture.load(workspace)
    yield workspace
    workspace.close()


def test_registry_covers_the_issue():
    wanted = {"offered", "handled", "abandoned", "abandon_rate", "asa", "service_level", "aht",
              "transfer_rate", "fcr_true", "fcr_channel", "repeat_rate", "csat", "csat_top2",
              "nps", "ces", "sentiment_index", "complaint_rate", "contacts_per_customer",
              "self_service_containment"}
    assert set(metrics.KPIS) == wanted == set(EXPECTED)
    for k in metrics.KPIS.values():
        assert k.label_en and k.label_zh and k.unit
        assert k.numerator and "Excludes" in k.definition
        assert k.kind == "count" or k.denominator
    assert set(metrics.DIMENSIONS) == {"channel", "queue", "agent", "team", "reason", "tier",
                                       "segment", "language"}
    assert metrics.GRAINS == ("15min", "hour", "day", "week", "month")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_kpi_matches_hand_computed_value(ws, name):
    value, num, den = EXPECTED[name]
    frame = metrics.compute(ws, name, start=START, end=END)
    assert len(frame) == 1
    row = frame.iloc[0]
    assert row["value"] == pytest.approx(value)
    assert row["numerator"] == pytest.approx(num)
    assert row["denominator"] == pytest.approx(den)


def test_overview_tiles_equal_compute_and_carry_previous_period(ws):
    tiles = {t["kpi"]: t for t in metrics.overview(ws, START, END)}
    assert list(tiles) == list(metrics.KPIS)
    for name, (value, _, _) in EXPECTED.items():
        assert tiles[name]["value"] == pytest.approx(value), name
        assert tiles[name]["status"] == "ok"
    # previous period 09-28 .. 10-04 local holds only p19 (phone, a1, billing, csat 1)
    assert tiles["offered"]["previous"] == 1
    assert tiles["offered"]["change"] == 14
    assert tiles["abandoned"]["previous"] == 0
    assert tiles["aht"]["previous"] == pytest.approx(300.0)
    assert tiles["csat"]["previous"] == pytest.approx(1.0)
    assert tiles["self_service_containment"]["previous"] is None
    assert tiles["offered"]["label_zh"] == "呼入量"


def test_slices_by_team_tier_segment(ws):
    aht = metrics.compute(ws, "aht", by="team", start=START, end=END).set_index("team")
    assert aht.loc["T1", "value"] == pytest.approx(2035 / 8)
    assert aht.loc["T2", "value"] == pytest.approx(820 / 3)
    tier = metrics.compute(ws, "offered", by="tier", start=START, end=END)
    assert dict(zip(tier["tier"].fillna("?"), tier["value"], strict=True)) == {
        "vip": 5, "regular": 9, "?": 1}
    seg = metrics.compute(ws, "offered", by=["segment"], start=START, end=END)
    assert dict(zip(seg["segment"].fillna("?"), seg["value"], strict=True)) == {
        "loyal": 3, "at_risk": 5, "?": 7}


def test_multi_dimension_slices_add_up(ws):
    frame = metrics.compute(ws, "repeat_rate", by=["channel", "reason"], start=START, end=END)
    assert frame["numerator"].sum() == 5
    assert frame["denominator"].sum() == 15
    fcr = metrics.compute(ws, "fcr_true", by="channel", start=START, end=END).set_index("channel")
    assert fcr.loc["phone", "denominator"] == 7   # p01 p20 p05 p08 p09 p11 p18
    assert fcr.loc["phone", "numerator"] == 4     # p20 p08 p09 p11


def test_filters(ws):
    def offered(**flt):
        return metrics.compute(ws, "offered", start=START, end=END, filters=flt).iloc[0]["value"]

    assert offered(channel="phone") == 11
    assert offered(channel=["phone", "chat"]) == 13
    assert offered(team="T2") == 4            # c06 e07 p14 s15
    assert offered(tier="vip", language="zh") == 4   # p01 p02 s15 p11


def test_local_day_boundaries_shanghai_vs_utc(ws, tmp_path_factory):
    sh = metrics.compute(ws, "offered", grain="day", start=START, end=END)
    assert [(p.date().isoformat(), v) for p, v in zip(sh["period"], sh["value"], strict=True)] == [
        ("2026-10-05", 7), ("2026-10-06", 2), ("2026-10-07", 2), ("2026-10-08", 3),
        ("2026-10-09", 1)]
    utc_ws = _new(tmp_path_factory, "utc", timezone="UTC")
    metrics_fixture.load(utc_ws, journeys=False)
    utc = metrics.compute(utc_ws, "offered", grain="day", start=START, end=END)
    assert [(p.date().isoformat(), v) for p, v in zip(utc["period"], utc["value"], strict=True)] == [
        ("2026-10-05", 6), ("2026-10-06", 3), ("2026-10-07", 1), ("2026-10-08", 3),
        ("2026-10-09", 1)]
    utc_ws.close()


def test_hour_15min_week_month_grains(ws):
    hours = metrics.compute(ws, "offered", grain="hour", start="2026-10-06", end="2026-10-06")
    assert list(hours["period"]) == [datetime(2026, 10, 6, 9), datetime(2026, 10, 6, 23)]
    quarter = metrics.compute(ws, "offered", grain="15min", start="2026-10-06", end="2026-10-06")
    assert list(quarter["period"]) == [datetime(2026, 10, 6, 9), datetime(2026, 10, 6, 23, 30)]
    week = metrics.compute(ws, "offered", grain="week", start=START, end=END)
    assert list(week["period"]) == [datetime(2026, 10, 5)] and list(week["value"]) == [15]
    month = metrics.compute(ws, "offered", grain="month")
    assert dict(zip(month["period"], month["value"], strict=True)) == {
        datetime(2026, 9, 1): 1, datetime(2026, 10, 1): 16}


def test_compare_with_previous_period(ws):
    frame = metrics.compute(ws, "offered", start=START, end=END, compare=True)
    assert frame.iloc[0]["previous"] == 1 and frame.iloc[0]["change"] == 14
    by_day = metrics.compute(ws, "offered", grain="day", start=START, end=END, compare=True)
    previous = by_day.set_index("period")["previous"]
    # p19 (09-28 10:00 local) is the previous period's first day, aligned onto 10-05
    assert previous.loc[datetime(2026, 10, 5)] == 1
    assert previous.drop(datetime(2026, 10, 5)).isna().all()


def test_heatmap_local_weekday_hour(ws):
    grid = metrics.heatmap(ws, START, END)
    assert len(grid) == 168 and grid["contacts"].sum() == 15
    tuesday = date(2026, 10, 6).weekday()
    assert grid.set_index(["weekday", "hour"]).loc[(tuesday, 23), "contacts"] == 1   # p08


def test_drilldown_lists_the_contacts_behind_a_kpi(ws):
    rows = metrics.contacts(ws, "abandon_rate", START, END)
    assert len(rows) == 14
    assert set(rows.loc[rows["measure"] == 1, "interaction_id"]) == {"fx:p04", "fx:c16"}
    aht = metrics.contacts(ws, "aht", START, END)
    assert "fx:p14" not in set(aht["interaction_id"])     # missing end time: not in AHT
    assert metrics.contacts(ws, "offered", START, END, limit=3).shape[0] == 3
    csat = metrics.contacts(ws, "csat", START, END)
    assert sorted(csat["measure"]) == [2, 3, 4, 5]
    first = metrics.contacts(ws, "offered", START, END)
    assert first.iloc[0]["interaction_id"] == "fx:p18"    # newest first, local time
    assert first.iloc[0]["started_at"] == datetime(2026, 10, 9, 18)


def test_period_bounds_are_local_dates(ws):
    assert metrics.period_bounds(ws) == (date(2026, 9, 28), date(2026, 10, 20))


def test_empty_period_counts_zero_rates_no_data(ws):
    assert metrics.compute(ws, "offered", start="2027-01-01", end="2027-01-31").iloc[0][
        "value"] == 0
    assert metrics.compute(ws, "abandon_rate", start="2027-01-01", end="2027-01-31").iloc[0][
        "value"] is None
    assert metrics.compute(ws, "aht", by="agent", start="2027-01-01", end="2027-01-31").empty
    tiles = {t["kpi"]: t for t in metrics.overview(ws, "2027-01-01", "2027-01-31")}
    assert tiles["aht"]["status"] == "no data" and tiles["aht"]["value"] is None
    assert tiles["offered"]["status"] == "no data"


@pytest.mark.parametrize("call, error, words", [
    (lambda w: metrics.compute(w, "speed"), NotFoundError, "valid KPIs: offered"),
    (lambda w: metrics.compute(w, "aht", by="colour"), NotFoundError, "valid dimensions"),
    (lambda w: metrics.compute(w, "aht", by=["channel", "channel"]), InputError, "repeated"),
    (lambda w: metrics.compute(w, "aht", grain="year"), InputError, "valid grains"),
    (lambda w: metrics.compute(w, "aht", filters={"site": "x"}), NotFoundError, "filter"),
    (lambda w: metrics.compute(w, "aht", start="2026-02-30"), InputError, "YYYY-MM-DD"),
    (lambda w: metrics.compute(w, "aht", start=END, end=START), InputError, "before"),
    (lambda w: metrics.contacts(w, "aht", limit=0), InputError, "limit"),
])
def test_bad_input_says_what_is_valid(ws, call, error, words):
    with pytest.raises(error) as info:
        call(ws)
    assert words in str(info.value)


def test_no_surveys_no_insights_no_journeys_mean_no_data(make_workspace):
    bare = make_workspace("duckdb", name="bare")
    metrics_fixture.load(bare, surveys=False, insights=False, journeys=False)
    tiles = {t["kpi"]: t for t in metrics.overview(bare, START, END)}
    for name in ("csat", "csat_top2", "nps", "ces", "sentiment_index", "fcr_true",
                 "fcr_channel", "repeat_rate", "self_service_containment"):
        assert tiles[name]["status"] == "no data" and tiles[name]["value"] is None, name
    assert tiles["offered"]["value"] == 15 and tiles["aht"]["status"] == "ok"
    frame = metrics.compute(bare, "csat", by="channel", start=START, end=END)
    assert frame.empty and "value" in frame.columns
    assert metrics.compute(bare, "nps").iloc[0]["value"] is None
    assert metrics.contacts(bare, "csat").empty


@pytest.mark.slow
def test_pyspark_gives_the_same_kpis(make_workspace):
    spark = make_workspace("pyspark", name="spark")
    metrics_fixture.load(spark)
    tiles = {t["kpi"]: t for t in metrics.overview(spark, START, END, use_rollup=False)}
    for name, (value, _, _) in EXPECTED.items():
        assert tiles[name]["value"] == pytest.approx(value), name
    days = metrics.compute(spark, "offered", grain="day", start=START, end=END)
    assert list(days["value"]) == [7, 2, 2, 3, 1]


def test_drilldown_looks_up_customer_keys_of_the_rows_shown(ws):
    # the key is joined after the newest rows are picked: each is the identity map's key
    from cxlens.metrics import facts

    rows = metrics.contacts(ws, "handled", START, END)
    keyed = facts.contacts(ws, {"customer"}).to_pyarrow().to_pylist()
    expected = {r["interaction_id"]: r["customer_key"] for r in keyed}
    assert len(rows) > 5 and rows["customer_key"].notna().any()
    for iid, key in zip(rows["interaction_id"], rows["customer_key"], strict=True):
        assert (None if key is None or key != key else key) == expected[iid], iid
    assert list(rows["started_at"]) == sorted(rows["started_at"], reverse=True)
    vip = metrics.contacts(ws, "handled", START, END, {"tier": "vip"})  # joined first: same keys
    assert set(vip["interaction_id"]) <= set(rows["interaction_id"])
    for iid, key in zip(vip["interaction_id"], vip["customer_key"], strict=True):
        assert key == expected[iid]


def test_drilldown_sql_equals_the_ibis_query(ws, monkeypatch):
    # on DuckDB the population is compiled once and run with bound values: the same rows
    from cxlens.metrics import rollup_read

    cases = [(kpi, flt) for kpi in ("handled", "aht", "csat", "fcr_true", "abandon_rate")
             for flt in ({}, {"channel": ["phone", "chat"]}, {"tier": "vip"},
                         {"queue": "q_zh", "agent": "a1"}, {"channel": "x'); DROP TABLE t; --"})]
    fast = [metrics.contacts(ws, kpi, START, END, flt) for kpi, flt in cases]
    assert sum(len(f) for f in fast) > 20
    monkeypatch.setattr(rollup_read, "connection", lambda ws: None)
    for (kpi, flt), got in zip(cases, fast, strict=True):
        want = metrics.contacts(ws, kpi, START, END, flt)
        assert list(got.columns) == list(want.columns), (kpi, flt)
        for col in got.columns:
            assert [str(x) for x in got[col]] == [str(x) for x in want[col]], (kpi, flt, col)
