"""History, patience, forecast and backtest on a generated contact history."""

from __future__ import annotations

import pandas as pd
import pytest

from cxlens.errors import ConfigError, InputError, NotFoundError
from cxlens.wfm.forecast import BASELINE, forecast
from cxlens.wfm.history import estimate_patience, load_history


@pytest.mark.slow  # PySpark session start dominates
def test_history_counts_and_local_time_on_each_engine(make_workspace, engine, make_history):
    ws = make_workspace(engine)
    frame = make_history(ws, days=3, queues=("billing",), channels=("phone", "email"),
                         daily_calls=80)
    hist = load_history(ws, 30)
    assert set(hist["channel"]) == {"phone"}  # email is not a planned real-time channel
    phone = frame[frame["channel"] == "phone"]
    assert hist["calls"].sum() == len(phone)
    assert hist["abandoned"].sum() == phone["abandoned"].sum()
    # the grid is complete local days (Asia/Shanghai = UTC+8), 48 intervals each
    assert len(hist) == 3 * 48
    assert hist["interval_start"].min() == pd.Timestamp("2026-06-01 00:00")
    local = (phone["started_at"] + pd.Timedelta(hours=8)).dt.floor("30min")
    expected = local.value_counts().sort_index()
    got = hist.set_index("interval_start")["calls"]
    assert (got[expected.index] == expected.to_numpy()).all()
    patience = estimate_patience(ws)["billing"]
    waited = phone["wait_s"].sum()
    assert patience.patience_s == pytest.approx(waited / phone["abandoned"].sum(), rel=1e-9)


def test_forecast_beats_seasonal_naive_and_covers_the_horizon(history_ws):
    result = forecast(history_ws, days=7, interval=30)
    fc = result.forecast
    assert set(fc["queue"]) == {"billing", "tech"}
    assert len(fc) == 2 * 7 * 48
    assert fc["interval_start"].min() == pd.Timestamp("2026-07-06 00:00")
    assert (fc["calls"] >= 0).all() and (fc["aht_s"] > 100).all()
    chosen = result.backtest[result.backtest["chosen"]]
    assert len(chosen) == 2
    assert chosen["beats_baseline"].all()
    assert (chosen["wape"] < chosen["baseline_wape"]).all()
    assert chosen["bias"].abs().max() < 0.1
    # weekly shape: a forecast Saturday is quieter than a forecast Tuesday
    day = fc.groupby(fc["interval_start"].dt.dayofweek)["calls"].sum()
    assert day[5] < 0.7 * day[1]
    # intraday shape: 11:00 busier than 03:00
    slot = fc.groupby(fc["interval_start"].dt.hour)["calls"].sum()
    assert slot[11] > 5 * slot[3]
    assert len(result.holdout) == 2 * 7 * 48 and result.holdout["actual"].sum() > 0
    assert BASELINE not in set(result.backtest["model"])


def test_incident_spike_last_week_does_not_become_the_forecast(make_workspace, make_history):
    ws = make_workspace("duckdb")
    make_history(ws, days=28, queues=("billing",), incident_day=24, daily_calls=300)
    result = forecast(ws, days=7, interval=60, backtest_weeks=1)
    fc = result.forecast
    incident_weekday = (pd.Timestamp("2026-06-01") + pd.Timedelta(days=24)).dayofweek
    by_day = fc.groupby(fc["interval_start"].dt.dayofweek)["calls"].sum()
    # the same weekday is forecast near its usual volume, not 3x
    others = by_day.drop(incident_weekday)
    weekdays = others[others.index < 5]
    assert by_day[incident_weekday] < 1.4 * weekdays.mean()


def test_queue_without_history_is_a_clear_error(history_ws):
    with pytest.raises(NotFoundError, match="no inbound contacts for queue 'nope'"):
        forecast(history_ws, queue="nope")


def test_empty_warehouse_invents_nothing(make_workspace):
    with pytest.raises(NotFoundError, match="no inbound contacts"):
        forecast(make_workspace("duckdb", name="empty"))


def test_short_history_is_refused(make_workspace, make_history):
    ws = make_workspace("duckdb", name="short")
    make_history(ws, days=5, queues=("billing",), daily_calls=50)
    with pytest.raises(NotFoundError, match="need 14"):
        forecast(ws, days=7, interval=60)


def test_bad_settings_and_arguments(history_ws):
    with pytest.raises(InputError, match="does not divide the day"):
        forecast(history_ws, interval=25)
    with pytest.raises(InputError, match="forecast days"):
        forecast(history_ws, days=0)
    history_ws.settings.wfm.holidays = ["2026-13-40"]
    try:
        with pytest.raises(ConfigError, match="not a date"):
            forecast(history_ws, interval=60)
    finally:
        history_ws.settings.wfm.holidays = []


def test_holiday_in_history_is_learned_and_applied(make_workspace, make_history):
    ws = make_workspace("duckdb", name="hol")
    make_history(ws, days=28, queues=("billing",), daily_calls=300)
    # 2026-06-10 (a Wednesday) was a holiday; the next Wednesday 07-01 is one too
    ws.settings.wfm.holidays = ["2026-06-10", "2026-07-01"]
    result = forecast(ws, days=7, interval=60, backtest_weeks=0)
    fc = result.forecast
    assert fc.loc[fc["holiday"], "interval_start"].dt.date.astype(str).unique().tolist() == [
        "2026-07-01"]
    assert result.backtest.empty


def test_history_follows_daylight_saving_time(make_workspace):
    ws = make_workspace("duckdb", name="london", timezone="Europe/London")
    # clocks go forward at 01:00 UTC on 2026-03-29: 00:30 UTC is 00:30 GMT, 01:30 UTC 02:30 BST
    rows = pd.DataFrame({
        "source": "t", "source_id": ["a", "b", "c"], "interaction_id": ["t:a", "t:b", "t:c"],
        "channel": "phone", "direction": "inbound", "queue": "q",
        "started_at": pd.to_datetime(["2026-03-29 00:30", "2026-03-29 01:30",
                                      "2026-03-29 13:10"]),
        "wait_s": 5.0, "abandoned": False, "talk_s": 100.0,
    })
    ws.warehouse.append("interactions", rows)
    hist = load_history(ws, 30)
    got = hist[hist["calls"] > 0].set_index("interval_start")["calls"]
    assert got.to_dict() == {pd.Timestamp("2026-03-29 00:30"): 1,
                             pd.Timestamp("2026-03-29 02:30"): 1,
                             pd.Timestamp("2026-03-29 14:00"): 1}
    assert (hist["handle_s"].sum(), hist["wait_s"].sum()) == (300.0, 15.0)
