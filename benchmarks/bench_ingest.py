"""Ingest benchmark: an N-row Asterisk Master.csv through `cxlens ingest` vs DuckDB's own
``read_csv`` of the same file (no cleaning) — the practical limit — with DuckDB's default
threads and with one thread (the setting cxlens writes with).

    .venv/bin/python -m benchmarks.bench_ingest [--size 10000000] [--keep]

Both sides end with the rows in a table of a fresh DuckDB file; each runs in its own process so
its peak RSS (``ru_maxrss``) is its own. The CDR file is generated under ``benchmarks/work/``
(not committed): realistic shape — 200k distinct callers, 60 agents, 8 queues, 18 columns
(``loguniqueid``/``loguserfield``), ~20% unanswered, 0.1% impossible rows (quarantined).
Results: ``benchmarks/results/ingest.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
WORK = ROOT / "work"
FMT = "%Y-%m-%d %H:%M:%S"
RESULTS = ROOT / "results" / "ingest.json"


def generate(path: Path, size: int, seed: int = 7) -> None:
    """Write ``size`` CDR lines (vectorised with numpy/pyarrow, ~1 M lines/s)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    chunk = 1_000_000
    base = 1_756_684_800  # 2025-09-01 local
    queues = np.array(["sales", "billing", "support", "vip", "tech", "returns", "en", "zh"])
    with path.open("wb") as handle:
        for start in range(0, size, chunk):
            n = min(chunk, size - start)
            idx = np.arange(start, start + n)
            caller = 13_000_000_000 + rng.integers(0, 200_000, n) * 9_973
            agent = 1000 + rng.integers(0, 60, n)
            t0 = base + (idx * 2.6).astype(np.int64)  # ~10 M calls over ~300 days
            ring = rng.integers(0, 60, n)
            answered = rng.random(n) > 0.2
            talk = np.where(answered, rng.gamma(2.0, 150.0, n).astype(np.int64), 0)
            duration = ring + talk
            bad = rng.random(n) < 0.001
            duration = np.where(bad, -duration - 1, duration)
            def ts(seconds):
                return pc.strftime(pa.array(seconds.astype("datetime64[s]")), format=FMT)

            answer = pc.if_else(pa.array(answered), ts(t0 + ring), "")
            uid = pc.binary_join_element_wise(
                pa.array(t0.astype(str)), pa.array(idx.astype(str)), ".")
            agent_s = pa.array(agent.astype(str))
            caller_s = pa.array(caller.astype(str))
            table = pa.table({
                "accountcode": pa.array([""] * n),
                "src": caller_s,
                "dst": pa.array(["8000"] * n),
                "dcontext": pa.array(["from-trunk"] * n),
                "clid": pc.binary_join_element_wise(pa.array(['"Caller" <'] * n), caller_s,
                                                    pa.array([">"] * n), ""),
                "channel": pc.binary_join_element_wise(pa.array(["SIP/trunk"] * n),
                                                       pa.array(idx.astype(str)), "-"),
                "dstchannel": pc.binary_join_element_wise(
                    pc.binary_join_element_wise(pa.array(["SIP"] * n), agent_s, "/"),
                    pa.array(idx.astype(str)), "-"),
                "lastapp": pa.array(["Queue"] * n),
                "lastdata": pc.binary_join_element_wise(
                    pa.array(queues[rng.integers(0, len(queues), n)]), pa.array(["t"] * n), ","),
                "start": ts(t0), "answer": answer, "end": ts(t0 + np.abs(duration)),
                "duration": pa.array(duration), "billsec": pa.array(talk),
                "disposition": pc.if_else(pa.array(answered), "ANSWERED", "NO ANSWER"),
                "amaflags": pa.array(["DOCUMENTATION"] * n),
                "uniqueid": uid, "userfield": pa.array([""] * n),
            })
            pcsv.write_csv(table, handle, pcsv.WriteOptions(include_header=False,
                                                           quoting_style="needed"))


DUCK_SIDES = ("duckdb", "duckdb-1thread", "duckdb-v1.5")


def _rate(fig: dict) -> int:
    return round(fig["rows"] / fig["seconds"])


