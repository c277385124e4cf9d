"""How many worker processes a CPU-bound stage forks when the settings do not say."""

from __future__ import annotations

import os

# Worker processes a stage forks when not told (synth, text, qa). Synth peak RSS measured at 1M
# customers (10M interactions): main ≈ 0.6 GB + ≈ 0.5 GB per worker (benchmarks/results/synth.json),
# so two workers keep the generator under 2 GB; more must be asked for (``workers=``, ``--workers``).
MAX_DEFAULT_WORKERS = 2


def default_workers(cap: int = MAX_DEFAULT_WORKERS) -> int:
    """The CPUs this process may use (its affinity on Linux), at least 1 and at most ``cap``."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cap, cpus))
