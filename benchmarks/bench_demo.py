"""Demo build time at the default size (goal < 60 s on 2 cores), per phase.

    python -m benchmarks.bench_demo [--customers 20000] [--days 90] [--workers N]

Builds a fresh workspace in benchmarks/work/ with `cxlens.demo.build` (synth → every stage →
summary → report) and splits the run at each progress message: per phase the wall seconds and
the CPU seconds (user + system of this process, all its threads — DuckDB's included — plus its
reaped child processes, i.e. the synth workers). On a shared machine the CPU seconds are the
load-independent figure; the load average before/after dates the wall times.
Results: ``benchmarks/results/demo.json`` (``--out PATH`` writes elsewhere, for A/B runs).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import time
from pathlib import Path
from typing import Any

from benchmarks import results_file

HERE = Path(__file__).parent


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _cpu_children() -> float:
    t = os.times()
    return t.children_user + t.children_system


class _Phases:
    """Wall and CPU seconds between consecutive progress messages of `demo.build`."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.name = "start"
        self.wall = time.perf_counter()
        self.cpu = _cpu()
        self.kids = _cpu_children()

    def say(self, text: str) -> None:
        print(text, flush=True)
        self.close()
        if text.startswith("generating"):
            self.name = "synth"
        elif text.startswith("stage "):
            self.name = text[6:].split(":")[0]
        elif text.startswith("writing"):
            self.name = "report"
        else:
            self.name = text[:40]

    def close(self) -> None:
        wall, cpu, kids = time.perf_counter(), _cpu(), _cpu_children()
        if self.name != "start" or wall - self.wall > 0.05:
            # children: the synth's worker processes (generation); the rest is this process
            self.rows.append({"phase": self.name, "wall_s": round(wall - self.wall, 1),
                              "cpu_s": round(cpu - self.cpu, 1),
                              "cpu_s_children": round(kids - self.kids, 1)})
        self.wall, self.cpu, self.kids = wall, cpu, kids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workspace", type=Path, default=HERE / "work" / "demo-bench",
                        help="where to build (removed first)")
    parser.add_argument("--out", type=Path, default=None,
                        help="write the results here instead of benchmarks/results/demo.json "
                             "(A/B runs that must not replace the committed figures)")
    args = parser.parse_args(argv)

    from cxlens import demo

    target = args.workspace
    shutil.rmtree(target, ignore_errors=True)
    load_before = os.getloadavg()
    phases = _Phases()
    start, cpu0 = time.perf_counter(), _cpu()
    summary = demo.build(target, customers=args.customers, days=args.days, seed=args.seed,
                         say=phases.say)
    phases.close()
    total, cpu_total = time.perf_counter() - start, _cpu() - cpu0
    result = {
        "customers": args.customers, "days": args.days, "seed": args.seed,
        "interactions": summary["tables"].get("interactions"),
        "rows_total": sum(summary["tables"].values()),
        "seconds_total": round(total, 1),
        "cpu_seconds_total": round(cpu_total, 1),
        "phases": phases.rows,
        "seconds_synth": (summary.get("synth") or {}).get("seconds"),
        "stages": {s["stage"]: s.get("seconds") for s in summary["stages"]},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "goal_seconds": 60,
        **results_file.machine(load_before),
    }
    if args.out is None:
        results_file.write("demo", result)
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
