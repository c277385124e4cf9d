"""Once against a real uvicorn server on 127.0.0.1 (a free port), through httpx."""

from __future__ import annotations

import socket
import threading
import time

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_real_server(user_ws, keys, password):
    import uvicorn

    from cxlens.server import create_app

    path, _ = user_ws
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(path), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started
        assert httpx.get(f"{base}/health").json()["status"] == "ok"
        assert httpx.get(f"{base}/api/v1/overview").status_code == 401
        r = httpx.get(f"{base}/api/v1/whoami", headers={"Authorization": f"Bearer {keys['agent']}"})
        assert r.json()["role"] == "agent"
        with httpx.Client(base_url=base) as browser:
            r = browser.post("/login", data={"username": "analyst1", "password": password})
            assert r.status_code == 303
            r = browser.get("/api/v1/whoami")
            assert r.json() == {
                "username": "analyst1",
                "role": "analyst",
                "via": "session",
                "permissions": ["aggregates", "contacts", "export", "profile"],
            }
            r = browser.get("/journeys", headers={"accept": "text/html"})
            assert r.status_code == 200 and "<html" in r.text
            r = browser.post("/logout")
            assert r.status_code == 303
            assert browser.get("/api/v1/whoami").status_code == 401
    finally:
        server.should_exit = True
        thread.join(timeout=10)
