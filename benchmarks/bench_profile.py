"""Customer 360 lookup latency (goal: p99 < 50 ms on the default demo), audited reads included.

    python -m benchmarks.bench_profile [--workspace benchmarks/work/demo20k] [--lookups 600]
                                       [--peer-lookups 40] [--seed 3]

Draws random identifiers of the workspace (phones, e-mails, accounts, orders, WeChat ids, and
customer keys) and writes each in a random form an agent might type: ``138-0013-8000``,
``+86 138 0013 8000``, ``0086…``, e-mails in capitals with spaces around, account numbers in
lower case. Then, in one warm process:

- ``core``: :func:`cxlens.profile.lookup` (find + 360 row + identifiers + timeline + audit write);
- ``api``: ``GET /api/v1/customers/{identifier}`` through the app in-process (auth, the gate,
  JSON), server time and client wall time;
- ``find`` and ``audit``: the two parts of ``core`` timed alone;
- ``peer``: the same lookups by scanning ``identifiers``/``identity_map`` and the event tables
  at read time (what the reader does without the profile stage's lookup tables) — no external
  tool is named for this goal, so the ratio is peer ÷ core on the same identifiers.

Every lookup's outcome (found, shared by several customers, unknown) is counted; all are timed.
Writes ``benchmarks/results/profile.json`` with p50/p95/p99, the CPU time per core lookup (what
a lookup costs whatever the machine's load), the load average and data sizes. The ``api`` pass
reads the same identifiers after ``core``, so DuckDB already holds their blocks: compare the
two for the server's overhead only.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from pathlib import Path
from typing import Any

from benchmarks import results_file

HERE = Path(__file__).parent
GOAL_P99_MS = 50.0


def written_form(id_type: str, value: str, raw: str | None, rng: random.Random) -> str:
    """``value`` (stored, normalised) as an agent might type it."""
    if id_type == "phone" and value.startswith("+861") and len(value) == 14:
        n = value[3:]
        forms = [n, f"{n[:3]}-{n[3:7]}-{n[7:]}", f"+86 {n[:3]} {n[3:7]} {n[7:]}", f"0086{n}",
                 f"(+86) {n}", f" {n} ", value]
        return rng.choice(forms)
    if id_type == "email":
        return rng.choice([value.upper(), f"  {value}  ", value.title(), value])
    if id_type in {"account", "order"}:
        return rng.choice([value.lower(), value.upper(), f" {value} ", value])
    return raw or value


def sample_identifiers(ws: Any, n: int, rng: random.Random) -> list[str]:
    """``n`` identifiers of the workspace in random written forms (about 1 in 12 a key)."""
    ids = ws.warehouse.table("identifiers").select("id_type", "id_value", "raw_value")
    rows = ids.to_pyarrow().to_pylist()
    keys = ws.warehouse.table("customer_360").select("customer_key").to_pyarrow()
    keys = keys.column(0).to_pylist()
    out = []
    for _ in range(n):
        if keys and rng.random() < 1 / 12:
            out.append(rng.choice(keys))
            continue
        r = rng.choice(rows)
        out.append(written_form(r["id_type"], r["id_value"], r["raw_value"], rng))
    return out


def percentiles(ms: list[float]) -> dict[str, float]:
    s = sorted(ms)

    def pick(q: float) -> float:
        return round(s[min(len(s) - 1, max(0, int(round(q * len(s))) - 1))], 2)

    return {"n": len(s), "p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99),
            "max": round(s[-1], 2), "mean": round(statistics.fmean(s), 2)}


def _timed(fn: Any, items: list[str]) -> tuple[list[float], dict[str, int]]:
    from cxlens.errors import InputError, NotFoundError

    ms: list[float] = []
    outcomes = {"found": 0, "shared": 0, "unknown": 0}
    for item in items:
        t0 = time.perf_counter()
        try:
            fn(item)
            outcome = "found"
        except NotFoundError:
            outcome = "unknown"
        except InputError:
            outcome = "shared"
        ms.append((time.perf_counter() - t0) * 1000)
        outcomes[outcome] += 1
    return ms, outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workspace", type=Path, default=HERE / "work" / "demo20k")
    parser.add_argument("--lookups", type=int, default=600)
    parser.add_argument("--peer-lookups", type=int, default=40)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=100, help="untimed lookups first")
    args = parser.parse_args(argv)

    import cxlens
    from cxlens import audit, users
    from cxlens.profile import reader

    if not (args.workspace / "cxlens.toml").exists():
        raise SystemExit(f"no workspace at {args.workspace}: run `cxlens demo --no-serve "
                         f"--workspace {args.workspace}` first")
    rng = random.Random(args.seed)
    load_before = os.getloadavg()
    ws = cxlens.open(args.workspace)
    counts = {t: ws.warehouse.store.count(t) for t in (
        "customer_360", "identifiers", "identity_lookup", "customer_timeline", "audit_log")}
    warmup = sample_identifiers(ws, args.warmup, rng)
    items = sample_identifiers(ws, args.lookups, rng)

    for item in warmup:  # warm the process: imports, compiled queries, DuckDB's buffers
        try:
            reader.lookup(ws, item, actor="bench-warmup")
        except cxlens.errors.CxlensError:
            pass
    audit_before = ws.warehouse.store.count("audit_log")
    cpu0 = time.process_time()  # CPU of the whole process (DuckDB's threads too): load-free
    core_ms, outcomes = _timed(lambda v: reader.lookup(ws, v, actor="bench"), items)
    core_cpu_ms = (time.process_time() - cpu0) * 1000 / len(items)
    audited = ws.warehouse.store.count("audit_log") - audit_before  # one per found customer
    find_ms, _ = _timed(lambda v: reader.find_customer(ws, v), items)
    key = reader.find_customer(ws, next(i for i in items if i.startswith("C")))
    audit_ms = []
    for _ in range(len(items)):
        t0 = time.perf_counter()
        audit.record(ws, actor="bench", action="profile.read", target=key)
        audit_ms.append((time.perf_counter() - t0) * 1000)
    peer_items = items[: args.peer_lookups]
    peer_ms, _ = _timed(lambda v: _scan_lookup(ws, v), peer_items)
    core_same = core_ms[: args.peer_lookups]
    api_key = users.add_user(ws, "bench-agent", "agent", None, with_key=True, replace=True)
    ws.close()

    api = _api_timings(args.workspace, api_key, items)
    result = {
        "workspace": str(args.workspace),
        "customers": counts["customer_360"],
        "identifiers": counts["identifiers"],
        "lookup_rows": counts["identity_lookup"],
        "timeline_rows": counts["customer_timeline"],
        "lookups": len(items),
        "outcomes": outcomes,
        "core_ms": percentiles(core_ms),
        "core_cpu_ms_per_lookup": round(core_cpu_ms, 2),
        "api_server_ms": percentiles(api["server"]),
        "api_wall_ms": percentiles(api["wall"]),
        "find_ms": percentiles(find_ms),
        "audit_write_ms": percentiles(audit_ms),
        "audit_entries_of_timed_lookups": audited,
        "peer": "read-time scan of identifiers/identity_map/event tables (no lookup tables)",
        "peer_ms": percentiles(peer_ms),
        "core_ms_same_items": percentiles(core_same),
        "ratio_peer_p50_over_core_p50": round(
            statistics.median(peer_ms) / max(statistics.median(core_same), 1e-9), 1),
        "goal_p99_ms": GOAL_P99_MS,
        **results_file.machine(load_before),
    }
    results_file.write("profile", result)
    return 0


def _scan_lookup(ws: Any, identifier: str) -> dict[str, Any]:
    """The peer: the lookup without the profile stage's lookup tables (read-time scans)."""
    from cxlens.profile import reader

    wh = ws.warehouse
    text = identifier.strip()
    imap = wh.table("identity_map")
    if reader.KEY_PATTERN.match(text):
        keys = imap.filter(imap.customer_key == text).select("customer_key").distinct()
    else:
        ids = wh.table("identifiers")
        values = reader.candidate_values(ws, text) or ["\x00"]
        recs = ids.filter(ids.id_value.isin(values)).select("record_table", "source", "source_id")
        keys = imap.semi_join(recs, ["record_table", "source", "source_id"]).select(
            "customer_key").distinct()
    keys = keys.to_pyarrow().column(0).to_pylist()
    if not keys:
        from cxlens.errors import NotFoundError

        raise NotFoundError(f"no customer matches {identifier!r}")
    if len(keys) > 1:
        from cxlens.errors import InputError

        raise InputError("shared")
    return {"identifiers": reader.identifiers_of(ws, keys[0], materialised=False),
            "timeline": reader.timeline(ws, keys[0], materialised=False)}


def _api_timings(workspace: Path, api_key: str, items: list[str]) -> dict[str, list[float]]:
    from urllib.parse import quote

    from fastapi.testclient import TestClient

    from cxlens.server import create_app

    app = create_app(workspace)
    server: list[float] = []
    wall: list[float] = []
    with TestClient(app, headers={"X-API-Key": api_key}) as client:
        for item in items[:20]:  # warm the app (the process is already warm)
            client.get(f"/api/v1/customers/{quote(item, safe='')}")
        for item in items:
            t0 = time.perf_counter()
            r = client.get(f"/api/v1/customers/{quote(item, safe='')}")
            wall.append((time.perf_counter() - t0) * 1000)
            assert r.status_code in (200, 400, 404), (item, r.status_code, r.text[:200])
            server.append(float(r.headers.get("server-timing", "app;dur=nan").split("dur=")[1]))
    app.state.gate.close()
    return {"server": server, "wall": wall}


if __name__ == "__main__":
    raise SystemExit(main())
