"""Synth benchmark: throughput and peak memory of ``cxlens.synth`` vs Faker (the peer).

    .venv/bin/python -m benchmarks.bench_synth [--size 10000000] [--workers N] [--no-demo]

1. **Stream**: ``synth.iter_batches`` for about ``--size`` interactions (customers are derived
   from the measured ≈ 10 interactions per customer per 90 days), batches discarded. Reports
   interactions/s, all rows/s (every canonical + truth table) and peak RSS of the process and
   its worker processes (``ru_maxrss``), run in a subprocess so the figure is its own.
2. **Peer**: Faker (``zh_CN``) writing flat contact rows (name, phone, e-mail, timestamp,
   a sentence of text) — what a generic fake-data tool gives, without journeys, queues,
   identifiers that link, or truth. Ratio = synth interactions/s ÷ Faker rows/s.
3. **Demo**: ``synth.generate`` at the default demo size (20k customers, 90 days) into a fresh
   DuckDB workspace (the `cxlens demo` synth step), wall time.

Results: ``benchmarks/results/synth.json``. ``--only-demo`` re-measures step 3 alone and updates
only its entry there; ``--only-throughput`` runs steps 1 and 2 (at ``--size``) and adds their
entry beside the others. ``--hashes`` prints a SHA-256 per table of the Arrow IPC bytes of a fixed
small config (3,000 customers, 30 days, seed 7): a speed-up must leave every hash unchanged.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import results_file

ROOT = Path(__file__).resolve().parent
WORK = ROOT / "work"
INTERACTIONS_PER_CUSTOMER_90D = 10.0


def stream(size: int, workers: int, seed: int = 7, chunks: int = 0) -> dict[str, float]:
    """Generate about ``size`` interactions with iter_batches and discard them.

    ``chunks`` > 0 stops after that many chunks: the centre (agents, roster, queue model) is
    the full size's and a chunk is always ``chunk_customers`` customers, so the peak RSS of a
    few chunks is the full run's (measured: flat from 57k to 12M interactions), at a fraction
    of the CPU."""
    from cxlens import synth

    customers = max(1, math.ceil(size / INTERACTIONS_PER_CUSTOMER_90D))
    config = synth.SynthConfig.checked(customers=customers, days=90, seed=seed)
    rows: dict[str, int] = {}
    started = time.perf_counter()
    cpu = time.process_time()
    last = started
    done = 0
    for name, table in synth.iter_batches(config, workers):
        rows[name] = rows.get(name, 0) + table.num_rows
        if name == "truth:persons":  # the last batch of a chunk
            done += 1
            if chunks and done >= chunks:
                break
        now = time.perf_counter()
        if now - last > 30:
            print(f"  {rows.get('interactions', 0):,} interactions, {now - started:.0f} s",
                  file=sys.stderr, flush=True)
            last = now
    wall = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    cpu_all = _cpu_seconds()
    return {
        "customers": customers, "workers": workers, "chunks": done,
        "chunk_customers": config.chunk_customers, "seconds": round(wall, 1),
        "cpu_seconds_main": round(time.process_time() - cpu, 1),
        "cpu_seconds_all_processes": round(cpu_all, 1),
        "interactions_per_cpu_s": round(rows.get("interactions", 0) / cpu_all),
        "interactions": rows.get("interactions", 0), "messages": rows.get("messages", 0),
        "all_rows": sum(rows.values()),
        "interactions_per_s": round(rows.get("interactions", 0) / wall),
        "rows_per_s": round(sum(rows.values()) / wall),
        "peak_rss_mb": round(own), "peak_rss_worker_mb": round(children),
    }


def _cpu_seconds() -> float:
    """User+system CPU of this process and its finished children (load-independent)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def faker_peer(n: int = 20_000, seed: int = 7) -> dict[str, float]:
    """Faker zh_CN flat contact rows per second (single process)."""
    from faker import Faker

    fake = Faker("zh_CN")
    Faker.seed(seed)
    started = time.perf_counter()
    cpu = time.process_time()
    out = []
    for _ in range(n):
        out.append((fake.name(), fake.phone_number(), fake.email(),
                    fake.date_time_between("-90d"), fake.sentence(nb_words=12)))
    wall = time.perf_counter() - started
    cpu_s = time.process_time() - cpu
    return {"rows": n, "seconds": round(wall, 2), "rows_per_s": round(n / wall),
            "cpu_seconds": round(cpu_s, 2), "rows_per_cpu_s": round(n / cpu_s)}


