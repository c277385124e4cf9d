"""Demo build time at the default size (goal < 60 s on 2 cores), per phase.

    python -m benchmarks.bench_demo [--customers 20000] [--days 90]

Builds a fresh workspace in benchmarks/work/ with `cxlens.demo.build` (synth → every stage →
summary → report), records wall time per stage and the peak RSS of the process.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import time
from pathlib import Path

HERE = Path(__file__).parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    from cxlens import demo

    target = HERE / "work" / "demo-bench"
    shutil.rmtree(target, ignore_errors=True)
    start = time.perf_counter()
    summary = demo.build(target, customers=args.customers, days=args.days, seed=args.seed,
                         say=print)
    total = time.perf_counter() - start
    result = {
        "customers": args.customers, "days": args.days,
        "interactions": summary["tables"].get("interactions"),
        "rows_total": sum(summary["tables"].values()),
        "seconds_total": round(total, 1),
        "seconds_synth": (summary.get("synth") or {}).get("seconds"),
        "stages": {s["stage"]: s.get("seconds") for s in summary["stages"]},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "goal_seconds": 60,
    }
    out = HERE / "results" / "demo.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
