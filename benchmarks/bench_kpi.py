"""KPI overview on N interactions: cxlens (Ibis on DuckDB) vs plain pandas group-bys.

    .venv/bin/python -m benchmarks.bench_kpi [--size 10000000] [--keep]

Builds a workspace in ``benchmarks/work/kpi-<size>`` with a vectorised generator (interactions,
surveys at ~10 % of contacts, identity_map, journey_contacts with random journey flags — the
stitching itself is not what is timed here), then times:

- ``cxlens``: :func:`cxlens.metrics.overview` (all 19 KPI tiles, current + previous period) —
  best of 3 runs, warehouse already open, reading the daily ``kpi_rollup`` (built once by
  ``cxlens run``; its build time is reported separately as ``rollup_build_s``);
- ``cxlens scan``: the same overview with ``use_rollup=False`` (one scan per fact table), once;
- ``pandas``: the same numbers with pandas masks and group-bys on DataFrames already in memory
  (loading them is *not* counted, which favours pandas).

Every tile's value and previous value must agree across all three (to 1e-9 relative).
Writes ``benchmarks/results/kpi.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ROOT = Path(__file__).resolve().parent
START = datetime(2026, 8, 1)
DAYS = 90
PERIOD = ("2026-09-01", "2026-09-30")
REASONS = ["billing", "delivery", "technical", "account_access", "product_enquiry",
           "cancellation", "complaint", "refund"]
CHANNELS = np.array(["phone", "chat", "email", "social", "ivr"])
CHANNEL_P = [0.45, 0.25, 0.1, 0.05, 0.15]
QUEUES = np.array(["general_zh", "billing_zh", "tech_zh", "general_en", "vip"])


def _ids(prefix: str, idx: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pa.array(idx).cast(pa.string()), "")


def _ts(seconds: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    micros = (np.datetime64(START, "us") + (seconds * 1e6).astype("timedelta64[us]"))
    return pa.array(micros, type=pa.timestamp("us"),
                    mask=None if valid is None else ~valid)


def generate(n: int, seed: int, offset: int) -> dict[str, pa.Table]:
    """One batch of ``n`` interactions (ids from ``offset``) and the rows that hang off them."""
    rng = np.random.default_rng(seed + offset)
    idx = np.arange(offset, offset + n)
    channel = CHANNELS[rng.choice(len(CHANNELS), n, p=CHANNEL_P)]
    live = (channel == "phone") | (channel == "chat")
    ivr = channel == "ivr"
    outbound = rng.random(n) < 0.03
    abandoned = live & (rng.random(n) < 0.1)
    handled = ~abandoned & ~ivr
    start_s = rng.random(n) * DAYS * 86400
    wait = np.where(live, rng.exponential(30, n), np.where(ivr, 0.0, rng.exponential(14400, n)))
    talk = np.where(live & handled, rng.lognormal(5.6, 0.5, n), np.nan)
    hold = np.where(live & handled & (rng.random(n) < 0.3), rng.exponential(60, n), 0.0)
    acw = np.where(handled, 15 + rng.exponential(30, n), np.nan)
    missing_end = rng.random(n) < 0.01
    end_s = start_s + wait + np.nan_to_num(talk) + hold + np.where(live, 0, 60)
    agent = np.where(handled, np.char.add("A", (rng.integers(0, 300, n)).astype(str)), None)
    reason = np.array(REASONS)[rng.integers(0, len(REASONS), n)].astype(object)
    reason[rng.random(n) < 0.3] = None
    resolved = np.where(handled, rng.random(n) < 0.7, False)
    customer = rng.integers(0, max(n // 4, 1), n)
    iid = _ids("b:", idx)
    interactions = pa.table({
        "interaction_id": iid, "source": pa.array(["b"] * n), "source_id": idx.astype(str),
        "channel": channel, "direction": np.where(outbound, "outbound", "inbound"),
        "queue": np.where(live, QUEUES[rng.integers(0, len(QUEUES), n)], None),
        "agent_id": agent, "started_at": _ts(start_s),
        "answered_at": _ts(start_s + wait, handled), "ended_at": _ts(end_s, ~missing_end),
        "wait_s": wait, "talk_s": pa.array(talk, from_pandas=True), "hold_s": hold,
        "acw_s": pa.array(acw, from_pandas=True),
        "transfers": (handled & (rng.random(n) < 0.06)).astype("int64"),
        "abandoned": abandoned, "resolved": pa.array(resolved, mask=~handled),
        "reason": pa.array(reason, pa.string()),
        "language": np.where(rng.random(n) < 0.8, "zh", "en"),
    })
    surveyed = np.flatnonzero(handled & (rng.random(n) < 0.1))
    m = len(surveyed)
    answered = rng.random(m) < 0.6
    surveys = pa.table({
        "source": pa.array(["sv"] * m), "source_id": _ids("s", idx[surveyed]),
        "interaction_ref": iid.take(pa.array(surveyed)),
        "sent_at": _ts(end_s[surveyed] + 60),
        "responded_at": _ts(end_s[surveyed] + 3600, answered),
        "csat": pa.array(rng.integers(1, 6, m), mask=~answered),
        "nps": pa.array(rng.integers(0, 11, m), mask=~answered),
        "ces": pa.array(rng.integers(1, 8, m), mask=~answered | (rng.random(m) < 0.2)),
    })
    ckey = _ids("C", customer)
    identity = pa.table({
        "record_table": pa.array(["interactions"] * n), "source": pa.array(["b"] * n),
        "source_id": idx.astype(str), "customer_key": ckey, "method": pa.array(["bench"] * n),
        "updated_at": _ts(np.zeros(n)),
    })
    kind = np.where(abandoned, "abandoned", np.where(ivr, "self_service", "assisted"))
    assisted = kind == "assisted"
    touches = pa.table({
        "journey_id": _ids("j:", customer * 10 + rng.integers(0, 3, n)), "interaction_id": iid,
        "seq": np.ones(n, dtype="int64"), "customer_key": ckey, "channel": channel,
        "started_at": _ts(start_s), "reason": pa.array(reason, pa.string()), "kind": kind,
        "first_assisted": assisted & (rng.random(n) < 0.6),
        "repeat_any": rng.random(n) < 0.35, "repeat_channel": rng.random(n) < 0.2,
        "followed_by_assisted": rng.random(n) < 0.8,
        "offered": ~outbound & ~ivr, "resolved": pa.array(resolved, mask=~handled),
    })
    return {"interactions": interactions, "surveys": surveys, "identity_map": identity,
            "journey_contacts": touches}


def build(path: Path, size: int, seed: int) -> None:
    """Write ``size`` interactions (+ surveys, identity_map, journey_contacts) into a workspace."""
    import cxlens
    from cxlens.config import load_settings

    ws = cxlens.init(path, load_settings(None, environ={}))
    batch = 1_000_000
    for offset in range(0, size, batch):
        for table, data in generate(min(batch, size - offset), seed, offset).items():
            ws.warehouse.append(table, data)
    ws.close()


# -- the same KPIs in pandas ----------------------------------------------------------------------
def pandas_frames(ws: Any) -> dict[str, Any]:
    """The columns the KPIs read, as pandas (strings as categoricals to fit in memory)."""
    con = ws.warehouse.store.raw
    cols = ("interaction_id, channel, direction, agent_id, started_at, answered_at, ended_at, "
            "wait_s, talk_s, hold_s, acw_s, transfers, abandoned, resolved, reason")
    out = {}
    for name, sql in {
        "i": f"SELECT {cols} FROM interactions",
        "s": "SELECT interaction_ref, sent_at, responded_at, csat, nps, ces FROM surveys",
        "j": "SELECT interaction_id, customer_key, started_at, kind, first_assisted, repeat_any, "
             "repeat_channel, followed_by_assisted, offered, resolved FROM journey_contacts",
    }.items():
        out[name] = con.execute(sql).to_arrow_table().to_pandas(strings_to_categorical=True)
    return out


def pandas_overview(f: dict[str, Any], lo: datetime, mid: datetime, hi: datetime,
                    settings: Any) -> dict[str, tuple[float | None, float | None]]:
    """Every KPI for [mid, hi) and [lo, mid) with pandas — mirrors cxlens.metrics.registry."""
    import pandas as pd

    m = settings.metrics
    ss = settings.journeys.self_service_channels
    i = f["i"]
    i = i[(i.started_at >= lo) & (i.started_at < hi)]
    cur = i.started_at >= mid
    ab = i.abandoned.fillna(False).astype(bool)
    inbound = i.direction.isna() | (i.direction == "inbound")
    offered = inbound & ~(i.channel.isin(ss) & i.agent_id.isna())
    wait = i.wait_s.fillna((i.answered_at - i.started_at).dt.total_seconds())
    talk = i.talk_s.fillna((i.ended_at - i.answered_at).dt.total_seconds())
    handle = talk + i.hold_s.fillna(0) + i.acw_s.fillna(0)
    short = ab & (wait.fillna(0) < m.short_abandon_seconds)
    live = i.channel.isin(m.live_channels)
    handled = offered & ~ab
    assisted = i.agent_id.notna()
    out: dict[str, tuple[float | None, float | None]] = {}

    def put(name: str, pop: Any, measure: Any, kind: str = "ratio", scale: float = 1.0,
            period: Any = cur, den_values: Any = None) -> None:
        res = []
        for sel in (period, ~period):
            p = pop & sel
            num = float(measure[p].sum()) if not isinstance(measure, int) else float(p.sum())
            if den_values is not None:
                den = float(den_values[p].nunique())
            else:
                den = float(p.sum())
            res.append(num if kind == "count" else (num / den * scale if den else None))
        out[name] = (res[0], res[1])

    one = 1
    put("offered", offered, one, "count")
    put("handled", handled, one, "count")
    put("abandoned", offered & ab & ~short, one, "count")
    put("abandon_rate", offered & ~short, ab.astype(int), scale=100)
    put("asa", handled & live & wait.notna(), wait)
    put("service_level", offered & live & ~short,
        (~ab & (wait <= m.service_level_seconds)).astype(int), scale=100)
    put("aht", handled & assisted & handle.notna(), handle)
    put("transfer_rate", handled & assisted, (i.transfers.fillna(0) > 0).astype(int), scale=100)
    put("complaint_rate", offered, (i.reason == "complaint").astype(int), scale=100)
    s = f["s"].merge(i[["interaction_id", "started_at"]], left_on="interaction_ref",
                     right_on="interaction_id", how="inner")
    s_cur = s.started_at >= mid
    put("csat", s.csat.notna(), s.csat, period=s_cur)
    put("csat_top2", s.csat.notna(), (s.csat >= 4).astype(int), scale=100, period=s_cur)
    nps = pd.Series(np.select([s.nps >= 9, s.nps <= 6], [1, -1], 0), index=s.index)
    put("nps", s.nps.notna(), nps, scale=100, period=s_cur)
    put("ces", s.ces.notna(), s.ces, period=s_cur)
    j = f["j"]
    j = j[(j.started_at >= lo) & (j.started_at < hi)]
    j_cur = j.started_at >= mid
    res = j.resolved.astype("boolean")
    put("fcr_true", j.first_assisted & res.notna(),
        (res.fillna(False) & ~j.repeat_any).astype(int), scale=100, period=j_cur)
    put("fcr_channel", (j.kind == "assisted") & res.notna(),
        (res.fillna(False) & ~j.repeat_channel).astype(int), scale=100, period=j_cur)
    put("repeat_rate", j.offered, j.repeat_any.astype(int), scale=100, period=j_cur)
    linked = j.offered & ~j.customer_key.astype(str).str.startswith("u:")
    put("contacts_per_customer", linked, one, "per_customer", period=j_cur,
        den_values=j.customer_key)
    put("self_service_containment", j.kind.isin(["self_service", "web_session"]),
        (~j.followed_by_assisted).astype(int), scale=100, period=j_cur)
    return out


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000_000, help="interactions")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--data", help="unused: the data is generated (kept for a uniform CLI)")
    parser.add_argument("--keep", action="store_true", help="reuse an existing workspace")
    args = parser.parse_args()

    import cxlens
    from cxlens import metrics
    from cxlens.metrics import localtime

    path = ROOT / "work" / f"kpi-{args.size}"
    t0 = time.perf_counter()
    if not (args.keep and (path / "cxlens.toml").exists()):
        shutil.rmtree(path, ignore_errors=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        build(path, args.size, args.seed)
    build_s = time.perf_counter() - t0
    ws = cxlens.open(path)
    from cxlens.metrics import rollup

    t = time.perf_counter()
    rollup.run(ws)
    rollup_s = time.perf_counter() - t
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        tiles = metrics.overview(ws, *PERIOD)
        runs.append(time.perf_counter() - t)
    cx_s = min(runs)
    t = time.perf_counter()
    scan_tiles = metrics.overview(ws, *PERIOD, use_rollup=False)
    scan_s = time.perf_counter() - t

    frames = pandas_frames(ws)
    tz = ws.settings.locale.timezone
    from datetime import date

    s, e = date.fromisoformat(PERIOD[0]), date.fromisoformat(PERIOD[1])
    length = (e - s).days + 1
    lo = localtime.local_midnight_utc(s - timedelta(days=length), tz)
    mid = localtime.local_midnight_utc(s, tz)
    hi = localtime.local_midnight_utc(e + timedelta(days=1), tz)
    runs_pd = []
    for _ in range(2):
        t = time.perf_counter()
        expected = pandas_overview(frames, lo, mid, hi, ws.settings)
        runs_pd.append(time.perf_counter() - t)
    pd_s = min(runs_pd)

    mismatches = []
    for tile, scanned in zip(tiles, scan_tiles, strict=True):
        if not (_close(tile["value"], scanned["value"])
                and _close(tile["previous"], scanned["previous"])):
            mismatches.append({"kpi": tile["kpi"], "rollup": [tile["value"], tile["previous"]],
                               "scan": [scanned["value"], scanned["previous"]]})
    for tile in tiles:
        name = tile["kpi"]
        if name not in expected:
            continue
        value, previous = expected[name]
        if not (_close(tile["value"], value) and _close(tile["previous"], previous)):
            mismatches.append({"kpi": name, "cxlens": [tile["value"], tile["previous"]],
                               "pandas": [value, previous]})
    result = {
        "benchmark": "kpi_overview",
        "interactions": args.size,
        "rows": {k: len(v) for k, v in frames.items()},
        "kpis_compared": len(expected),
        "period": PERIOD,
        "build_s": round(build_s, 1),
        "rollup_build_s": round(rollup_s, 2),
        "cxlens_overview_s": round(cx_s, 3),
        "cxlens_runs_s": [round(r, 3) for r in runs],
        "cxlens_scan_overview_s": round(scan_s, 3),
        "pandas_s": round(pd_s, 3),
        "speedup_vs_pandas": round(pd_s / cx_s, 1),
        "scan_speedup_vs_pandas": round(pd_s / scan_s, 2),
        "goal": "< 2 s and >= 10x pandas",
        "numbers_match": not mismatches,
        "mismatches": mismatches,
        "machine": "2 shared cores (noisy)",
        "measured_at": datetime.now().isoformat(timespec="seconds"),
    }
    ws.close()
    out = ROOT / "results" / "kpi.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    if mismatches:
        raise SystemExit("cxlens and pandas disagree")


if __name__ == "__main__":
    main()
