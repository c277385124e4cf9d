"""The KPI rollups: numerators and denominators per local day and low-cardinality dimension.

Every KPI but the distinct-count ones is a ratio of sums, so its numerator and denominator can be
summed per (local day, channel, queue, reason, language) once — by the same registry code that
:func:`cxlens.metrics.compute` uses — and re-added for any whole-day period. The dashboard overview
then reads a few thousand rollup rows instead of scanning every interaction. Three tables:

- ``kpi_rollup``: one row per day × dimensions × KPI (numerator, denominator);
- ``kpi_rollup_hourly``: offered contacts per day × local hour × dimensions (the heatmap);
- ``kpi_rollup_customers``: the distinct identified customers per day × dimensions (as dense
  integers, with their offered contacts), so ``contacts_per_customer`` — a distinct count that
  daily sums cannot re-add — is an exact ``count(distinct)`` over a compact integer column;
- ``kpi_rollup_agents``: like ``kpi_rollup`` per day × channel × queue × tier × agent (with the
  agent's team): the agents page and any KPI sliced or filtered by agent or team.

The dimensions are those the dashboards filter on (channel, queue, customer tier) plus the ones
their charts slice by; a KPI sliced by a dimension no rollup carries (segment; reason × agent)
scans the facts.

Each table carries a *fingerprint* of what it was built from (row counts of its input tables and
the settings that change KPI values). When the warehouse no longer matches — new data loaded, a
setting changed — :func:`is_fresh` says so and the queries scan the facts instead, so a stale
rollup can slow a query down but never change a number.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from cxlens.metrics import localtime
from cxlens.metrics.registry import KPIS, Kpi
from cxlens.workspace import Workspace

if TYPE_CHECKING:
    import ibis.expr.types as ir

ROLLUP_DIMS = ("channel", "queue", "reason", "language", "tier")
AGENT_DIMS = ("channel", "queue", "tier", "agent", "team")
INPUTS = ("interactions", "surveys", "journey_contacts", "interaction_insights", "identity_map",
          "agents", "parties")
DAILY, HOURLY, CUSTOMERS = "kpi_rollup", "kpi_rollup_hourly", "kpi_rollup_customers"
AGENTS = "kpi_rollup_agents"
TABLES = (DAILY, HOURLY, CUSTOMERS, AGENTS)
# The KPI rollups (numerator/denominator per day × dimensions × KPI) and their dimensions, in
# the order a query tries them: the smallest that carries every dimension asked for serves.
SLICES: dict[str, tuple[str, ...]] = {DAILY: ROLLUP_DIMS, AGENTS: AGENT_DIMS}
ALL_DIMS = tuple(dict.fromkeys(d for dims in SLICES.values() for d in dims))


def serving_table(dims: set[str], fresh: set[str]) -> str | None:
    """The fresh KPI rollup that carries every dimension in ``dims`` (None: scan the facts)."""
    for table, carried in SLICES.items():
        if table in fresh and not dims - set(carried):
            return table
    return None


def rollup_kpis() -> list[Kpi]:
    """KPIs the daily rollup serves (sums re-add; distinct counts do not)."""
    return [k for k in KPIS.values() if k.kind != "per_customer"]


def fingerprint(ws: Workspace) -> str:
    """Row counts of the rollup's inputs + the settings that change KPI values."""
    return _state(ws)[0]


