"""Shared tail of the benchmarks: the machine's state next to the figures, and the results file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).parent / "results"


def machine(load_before: tuple[float, float, float]) -> dict[str, Any]:
    """Load averages before and now, and the CPU count: on a shared machine they date every figure."""
    return {
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }


def write(area: str, result: dict[str, Any]) -> None:
    """Write ``results/<area>.json`` and print it."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"{area}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


def merge(area: str, key: str, entry: dict[str, Any]) -> None:
    """Set ``key`` of ``results/<area>.json`` to ``entry``, keeping the file's other entries (a
    benchmark run for one part only), and print the entry."""
    path = RESULTS_DIR / f"{area}.json"
    kept = json.loads(path.read_text()) if path.exists() else {}
    kept[key] = entry
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(kept, indent=2) + "\n")
    print(json.dumps(entry, indent=2))
