"""Browser fixtures: a small synth workspace run through every stage, a live uvicorn server
on a free port, and Debian's Chromium driven by Playwright (never `playwright install`)."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# The builder lives with the server tests; this folder runs on its own too, so put it on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
from web_workspace import demo_workspace  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def demo_ws(tmp_path_factory) -> Path:
    """The server tests' synth workspace (one build when both folders run in one session)."""
    return demo_workspace(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def an_identifier(demo_ws) -> str:
    """A phone number of some customer, read before the server starts."""
    import cxlens

    ws = cxlens.open(demo_ws, read_only=True)
    try:
        ids = ws.warehouse.table("identifiers")
        row = ids.filter(ids.id_type == "phone").order_by("source_id").limit(1).to_pyarrow()
        return str(row.column("id_value")[0].as_py())
    finally:
        ws.close()


@pytest.fixture(scope="session")
def live_server(demo_ws, an_identifier) -> Iterator[str]:
    import uvicorn

    from cxlens.server import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(demo_ws, warm=True), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(
        base_url=live_server, viewport={"width": 1400, "height": 1000}, locale="en-US"
    )
    context.set_default_timeout(120_000)  # the first visit of a page may compute its forecast
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def screenshot():
    """``screenshot(page, name)`` saves a full-page PNG into test-artifacts/screenshots/."""

    def _shot(page, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _shot
