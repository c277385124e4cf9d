"""The synth workspace the server and browser tests share (imported by both conftests)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

CUSTOMERS, DAYS, SEED = 800, 30, 11


def demo_workspace(base: Path) -> Path:
    """800 customers × 30 days of synth data through every pipeline stage, built once under
    ``base`` (``WEB_TEST_PREBUILT_WS=/path`` copies an already built workspace instead: a local
    shortcut while iterating on the UI)."""
    from cxlens import demo

    path = base / "web-demo-ws"
    if not (path / ".web-test-built").exists():
        prebuilt = os.environ.get("WEB_TEST_PREBUILT_WS")
        if prebuilt:
            shutil.copytree(prebuilt, path)
        else:
            summary = demo.build(path, customers=CUSTOMERS, days=DAYS, seed=SEED)
            (path / ".demo-summary.json").write_text(json.dumps(summary, default=str))
        (path / ".web-test-built").write_text("ok")
    return path
