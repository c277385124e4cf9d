"""Fresh filter combinations are served from rollups and stored parts — with the scan's numbers."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest

pytestmark = pytest.mark.slow


def _close(a, b, where):
    """Equal page figures: the same keys, numbers equal to the last bits (re-added sums)."""
    if isinstance(a, dict):
        assert set(a) == set(b), where
        for k in a:
            _close(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for n, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{where}[{n}]")
    elif isinstance(a, float) and isinstance(b, float | int):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (where, a, b)
    else:
        assert a == b, (where, a, b)


@pytest.fixture
def demo_open(demo_ws):
    import cxlens
    from cxlens.metrics import rollup

    ws = cxlens.open(demo_ws)
    assert rollup.fresh_tables(ws) == set(rollup.TABLES)  # the demo ran the kpis stage
    yield ws
    ws.close()


def _filters(ws):
    from cxlens.server.data import data_period, filter_options
    from cxlens.server.filters import Filters

    first, last = data_period(ws)
    options = filter_options(ws)
    month = Filters(start=last - timedelta(days=27), end=last)
    return [
        month,
        Filters(start=month.start, end=month.end, tier=options["tier"][0]),
        Filters(start=first, end=first + timedelta(days=6), channel="phone",
                queue=options["queue"][0]),
        Filters(start=last, end=last, channel="chat", tier=options["tier"][-1]),
        Filters(start=first, end=last, queue=options["queue"][-1], tier=options["tier"][0]),
    ]


def test_pages_from_rollups_equal_pages_from_the_raw_tables(demo_open, monkeypatch):
    from cxlens.metrics import rollup
    from cxlens.server import views

    ws = demo_open
    pages = {"overview": views.overview, "journeys": views.journeys_view,
             "agents": views.agents_view}
    fast = {(n, f): view(ws, f, "en") for f in _filters(ws) for n, view in pages.items()}
    monkeypatch.setattr(rollup, "fresh_tables", lambda ws: set())  # every query scans
    for (name, f), got in fast.items():
        _close(got, pages[name](ws, f, "en"), f"{name} {f}")


def test_a_queue_slice_of_the_all_queues_forecast_equals_that_queues_own(demo_open):
    from cxlens import wfm
    from cxlens.server import views
    from cxlens.server.data import records
    from cxlens.server.filters import Filters

    ws = demo_open
    every = views._wfm_part(ws, wfm, None)
    queues = sorted({r["queue"] for r in every["fva"]})
    assert len(queues) >= 2 and not every["message"]
    for queue in queues:
        own = views._wfm_part(ws, wfm, queue)
        assert [r for r in every["fva"] if r["queue"] == queue] == own["fva"], queue
        assert [r for r in every["plan"] if r["queue"] == queue] == own["plan"], queue
    f = Filters(start=date(2026, 1, 1), end=date(2026, 1, 2), queue=queues[0])
    view = views.workforce_view(ws, f, "en")
    assert view["blocks"]["forecast"]["ok"] and view["summary"]["intervals"] == len(
        [r for r in every["plan"] if r["queue"] == queues[0]])
    assert records(wfm.peak_heatmap(ws, queue=queues[0])) == views._workforce_parts(
        ws, wfm, queues[0])[2]
    nowhere = views.workforce_view(ws, Filters(start=f.start, end=f.end, queue="no-such-q"), "en")
    assert not nowhere["blocks"]["forecast"]["ok"] and "no-such-q" in (
        nowhere["blocks"]["forecast"]["message"])


def test_a_restarted_server_serves_new_filters_without_refitting(demo_ws, demo_key, monkeypatch):
    from fastapi.testclient import TestClient

    from cxlens.server import create_app
    from cxlens.server.dashboards import warm
    from cxlens.wfm import forecast as forecast_module
    from cxlens.wfm import plan

    queue = _a_queue(demo_ws)
    app = create_app(demo_ws)
    warm(app.state.gate, ("en",))  # what `cxlens serve` does at start-up
    app.state.gate.close()
    plan._CACHE.clear()  # a new process: nothing fitted in memory

    def refit(*args, **kwargs):
        raise AssertionError("the forecast was fitted again")

    monkeypatch.setattr(forecast_module, "forecast", refit)
    app = create_app(demo_ws)
    with TestClient(app, headers={"X-API-Key": demo_key, "accept": "text/html"}) as client:
        for query in ("channel=chat&tier=vip", "start=2026-01-01&end=2026-01-09",
                      f"queue={queue}&channel=phone"):
            r = client.get(f"/workforce?{query}")
            assert r.status_code == 200, (query, r.text[:300])
            assert "echarts" in r.text
    app.state.gate.close()


def _a_queue(path):
    import cxlens
    from cxlens.server.data import filter_options

    ws = cxlens.open(path)
    try:
        return filter_options(ws)["queue"][0]
    finally:
        ws.close()


def test_journey_paths_in_sql_equal_the_ibis_query(demo_open, monkeypatch):
    from cxlens.server import views

    ws = demo_open
    filters = [*_filters(ws), *(_filters(ws)[0].__class__(start=f.start, end=f.end,
                                                         channel="web") for f in _filters(ws))]
    fast = [views.journey_paths(ws, f) for f in filters]
    assert any(fast)
    monkeypatch.setattr(ws.warehouse.store, "raw", None)  # the Ibis query other engines run
    for f, rows in zip(filters, fast, strict=True):
        assert rows == views.journey_paths(ws, f), f
