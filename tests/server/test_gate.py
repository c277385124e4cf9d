"""The server lets go of the DuckDB file when idle, and answers 503 while a CLI command holds it."""

from __future__ import annotations

import subprocess
import sys
import time

from fastapi.testclient import TestClient

HOLD = """
import sys, time, cxlens
ws = cxlens.open(sys.argv[1])
ws.warehouse
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
"""


def _hold(path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), str(seconds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc


def test_idle_release_and_busy(user_ws, keys, monkeypatch):
    from cxlens.server import create_app

    monkeypatch.setenv("CXLENS_SERVER__IDLE_RELEASE_S", "0.2")
    path, _ = user_ws
    app = create_app(path)
    gate = app.state.gate
    headers = {"X-API-Key": keys["admin"]}
    with TestClient(app) as client:
        assert client.get("/api/v1/whoami", headers=headers).status_code == 200
        assert gate.is_open
        deadline = time.monotonic() + 10
        while gate.is_open and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not gate.is_open, "the server kept the warehouse open while idle"
        # Another process (a CLI command) can now open the warehouse for writing...
        proc = _hold(path, 30)
        try:
            assert proc.stdout.readline().strip() == "holding", proc.stderr.read()
            # ...and while it does, the server answers 503 + Retry-After instead of hanging.
            r = client.get("/api/v1/whoami", headers=headers)
            assert r.status_code == 503 and r.headers["retry-after"] == "3"
            assert "busy" in r.json()["error"]
            r = client.get("/", headers={**headers, "accept": "text/html"})
            assert r.status_code == 503 and "busy" in r.text
        finally:
            proc.kill()
            proc.wait()
        assert client.get("/api/v1/whoami", headers=headers).status_code == 200
    assert not gate.is_open  # closed at shutdown
