"""The web UI in real headless Chromium: log in, every page, every chart has data points,
language switch, KPI drill-down, refusal without credentials. Screenshots go to
test-artifacts/screenshots/ (look at them)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHART_POINTS = """() => Array.from(document.querySelectorAll('.chart')).map(el => {
  const chart = echarts.getInstanceByDom(el);
  const series = chart ? chart.getOption().series : [];
  return {id: el.dataset.chart, series: series.length,
          points: series.map(s => (s.data || []).length)};
})"""

# page path → chart ids that must be drawn with data
PAGES = {
    "overview": ("/", {"trend", "heatmap", "channel_mix", "reasons"}),
    "journeys": ("/journeys", {"sankey", "fcr_by_reason", "repeat_drivers"}),
    "agents": ("/agents", {"handled_by_queue", "aht_by_queue"}),
    "quality": ("/quality", {"rows"}),
    "workforce": ("/workforce", {"forecast", "staffing", "heatmap"}),
}


def login(page, username: str = "demo", password: str = "demo") -> None:
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():  # wait for the POST's redirect, not the current page
        page.click("#login-button")


def test_unauthenticated_requests_are_refused(page, live_server, screenshot):
    page.goto("/journeys")
    assert "/login" in page.url  # a browser is sent to the log-in form
    assert page.locator("input[name=password]").count() == 1
    response = page.request.get(f"{live_server}/api/v1/overview")
    assert response.status == 401 and response.json()["error"] == "authentication required"
    assert page.request.get(f"{live_server}/health").status == 200
    screenshot(page, "login")


def test_wrong_password_is_refused(page):
    login(page, "demo", "not-the-password")
    assert "/login" in page.url
    assert page.locator("[role=alert]").count() == 1


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_renders_charts_with_data(page, name, screenshot):
    login(page)
    path, expected = PAGES[name]
    response = page.goto(path + ("&" if "?" in path else "?") + "lang=en")
    assert response.status == 200
    page.wait_for_function("window.cxlensCharts !== undefined")
    charts = {c["id"]: c for c in page.evaluate(CHART_POINTS)}
    missing = expected - set(charts)
    assert not missing, f"{name}: charts not drawn: {missing}; drawn: {sorted(charts)}"
    for chart_id, chart in charts.items():
        assert chart["series"] > 0 and max(chart["points"]) > 0, (name, chart_id, chart)
    screenshot(page, name)


def test_customer_360_by_any_written_form(page, an_identifier, screenshot):
    login(page)
    page.goto("/customers?lang=en")
    page.fill("#customer-search input[name=q]", an_identifier)
    with page.expect_navigation():
        page.click("#customer-search button")
    assert page.locator("#profile").count() == 1, page.content()[:2000]
    assert page.locator("#timeline li").count() >= 1
    assert page.locator("#identifiers td").count() >= 2
    screenshot(page, "customer")
    page.goto("/customers?q=" + quote("nobody-at-all@example.com"))
    assert page.locator("#customer-message").count() == 1


def test_language_switch(page, screenshot):
    login(page)
    page.goto("/?lang=en")
    assert page.locator("nav a[data-nav=journeys]").inner_text() == "Journeys"
    with page.expect_navigation():
        page.click("#lang-switch")
    assert page.locator("nav a[data-nav=journeys]").inner_text() == "客户旅程"
    page.wait_for_function("window.cxlensCharts !== undefined")
    assert len(page.evaluate(CHART_POINTS)) >= 4
    screenshot(page, "overview-zh")
    page.goto("/journeys")  # the choice is remembered
    assert page.locator("nav a[data-nav=overview]").inner_text() == "总览"
    screenshot(page, "journeys-zh")


def test_kpi_tile_drills_down_to_contacts(page, screenshot):
    login(page)
    page.goto("/?lang=en")
    tile = page.locator(".tile[data-kpi=handled]")
    shown = tile.locator(".value").inner_text()
    with page.expect_navigation():
        tile.click()
    assert "/contacts?" in page.url and "kpi=handled" in page.url
    assert page.locator("#contacts-table tbody tr").count() > 0
    screenshot(page, "drilldown")
    # Narrow to one day so every contact fits on the page: the list must match the tile.
    day = _last_day(page)
    page.goto(f"/contacts?kpi=handled&start={day}&end={day}&lang=en")
    rows = page.locator("#contacts-table tbody tr").count()
    page.goto(f"/?lang=en&start={day}&end={day}")
    tile_value = page.locator(".tile[data-kpi=handled] .value").inner_text()
    assert int(tile_value.replace(",", "")) == rows, (tile_value, rows, shown)


def _last_day(page) -> str:
    return page.locator("input[name=end]").input_value()
