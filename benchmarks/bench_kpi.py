"""The dashboard overview on N synth interactions: cxlens (rollups, and scans) vs plain pandas.

    .venv/bin/python -m benchmarks.bench_kpi [--size 10000000] [--keep] [--pandas-runs 2]

Data: ``cxlens synth`` (20,000 customers, 90 days, seed 7, ≈ 195k interactions) is generated once
into ``benchmarks/work/kpi-base`` and run through the identity and journeys stages. The benchmark
workspace ``benchmarks/work/kpi-<size>`` holds ``ceil(size / base)`` replicas of that centre:
every customer, agent, interaction, survey, journey touch and identity-map row copied with
``~<replica>`` appended to its ids and keys, timestamps unchanged — so every distribution (channel
mix, hourly and weekly peaks, waits, handle times, surveys, journeys per customer, repeat and
resolution flags) is the synth's own, at N interactions. Columns no KPI reads (free text,
subjects, contact names and identifiers on contacts) are left empty to keep the workspace
small; rows are stored in time order, as daily loads leave them.

What is timed (the queries the web UI's overview page runs, `server/views.py:overview`):
19 KPI tiles with the previous period, offered contacts by channel × day (the trend and the
channel mix), the hour × weekday heatmap, offered contacts by reason, the sentiment trend.

- ``rollup_build_s``: the ``kpis`` pipeline stage (`metrics.rollup.run`), once;
- ``cxlens``: the page's queries from the rollups (best of 3, warehouse already open);
- ``cxlens scan``: the same with ``use_rollup=False`` (DuckDB scans of the facts), once;
- ``pandas``: the same numbers with pandas masks and group-bys on DataFrames already in memory
  (only the columns needed; loading them is *not* counted, which favours pandas).

Every number must agree across the three (to 1e-9 relative). Writes benchmarks/results/kpi.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent
BASE = {"customers": 20_000, "days": 90, "seed": 7, "start": "2026-08-01"}
PERIOD = ("2026-09-01", "2026-09-30")
# table -> (the expression of each replicated id column; rows to copy). "~" || k keeps the
# unlinked-visitor prefix "u:" of customer keys at the front.
SUFFIX = "'~' || r.k"
REPLICATE = {
    "interactions": ({"interaction_id": None, "source_id": None, "agent_id": None,
                      **{c: "NULL" for c in ("subject", "text", "audio_ref", "contact_name",
                                             "phone", "email", "account", "handle", "device",
                                             "wechat")}}, "ORDER BY started_at"),
    "surveys": ({"source_id": None, "interaction_ref": None, "comment": "NULL"}, ""),
    "journey_contacts": ({"journey_id": None, "interaction_id": None, "customer_key": None},
                         "ORDER BY started_at"),
    "identity_map": ({"source_id": None, "customer_key": None},
                     "WHERE record_table IN ('interactions', 'parties')"),
    "agents": ({"source_id": None}, ""),
    "parties": ({"source_id": None}, ""),
}


def build_base(path: Path) -> float:
    """The synth centre every replica copies (generated once; kept between runs)."""
    import cxlens
    from cxlens import synth
    from cxlens.config import load_settings
    from cxlens.pipeline import run

    if (path / "warehouse.duckdb").exists() and (path / "base.done").exists():
        return 0.0
    t = time.perf_counter()
    shutil.rmtree(path, ignore_errors=True)
    ws = cxlens.init(path, load_settings(None, environ={}))
    synth.generate(ws, synth.SynthConfig.checked(**BASE))
    run(ws, ["identity", "journeys"])
    ws.close()
    (path / "base.done").write_text("ok\n")
    return time.perf_counter() - t


def build(path: Path, size: int) -> dict[str, Any]:
    """``ceil(size / base)`` replicas of the base centre in a fresh workspace."""
    import cxlens
    from cxlens.config import load_settings

    base = ROOT / "work" / "kpi-base"
    base_s = build_base(base)
    ws = cxlens.init(path, load_settings(None, environ={}))
    con = ws.warehouse.store.raw
    # The paths are the benchmark's own, not user input.
    con.execute(f"ATTACH '{base / 'warehouse.duckdb'}' AS base (READ_ONLY)")
    n_base = con.execute("SELECT count(*) FROM base.interactions").fetchone()[0]
    copies = -(-size // n_base)
    for table, (columns, tail) in REPLICATE.items():
        swap = ", ".join(f"{expr or f'{col} || {SUFFIX}'} AS {col}"
                         for col, expr in columns.items())
        where = tail if tail.startswith("WHERE") else ""
        order = tail if tail.startswith("ORDER") else ""
        con.execute(f"INSERT INTO {table} BY NAME SELECT * EXCLUDE (k) REPLACE ({swap}) "
                    f"FROM base.{table}, range({copies}) r(k) {where} {order}")
    con.execute("DETACH base")
    ws.close()
    return {"base_interactions": int(n_base), "replicas": copies, "base_build_s": round(base_s, 1)}


# -- the overview page, as the web UI runs it -----------------------------------------------------
def page(ws: Any, use_rollup: bool) -> dict[str, Any]:
    """The queries of the overview page (server/views.py:overview) for PERIOD."""
    from cxlens import metrics

    start, end = PERIOD
    return {
        "tiles": metrics.overview(ws, start, end, use_rollup=use_rollup),
        "trend": metrics.compute(ws, "offered", by="channel", grain="day", start=start, end=end,
                                 use_rollup=use_rollup),
        "heatmap": metrics.heatmap(ws, start, end, use_rollup=use_rollup),
        "reasons": metrics.compute(ws, "offered", by="reason", start=start, end=end,
                                   use_rollup=use_rollup),
        "sentiment": metrics.compute(ws, "sentiment_index", grain="day", start=start, end=end,
                                     use_rollup=use_rollup),
    }


def page_numbers(p: dict[str, Any]) -> dict[str, Any]:
    """A page's numbers in a form pandas' can be compared with."""
    return {
        "tiles": {t["kpi"]: (t["value"], t["previous"]) for t in p["tiles"]},
        "trend": {(str(r["period"])[:10], r["channel"]): r["value"]
                  for r in p["trend"].to_dict("records")},
        "heatmap": {(int(r["weekday"]), int(r["hour"])): int(r["contacts"])
                    for r in p["heatmap"].to_dict("records")},
        "reasons": {r["reason"]: r["value"] for r in p["reasons"].to_dict("records")},
        "sentiment": len(p["sentiment"].dropna(subset=["value"])),
    }


AGENT_KPIS = ("handled", "aht", "fcr_channel", "fcr_true", "csat")


def agent_slices(ws: Any, use_rollup: bool) -> dict[str, Any]:
    """The agents page's queries: five KPIs by team × agent and by queue, all and VIPs only."""
    from cxlens import metrics

    out: dict[str, Any] = {}
    for flt in ({}, {"tier": "vip"}):
        for by in (["team", "agent"], ["queue"]):
            frames = metrics.compute_many(ws, list(AGENT_KPIS), by=by, start=PERIOD[0],
                                          end=PERIOD[1], filters=flt, use_rollup=use_rollup)
            for name, frame in frames.items():
                for row in frame.to_dict("records"):
                    out[f"{flt}|{name}|" + "|".join(str(row[d]) for d in by)] = row["value"]
    return out


