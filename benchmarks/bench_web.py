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
- ``filtered_compute_ms``: the first request with a filter no one asked for (``channel=chat``);
- ``fresh_filters``: ``--combos`` random filter combinations (period, channel, queue, tier;
  seeded) on a restarted server whose default views are stored, each asked for the first time:
  p50 and max server time per page — what a manager picking filters waits.

Plus the 360 search page (``/customers?q=``), which is never cached, and the time of the
start-up warm-up. No external peer is named for this area; the ratio is compute ÷ warm.
"""

from __future__ import annotations

import argparse
import os
import random
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


def _restart() -> None:
    """Forget what this process memoised outside the app, as a restarted server would."""
    from cxlens.wfm import plan

    plan._CACHE.clear()


def _first(workspace: Path, headers: dict[str, str], path: str, repeat: int = 0) -> dict:
    from fastapi.testclient import TestClient

    from cxlens.server import create_app

    _restart()
    app = create_app(workspace)  # a fresh app: nothing in memory
    with TestClient(app, headers=headers) as client:
        first = client.get(_with(path, "lang=en"))
        assert first.status_code == 200, (path, first.status_code, first.text[:300])
        again = [_server_ms(client.get(_with(path, "lang=en"))) for _ in range(repeat)]
    app.state.gate.close()
    return {"first": _server_ms(first), "warm": statistics.median(again) if again else None}


def _combos(rng: random.Random, n: int, period: tuple, options: dict) -> list[str]:
    """``n`` random filter query strings: a period of 1-90 days inside the data, and each of
    channel, queue and tier set half of the time."""
    from datetime import timedelta

    first, last = period
    out = []
    for _ in range(n):
        days = rng.choice([1, 7, 14, 28, 31, 60, 90])
        end = last - timedelta(days=rng.randrange(0, max(1, (last - first).days - days + 2)))
        start = max(first, end - timedelta(days=days - 1))
        parts = [f"start={start}", f"end={end}"]
        for dim in ("channel", "queue", "tier"):
            if options.get(dim) and rng.random() < 0.5:
                parts.append(f"{dim}={quote(rng.choice(options[dim]))}")
        out.append("&".join(parts))
    return out


def _fresh_filters(workspace: Path, headers: dict[str, str], path: str,
                   queries: list[str]) -> dict:
    """Each query once on one restarted server (default views stored by an earlier one)."""
    from fastapi.testclient import TestClient

    from cxlens.server import create_app

    _restart()
    app = create_app(workspace)
    times = {}
    with TestClient(app, headers=headers) as client:
        client.get(_with(path, "lang=en"))  # the stored default view: the server is up
        for q in queries:
            r = client.get(_with(path, q + "&lang=en"))
            assert r.status_code == 200, (path, q, r.status_code, r.text[:300])
            times[q] = _server_ms(r)
    app.state.gate.close()
    ordered = sorted(times.values())
    worst = max(times, key=times.__getitem__)
    return {"p50_ms": statistics.median(ordered), "max_ms": ordered[-1], "slowest": worst,
            "n": len(ordered)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workspace", type=Path, default=HERE / "work" / "demo20k")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--combos", type=int, default=12,
                        help="random fresh filter combinations per page")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only-fresh", action="store_true",
                        help="skip the compute/first/warm phases (iterating on filters)")
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
    for path in PAGES if not args.only_fresh else ():
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
    for path in PAGES if not args.only_fresh else ():  # a restarted server's first visitor
        pages[path]["first_ms"] = _first(args.workspace, headers, path)["first"]
        print(path, "first after restart", pages[path]["first_ms"], flush=True)
    from cxlens.server.data import data_period, filter_options

    ws = cxlens.open(args.workspace)
    period, options = data_period(ws), filter_options(ws)
    ws.close()
    queries = _combos(random.Random(args.seed), args.combos, period, options)
    fresh: dict[str, dict] = {}
    for path in PAGES:
        fresh[path] = _fresh_filters(args.workspace, headers, path, queries)
        print(path, "fresh filters", fresh[path], flush=True)
    if args.only_fresh:
        print({"fresh_filters": fresh, **results_file.machine(load_before)})  # not a result
        return 0
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
        "fresh_filters": fresh,
        "fresh_filter_combos": queries,
        "max_fresh_filter_ms": max(p["max_ms"] for p in fresh.values()),
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
