"""Workforce management: Erlang C staffing vs pyworkforce, and forecast WAPE vs seasonal naive.

    .venv/bin/python -m benchmarks.bench_wfm [--size 10] [--customers 20000] [--days 90]

1. **Staffing grid**: a 7-day x 96-interval (15 min) x ``--size``-queue plan (6,720 intervals for
   10 queues) with a realistic intraday/weekly shape, AHT 150-420 s per queue, target 80/20,
   max occupancy 85%, shrinkage 30%. Times :func:`cxlens.wfm.erlang.staff_erlang_c` on the
   whole grid (best of 100 wall and CPU time) against pyworkforce 0.5.1's ``ErlangC.required_positions`` called per
   interval (its documented use; best of 3), and compares the agent counts interval by interval.
2. **Forecast**: a demo-size synth workspace (``--customers``, ``--days``; built once in
   ``benchmarks/work/wfm-demo``) — backtest WAPE/bias per queue x channel of the chosen model vs
   seasonal naive (same interval last week) on the last 2 weeks held out.

Writes ``benchmarks/results/wfm.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent
INTERVAL_MIN = 15
TARGET, ANSWER_S, MAX_OCC, SHRINK = 0.8, 20.0, 0.85, 0.3


def grid(queues: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Calls and AHT per queue x interval (7 days x 96 intervals), at least one call each."""
    rng = np.random.default_rng(seed)
    hours = (np.arange(96) + 0.5) / 4
    shape = np.exp(-((hours - 10.5) / 2.2) ** 2) + 0.8 * np.exp(-((hours - 15) / 2.5) ** 2) + 0.05
    week = np.array([1.15, 1.0, 1.0, 0.95, 1.0, 0.55, 0.45])
    peak = rng.uniform(8, 160, queues)  # calls in the busiest 15 minutes
    calls = peak[:, None, None] * week[None, :, None] * shape[None, None, :] / shape.max()
    calls = np.maximum(np.round(calls * rng.uniform(0.9, 1.1, calls.shape)), 1.0)
    aht = np.broadcast_to(rng.uniform(150, 420, queues)[:, None, None], calls.shape).copy()
    return calls.reshape(-1), aht.reshape(-1)