def _state(ws: Workspace) -> tuple[str, dict[str, str | None]]:
    """(fingerprint of the warehouse now, fingerprint each rollup table was built from)."""
    store = ws.warehouse.store
    raw = getattr(store, "raw", None)
    names = ({r[0] for r in raw.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
             if raw is not None else set(store.list_tables()))
    present = [t for t in INPUTS if t in names]
    built = [t for t in TABLES if t in names]
    stamps: dict[str, str | None] = {}
    if raw is not None:
        # Plain queries on DuckDB: the freshness check is a fixed cost of every dashboard query,
        # and compiling Ibis expressions (or one query of scalar subqueries, which DuckDB plans
        # slowly) costs far more than the answers. The names are our constants.
        found = {t: int(raw.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0])
                 for t in present}
        for t in built:
            row = raw.execute(f'SELECT fingerprint FROM "{t}" LIMIT 1').fetchone()
            stamps[t] = row[0] if row else None
    else:
        found = {t: int(store.table(t).count().execute()) for t in present}
        for t in built:
            rows = store.table(t).select("fingerprint").limit(1).to_pyarrow().to_pylist()
            stamps[t] = rows[0]["fingerprint"] if rows else None
    counts = {t: found.get(t, -1) for t in INPUTS}
    doc = {
        "counts": counts,
        "metrics": ws.settings.metrics.model_dump(),
        "tz": ws.settings.locale.timezone,
        "self_service": ws.settings.journeys.self_service_channels,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16], stamps


# A caller that knows the warehouse cannot change for a while (the web server computing one page:
# it holds the DuckDB file alone) may reuse the answers of the freshness and "has rows" checks,
# a dozen small queries that every metric call would otherwise repeat.
SCOPE: ContextVar[dict[Any, Any] | None] = ContextVar("cxlens_metrics_scope", default=None)


@contextlib.contextmanager
def unchanged_warehouse() -> Iterator[None]:
    """Within this block, freshness and row checks are asked once per workspace."""
    token = SCOPE.set({})
    try:
        yield
    finally:
        SCOPE.reset(token)


def scoped(ws: Workspace, what: str) -> dict[str, Any] | None:
    """This workspace's memo of the current :func:`unchanged_warehouse` block (None outside)."""
    scope = SCOPE.get()
    return None if scope is None else scope.setdefault((id(ws), what), {})


def fresh_tables(ws: Workspace) -> set[str]:
    """The rollup tables that have rows and were built from the warehouse as it is now."""
    memo = scoped(ws, "fresh")
    if memo is not None and "tables" in memo:
        return set(memo["tables"])
    current, stamps = _state(ws)
    found = {t for t, stamp in stamps.items() if stamp is not None and stamp == current}
    if memo is not None:
        memo["tables"] = frozenset(found)
    return found


def is_fresh(ws: Workspace, table: str = DAILY) -> bool:
    """Whether rollup ``table`` exists, has rows and was built from the warehouse as it is now."""
    return table in fresh_tables(ws)


def _local_day(ws: Workspace, t: ir.Table, o_lo: datetime, o_hi: datetime) -> ir.Table:
    local = localtime.to_local(t.ts, ws.settings.locale.timezone, o_lo, o_hi)
    return t.mutate(day=local.date(), hour=local.hour())


Span = tuple[datetime, datetime] | None


def build(ws: Workspace, dims: tuple[str, ...] = ROLLUP_DIMS, *, stamp: str | None = None,
          span: Span = None) -> pa.Table:
    """The daily rollup rows (long format: one row per day × ``dims`` × KPI).

    ``stamp`` and ``span`` (:func:`fingerprint`, the UTC span the local days are computed over)
    are passed by :func:`run`, which builds several tables from the same warehouse state.
    """
    from cxlens.metrics import query

    stamp = stamp or fingerprint(ws)
    span = span or _offsets(ws)
    parts: list[pa.Table] = []
    if span is not None:
        # One query per fact table: a KPI needing an extra join (sentiment) rides along with the
        # others — that join is a left join on one row per interaction, so it adds no rows and
        # every other KPI's sums are unchanged; a query of its own scanned the facts again.
        groups: dict[str, list[Kpi]] = {}
        cache: dict[str, Any] = {}
        for k in rollup_kpis():
            if query.has_data(ws, k, cache):
                groups.setdefault(k.fact, []).append(k)
        for fact, kpis in groups.items():
            joins = query._joins(kpis, dims, []) | {"contact"}
            t = _local_day(ws, query._fact(ws, fact, joins, None, None, {}), *span)
            result = (t.group_by(["day", *dims])
                      .aggregate(**query._aggregates(t, kpis, ws)).to_pyarrow())
            for k in kpis:
                den = pc.cast(pc.fill_null(result[f"{k.name}__den"], 0), pa.float64())
                num = pc.cast(pc.fill_null(result[f"{k.name}__num"], 0), pa.float64())
                parts.append(pa.table({
                    "day": result["day"], **{d: result[d] for d in dims},
                    "kpi": pa.array([k.name] * result.num_rows, pa.string()),
                    "numerator": num, "denominator": den,
                }).filter(pc.greater(den, 0)))
    built = datetime.now(UTC).replace(tzinfo=None)
    if not parts:
        return pa.table({"kpi": pa.array([], pa.string())})
    # In day order: DuckDB skips the row groups outside a dashboard's period (min/max per group).
    table = pa.concat_tables(parts, promote_options="permissive").sort_by("day")
    n = table.num_rows
    return table.append_column("fingerprint", pa.array([stamp] * n, pa.string())).append_column(
        "built_at", pa.array([built] * n, pa.timestamp("us")))


