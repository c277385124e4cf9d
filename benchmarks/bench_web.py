"""Web UI render time per page (goal: < 1 s on the demo workspace, first render included).

    python -m benchmarks.bench_web [--workspace benchmarks/work/demo20k] [--repeat 5]

Builds nothing: point it at a workspace made with ``cxlens demo --no-serve --workspace W``.
Per page it records the server time (``Server-Timing``: auth, view, template) of:

- ``compute_ms``: the first request on a fresh app with no stored views — every aggregate
  computed from the warehouse (the KPI rollups where they serve), what a visitor pays for filters
  nobody asked for yet;
- ``first_ms``: the first request on a fresh app (a restarted server) after the start-up warm-up
  of an earlier server stored the default views on disk (``server/viewstore.py``);
- ``warm_ms``: the median of ``--repeat`` later requests (the in-memory cache);
- ``filtered_compute_ms``: the first request with a filter no one asked for (``channel=chat``).

Plus the 360 search page (``/customers?q=``), which is never cached, and the time of the
start-up warm-up. No external peer is named for this area; the ratio is compute ÷ warm.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from pathlib import Path
from urllib.parse import quote

from benchmarks import results_file

HERE = Path(__file__).parent
PAGES = ("/", "/journeys", "/agents", "/quality", "/workforce", "/contacts?kpi=handled")


def _server_ms(response) -> float:  # type: ignore[no-untyped-def]
    return float(response.headers.get("server-timing", "app;dur=nan").split("dur=")[1])


def _with(path: str, query: str) -> str:
    return path + ("&" if "?" in path else "?") + query


def _first(workspace: Path, headers: dict[str, str], path: str, repeat: int = 0) -> dict:
    from fastapi.testclient import TestClient

    from cxlens.server import create_app

    app = create_app(workspace)  # a fresh app: nothing in memory
    with TestClient(app, headers=headers) as client:
        first = client.get(_with(path, "lang=en"))
        assert first.status_code == 200, (path, first.status_code, first.text[:300])
        again = [_server_ms(client.get(_with(path, "lang=en"))) for _ in range(repeat)]
    app.state.gate.close()
    return {"first": _server_ms(first), "warm": statistics.median(again) if again else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workspace", type=Path, default=HERE / "work" / "demo20k")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    import cxlens
    from cxlens import users
    from cxlens.server import create_app
    from cxlens.server.dashboards import warm
    from cxlens.server.viewstore import FOLDER

    if not (args.workspace / "cxlens.toml").exists():
        raise SystemExit(f"no workspace at {args.workspace}: run `cxlens demo --no-serve "
                         f"--workspace {args.workspace}` first")
    load_before = os.getloadavg()
    ws = cxlens.open(args.workspace)
    key = users.add_user(ws, "bench-admin", "admin", None, with_key=True, replace=True)
    ids = ws.warehouse.table("identifiers")
    phone = ids.filter(ids.id_type == "phone").select("raw_value").limit(1).to_pyarrow()
    identifier = str(phone.column(0)[0].as_py())
    counts = ws.warehouse.counts()
    ws.close()
    headers = {"X-API-Key": key, "accept": "text/html"}
    store = args.workspace / FOLDER

    pages: dict[str, dict[str, float | None]] = {}
    for path in PAGES:
        shutil.rmtree(store, ignore_errors=True)
        computed = _first(args.workspace, headers, path, args.repeat)
        shutil.rmtree(store, ignore_errors=True)
        filtered = _first(args.workspace, headers, _with(path, "channel=chat"))
        pages[path] = {"compute_ms": computed["first"], "warm_ms": computed["warm"],
                       "filtered_compute_ms": filtered["first"]}
        print(path, pages[path], flush=True)

    shutil.rmtree(store, ignore_errors=True)
    app = create_app(args.workspace)  # what `cxlens serve` does at start-up
    t0 = time.perf_counter()
    views = warm(app.state.gate)
    warmup_s = time.perf_counter() - t0
    app.state.gate.close()
    for path in PAGES:  # each on a fresh app: a restarted server's first visitor
        pages[path]["first_ms"] = _first(args.workspace, headers, path)["first"]
        print(path, "first after restart", pages[path]["first_ms"], flush=True)
    search = _first(args.workspace, headers, "/customers?q=" + quote(identifier), args.repeat)
    pages["/customers?q="] = {"compute_ms": search["first"], "warm_ms": search["warm"],
                              "first_ms": search["first"], "filtered_compute_ms": None}

    compute_total = sum(p["compute_ms"] or 0 for p in pages.values())
    warm_total = sum(p["warm_ms"] or 0 for p in pages.values())
    result = {
        "workspace": str(args.workspace),
        "interactions": counts.get("interactions"),
        "journeys": counts.get("journeys"),
        "customers": counts.get("customer_360"),
        "pages": pages,
        "warmup_views": views,
        "warmup_s": round(warmup_s, 1),
        "max_first_ms": max(p["first_ms"] or 0 for p in pages.values()),
        "max_compute_ms": max(p["compute_ms"] or 0 for p in pages.values()),
        "max_warm_ms": max(p["warm_ms"] or 0 for p in pages.values()),
        "ratio_compute_over_warm": round(compute_total / max(warm_total, 1e-9), 1),
        "goal_ms": 1000,
        **results_file.machine(load_before),
    }
    results_file.write("web", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
