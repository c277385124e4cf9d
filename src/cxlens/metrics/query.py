"""Compute KPIs on the warehouse: slices, time buckets, previous period, overview, drill-down.

All aggregation runs in the warehouse through Ibis; only the (small) aggregated result comes
back as a pandas DataFrame. Dates are local calendar dates (``settings.locale.timezone``):
``start`` and ``end`` are inclusive days, turned into a half-open UTC interval.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import ibis

from cxlens.errors import InputError, NotFoundError
from cxlens.metrics import drilldown, facts, localtime, rollup, rollup_read
from cxlens.metrics.registry import DIMENSIONS, GRAINS, KPIS, Kpi, _one
from cxlens.workspace import Workspace

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pandas as pd

DateLike = date | datetime | str | None
Filters = Mapping[str, str | Sequence[str]] | None
_PAD = timedelta(days=62)  # surveys are answered after the contact; offsets cover that too


# -- validation ----------------------------------------------------------------------------------
def get_kpi(name: str) -> Kpi:
    """The registry entry for ``name``; a clear error listing the valid names otherwise."""
    try:
        return KPIS[name]
    except KeyError:
        raise NotFoundError(f"unknown KPI {name!r}", f"valid KPIs: {', '.join(KPIS)}") from None


def _dims(by: str | Sequence[str] | None) -> list[str]:
    dims = [by] if isinstance(by, str) else list(by or [])
    for d in dims:
        if d not in DIMENSIONS:
            raise NotFoundError(f"unknown dimension {d!r}",
                                f"valid dimensions: {', '.join(DIMENSIONS)}")
    if len(set(dims)) != len(dims):
        raise InputError("a dimension is repeated in --by", "name each dimension once")
    return dims


def _grain(grain: str | None) -> str | None:
    if grain is not None and grain not in GRAINS:
        raise InputError(f"unknown time grain {grain!r}", f"valid grains: {', '.join(GRAINS)}")
    return grain


def _filters(filters: Filters) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in (filters or {}).items():
        if key not in DIMENSIONS:
            raise NotFoundError(f"unknown filter {key!r}",
                                f"filter on a dimension: {', '.join(DIMENSIONS)}")
        values = [value] if isinstance(value, str) else [str(v) for v in value]
        if values:
            out[key] = values
    return out


def _as_date(value: DateLike, what: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise InputError(f"{what} {value!r} is not a date", "use YYYY-MM-DD") from None


def _span(ws: Workspace, start: DateLike, end: DateLike) -> tuple[date | None, date | None]:
    s, e = _as_date(start, "start"), _as_date(end, "end")
    if s and e and e < s:
        raise InputError(f"the period ends ({e}) before it starts ({s})",
                         "swap --from and --to")
    return s, e


def _joins(kpis: Iterable[Kpi], dims: Iterable[str], filters: Iterable[str]) -> set[str]:
    joins: set[str] = set()
    for k in kpis:
        joins |= k.extra
    for d in [*dims, *filters]:
        joins |= DIMENSIONS[d][2]
    return joins


def _has_rows(ws: Workspace, table: str, cache: dict[str, Any]) -> bool:
    if table not in cache:
        store = ws.warehouse.store
        raw = getattr(store, "raw", None)
        if "_tables" not in cache:
            cache["_tables"] = ({r[0] for r in raw.execute(
                "SELECT table_name FROM duckdb_tables()").fetchall()} if raw is not None
                else set(store.list_tables()))
        if table not in cache["_tables"]:
            cache[table] = False
        elif raw is not None:
            # a plain query on DuckDB: compiling an Ibis expression costs more than the answer
            # (the table names come from the KPI registry, not from users)
            cache[table] = bool(raw.execute(f'SELECT EXISTS (FROM "{table}")').fetchone()[0])
        else:
            cache[table] = bool(store.table(table).limit(1).count().execute())
    return bool(cache[table])


def has_data(ws: Workspace, kpi: Kpi, cache: dict[str, Any] | None = None) -> bool:
    """Whether every table ``kpi`` needs holds rows (else the KPI is "no data", never 0)."""
    if cache is None:
        cache = rollup.scoped(ws, "rows")
        cache = {} if cache is None else cache
    return all(_has_rows(ws, t, cache) for t in kpi.needs)


# -- time -----------------------------------------------------------------------------------------
def _utc_range(ws: Workspace, s: date | None, e: date | None) -> tuple[datetime | None,
                                                                       datetime | None]:
    tz = ws.settings.locale.timezone
    lo = localtime.local_midnight_utc(s, tz) if s else None
    hi = localtime.local_midnight_utc(e + timedelta(days=1), tz) if e else None
    return lo, hi


def _data_span_utc(ws: Workspace) -> tuple[datetime | None, datetime | None]:
    i = ws.warehouse.table("interactions")
    row = i.aggregate(lo=i.started_at.min(), hi=i.started_at.max()).to_pyarrow().to_pylist()[0]
    return row["lo"], row["hi"]


def period_bounds(ws: Workspace) -> tuple[date | None, date | None]:
    """First and last local dates with interactions; ``(None, None)`` when there are none."""
    lo, hi = _data_span_utc(ws)
    tz = ws.settings.locale.timezone
    if lo is None or hi is None:
        return None, None
    return localtime.utc_to_local_date(lo, tz), localtime.utc_to_local_date(hi, tz)


def _offset_span(ws: Workspace, lo: datetime | None, hi: datetime | None) -> tuple[datetime,
                                                                                  datetime]:
    if lo is None or hi is None:
        d_lo, d_hi = _data_span_utc(ws)
        lo = lo or d_lo or datetime(2000, 1, 1)
        hi = hi or d_hi or datetime(2000, 1, 2)
    return lo - _PAD, hi + _PAD


# -- aggregation ----------------------------------------------------------------------------------
def _aggregates(t: ir.Table, kpis: Sequence[Kpi], ws: Workspace) -> dict[str, Any]:
    m = ws.settings.metrics
    out: dict[str, Any] = {}
    for k in kpis:
        pop = k.population(t, m).fill_null(False)
        if k.measure is _one:
            num = t.count(where=pop)
        else:
            num = k.measure(t, m).sum(where=pop)
        den = t.customer_key.nunique(where=pop) if k.kind == "per_customer" else t.count(where=pop)
        out[f"{k.name}__num"] = num
        out[f"{k.name}__den"] = den
    return out


def _fact(ws: Workspace, fact: str, joins: set[str], lo: datetime | None, hi: datetime | None,
          filters: dict[str, list[str]]) -> ir.Table:
    t = facts.FACTS[fact](ws, joins, lo, hi)
    for dim, values in filters.items():
        t = t.filter(t[dim].isin(values))
    return t


def value_of(kpi: Kpi, numerator: Any, denominator: Any) -> float | None:
    """The KPI value from its numerator and denominator (None when there is nothing to rate)."""
    num = 0.0 if numerator is None or _nan(numerator) else float(numerator)
    den = 0.0 if denominator is None or _nan(denominator) else float(denominator)
    if kpi.kind == "count":
        return num
    if den == 0:
        return None
    return num / den * kpi.scale


def _nan(x: Any) -> bool:
    return isinstance(x, float) and math.isnan(x)


def compute(
    ws: Workspace,
    kpi: str,
    by: str | Sequence[str] | None = None,
    grain: str | None = None,
    start: DateLike = None,
    end: DateLike = None,
    filters: Filters = None,
    *,
    compare: bool = False,
    use_rollup: bool = True,
) -> pd.DataFrame:
    """One KPI, optionally sliced by dimensions and bucketed by a local time grain.

    Returns columns ``[period] [dims...] value numerator denominator`` (plus ``previous`` and
    ``change`` with ``compare=True`` and both ``start`` and ``end``: the same KPI over the
    equally long period just before). ``value`` is None where there is nothing to rate — and
    for every row when a table the KPI needs is empty (e.g. CSAT without surveys).
    Day, week and month buckets sliced and filtered by rollup dimensions are read from the
    fresh daily rollup (the same numbers); ``use_rollup=False`` forces the scan.

    >>> from cxlens import metrics
    >>> metrics.compute(ws, "aht", by="channel", start="2026-10-01", end="2026-10-31")  # doctest: +SKIP
    """
    import pandas as pd

    k = get_kpi(kpi)
    dims, grain, flt = _dims(by), _grain(grain), _filters(filters)
    s, e = _span(ws, start, end)
    keys = (["period"] if grain else []) + dims
    if not has_data(ws, k):
        frame = pd.DataFrame({c: pd.Series(dtype=object) for c in keys})
        if not keys:
            frame = pd.DataFrame([{}])
        return frame.assign(value=None, numerator=0.0, denominator=0.0)
    table = _rollup_serves(ws, k, dims, grain, flt) if use_rollup else None
    run = _run if table is None else functools.partial(_run_rollup, table=table)
    frame = run(ws, k, dims, grain, s, e, flt)
    if compare and s and e:
        length = (e - s).days + 1
        prev = run(ws, k, dims, grain, s - timedelta(days=length), s - timedelta(days=1), flt)
        if grain:
            prev["period"] = pd.to_datetime(prev["period"]) + pd.Timedelta(days=length)
        prev = prev[keys + ["value"]].rename(columns={"value": "previous"})
        frame = frame.merge(prev, on=keys, how="left") if keys else frame.assign(
            previous=prev["previous"].iloc[0] if len(prev) else None)
        frame["change"] = [None if (v is None or p is None or _nan(v) or _nan(p)) else v - p
                           for v, p in zip(frame["value"], frame["previous"], strict=True)]
    return frame


def compute_many(
    ws: Workspace,
    kpis: Sequence[str],
    by: str | Sequence[str] | None = None,
    grain: str | None = None,
    start: DateLike = None,
    end: DateLike = None,
    filters: Filters = None,
    *,
    use_rollup: bool = True,
) -> dict[str, pd.DataFrame]:
    """Several KPIs sliced the same way: ``{name: compute(ws, name, ...)}``, the same frames.

    The KPIs a fresh rollup serves are read in one query per rollup table (a page showing five
    KPIs by agent pays one query, not five, and one freshness check); the others are computed
    one by one as :func:`compute` does.

    >>> metrics.compute_many(ws, ["handled", "aht"], by=["team", "agent"])  # doctest: +SKIP
    """
    import pandas as pd

    wanted = [get_kpi(name) for name in kpis]
    dims, grain, flt = _dims(by), _grain(grain), _filters(filters)
    s, e = _span(ws, start, end)
    groups: list[Any] = (["period"] if grain else []) + dims
    raw = rollup_read.connection(ws)
    fresh = rollup.fresh_tables(ws) if use_rollup and raw is not None else set()
    cache: dict[str, Any] = {}
    batch: dict[str, list[Kpi]] = {}
    out: dict[str, pd.DataFrame] = {}
    for k in wanted:
        table = (_rollup_serves(ws, k, dims, grain, flt, fresh)
                 if fresh and has_data(ws, k, cache) else None)
        if table is None:
            out[k.name] = compute(ws, k.name, dims, grain, s, e, flt, use_rollup=use_rollup)
        else:
            batch.setdefault(table, []).append(k)
    for table, group in batch.items():
        frame = rollup_read.kpi_series(raw, [k.name for k in group], grain, dims, s, e, flt,
                                       table)
        for k in group:
            part = frame[frame["kpi"] == k.name].drop(columns="kpi").reset_index(drop=True)
            if not groups and part.empty:  # an ungrouped query always answers one row
                part = pd.DataFrame([{"numerator": None, "denominator": None}])
            out[k.name] = _finish(k, part.copy(), groups)
    return {k.name: out[k.name] for k in wanted}


def _run(ws: Workspace, k: Kpi, dims: list[str], grain: str | None, s: date | None,
         e: date | None, flt: dict[str, list[str]]) -> pd.DataFrame:
    lo, hi = _utc_range(ws, s, e)
    t = _fact(ws, k.fact, _joins([k], dims, flt), lo, hi, flt)
    groups: list[Any] = []
    if grain:
        o_lo, o_hi = _offset_span(ws, lo, hi)
        local = localtime.to_local(t.ts, ws.settings.locale.timezone, o_lo, o_hi)
        t = t.mutate(period=localtime.bucket(local, grain))
        groups.append("period")
    groups.extend(dims)
    aggs = _aggregates(t, [k], ws)
    expr = t.group_by(groups).aggregate(**aggs) if groups else t.aggregate(**aggs)
    frame = expr.to_pandas()
    frame = frame.rename(columns={f"{k.name}__num": "numerator", f"{k.name}__den": "denominator"})
    return _finish(k, frame, groups)


def _rollup_serves(ws: Workspace, k: Kpi, dims: list[str], grain: str | None,
                   flt: dict[str, list[str]], fresh: set[str] | None = None) -> str | None:
    """The fresh KPI rollup that serves this query, or None (scan the facts)."""
    if k.kind == "per_customer" or grain not in (None, "day", "week", "month"):
        return None
    wanted = set(dims) | set(flt)
    if wanted - set(rollup.ALL_DIMS):
        return None  # a dimension no rollup carries: spare the freshness check
    return rollup.serving_table(wanted, rollup.fresh_tables(ws) if fresh is None else fresh)


def _run_rollup(ws: Workspace, k: Kpi, dims: list[str], grain: str | None, s: date | None,
                e: date | None, flt: dict[str, list[str]], table: str = rollup.DAILY
                ) -> pd.DataFrame:
    """:func:`_run` re-adding a daily rollup: day, week and month buckets are unions of days."""
    groups: list[Any] = (["period"] if grain else []) + dims
    raw = rollup_read.connection(ws)
    if raw is not None:
        return _finish(k, rollup_read.kpi_series(raw, k.name, grain, dims, s, e, flt, table),
                       groups)
    r = _rollup_rows(ws, table, s, e, flt)
    r = r.filter(r.kpi == k.name)
    if grain:
        day = r.day if grain == "day" else r.day.truncate({"week": "W", "month": "M"}[grain])
        r = r.mutate(period=day.cast("timestamp"))
    aggs = {"numerator": r.numerator.sum(), "denominator": r.denominator.sum()}
    expr = r.group_by(groups).aggregate(**aggs) if groups else r.aggregate(**aggs)
    return _finish(k, expr.to_pandas(), groups)


def _rollup_rows(ws: Workspace, table: str, s: date | None, e: date | None,
                 flt: dict[str, list[str]]) -> ir.Table:
    r = ws.warehouse.table(table)
    if s is not None:
        r = r.filter(r.day >= s)
    if e is not None:
        r = r.filter(r.day <= e)
    for dim, values in flt.items():
        r = r.filter(r[dim].isin(values))
    return r


def _finish(k: Kpi, frame: pd.DataFrame, groups: list[Any]) -> pd.DataFrame:
    if groups:
        frame = frame[frame["denominator"] > 0].sort_values(groups, na_position="last")
    frame["numerator"] = frame["numerator"].astype("float64").fillna(0.0)
    frame["denominator"] = frame["denominator"].astype("float64").fillna(0.0)
    frame["value"] = [value_of(k, n, d) for n, d in zip(frame["numerator"],
                                                       frame["denominator"], strict=True)]
    return frame[[*groups, "value", "numerator", "denominator"]].reset_index(drop=True)


def _overview_from_rollup(ws: Workspace, s: date, e: date, length: int,
                          flt: dict[str, list[str]], fresh: set[str]
                          ) -> dict[str, tuple[Any, Any, Any, Any, bool]]:
    since = s - timedelta(days=length)
    raw = rollup_read.connection(ws)
    if raw is not None:
        rows = rollup_read.daily_totals(raw, since, s, e, flt)
    else:
        r = _rollup_rows(ws, rollup.DAILY, since, e, flt)
        r = r.mutate(_current=r.day >= s)
        rows = r.group_by(["kpi", "_current"]).aggregate(
            num=r.numerator.sum(), den=r.denominator.sum()).to_pyarrow().to_pylist()
    got = {(row["kpi"], row["_current"]): row for row in rows}
    facts_before = {KPIS[row["kpi"]].fact for row in rows if not row["_current"]}
    out: dict[str, tuple[Any, Any, Any, Any, bool]] = {}
    for k in rollup.rollup_kpis():
        cur, prev = got.get((k.name, True), {}), got.get((k.name, False), {})
        out[k.name] = (cur.get("num"), cur.get("den"), prev.get("num"), prev.get("den"),
                       k.fact in facts_before)
    if rollup.CUSTOMERS in fresh and raw is not None:
        row = rollup_read.customer_totals(raw, since, s, e, flt)
    elif rollup.CUSTOMERS in fresh:
        c = _rollup_rows(ws, rollup.CUSTOMERS, since, e, flt)
        now = c.day >= s
        row = c.aggregate(
            num=c.contacts.sum(where=now), den=c.customer_no.nunique(where=now),
            p_num=c.contacts.sum(where=~now), p_den=c.customer_no.nunique(where=~now),
        ).to_pyarrow().to_pylist()[0]
    if rollup.CUSTOMERS in fresh:
        out["contacts_per_customer"] = (row["num"], row["den"], row["p_num"], row["p_den"],
                                        "touches" in facts_before)
    return out


def overview(ws: Workspace, start: DateLike = None, end: DateLike = None,
             filters: Filters = None, *, use_rollup: bool = True) -> list[dict[str, Any]]:
    """Every KPI for the period and the equally long period before it (the dashboard tiles).

    Reads the daily ``kpi_rollup`` when it is fresh and the filters are rollup dimensions
    (channel, queue, reason, language); otherwise one aggregate query per fact table (contacts,
    surveys, touches; KPIs needing an extra join apart) computes its KPIs for both periods.
    ``use_rollup=False`` forces the scan. Each tile: ``kpi, label_en, label_zh, unit, value,
    previous, change, change_pct, numerator, denominator, status`` (``"ok"`` or ``"no data"``),
    ``higher_is_better``.
    """
    flt = _filters(filters)
    s, e = _span(ws, start, end)
    if s is None or e is None:
        first, last = period_bounds(ws)
        s, e = s or first, e or last
    cache: dict[str, Any] = {}
    results: dict[str, tuple[Any, Any, Any, Any, bool]] = {}
    if s is not None and e is not None:
        length = (e - s).days + 1
        p_lo, _ = _utc_range(ws, s - timedelta(days=length), None)
        lo, hi = _utc_range(ws, s, e)
        if use_rollup and not (set(flt) - set(rollup.ROLLUP_DIMS)):
            fresh = rollup.fresh_tables(ws)
            if rollup.DAILY in fresh:
                results.update(_overview_from_rollup(ws, s, e, length, flt, fresh))
        # KPIs that need an extra join (customers, sentiment) get their own query so the
        # plain ones stay a single scan.
        by_fact: dict[tuple[str, frozenset[str]], list[Kpi]] = {}
        for k in KPIS.values():
            if k.name in results:
                continue
            if has_data(ws, k, cache):
                by_fact.setdefault((k.fact, k.extra), []).append(k)
        for (fact, _), kpis in by_fact.items():
            t = _fact(ws, fact, _joins(kpis, [], flt), p_lo, hi, flt)
            t = t.mutate(_current=t.ts >= ibis.literal(lo))
            aggs = {**_aggregates(t, kpis, ws), "_rows": t.count()}
            rows = t.group_by("_current").aggregate(**aggs).to_pyarrow()
            by_period = {r["_current"]: r for r in rows.to_pylist()}
            cur, prev = by_period.get(True, {}), by_period.get(False, {})
            for k in kpis:
                results[k.name] = (cur.get(f"{k.name}__num"), cur.get(f"{k.name}__den"),
                                   prev.get(f"{k.name}__num"), prev.get(f"{k.name}__den"),
                                   bool(prev.get("_rows")))
    tiles = []
    for k in KPIS.values():
        tile: dict[str, Any] = {
            "kpi": k.name, "label_en": k.label_en, "label_zh": k.label_zh, "unit": k.unit,
            "higher_is_better": k.higher_is_better, "definition": k.definition,
            "start": s, "end": e,
        }
        if k.name not in results:
            tile.update(value=None, previous=None, change=None, change_pct=None,
                        numerator=0.0, denominator=0.0, status="no data")
        else:
            num, den, p_num, p_den, had_rows = results[k.name]
            value, previous = value_of(k, num, den), value_of(k, p_num, p_den)
            if not had_rows:
                previous = None  # no data before the period: no comparison rather than "+100%"
            change = None if value is None or previous is None else value - previous
            pct = (None if change is None or not previous else change / abs(previous) * 100)
            status = "ok" if value is not None and (k.kind != "count" or den) else "no data"
            tile.update(value=value, previous=previous, change=change, change_pct=pct,
                        numerator=float(num or 0), denominator=float(den or 0), status=status)
        tiles.append(tile)
    return tiles


def heatmap(ws: Workspace, start: DateLike = None, end: DateLike = None,
            filters: Filters = None, *, use_rollup: bool = True) -> pd.DataFrame:
    """Offered contacts per local weekday (0 = Monday) × hour (0-23): all 168 cells.

    Read from the fresh hourly rollup when the filters are rollup dimensions (the same counts);
    ``use_rollup=False`` forces the scan.
    """
    import pandas as pd

    flt = _filters(filters)
    s, e = _span(ws, start, end)
    raw = rollup_read.connection(ws)
    if (use_rollup and not set(flt) - set(rollup.ROLLUP_DIMS)
            and rollup.is_fresh(ws, rollup.HOURLY)):
        if raw is not None:
            counts = rollup_read.heatmap_counts(raw, s, e, flt)
        else:
            r = _rollup_rows(ws, rollup.HOURLY, s, e, flt)
            r = r.mutate(weekday=r.day.day_of_week.index())
            counts = (r.group_by(["weekday", "hour"]).aggregate(contacts=r.contacts.sum())
                      .to_pandas())
    else:
        lo, hi = _utc_range(ws, s, e)
        t = _fact(ws, "contacts", _joins([], [], flt), lo, hi, flt).filter(lambda r: r.offered)
        o_lo, o_hi = _offset_span(ws, lo, hi)
        local = localtime.to_local(t.ts, ws.settings.locale.timezone, o_lo, o_hi)
        t = t.mutate(weekday=local.day_of_week.index(), hour=local.hour())
        counts = t.group_by(["weekday", "hour"]).aggregate(contacts=t.count()).to_pandas()
    grid = pd.DataFrame([(d, h) for d in range(7) for h in range(24)], columns=["weekday", "hour"])
    out = grid.merge(counts.astype("int64"), on=["weekday", "hour"], how="left")
    out["contacts"] = out["contacts"].fillna(0).astype("int64")
    return out


def contacts(ws: Workspace, kpi: str, start: DateLike = None, end: DateLike = None,
             filters: Filters = None, limit: int = 200) -> pd.DataFrame:
    """The rows behind a KPI (its population), newest first, with each row's ``measure``.

    For a rate the measure is 1 for rows in the numerator; for a mean it is the row's value.
    ``started_at`` is local time.
    """
    import pandas as pd

    k = get_kpi(kpi)
    if limit < 1:
        raise InputError(f"limit must be at least 1, got {limit}")
    flt = _filters(filters)
    s, e = _span(ws, start, end)
    if not has_data(ws, k):
        return pd.DataFrame(columns=["interaction_id", "started_at", "measure"])
    lo, hi = _utc_range(ws, s, e)
    joins = _joins([k], [], flt) | {"contact"}
    # The customer key of the rows shown only, unless a filter needs it (tier, segment): joining
    # the identity map to every contact of the period was most of a drill-down's time.
    late = k.fact == "contacts" and not joins & {"customer", "tier", "segment"}
    raw = rollup_read.connection(ws)
    if raw is not None:
        frame = _contacts_sql(ws, raw, k, joins, late, lo, hi, flt, limit)
    else:
        frame = _contacts_ibis(ws, k, joins, late, lo, hi, flt, limit)
    tz = ws.settings.locale.timezone
    local = pd.to_datetime(frame.pop("ts")).dt.tz_localize("UTC").dt.tz_convert(tz)
    frame.insert(1, "started_at", local.dt.tz_localize(None))
    return frame


_SHOWN = ["interaction_id", "ts", "channel", "queue", "agent", "reason", "language",
          "customer_key", "journey_id", "kind", "survey_id", "csat", "nps", "ces"]


def _contacts_sql(ws: Workspace, raw: Any, k: Kpi, joins: set[str], late: bool,
                  lo: datetime | None, hi: datetime | None, flt: dict[str, list[str]],
                  limit: int) -> pd.DataFrame:
    """The drill-down on DuckDB: the population compiled once, period/filters/limit bound."""
    fact_joins = joins if late else joins | {"customer"}
    dims = sorted(flt)

    def build() -> ir.Table:
        t = _fact(ws, k.fact, fact_joins, None, None, {})
        m = ws.settings.metrics
        t = t.filter(k.population(t, m).fill_null(False))
        measure = ibis.literal(1) if k.measure is _one else k.measure(t, m)
        keep = [c for c in _SHOWN if c in t.columns]
        extra = [d for d in dims if d not in keep] + (["source", "source_id"] if late else [])
        return t.select(*keep, *extra, measure=measure)

    body, names = drilldown.compiled(
        ws, ("contacts", k.name, frozenset(fact_joins), late, tuple(dims)), build)
    cols = [c for c in _SHOWN if c in names or (late and c == "customer_key")]
    return drilldown.rows(raw, body, cols, late, lo, hi, flt, limit)


def _contacts_ibis(ws: Workspace, k: Kpi, joins: set[str], late: bool, lo: datetime | None,
                   hi: datetime | None, flt: dict[str, list[str]], limit: int) -> pd.DataFrame:
    """The drill-down through Ibis (engines other than DuckDB)."""
    t = _fact(ws, k.fact, joins if late else joins | {"customer"}, lo, hi, flt)
    m = ws.settings.metrics
    t = t.filter(k.population(t, m).fill_null(False))
    measure = ibis.literal(1) if k.measure is _one else k.measure(t, m)
    cols = [c for c in _SHOWN if c in t.columns or (late and c == "customer_key")]
    order = [ibis.desc("ts"), "interaction_id"]
    if late:
        shown = (t.select(*(c for c in cols if c != "customer_key"), "source", "source_id",
                          measure=measure).order_by(order).limit(limit))
        keyed = shown.left_join(facts.customer_keys(ws, only=shown), ["source", "source_id"])
        expr = keyed.select(*cols, "measure").order_by(order)
    else:
        expr = t.select(*cols, measure=measure).order_by(order).limit(limit)
    return expr.to_pandas()