def _offsets(ws: Workspace) -> tuple[datetime, datetime] | None:
    from cxlens.metrics import query

    lo, hi = query._data_span_utc(ws)
    return None if lo is None or hi is None else query._offset_span(ws, lo, hi)


def hourly(ws: Workspace, stamp: str, span: Span = None) -> ir.Table | None:
    """Offered contacts per local day × hour × dimension (None without interactions)."""
    from cxlens.metrics import query

    span = span or _offsets(ws)
    if span is None:
        return None
    joins = query._joins([], ROLLUP_DIMS, [])
    t = _local_day(ws, query._fact(ws, "contacts", joins, None, None, {}), *span)
    t = t.filter(t.offered)
    return (t.group_by(["day", "hour", *ROLLUP_DIMS])
            .aggregate(contacts=t.count(), fingerprint=ibis.literal(stamp)).order_by("day"))


def customers(ws: Workspace, stamp: str, span: Span = None) -> ir.Table | None:
    """Distinct identified customers (dense integers) per local day × dimension, with the
    number of their offered contacts: the population of ``contacts_per_customer``."""
    from cxlens.metrics import query

    k = KPIS["contacts_per_customer"]
    span = span or _offsets(ws)
    if span is None or not query.has_data(ws, k):
        return None
    joins = query._joins([k], ROLLUP_DIMS, []) | {"contact"}
    t = _local_day(ws, query._fact(ws, k.fact, joins, None, None, {}), *span)
    t = t.filter(k.population(t, ws.settings.metrics).fill_null(False))
    per_day = t.group_by(["day", *ROLLUP_DIMS, "customer_key"]).aggregate(contacts=t.count())
    # Integers instead of customer keys: a distinct count over them is several times faster,
    # and the rollup holds no identifier (a rebuild follows any `forget`: the counts change).
    keys = t.select("customer_key").distinct()
    keys = keys.mutate(customer_no=ibis.row_number())
    joined = per_day.inner_join(keys, "customer_key")
    return (joined.select("day", *ROLLUP_DIMS, "customer_no", "contacts",
                          fingerprint=ibis.literal(stamp)).order_by("day"))


def run(ws: Workspace) -> dict[str, Any]:
    """Pipeline entry: rebuild the rollup tables. Returns their sizes and build time."""
    t0 = time.perf_counter()
    wh = ws.warehouse
    wh.migrate(list(TABLES))
    stamp, span = fingerprint(ws), _offsets(ws)
    # Emptied first, written last: while the others are rebuilt the daily rollup is not fresh.
    wh.replace(DAILY, pa.table({"kpi": pa.array([], pa.string())}))
    out: dict[str, Any] = {}
    for name, make in ((HOURLY, hourly), (CUSTOMERS, customers)):
        expr = make(ws, stamp, span)
        out[f"{name}_rows"] = (wh.replace(name, expr) if expr is not None else
                               wh.replace(name, pa.table({"day": pa.array([], pa.date32())})))
    out["agent_rollup_rows"] = wh.replace(AGENTS, build(ws, AGENT_DIMS, stamp=stamp, span=span))
    out["rollup_rows"] = wh.replace(DAILY, build(ws, stamp=stamp, span=span))
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out
