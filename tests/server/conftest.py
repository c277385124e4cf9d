"""Fixtures of the server tests: a workspace with users, an app, logged-in clients."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from web_workspace import demo_workspace

PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def user_ws(tmp_path_factory):
    """An empty DuckDB workspace with one user per role, built once; (path, {role: api_key})."""
    import cxlens
    from cxlens import users
    from cxlens.config import load_settings

    ws = cxlens.init(tmp_path_factory.mktemp("web") / "ws", load_settings(None, environ={}))
    keys = {}
    for role in ("admin", "analyst", "agent", "service"):
        keys[role] = users.add_user(
            ws, f"{role}1", role, None if role == "service" else PASSWORD, with_key=True
        )
    path = ws.path
    ws.close()
    return path, keys


@pytest.fixture
def app(user_ws):
    from cxlens.server import create_app

    path, _ = user_ws
    application = create_app(path)
    yield application
    application.state.gate.close()


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def keys(user_ws) -> dict[str, str]:
    return user_ws[1]


@pytest.fixture
def login():
    """``login(client, username)`` posts the log-in form and checks the redirect."""

    def _login(client: TestClient, username: str, password: str = PASSWORD) -> None:
        r = client.post(
            "/login", data={"username": username, "password": password}, follow_redirects=False
        )
        assert r.status_code == 303, r.text

    return _login


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture(scope="session")
def demo_ws(tmp_path_factory) -> Path:
    """The shared synth workspace (see ``web_workspace.demo_workspace``)."""
    return demo_workspace(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def demo_key(demo_ws) -> str:
    """An API key of the demo admin."""
    import cxlens
    from cxlens import users

    ws = cxlens.open(demo_ws)
    try:
        return users.issue_key(ws, "demo")
    finally:
        ws.close()


@pytest.fixture(scope="module")
def demo_client(demo_ws, demo_key) -> Iterator[TestClient]:
    from cxlens.server import create_app

    app = create_app(demo_ws)
    with TestClient(app, headers={"X-API-Key": demo_key}) as c:
        yield c
    # Let go of the warehouse now, not 3 s later: the browser tests open the same file
    # read-only right after, which DuckDB refuses while this process holds it for writing.
    app.state.gate.close()