def _timed(run: Any, repeats: int) -> tuple[float, float, Any]:
    """Best wall and best CPU seconds over ``repeats`` runs (the build machine is shared:
    the minimum is the least disturbed run) and the last result."""
    wall, cpu, result = math.inf, math.inf, None
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        result = run()
        wall = min(wall, time.perf_counter() - w0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu, result


def bench_cxlens(calls: np.ndarray, aht: np.ndarray) -> tuple[float, float, dict[str, Any]]:
    from cxlens.wfm.erlang import staff_erlang_c

    return _timed(lambda: staff_erlang_c(calls, aht, INTERVAL_MIN * 60, TARGET, ANSWER_S,
                                         max_occupancy=MAX_OCC, shrinkage=SHRINK), 100)


def bench_pyworkforce(calls: np.ndarray, aht: np.ndarray
                      ) -> tuple[float, float, tuple[np.ndarray, np.ndarray]]:
    from pyworkforce.queuing import ErlangC

    def run() -> tuple[np.ndarray, np.ndarray]:
        raw, scheduled = np.zeros(len(calls)), np.zeros(len(calls))
        for i, (c, h) in enumerate(zip(calls, aht, strict=True)):
            req = ErlangC(transactions=float(c), aht=float(h) / 60, asa=ANSWER_S / 60,
                          interval=INTERVAL_MIN, shrinkage=SHRINK).required_positions(
                service_level=TARGET, max_occupancy=MAX_OCC)
            raw[i], scheduled[i] = req["raw_positions"], req["positions"]
        return raw, scheduled

    return _timed(run, 3)


def staffing(queues: int) -> dict[str, Any]:
    calls, aht = grid(queues)
    ours_s, ours_cpu, ours = bench_cxlens(calls, aht)
    peer_s, peer_cpu, (raw, scheduled) = bench_pyworkforce(calls, aht)
    agents = ours["agents"]
    sched_diff = np.flatnonzero(ours["scheduled_agents"] != scheduled)
    # pyworkforce computes ceil(raw / (1 - shrinkage)) in floating point: 14 / 0.7 -> 21
    float_slips = [i for i in sched_diff
                   if math.isclose(agents[i] / (1 - SHRINK), round(agents[i] / (1 - SHRINK)))]
    return {
        "intervals": int(len(calls)), "queues": queues, "days": 7,
        "intervals_per_day": 1440 // INTERVAL_MIN, "calls": float(calls.sum()),
        "target": f"{TARGET:.0%}/{ANSWER_S:g}s", "max_occupancy": MAX_OCC, "shrinkage": SHRINK,
        "cxlens_s": round(ours_s, 5), "pyworkforce_s": round(peer_s, 3),
        "speedup": round(peer_s / ours_s, 1),
        "cxlens_cpu_s": round(ours_cpu, 5), "pyworkforce_cpu_s": round(peer_cpu, 3),
        "speedup_cpu": round(peer_cpu / ours_cpu, 1),
        "agents_identical": bool(np.array_equal(agents, raw)),
        "agents_differing_intervals": int(np.sum(agents != raw)),
        "scheduled_differing_intervals": int(len(sched_diff)),
        "scheduled_differences_from_pyworkforce_float_rounding": len(float_slips),
        "total_agent_intervals": int(agents.sum()),
    }


def forecasting(customers: int, days: int) -> dict[str, Any]:
    import cxlens
    from cxlens.wfm.forecast import forecast

    path = ROOT / "work" / "wfm-demo"
    if not (path / "cxlens.toml").exists():
        from cxlens import synth

        ws = cxlens.init(path)
        start = time.perf_counter()
        synth.generate(ws, synth.SynthConfig.checked(customers=customers, days=days, seed=7))
        print(f"synth: {time.perf_counter() - start:.0f} s", flush=True)
        ws.close()
    ws = cxlens.open(path, read_only=True)
    try:
        start = time.perf_counter()
        result = forecast(ws, days=7, interval=30, backtest_weeks=2)
        elapsed = time.perf_counter() - start
    finally:
        ws.close()
    chosen = result.backtest[result.backtest["chosen"]]
    calls = result.holdout.groupby(["queue", "channel"])["actual"].sum()
    rows = []
    for r in chosen.itertuples():
        rows.append({"queue": r.queue, "channel": r.channel, "model": r.model,
                     "wape": round(r.wape, 4), "bias": round(r.bias, 4),
                     "naive_wape": round(r.baseline_wape, 4),
                     "naive_bias": round(r.baseline_bias, 4),
                     "held_out_week_calls": int(calls.get((r.queue, r.channel), 0))})
    w = np.array([row["held_out_week_calls"] for row in rows], dtype=float)
    wape = np.array([row["wape"] for row in rows])
    naive = np.array([row["naive_wape"] for row in rows])
    return {
        "customers": customers, "days": days, "interval_minutes": 30, "backtest_weeks": 2,
        "series": len(rows), "forecast_s": round(elapsed, 1),
        "weighted_wape": round(float((wape * w).sum() / w.sum()), 4) if w.sum() else None,
        "weighted_naive_wape": round(float((naive * w).sum() / w.sum()), 4) if w.sum() else None,
        "beats_naive_series": int((wape < naive).sum()),
        "per_series": rows, "skipped": result.skipped,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10, help="queues in the staffing grid")
    parser.add_argument("--customers", type=int, default=20_000, help="synth customers")
    parser.add_argument("--days", type=int, default=90, help="synth days of history")
    parser.add_argument("--skip-forecast", action="store_true")
    args = parser.parse_args(argv)
    out: dict[str, Any] = {"machine": f"{platform.machine()} {platform.python_version()}",
                           "staffing": staffing(args.size)}
    print(json.dumps(out["staffing"], indent=2), flush=True)
    if not args.skip_forecast:
        out["forecast"] = forecasting(args.customers, args.days)
        print(json.dumps({k: v for k, v in out["forecast"].items() if k != "per_series"},
                         indent=2))
    (ROOT / "results").mkdir(exist_ok=True)
    (ROOT / "results" / "wfm.json").write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