# -- the same numbers in pandas --------------------------------------------------------------------
def pandas_frames(ws: Any) -> dict[str, Any]:
    """The columns the page reads, as pandas (strings as categoricals to fit in memory)."""
    con = ws.warehouse.store.raw
    cols = ("interaction_id, channel, direction, agent_id, started_at, answered_at, ended_at, "
            "wait_s, talk_s, hold_s, acw_s, transfers, abandoned, resolved, reason")
    out = {}
    for name, sql in {
        "i": f"SELECT {cols} FROM interactions",
        "s": "SELECT interaction_ref, sent_at, responded_at, csat, nps, ces FROM surveys",
        "j": "SELECT customer_key, started_at, kind, first_assisted, repeat_any, "
             "repeat_channel, followed_by_assisted, offered, resolved FROM journey_contacts",
    }.items():
        table = con.execute(sql).to_arrow_table()
        # one string per interaction id: kept as Python strings (a categorical would not save)
        if name == "i":
            out[name] = table.to_pandas(categories=["channel", "direction", "agent_id", "reason"])
        else:
            out[name] = table.to_pandas(strings_to_categorical=True)
    return out


def pandas_page(f: dict[str, Any], lo: datetime, mid: datetime, hi: datetime, offset_s: int,
                settings: Any) -> dict[str, Any]:
    """Every number of the page for [mid, hi) (and tiles for [lo, mid)) with pandas."""
    import pandas as pd

    m = settings.metrics
    ss = settings.journeys.self_service_channels
    everything = f["i"]
    i = everything[(everything.started_at >= lo) & (everything.started_at < hi)]
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
    tiles: dict[str, tuple[float | None, float | None]] = {}

    def put(name: str, pop: Any, measure: Any, kind: str = "ratio", scale: float = 1.0,
            period: Any = cur, den_values: Any = None) -> None:
        res = []
        for sel in (period, ~period):
            p = pop & sel
            num = float(measure[p].sum()) if not isinstance(measure, int) else float(p.sum())
            den = float(den_values[p].nunique()) if den_values is not None else float(p.sum())
            res.append(num if kind == "count" else (num / den * scale if den else None))
        tiles[name] = (res[0], res[1])

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
    # surveys count at their contact's start, else when answered or sent
    s = f["s"].merge(everything[["interaction_id", "started_at"]], left_on="interaction_ref",
                     right_on="interaction_id", how="left")
    s_ts = s.started_at.fillna(s.responded_at.fillna(s.sent_at))
    s = s[(s_ts >= lo) & (s_ts < hi)]
    s_cur = s_ts[s.index] >= mid
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
    # the charts: offered contacts of the period by local day × channel, weekday × hour, reason
    now = i[offered & cur]
    local = now.started_at + pd.Timedelta(seconds=offset_s)
    trend = now.groupby([local.dt.floor("D"), now.channel], observed=True).size()
    heat = now.groupby([local.dt.weekday, local.dt.hour]).size()
    reasons = now.groupby(now.reason.astype(object), dropna=False).size()
    return {
        "tiles": tiles,
        "trend": {(str(d)[:10], c): float(v) for (d, c), v in trend.items() if v},
        "heatmap": {(wd, h): int(heat.get((wd, h), 0)) for wd in range(7) for h in range(24)},
        "reasons": {(None if isinstance(r, float) else r): float(v)
                    for r, v in reasons.items() if v},
    }


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def compare(a: dict[str, Any], b: dict[str, Any], names: tuple[str, str]) -> list[dict[str, Any]]:
    """Where two pages' numbers differ (tiles: value and previous; charts: every cell)."""
    out = []
    for kpi, pair in a["tiles"].items():
        if kpi in b["tiles"] and not all(_close(x, y)
                                         for x, y in zip(pair, b["tiles"][kpi], strict=True)):
            out.append({"tile": kpi, names[0]: pair, names[1]: b["tiles"][kpi]})
    for chart in ("trend", "heatmap", "reasons"):
        keys = set(a[chart]) | set(b[chart])
        bad = [k for k in keys if not _close(a[chart].get(k), b[chart].get(k))]
        if bad:
            out.append({"chart": chart, "cells": len(bad), "first": str(sorted(map(str, bad))[0])})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000_000, help="interactions (at least)")
    parser.add_argument("--keep", action="store_true", help="reuse an existing workspace")
    parser.add_argument("--pandas-runs", type=int, default=2)
    parser.add_argument("--no-write", action="store_true",
                        help="print the result without replacing results/kpi.json")
    args = parser.parse_args()

    import cxlens
    from cxlens import metrics
    from cxlens.metrics import localtime, rollup

    load_start = os.getloadavg()
    path = ROOT / "work" / f"kpi-{args.size}"
    t0 = time.perf_counter()
    made: dict[str, Any] = {}
    if not (args.keep and (path / "cxlens.toml").exists()):
        shutil.rmtree(path, ignore_errors=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        made = build(path, args.size)
    build_s = time.perf_counter() - t0
    ws = cxlens.open(path)
    t = time.perf_counter()
    built = rollup.run(ws)
    rollup_s = time.perf_counter() - t
    runs, cx = [], {}
    for _ in range(3):
        t = time.perf_counter()
        cx = page(ws, use_rollup=True)
        runs.append(time.perf_counter() - t)
    t = time.perf_counter()
    metrics.overview(ws, *PERIOD)
    tiles_s = time.perf_counter() - t
    t = time.perf_counter()
    scan = page(ws, use_rollup=False)
    scan_s = time.perf_counter() - t
    agent_runs, by_agent = [], {}
    for _ in range(3):
        t = time.perf_counter()
        by_agent = agent_slices(ws, use_rollup=True)
        agent_runs.append(time.perf_counter() - t)
    t = time.perf_counter()
    by_agent_scan = agent_slices(ws, use_rollup=False)
    agent_scan_s = time.perf_counter() - t
    agent_mismatches = sorted(k for k in set(by_agent) | set(by_agent_scan)
                              if not _close(by_agent.get(k), by_agent_scan.get(k)))

    tz = ws.settings.locale.timezone
    s, e = date.fromisoformat(PERIOD[0]), date.fromisoformat(PERIOD[1])
    length = (e - s).days + 1
    lo = localtime.local_midnight_utc(s - timedelta(days=length), tz)
    mid = localtime.local_midnight_utc(s, tz)
    hi = localtime.local_midnight_utc(e + timedelta(days=1), tz)
    offsets = localtime.offsets(tz, lo, hi)
    assert len(offsets) == 1, "the pandas side assumes a zone without DST in the period"
    frames = pandas_frames(ws)
    runs_pd, expected = [], {}
    for _ in range(args.pandas_runs):
        t = time.perf_counter()
        expected = pandas_page(frames, lo, mid, hi, offsets[0][1], ws.settings)
        runs_pd.append(time.perf_counter() - t)
    pd_s = min(runs_pd)

    got, scanned = page_numbers(cx), page_numbers(scan)
    mismatches = compare(got, scanned, ("rollup", "scan")) + compare(got, expected,
                                                                      ("cxlens", "pandas"))
    cx_s = min(runs)
    result = {
        "benchmark": "kpi_overview_page",
        "interactions": len(frames["i"]),
        "data": {**made, "synth_base": BASE},
        "rows": {k: len(v) for k, v in frames.items()},
        "rollup_rows": {k: v for k, v in built.items() if k.endswith("rows")},
        "tiles_compared": len(expected["tiles"]),
        "period": PERIOD,
        "build_s": round(build_s, 1),
        "rollup_build_s": round(rollup_s, 2),
        "cxlens_page_s": round(cx_s, 3),
        "cxlens_runs_s": [round(r, 3) for r in runs],
        "cxlens_tiles_only_s": round(tiles_s, 3),
        "cxlens_scan_page_s": round(scan_s, 3),
        "agent_slices": {
            "what": "5 KPIs by team x agent and by queue, all and tier=vip (the agents page)",
            "rollup_best_of_3_s": round(min(agent_runs), 3),
            "rollup_runs_s": [round(r, 3) for r in agent_runs],
            "scan_s": round(agent_scan_s, 3),
            "values": len(by_agent),
            "numbers_match": not agent_mismatches,
            "mismatches": agent_mismatches[:10],
        },
        "pandas_s": round(pd_s, 3),
        "pandas_runs_s": [round(r, 3) for r in runs_pd],
        "speedup_vs_pandas": round(pd_s / cx_s, 1),
        "scan_speedup_vs_pandas": round(pd_s / scan_s, 2),
        "goal": "< 2 s and >= 10x pandas",
        "goal_met": cx_s < 2 and pd_s / cx_s >= 10,
        "numbers_match": not mismatches,
        "mismatches": mismatches,
        "sentiment_days": got["sentiment"],
        "machine": f"{os.cpu_count()} shared cores (noisy)",
        "load_avg_1m": [round(load_start[0], 1), round(os.getloadavg()[0], 1)],
        "measured_at": datetime.now().isoformat(timespec="seconds"),
    }
    ws.close()
    if not args.no_write:
        out = ROOT / "results" / "kpi.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(json.dumps(result, indent=2, default=str))
    if mismatches:
        raise SystemExit("cxlens and pandas disagree")


if __name__ == "__main__":
    main()
