"""The app in-process: credentials on every route, roles, bad payloads, language, docs."""

from __future__ import annotations

import re

import pytest

OPEN = {"/health", "/login", "/static"}
HTML = {"accept": "text/html"}


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def _routes(routes):
    for route in routes:
        inner = getattr(route, "original_router", None)  # FastAPI wraps included routers
        if inner is not None:
            yield from _routes(inner.routes)
        else:
            yield route


def test_every_route_but_health_needs_a_credential(app, client):
    checked = 0
    for route in _routes(app.routes):
        path = getattr(route, "path", "")
        if path in OPEN or path.startswith("/static"):
            continue
        for method in sorted(getattr(route, "methods", None) or {"GET"}):
            if method in {"HEAD", "OPTIONS"} or path == "/logout":
                continue
            r = client.request(method, _concrete(path), follow_redirects=False)
            assert r.status_code in (401, 303), (method, path, r.status_code)
            if path.startswith("/api/") or path in {"/openapi.json"}:
                assert r.status_code == 401 and r.json()["error"] == "authentication required"
            checked += 1
    assert checked >= 15
    assert client.get("/health").json()["status"] == "ok"


def test_browser_is_sent_to_login_and_back(client, password):
    r = client.get("/journeys?channel=chat", headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    r = client.post(
        "/login",
        data={"username": "analyst1", "password": password, "next": "/journeys?channel=chat"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/journeys?channel=chat"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    assert client.get("/journeys", headers=HTML).status_code == 200


def test_login_rejects_and_locks_out(client, password):
    for _ in range(5):
        r = client.post("/login", data={"username": "analyst1", "password": "wrong"}, headers=HTML)
        assert r.status_code == 401
    r = client.post("/login", data={"username": "analyst1", "password": password}, headers=HTML)
    assert r.status_code == 429
    assert client.get("/api/v1/whoami").status_code == 401


def test_open_redirect_is_refused(client, password):
    r = client.post(
        "/login",
        data={"username": "admin1", "password": password, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/"


def test_api_keys_both_headers(client, keys):
    r = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {keys['analyst']}"})
    assert r.json()["username"] == "analyst1" and r.json()["via"] == "api_key"
    r = client.get("/api/v1/whoami", headers={"X-API-Key": keys["admin"]})
    assert r.json()["role"] == "admin"
    r = client.get("/api/v1/whoami", headers={"X-API-Key": keys["admin"] + "x"})
    assert r.status_code == 401


@pytest.mark.parametrize(
    ("role", "path", "status"),
    [
        ("agent", "/api/v1/overview", 403),
        ("agent", "/api/v1/contacts?kpi=offered", 403),
        ("agent", "/api/v1/contacts.csv?kpi=offered", 403),
        ("service", "/api/v1/customers/123", 403),
        ("service", "/api/v1/overview", 403),
        ("analyst", "/api/v1/overview", 200),
        ("agent", "/api/v1/whoami", 200),
        ("service", "/docs", 200),
    ],
)
def test_roles(client, keys, role, path, status):
    r = client.get(path, headers={"X-API-Key": keys[role]})
    assert r.status_code == status, r.text
    if status == 403:
        assert "permission" in r.json()["hint"]


def test_agent_lands_on_customers(client, login):
    login(client, "agent1")
    r = client.get("/", headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/customers"
    r = client.get("/journeys", headers=HTML)
    assert r.status_code == 403 and "cannot open this page" in r.text or "无权" in r.text


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("/api/v1/overview?start=2026-13-01", 400, "YYYY-MM-DD"),
        ("/api/v1/overview?start=2026-10-05&end=2026-10-01", 400, "after it ends"),
        ("/api/v1/overview?start=2020-01-01&end=2026-01-01", 400, "longer than"),
        ("/api/v1/overview?channel=" + "x" * 200, 422, "invalid request"),
        ("/api/v1/overview?channel=%3Cscript%3E", 400, "invalid channel"),
        ("/api/v1/overview?lang=fr", 422, "invalid request"),
        ("/api/v1/kpi/no_such_kpi", 404, "unknown KPI"),
        ("/api/v1/contacts?kpi=offered&limit=0", 422, "limit"),
        ("/api/v1/contacts", 422, "kpi"),
        ("/api/v1/nope", 404, ""),
    ],
)
def test_bad_requests_get_json_4xx(client, keys, path, status, text):
    r = client.get(path, headers={"X-API-Key": keys["admin"]})
    assert r.status_code == status, r.text
    body = r.json()
    assert "error" in body and text in r.text
    assert "Traceback" not in r.text


def test_bad_form_payload_is_422_not_500(client):
    r = client.post("/login", data={"username": "x" * 500, "password": "p"})
    assert r.status_code == 422 and "username" in r.json()["error"]
    r = client.post(
        "/login",
        content=b"\xff\xfe garbage",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert 400 <= r.status_code < 500


def test_language_switch_sets_cookie(client, login):
    login(client, "analyst1")
    zh = client.get("/journeys?lang=zh", headers=HTML)
    assert "客户旅程" in zh.text and zh.cookies.get("cxlens_lang") == "zh"
    assert "客户旅程" in client.get("/journeys", headers=HTML).text  # remembered
    en = client.get("/journeys?lang=en", headers=HTML)
    assert "Journeys" in en.text and "客户旅程" not in en.text


def test_docs_and_openapi_need_login_and_work_offline(client, keys):
    assert client.get("/docs", headers=HTML, follow_redirects=False).status_code == 303
    r = client.get("/docs", headers={"X-API-Key": keys["analyst"]})
    assert r.status_code == 200 and "/static/swagger-ui-bundle.js" in r.text
    assert "cdn" not in r.text.lower()
    spec = client.get("/openapi.json", headers={"X-API-Key": keys["analyst"]}).json()
    assert "/api/v1/overview" in spec["paths"] and "/api/v1/customers/{identifier}" in spec["paths"]
    assert client.get("/static/echarts.min.js").status_code == 200


def test_empty_workspace_pages_say_no_data(client, login):
    login(client, "admin1")
    for path in ("/", "/journeys", "/agents", "/workforce", "/quality"):
        r = client.get(path, headers=HTML)
        assert r.status_code == 200, (path, r.text[:300])
        assert "Traceback" not in r.text
    assert "data-nodata" in client.get("/journeys", headers=HTML).text


def test_unknown_customer_is_a_clear_404(client, keys, login):
    r = client.get("/api/v1/customers/%2B8613800000000", headers={"X-API-Key": keys["agent"]})
    assert r.status_code == 404 and r.json()["error"]
    login(client, "agent1")
    r = client.get("/customers?q=nobody@example.com", headers=HTML)
    assert r.status_code == 404 and "customer-message" in r.text