def _child(kind: str, path: Path, out: Path) -> None:
    """Run one side in this (child) process and print its figures as JSON."""
    t0 = time.perf_counter()
    if kind.startswith("duckdb"):
        import duckdb

        # "duckdb-v1.5": the file in the storage format new cxlens warehouses use, so a gain
        # from the newer format alone shows up on both sides
        config = {"storage_compatibility_version": "v1.5.0"} if kind == "duckdb-v1.5" else {}
        con = duckdb.connect(str(out / "duck.duckdb"), config=config)
        if kind == "duckdb-1thread":  # cxlens writes with one DuckDB thread: same for the limit
            con.execute("SET threads = 1")
        con.execute("CREATE TABLE cdr AS SELECT * FROM read_csv(?, header = false)", [str(path)])
        rows = con.execute("SELECT count(*) FROM cdr").fetchone()[0]
        con.close()
        doc = {"rows": rows}
    else:
        import cxlens
        from cxlens.config import load_settings
        from cxlens.ingest import ingest

        ws = cxlens.init(out / "ws", load_settings(None, environ={}))
        # the default (generic, pipelined) path; CXLENS_BENCH_SQL=1 measures the SQL fast path
        result = ingest(ws, path, "asterisk", source="pbx",
                        fast_path=bool(os.environ.get("CXLENS_BENCH_SQL")))
        ws.close()
        doc = {k: getattr(result, k) for k in ("read", "stored", "quarantined", "duplicates",
                                               "method")}
        doc["rows"] = result.read
    doc["seconds"] = round(time.perf_counter() - t0, 2)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    doc["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
    doc["cpu_s"] = round(usage.ru_utime + usage.ru_stime, 2)  # all threads of the process
    print(json.dumps(doc))


def _measure(kind: str, path: Path) -> dict:
    out = WORK / f"run-{kind}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    load_before = os.getloadavg()[0]
    loads: list[float] = []
    stop = threading.Event()

    def watch() -> None:  # the machine is shared: the load beside this side, every 10 s
        while not stop.wait(10):
            loads.append(os.getloadavg()[0])

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_ingest", "--child", kind,
                               "--file", str(path), "--out", str(out)],
                              capture_output=True, text=True, cwd=ROOT.parent, check=False)
    finally:
        stop.set()
        watcher.join()
    if proc.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{proc.stderr[-3000:]}")
    shutil.rmtree(out, ignore_errors=True)
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    doc["load_average_1min_before_after"] = [round(load_before, 2),
                                             round(os.getloadavg()[0], 2)]
    if loads:
        doc["load_average_1min_mean_max"] = [round(sum(loads) / len(loads), 2),
                                             round(max(loads), 2)]
    return doc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000_000, help="CDR lines")
    parser.add_argument("--data", type=Path, default=None, help="(unused: data is generated)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the CSV this run generates (one that was there is always kept)")
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help="where to write the JSON (default benchmarks/results/ingest.json)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run every side this many times, interleaved; ratios are medians")
    parser.add_argument("--child", choices=[*DUCK_SIDES, "cxlens"], help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.file, args.out)
        return
    path = WORK / f"Master-{args.size}.csv"
    generated = not path.exists()  # an existing file is reused, and never deleted
    if generated:
        t0 = time.perf_counter()
        generate(path, args.size)
        print(f"generated {path} ({path.stat().st_size / 1e6:.0f} MB) in "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
    rounds: list[dict[str, dict]] = []
    for k in range(args.rounds):  # the sides interleaved, round after round
        sides = {kind: _measure(kind, path) for kind in DUCK_SIDES}
        sides["cxlens"] = _measure("cxlens", path)
        for kind, fig in sides.items():
            print(f"round {k + 1} {kind}:", fig, flush=True)
        rounds.append(sides)

    def ratio(r: dict[str, dict], kinds: tuple[str, ...]) -> float:
        return round(min(r[kind]["seconds"] for kind in kinds) / r["cxlens"]["seconds"], 3)

    def median(values: list[float]) -> float:
        return round(statistics.median(values), 3)

    last = rounds[-1]
    load = os.getloadavg()
    doc = {
        "benchmark": "ingest Asterisk Master.csv",
        "rows": args.size,
        "file_mb": round(path.stat().st_size / 1e6, 1),
        "machine": f"{os.cpu_count()} cores (shared)",
        "rounds": len(rounds),
        # the last round's figures per side (each round's are under "each_round")
        "duckdb_read_csv": {**last["duckdb"], "rows_per_s": _rate(last["duckdb"])},
        "cxlens_ingest": {**last["cxlens"], "rows_per_s": _rate(last["cxlens"])},
        "duckdb_read_csv_1thread": {**last["duckdb-1thread"],
                                    "rows_per_s": _rate(last["duckdb-1thread"])},
        "duckdb_read_csv_v1_5_storage": {**last["duckdb-v1.5"],
                                         "rows_per_s": _rate(last["duckdb-v1.5"])},
        "each_round": rounds,
        # median over rounds of the per-round ratio (both sides of a ratio ran minutes apart)
        "speed_ratio_vs_duckdb": median([ratio(r, ("duckdb",)) for r in rounds]),
        "speed_ratio_vs_duckdb_v1_5_storage": median([ratio(r, ("duckdb-v1.5",)) for r in rounds]),
        # against the fastest DuckDB side of each round: the strictest figure
        "speed_ratio_vs_best_duckdb": median([ratio(r, DUCK_SIDES) for r in rounds]),
        "per_round_ratio_vs_duckdb": [ratio(r, ("duckdb",)) for r in rounds],
        "load_average_1_5_15_at_end": [round(x, 2) for x in load],
        "goal": "ratio >= 0.40, cxlens peak RSS < 2048 MB",
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(doc, indent=2))
    if generated and not args.keep:
        path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
