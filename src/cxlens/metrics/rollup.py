"""The daily KPI rollup: numerators and denominators per local day and low-cardinality dimension.

Every KPI but the distinct-count ones is a ratio of sums, so its numerator and denominator can be
summed per (local day, channel, queue, reason, language) once — by the same registry code that
:func:`cxlens.metrics.compute` uses — and re-added for any whole-day period. The dashboard overview
then reads a few thousand rollup rows instead of scanning every interaction.

The rollup carries a *fingerprint* of what it was built from (row counts of its input tables and
the settings that change KPI values). When the warehouse no longer matches — new data loaded, a
setting changed — :func:`is_fresh` says so and the overview scans the facts instead, so a stale
rollup can slow a query down but never change a number.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from cxlens.metrics import localtime
from cxlens.metrics.registry import KPIS, Kpi
from cxlens.workspace import Workspace

ROLLUP_DIMS = ("channel", "queue", "reason", "language")
INPUTS = ("interactions", "surveys", "journey_contacts", "interaction_insights", "identity_map",
          "agents")


def rollup_kpis() -> list[Kpi]:
    """KPIs the rollup can serve (sums re-add; distinct counts do not)."""
    return [k for k in KPIS.values() if k.kind != "per_customer"]


def fingerprint(ws: Workspace) -> str:
    """Row counts of the rollup's inputs + the settings that change KPI values."""
    store = ws.warehouse.store
    raw = getattr(store, "raw", None)
    names = ({r[0] for r in raw.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
             if raw is not None else set(store.list_tables()))
    present = [t for t in INPUTS if t in names]
    if raw is not None and present:
        # One round trip on DuckDB (the names are our constants, not user input).
        sql = "SELECT " + ", ".join(f'(SELECT count(*) FROM "{t}")' for t in present)
        values = raw.execute(sql).fetchone() or ()
        found = dict(zip(present, (int(v) for v in values), strict=True))
    else:
        found = {t: int(store.table(t).count().execute()) for t in present}
    counts = {t: found.get(t, -1) for t in INPUTS}
    doc = {
        "counts": counts,
        "metrics": ws.settings.metrics.model_dump(),
        "tz": ws.settings.locale.timezone,
        "self_service": ws.settings.journeys.self_service_channels,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def is_fresh(ws: Workspace, current: str | None = None) -> bool:
    """Whether ``kpi_rollup`` exists, has rows and was built from the warehouse as it is now."""
    wh = ws.warehouse
    if "kpi_rollup" not in wh.store.list_tables():
        return False
    r = wh.store.table("kpi_rollup")
    rows = r.select("fingerprint").limit(1).to_pyarrow().to_pylist()
    if not rows:
        return False
    return rows[0]["fingerprint"] == (current or fingerprint(ws))


def build(ws: Workspace) -> pa.Table:
    """The rollup rows (long format: one row per day × dimensions × KPI)."""
    from cxlens.metrics import query

    stamp = fingerprint(ws)
    lo, hi = query._data_span_utc(ws)
    parts: list[pa.Table] = []
    if lo is not None and hi is not None:
        o_lo, o_hi = query._offset_span(ws, lo, hi)
        tz = ws.settings.locale.timezone
        groups: dict[tuple[str, frozenset[str]], list[Kpi]] = {}
        cache: dict[str, Any] = {}
        for k in rollup_kpis():
            if query.has_data(ws, k, cache):
                groups.setdefault((k.fact, k.extra), []).append(k)
        for (fact, extra), kpis in groups.items():
            t = query._fact(ws, fact, set(extra) | {"contact"}, None, None, {})
            t = t.mutate(day=localtime.to_local(t.ts, tz, o_lo, o_hi).date())
            result = (t.group_by(["day", *ROLLUP_DIMS])
                      .aggregate(**query._aggregates(t, kpis, ws)).to_pyarrow())
            for k in kpis:
                den = pc.cast(pc.fill_null(result[f"{k.name}__den"], 0), pa.float64())
                keep = pc.greater(den, 0)
                num = pc.cast(pc.fill_null(result[f"{k.name}__num"], 0), pa.float64())
                part = pa.table({
                    "day": result["day"], **{d: result[d] for d in ROLLUP_DIMS},
                    "kpi": pa.array([k.name] * result.num_rows, pa.string()),
                    "numerator": num, "denominator": den,
                }).filter(keep)
                parts.append(part)
    built = datetime.now(UTC).replace(tzinfo=None)
    if not parts:
        return pa.table({"kpi": pa.array([], pa.string())})
    table = pa.concat_tables(parts, promote_options="permissive")
    n = table.num_rows
    return table.append_column("fingerprint", pa.array([stamp] * n, pa.string())).append_column(
        "built_at", pa.array([built] * n, pa.timestamp("us")))


def run(ws: Workspace) -> dict[str, Any]:
    """Pipeline entry: rebuild ``kpi_rollup``. Returns its size and build time."""
    t0 = time.perf_counter()
    rows = ws.warehouse.replace("kpi_rollup", build(ws))
    return {"rollup_rows": rows, "seconds": round(time.perf_counter() - t0, 2)}