def demo(customers: int, workers: int | None) -> dict[str, Any]:
    """``synth.generate`` into a fresh DuckDB workspace: wall, CPU of this process (the
    storing one, DuckDB's threads included) and of the worker processes, and the tail — the
    seconds after the last chunk arrived (stores that nothing else overlaps)."""
    import os

    import cxlens
    from cxlens import synth
    from cxlens.config import load_settings

    path = WORK / "synth-demo-ws"
    shutil.rmtree(path, ignore_errors=True)
    ws = cxlens.init(path, load_settings(None, environ={}))
    last_chunk: list[float] = []

    def progress(name: str, rows: int) -> None:
        if name == "truth:persons":  # the last batch of a chunk
            last_chunk[:] = [time.perf_counter(), *_cpu_split()]

    load_before = os.getloadavg()[0]
    started, (main0, kids0) = time.perf_counter(), _cpu_split()
    try:
        summary = synth.generate(ws, synth.SynthConfig.checked(customers=customers, days=90),
                                 workers=workers, progress=progress)
    finally:
        ws.close()
    ended, (main1, kids1) = time.perf_counter(), _cpu_split()
    shutil.rmtree(path, ignore_errors=True)
    return {"customers": customers, "seconds": round(ended - started, 1),
            "cpu_seconds_all_processes": round(main1 - main0 + kids1 - kids0, 1),
            "cpu_seconds_main": round(main1 - main0, 1),
            "cpu_seconds_workers": round(kids1 - kids0, 1),
            "tail_seconds": round(ended - last_chunk[0], 1) if last_chunk else None,
            "tail_cpu_seconds_main": round(main1 - last_chunk[1], 1) if last_chunk else None,
            "interactions": summary["rows"]["interactions"],
            "messages": summary["rows"]["messages"],
            "rows": sum(summary["rows"].values()),
            "load_avg_1m": [round(load_before, 1), round(os.getloadavg()[0], 1)]}


