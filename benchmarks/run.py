"""Run every benchmark (`benchmarks/bench_*.py`) in turn; each writes benchmarks/results/<area>.json.

    python -m benchmarks.run --data ../shared/data [--only synth,wfm]

Each benchmark compares cxlens with its named peer in the same run (a ratio); see the README.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default="../shared/data", help="folder of labelled data sets")
    parser.add_argument("--only", default="", help="comma-separated areas (e.g. synth,wfm)")
    args = parser.parse_args(argv)
    wanted = {a.strip() for a in args.only.split(",") if a.strip()}
    failures = 0
    for script in sorted(HERE.glob("bench_*.py")):
        area = script.stem.removeprefix("bench_")
        if wanted and area not in wanted:
            continue
        cmd = [sys.executable, "-m", f"benchmarks.{script.stem}"]
        if "--data" in script.read_text():
            cmd += ["--data", args.data]
        print(f"== {area}: {' '.join(cmd[2:])}", flush=True)
        start = time.perf_counter()
        code = subprocess.call(cmd, cwd=HERE.parent)
        print(f"== {area}: exit {code} in {time.perf_counter() - start:.0f} s", flush=True)
        failures += code != 0
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
