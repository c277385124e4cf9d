"""View helpers on tiny hand-made tables: local-day bounds, chart builders, formatting."""

from __future__ import annotations

from datetime import date, datetime

from cxlens.server import charts, data, views
from cxlens.server.filters import Filters, month_bounds


def test_journey_paths_use_local_day_bounds(make_workspace):
    ws = make_workspace("duckdb")  # Asia/Shanghai = UTC+8, no DST
    rows = [
        # 23:30 local on 1 Oct, 00:30 local on 2 Oct, 07:59 UTC on 1 Oct = 15:59 local 1 Oct
        {
            "journey_id": "a",
            "started_at": datetime(2026, 10, 1, 15, 30),
            "channel_path": "web>phone",
        },
        {"journey_id": "b", "started_at": datetime(2026, 10, 1, 16, 30), "channel_path": "chat"},
        {
            "journey_id": "c",
            "started_at": datetime(2026, 10, 1, 7, 59),
            "channel_path": "web>phone",
        },
        {"journey_id": "d", "started_at": datetime(2026, 9, 30, 15, 59), "channel_path": "email"},
    ]
    ws.warehouse.append("journeys", [{**r, "resolved": True, "contacts": 1} for r in rows])
    paths = views.journey_paths(ws, Filters(start=date(2026, 10, 1), end=date(2026, 10, 1)))
    assert paths == [{"path": "web>phone", "journeys": 2, "resolved": 2}]
    only_web = views.journey_paths(
        ws, Filters(start=date(2026, 9, 30), end=date(2026, 10, 2), channel="chat")
    )
    assert only_web == [{"path": "chat", "journeys": 1, "resolved": 1}]


def test_sankey_is_acyclic_and_keeps_counts():
    option = charts.sankey([("phone > phone > web", 3), ("phone", 2), ("a>b>c>d>e>f", 1)])
    links = option["series"][0]["links"]
    assert all(link["source"] != link["target"] for link in links)
    assert {"source": "1 phone", "target": "2 phone", "value": 3} in links
    assert {"source": "1 phone", "target": "(only contact)", "value": 2} in links
    names = {n["name"] for n in option["series"][0]["data"]}
    assert "4 d+" in names and "5 e" not in names  # long paths fold into the 4th step
    assert len([n for n in names if n.startswith("1 phone")]) == 1  # "phone " == "phone"
    zh = charts.sankey([("web > chat", 1)], display=lambda c: {"web": "网站"}.get(c, c))
    assert {n["name"] for n in zh["series"][0]["data"]} == {"1 网站", "2 chat"}


def test_number_formatting():
    assert data.fmt_value(81.234, "%") == "81.2%"
    assert data.fmt_value(245.6, "s") == "246 s"
    assert data.fmt_value(12345.0, "contacts") == "12,345"
    assert data.fmt_value(3.456, "score 1-5") == "3.46"
    assert data.fmt_value(None, "%") == "—"
    assert data.clean({"x": float("nan"), "d": date(2026, 1, 2)}) == {"x": None, "d": "2026-01-02"}


def test_month_bounds():
    assert month_bounds("2026-12") == (date(2026, 12, 1), date(2026, 12, 31))
    assert month_bounds("2028-02") == (date(2028, 2, 1), date(2028, 2, 29))


def test_empty_workspace_views_degrade(make_workspace):
    ws = make_workspace("duckdb")
    f = Filters(start=date(2026, 10, 1), end=date(2026, 10, 28))
    overview = views.overview(ws, f, "en")
    assert all(not b["ok"] for b in overview["blocks"].values())
    assert all(t["no_data"] for t in overview["tiles"])
    assert views.journeys_view(ws, f, "zh")["paths"] == []
    assert data.data_period(ws) is None
