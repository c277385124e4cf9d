"""Staffing plans, the Workforce page's frames, and the CLI (calculator and plan)."""

from __future__ import annotations

import json
import sys

import pandas as pd
import pytest

from cxlens import wfm
from cxlens.errors import InputError


@pytest.fixture(scope="module")
def plan(history_ws):
    return wfm.staffing_plan(history_ws, target=(0.8, 20), interval=30, days=7)


def test_plan_meets_target_every_busy_interval(plan):
    assert len(plan) == 2 * 7 * 48
    busy = plan[plan["calls"] > 0.05]
    assert (busy["service_level"] >= 0.8).all()
    assert (plan["agents"] >= 0).all() and plan["agents"].dtype == "int64"
    # 30% shrinkage and 85% max occupancy from the default settings
    assert (plan["scheduled_agents"] >= plan["agents"] / 0.7 - 1e-9).all()
    assert (busy["occupancy"] <= 0.85 + 1e-9).all()
    assert set(plan["model"]) == {"erlang_c"}
    # patience estimated from abandoned calls gives the expected abandonment alongside
    assert plan["patience_s"].between(400, 900).all()
    assert plan.loc[plan["calls"] > 1, "abandon_rate"].between(0, 0.2).all()


def test_peaks_are_marked_where_most_agents_are_needed(plan):
    for _, part in plan.groupby("queue"):
        peaks = part[part["peak"]]
        busy = part[part["agents"] > 0]
        assert 0.05 * len(busy) < len(peaks) <= 0.11 * len(busy)
        assert peaks["erlangs"].min() >= busy["erlangs"].quantile(0.9) - 1e-9
        assert peaks["agents"].mean() > busy["agents"].mean()
        # one or more daily peaks per day, at the day's max
        daily = part[part["daily_peak"]]
        assert daily["interval_start"].dt.date.nunique() == 7
        assert peaks["interval_start"].dt.hour.between(8, 18).all()


def test_erlang_a_plan_needs_fewer_agents(history_ws, plan):
    plan_a = wfm.staffing_plan(history_ws, target="80/20", interval=30, days=7,
                               model="erlang_a", patience=60)
    assert set(plan_a["model"]) == {"erlang_a"}
    assert plan_a["agents"].sum() <= plan["agents"].sum()
    busy = plan_a[plan_a["calls"] > 0.05]
    assert (busy["service_level"] >= 0.8 - 1e-9).all()


def test_plan_simulation_agrees_with_formulas(plan):
    sim = wfm.simulate_plan(plan[plan["queue"] == "tech"], 30, answer_s=20, seed=4)
    busy = sim[sim["calls"] > 10]
    formula = (busy["service_level"] * busy["calls"]).sum() / busy["calls"].sum()
    simulated = (busy["sim_service_level"] * busy["sim_calls"]).sum() / busy["sim_calls"].sum()
    # forecast intervals change staff every 30 min, so allow a little more than steady state
    assert abs(simulated - formula) < 0.05


def test_forecast_vs_actual_for_the_ui(history_ws):
    frame = wfm.forecast_vs_actual(history_ws, queue=None, days=7, interval=30)
    assert set(frame["kind"]) == {"backtest", "forecast"}
    past = frame[frame["kind"] == "backtest"]
    future = frame[frame["kind"] == "forecast"]
    assert past["actual"].notna().all() and future["actual"].isna().all()
    assert past["interval_start"].max() < future["interval_start"].min()
    assert len(future) == 2 * 7 * 48
    one = wfm.forecast_vs_actual(history_ws, queue="tech", days=7, interval=30)
    assert set(one["queue"]) == {"tech"}


def test_peak_heatmap_hour_by_weekday(history_ws):
    heat = wfm.peak_heatmap(history_ws)
    assert len(heat) == 7 * 24
    assert heat["share"].sum() == pytest.approx(1.0)
    grid = heat.pivot(index="hour", columns="weekday_name", values="contacts")
    assert grid.loc[11, "Tue"] > 3 * grid.loc[11, "Sun"] / 2  # weekends are quieter
    assert grid.loc[11, "Tue"] > 10 * grid.loc[3, "Tue"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"target": "120/20"}, "at most 100%"),
    ({"target": "80/3600"}, "longer than the 30-minute interval"),
    ({"interval": 25}, "does not divide the day"),
    ({"shrinkage": -0.1}, "shrinkage"),
    ({"model": "erlang_x"}, "unknown staffing model"),
    ({"patience": 0.0}, "patience"),
])
def test_plan_bad_inputs(history_ws, kwargs, message):
    with pytest.raises(InputError, match=message):
        wfm.staffing_plan(history_ws, **kwargs)


