"""Web UI render time per page (goal: < 1 s on the demo workspace), cold vs warm.

    python -m benchmarks.bench_web [--workspace benchmarks/work/demo-bench] [--customers 20000]
                                   [--days 90] [--repeat 5]

Uses the workspace ``bench_demo`` built when it exists, else builds one with `cxlens.demo.build`.
For each page it records the server time (the ``Server-Timing`` header) of the first request on
a fresh app (cold: every aggregate computed) and the median of ``--repeat`` later requests
(warm: the per-parameter cache), plus the time of the start-up warm-up that `cxlens serve` runs.
No external peer is named for this area; the ratio reported is cold ÷ warm.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

HERE = Path(__file__).parent
PAGES = ("/", "/journeys", "/agents", "/quality", "/workforce", "/contacts?kpi=handled")


def _server_ms(response) -> float:  # type: ignore[no-untyped-def]
    return float(response.headers.get("server-timing", "app;dur=nan").split("dur=")[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workspace", type=Path, default=HERE / "work" / "demo-bench")
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    from fastapi.testclient import TestClient

    import cxlens
    from cxlens import demo, users
    from cxlens.server import create_app
    from cxlens.server.pages import warm

    if not (args.workspace / "cxlens.toml").exists():
        demo.build(args.workspace, customers=args.customers, days=args.days, say=print)
    ws = cxlens.open(args.workspace)
    key = (
        users.issue_key(ws, "demo")
        if users.get_user(ws, "demo")
        else users.add_user(ws, "bench", "admin", with_key=True)
    )
    counts = ws.warehouse.counts()
    ws.close()
    headers = {"X-API-Key": key, "accept": "text/html"}

    pages: dict[str, dict[str, float]] = {}
    for path in PAGES:
        app = create_app(args.workspace)  # a fresh app: nothing cached
        with TestClient(app, headers=headers) as client:
            t0 = time.perf_counter()
            first = client.get(path + ("&" if "?" in path else "?") + "lang=en")
            cold_wall = (time.perf_counter() - t0) * 1000
            assert first.status_code == 200, (path, first.status_code)
            warm_ms = [
                _server_ms(client.get(path + ("&" if "?" in path else "?") + "lang=en"))
                for _ in range(args.repeat)
            ]
        pages[path] = {
            "cold_ms": round(_server_ms(first) if "server-timing" in first.headers else cold_wall),
            "warm_ms": statistics.median(warm_ms),
        }
        print(path, pages[path], flush=True)

    app = create_app(args.workspace)
    t0 = time.perf_counter()
    views = warm(app.state.gate)
    warmup_s = time.perf_counter() - t0
    app.state.gate.close()

    cold_total = sum(p["cold_ms"] for p in pages.values())
    warm_total = sum(p["warm_ms"] for p in pages.values())
    result = {
        "workspace": str(args.workspace),
        "interactions": counts.get("interactions"),
        "journeys": counts.get("journeys"),
        "customers": counts.get("customer_360"),
        "pages": pages,
        "warmup_views": views,
        "warmup_s": round(warmup_s, 1),
        "max_warm_ms": max(p["warm_ms"] for p in pages.values()),
        "max_cold_ms": max(p["cold_ms"] for p in pages.values()),
        "ratio_cold_over_warm": round(cold_total / max(warm_total, 1e-9), 1),
        "goal_ms": 1000,
    }
    out = HERE / "results" / "web.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
