"""The discrete-event simulation agrees with the formulas where their assumptions hold."""

from __future__ import annotations

import pandas as pd
import pytest

from cxlens.errors import InputError
from cxlens.wfm import erlang
from cxlens.wfm.simulate import simulate_interval, simulate_plan


def test_simulated_service_level_within_3_points_of_erlang_c():
    sim = simulate_interval(100, 1800, 180, 14, answer_s=20, intervals=150, seed=11)
    formula = erlang.erlang_c_metrics(14, 10.0, 180, 20)
    assert abs(sim["service_level"] - float(formula["service_level"])) < 0.03
    assert sim["asa"] == pytest.approx(float(formula["asa"]), abs=2.0)
    assert sim["occupancy"] == pytest.approx(10 / 14, abs=0.02)
    assert sim["abandon_rate"] == 0.0


@pytest.mark.parametrize(("agents", "patience"), [(12, 120.0), (9, 60.0)])
def test_simulated_abandonment_matches_erlang_a(agents, patience):
    sim = simulate_interval(100, 1800, 180, agents, patience_s=patience, intervals=150, seed=5)
    formula = erlang.erlang_a_metrics(agents, 100, 1800, 180, patience, 20)
    assert abs(sim["service_level"] - float(formula["service_level"])) < 0.03
    assert abs(sim["abandon_rate"] - float(formula["abandon_rate"])) < 0.02
    assert sim["asa"] == pytest.approx(float(formula["asa"]), abs=2.5)


def test_lognormal_handle_times_keep_the_mean():
    logn = simulate_interval(60, 1800, 240, 10, intervals=80, seed=2, service="lognormal", cv=0.5)
    assert logn["occupancy"] == pytest.approx(0.8, abs=0.03)  # mean handle time is the AHT
    formula = erlang.erlang_c_metrics(10, 8.0, 240, 20)
    assert abs(logn["service_level"] - float(formula["service_level"])) < 0.1


def test_plan_simulation_changes_staff_per_interval():
    starts = pd.date_range("2026-07-06 08:00", periods=8, freq="30min")
    plan = pd.DataFrame({"queue": "q", "channel": "phone", "interval_start": starts,
                         "calls": [10, 40, 80, 120, 120, 80, 40, 0.0], "aht_s": 180.0})
    staffed = erlang.staff_erlang_c(plan["calls"], 180, 1800, 0.8, 20, allow_zero=True)
    plan["agents"] = staffed["agents"].astype(int)
    sim = simulate_plan(plan, 30, answer_s=20, seed=3)
    assert list(sim["agents"]) == list(plan["agents"])
    busy = sim[sim["calls"] >= 40]
    weighted = (busy["sim_service_level"] * busy["sim_calls"]).sum() / busy["sim_calls"].sum()
    assert weighted > 0.7
    assert sim["sim_calls"].iloc[-1] == 0


def test_unstable_steady_state_is_refused_clearly():
    with pytest.raises(InputError, match="grows without bound"):
        simulate_interval(100, 1800, 180, 9)
    with pytest.raises(InputError, match="above 0"):
        simulate_interval(0, 1800, 180, 9)
    with pytest.raises(InputError, match="distribution"):
        simulate_interval(10, 1800, 180, 9, service="uniform")  # type: ignore[arg-type]