def _cpu_split() -> tuple[float, float]:
    """(this process, its reaped children) user+system CPU seconds."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


def table_hashes(customers: int = 3_000, days: int = 30, seed: int = 7) -> dict[str, str]:
    """SHA-256 per table (batches in order) of ``iter_batches`` and ``iter_truth`` output."""
    import hashlib

    import pyarrow as pa

    from cxlens import synth

    config = synth.SynthConfig.checked(customers=customers, days=days, seed=seed)
    digests: dict[str, Any] = {}

    def add(name: str, table: pa.Table) -> None:
        sink = pa.BufferOutputStream()
        table = table.combine_chunks()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        digests.setdefault(name, hashlib.sha256()).update(sink.getvalue().to_pybytes())

    for name, table in synth.iter_batches(config):
        add(name, table)
    for name, table in synth.iter_truth(config):
        add(f"iter_truth:{name}", table)
    return {name: digest.hexdigest() for name, digest in sorted(digests.items())}


def _in_subprocess(args: list[str]) -> dict[str, float]:
    """Run one measurement in a fresh interpreter so its peak RSS is its own."""
    out = subprocess.run([sys.executable, "-m", "benchmarks.bench_synth", *args],
                         check=True, capture_output=True, text=True, cwd=ROOT.parent)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000_000, help="interactions to stream")
    parser.add_argument("--workers", type=int, default=0, help="processes (0: CPUs, max 2)")
    parser.add_argument("--demo-customers", type=int, default=20_000)
    parser.add_argument("--no-demo", action="store_true", help="skip the warehouse run")
    parser.add_argument("--data", type=Path, default=None, help="unused (synth needs no data)")
    parser.add_argument("--only-demo", action="store_true",
                        help="measure only the demo generate() and update that entry")
    parser.add_argument("--hashes", action="store_true",
                        help="print per-table output hashes of a fixed config and exit")
    parser.add_argument("--chunks", type=int, default=0,
                        help="stream: stop after this many chunks (peak memory at --size)")
    parser.add_argument("--only-stream", action="store_true",
                        help="measure only the stream and store it as 'stream_memory_<W>w'")
    parser.add_argument("--key", default=None,
                        help="--only-stream: store the entry under this key instead")
    parser.add_argument("--only-throughput", action="store_true",
                        help="stream --size interactions and Faker in the same run; store both "
                             "and the ratio under --key (default 'throughput_<size>')")
    parser.add_argument("--part", choices=("stream", "demo"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.hashes:
        print(json.dumps(table_hashes(), indent=1))
        return
    from cxlens.cpus import default_workers

    workers = args.workers or default_workers()
    if args.part == "stream":
        print(json.dumps(stream(args.size, workers, chunks=args.chunks)))
        return
    if args.part == "demo":
        print(json.dumps(demo(args.demo_customers, workers)))
        return
    import os

    if args.only_stream:
        load_before = os.getloadavg()[0]
        entry = _in_subprocess(["--part", "stream", "--size", str(args.size),
                                "--workers", str(workers), "--chunks", str(args.chunks)])
        entry["peak_rss_total_mb"] = entry["peak_rss_mb"] + workers * entry["peak_rss_worker_mb"]
        entry["load_avg_1m"] = [round(load_before, 1), round(os.getloadavg()[0], 1)]
        results_file.merge("synth", args.key or f"stream_memory_{workers}w", entry)
        return
    if args.only_throughput:
        load_before = os.getloadavg()[0]
        streamed = _in_subprocess(["--part", "stream", "--size", str(args.size),
                                   "--workers", str(workers)])
        peer = faker_peer()
        results_file.merge("synth", args.key or f"throughput_{args.size}", {
            "stream": streamed, "peer_faker": peer,
            "ratio_per_cpu_s_vs_faker": round(
                streamed["interactions_per_cpu_s"] / peer["rows_per_cpu_s"], 3),
            "load_avg_1m": [round(load_before, 1), round(os.getloadavg()[0], 1)]})
        return
    if args.only_demo:
        results_file.merge("synth", "demo_generate", _in_subprocess(
            ["--part", "demo", "--demo-customers", str(args.demo_customers),
             "--workers", str(workers)]))
        return
    result: dict[str, object] = {
        "machine": {"cpus": os.cpu_count(), "load_avg_1m_at_start": os.getloadavg()[0]},
    }
    print(f"stream: ~{args.size:,} interactions, {workers} worker(s)...", file=sys.stderr)
    result["stream"] = streamed = _in_subprocess(
        ["--part", "stream", "--size", str(args.size), "--workers", str(workers)])
    print(f"  {streamed}", file=sys.stderr)
    result["peer_faker"] = peer = faker_peer()
    print(f"faker: {peer}", file=sys.stderr)
    per_worker = streamed["interactions_per_s"] / max(1, workers)
    result["ratio_interactions_per_s_vs_faker_rows_per_s"] = round(
        streamed["interactions_per_s"] / peer["rows_per_s"], 3)
    result["ratio_per_process_vs_faker"] = round(per_worker / peer["rows_per_s"], 3)
    result["ratio_per_cpu_s_vs_faker"] = round(
        streamed["interactions_per_cpu_s"] / peer["rows_per_cpu_s"], 3)
    if not args.no_demo:
        print(f"demo: generate() {args.demo_customers:,} customers into DuckDB...",
              file=sys.stderr)
        result["demo_generate"] = _in_subprocess(
            ["--part", "demo", "--demo-customers", str(args.demo_customers),
             "--workers", str(workers)])
        print(f"  {result['demo_generate']}", file=sys.stderr)
    result["machine"]["load_avg_1m_at_end"] = os.getloadavg()[0]  # type: ignore[index]
    results_file.write("synth", result)


if __name__ == "__main__":
    main()
