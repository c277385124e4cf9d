"""Erlang B/C/A against published examples, a reference library and the exact Markov chain."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxlens.errors import InputError
from cxlens.wfm import erlang


def test_published_erlang_c_example_reproduces_exactly():
    # 100 calls in 30 min, AHT 180 s, 80% in 20 s (callcentrehelper.com's worked example)
    r = erlang.staff_erlang_c(100, aht_s=180, interval_s=1800, target=0.8, answer_s=20,
                              shrinkage=0.3)
    assert float(r["load"]) == pytest.approx(10.0)
    assert int(r["agents"]) == 14
    assert round(float(r["service_level"]), 4) == 0.8884
    assert round(float(r["asa"]), 2) == 7.84
    assert round(float(r["occupancy"]), 3) == 0.714
    assert int(r["scheduled_agents"]) == 20  # ceil(14 / 0.7), not 21 from float rounding
    # and 13 agents would miss the target
    met = erlang.erlang_c_metrics(13, 10.0, 180, 20)
    assert float(met["service_level"]) < 0.8


# Erlang B table (1% grade of service): lines -> erlangs carried at exactly 1% blocking
ERLANG_B_1PCT = [(1, 0.0101), (2, 0.1526), (3, 0.4555), (4, 0.8694), (5, 1.3608),
                 (10, 4.4612), (20, 12.031), (50, 37.901), (100, 84.064)]


@pytest.mark.parametrize(("lines", "load"), ERLANG_B_1PCT)
def test_erlang_b_matches_published_table(lines, load):
    assert float(erlang.erlang_b(lines, load)) == pytest.approx(0.01, rel=2e-3)
    # the table load needs exactly these lines at 1%
    assert int(erlang.trunks_erlang_b(load * 0.999, 0.01)) == lines


def test_erlang_b_recursion_agrees_on_a_grid():
    loads = np.linspace(0.5, 60, 40)
    for n in (1, 7, 30, 80):
        b = np.ones_like(loads)
        for k in range(1, n + 1):  # the textbook recursion, as a reference
            b = loads * b / (k + loads * b)
        np.testing.assert_allclose(erlang.erlang_b(n, loads), b, rtol=1e-10)


def test_agrees_with_pyworkforce_on_a_grid():
    from pyworkforce.queuing import ErlangC

    calls = np.array([5, 17, 40, 100, 250, 600, 1200], dtype=float)
    ahts = np.array([120, 180, 300, 420], dtype=float)
    cc, hh = np.meshgrid(calls, ahts)
    ours = erlang.staff_erlang_c(cc, hh, 1800, target=0.8, answer_s=20, max_occupancy=0.85,
                                 shrinkage=0.3)
    for i, (c, h) in enumerate(zip(cc.ravel(), hh.ravel(), strict=True)):
        ref = ErlangC(transactions=c, aht=h / 60, asa=20 / 60, interval=30, shrinkage=0.3)
        req = ref.required_positions(service_level=0.8, max_occupancy=0.85)
        assert ours["agents"].ravel()[i] == req["raw_positions"], (c, h)
        assert ours["service_level"].ravel()[i] == pytest.approx(req["service_level"], abs=1e-9)
        assert ours["wait_probability"].ravel()[i] == pytest.approx(
            req["waiting_probability"], abs=1e-9)


def test_vectorised_equals_one_at_a_time():
    rng = np.random.default_rng(4)
    calls, aht = rng.uniform(1, 400, 50), rng.uniform(60, 600, 50)
    grid = erlang.staff_erlang_c(calls, aht, 1800, 0.8, 20, asa_s=30)
    for i in range(50):
        one = erlang.staff_erlang_c(calls[i], aht[i], 1800, 0.8, 20, asa_s=30)
        assert int(one["agents"]) == grid["agents"][i]
        assert float(one["asa"]) <= 30


@settings(max_examples=60, deadline=None)
@given(calls=st.floats(0.5, 2000), aht=st.floats(20, 1200),
       target=st.floats(0.3, 0.98), answer=st.floats(0, 120))
def test_staff_is_the_smallest_meeting_the_target(calls, aht, target, answer):
    r = erlang.staff_erlang_c(calls, aht, 1800, target, answer)
    n, load = float(r["agents"]), float(r["load"])
    assert float(r["service_level"]) >= target - 1e-9
    below = erlang.erlang_c_metrics(n - 1, load, aht, answer)
    assert n - 1 <= load or float(below["service_level"]) < target


def test_unstable_region_is_handled_not_divided_by_zero():
    met = erlang.erlang_c_metrics([5, 10, 10.0], [10, 10, 10.0], 180, 20)
    assert list(met["stable"]) == [False, False, False]
    assert list(met["service_level"]) == [0.0, 0.0, 0.0]
    assert np.all(np.isinf(met["asa"]))
    assert list(met["wait_probability"]) == [1.0, 1.0, 1.0]


def test_max_occupancy_adds_agents():
    loose = erlang.staff_erlang_c(100, 180, 1800, target=0.5, answer_s=20)
    capped = erlang.staff_erlang_c(100, 180, 1800, target=0.5, answer_s=20, max_occupancy=0.7)
    assert int(capped["agents"]) == math.ceil(10 / 0.7)
    assert int(capped["agents"]) > int(loose["agents"])
    assert float(capped["occupancy"]) <= 0.7


def test_zero_calls_in_a_plan_need_no_agents():
    r = erlang.staff_erlang_c([0, 100], 180, 1800, 0.8, 20, allow_zero=True)
    assert list(r["agents"]) == [0, 14]
    assert r["service_level"][0] == 1.0


def _chain(n, calls, interval_s, aht, patience, size=4000):
    """Exact M/M/n+M stationary distribution by truncating the birth-death chain."""
    lam, mu, theta = calls / interval_s, 1 / aht, 1 / patience
    w = np.zeros(n + size)
    w[0] = 1.0
    for j in range(1, n + size):
        w[j] = w[j - 1] * lam / (min(j, n) * mu + max(j - n, 0) * theta)
    w /= w.sum()
    queue = np.arange(n + size) - n
    return w[n:].sum(), theta * (w[n:] * queue[n:]).sum() / lam


@pytest.mark.parametrize(("agents", "calls", "aht", "patience"),
                         [(14, 100, 180, 120), (10, 100, 180, 60), (30, 400, 200, 300),
                          (5, 100, 180, 60), (3, 10, 300, 30)])
def test_erlang_a_matches_exact_markov_chain(agents, calls, aht, patience):
    met = erlang.erlang_a_metrics(agents, calls, 1800, aht, patience, 20)
    pw, pab = _chain(agents, calls, 1800, aht, patience)
    assert float(met["wait_probability"]) == pytest.approx(pw, rel=1e-6)
    assert float(met["abandon_rate"]) == pytest.approx(pab, rel=1e-6)


def test_erlang_a_tends_to_erlang_c_with_endless_patience():
    a = erlang.erlang_a_metrics(14, 100, 1800, 180, 1e7, 20)
    c = erlang.erlang_c_metrics(14, 10.0, 180, 20)
    for key in ("wait_probability", "service_level", "asa"):
        assert float(a[key]) == pytest.approx(float(c[key]), rel=1e-3)


def test_erlang_a_staffing_meets_target_with_fewer_agents_than_c():
    a = erlang.staff_erlang_a(100, 180, 1800, patience_s=120, target=0.8, answer_s=20)
    assert float(a["service_level"]) >= 0.8
    assert int(a["agents"]) < 14  # abandoning callers relieve the queue
    below = erlang.erlang_a_metrics(int(a["agents"]) - 1, 100, 1800, 180, 120, 20)
    assert float(below["service_level"]) < 0.8
    capped = erlang.staff_erlang_a(100, 180, 1800, 120, 0.5, 20, max_abandon=0.01)
    assert float(capped["abandon_rate"]) <= 0.01
    # overloaded: still a number (abandonment bounds the queue)
    over = erlang.erlang_a_metrics(2, 100, 1800, 180, 60, 20)
    assert 0.5 < float(over["abandon_rate"]) < 1 and math.isfinite(float(over["asa"]))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"calls": 0}, "calls must be above 0"),
    ({"calls": -3}, "calls must be above 0"),
    ({"aht_s": 0}, "AHT"),
    ({"target": 1.2}, "at most 100%"),
    ({"target": 1.0}, "100% service level cannot"),
    ({"target": 0.0}, "above 0%"),
    ({"answer_s": -1}, "answer-time"),
    ({"answer_s": 4000}, "longer than the 30-minute interval"),
    ({"shrinkage": 1.0}, "shrinkage"),
    ({"max_occupancy": 0.0}, "max occupancy"),
    ({"calls": float("nan")}, "finite"),
    ({"calls": 1e12}, "beyond any contact centre"),
])
def test_bad_inputs_are_one_line_errors(kwargs, message):
    args = {"calls": 100, "aht_s": 180, "interval_s": 1800, "target": 0.8, "answer_s": 20}
    args.update(kwargs)
    with pytest.raises(InputError, match=message):
        erlang.staff_erlang_c(**args)


@pytest.mark.parametrize("minutes", [7, 0, -30, 50, 2.5, 1441])
def test_intervals_must_divide_the_day(minutes):
    with pytest.raises(InputError, match="interval"):
        erlang.check_interval(minutes)
    assert erlang.check_interval(15) == 15