def _cli(monkeypatch, capsys, *args):
    from cxlens.cli import main

    monkeypatch.setattr(sys, "argv", ["cxlens", *args])
    code = 0
    try:
        main.main()
    except SystemExit as exc:
        code = exc.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_calculator_published_example(monkeypatch, capsys):
    code, out, err = _cli(monkeypatch, capsys, "staff", "--calls", "100", "--interval", "30",
                          "--aht", "180", "--target", "80/20", "--shrinkage", "0.3", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["agents"], doc["scheduled_agents"]) == (14, 20)
    assert (doc["service_level"], doc["asa"], round(doc["occupancy"], 3)) == (0.8884, 7.84, 0.714)
    assert doc["wait_probability"] == pytest.approx(0.1741, abs=1e-4)
    code, out, _ = _cli(monkeypatch, capsys, "staff", "--calls", "100", "--aht", "180",
                        "--patience", "120", "--max-occupancy", "0.85", "--json")
    doc = json.loads(out)
    assert doc["model"] == "erlang_a" and 0 < doc["abandon_rate"] < 0.1
    assert doc["agents"] < 14
    code, out, _ = _cli(monkeypatch, capsys, "staff", "--calls", "100", "--aht", "180",
                        "--blocking", "0.01", "--json")
    doc = json.loads(out)
    # lines carry talk and queue time: (180 + 7.84) s x 100 / 1800 s = 10.4 erlangs -> 18 lines
    assert doc["trunks"] == 18 and doc["blocking_target"] == 0.01


def test_cli_unstable_staff_is_reported_not_crashed(monkeypatch, capsys):
    code, out, _ = _cli(monkeypatch, capsys, "staff", "--calls", "100", "--aht", "180",
                        "--agents", "10", "--json")
    doc = json.loads(out)  # valid JSON: no NaN/Infinity
    assert code == 0 and doc["stable"] is False and doc["asa"] is None
    assert doc["service_level"] == 0.0 and "unstable" in doc["note"]


@pytest.mark.parametrize("args", [
    ("--calls", "0", "--aht", "180"),
    ("--calls", "-4", "--aht", "180"),
    ("--calls", "100", "--aht", "0"),
    ("--calls", "100", "--aht", "180", "--target", "180/20"),
    ("--calls", "100", "--aht", "180", "--interval", "7"),
    ("--calls", "100", "--aht", "180", "--target", "80/9000"),
    ("--calls", "100"),
])
def test_cli_bad_input_is_one_line(monkeypatch, capsys, args):
    code, out, err = _cli(monkeypatch, capsys, "staff", *args, "--json")
    assert code == 1 and out == ""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ")


def test_cli_plan_and_forecast_on_a_workspace(monkeypatch, capsys, history_ws):
    path = str(history_ws.path)
    history_ws.close()  # the CLI opens the warehouse itself
    code, out, err = _cli(monkeypatch, capsys, "staff", "--workspace", path, "--target", "80/20",
                          "--interval", "30", "--days", "7", "--csv")
    assert code == 0, err
    from io import StringIO

    frame = pd.read_csv(StringIO(out))
    assert len(frame) == 2 * 7 * 48 and frame["peak"].any()
    code, out, err = _cli(monkeypatch, capsys, "forecast", "--workspace", path, "--days", "7",
                          "--interval", "30", "--json")
    doc = json.loads(out)
    assert len(doc["forecast"]) == 2 * 7 * 48
    assert all(row["beats_baseline"] for row in doc["backtest"] if row["chosen"])
    code, out, err = _cli(monkeypatch, capsys, "staff", "--workspace", path, "--queue", "nope")
    assert code == 1 and "no inbound contacts for queue 'nope'" in err


def test_queue_with_short_history_is_left_out_and_reported(make_workspace, make_history):
    ws = make_workspace("duckdb", name="mixed")
    make_history(ws, days=21, queues=("billing",), daily_calls=200)
    make_history(ws, days=4, queues=("new",), daily_calls=50, start="2026-06-18", seed=9)
    plan = wfm.staffing_plan(ws, interval=60, days=3)
    assert set(plan["queue"]) == {"billing"}  # nothing invented for the new queue
    assert [s["queue"] for s in plan.attrs["skipped"]] == ["new"]
    assert "only 4 days of history" in plan.attrs["skipped"][0]["reason"]
    assert len(plan) == 3 * 24


def test_chat_concurrency_lowers_chat_staff(make_workspace, make_history):
    ws = make_workspace("duckdb", name="chat")
    make_history(ws, days=21, queues=("billing",), channels=("phone", "chat"), daily_calls=300)
    one = wfm.staffing_plan(ws, interval=60, days=2)
    ws.settings.wfm.chat_concurrency = 2.0
    two = wfm.staffing_plan(ws, interval=60, days=2)
    chat1, chat2 = (p[p["channel"] == "chat"] for p in (one, two))
    assert chat2["agents"].sum() < chat1["agents"].sum()
    assert chat2["aht_s"].to_numpy() == pytest.approx(chat1["aht_s"].to_numpy() / 2)
    phone1, phone2 = (p[p["channel"] == "phone"] for p in (one, two))
    assert list(phone1["agents"]) == list(phone2["agents"])
