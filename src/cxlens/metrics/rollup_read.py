"""Reading the KPI rollups on DuckDB with plain, parameterised SQL.

The rollups are small (thousands to a few million rows), so a dashboard query on them costs
milliseconds in DuckDB — less than building and compiling the same query as an Ibis expression
(≈ 0.1-0.2 s each on a busy two-core machine, and the overview page runs five). On DuckDB
stores these functions run the same aggregations as the Ibis versions in
:mod:`cxlens.metrics.query` (which other engines use, and which the tests compare them with).

Values (dates, KPI names, filter values) are bound parameters; the only names written into the
SQL are rollup columns from :data:`cxlens.metrics.rollup.ROLLUP_DIMS` and this module's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from cxlens.metrics import rollup
from cxlens.workspace import Workspace

if TYPE_CHECKING:
    import pandas as pd

_BUCKET = {
    "day": "CAST(day AS TIMESTAMP)",
    "week": "CAST(date_trunc('week', day) AS TIMESTAMP)",   # ISO weeks: Monday
    "month": "CAST(date_trunc('month', day) AS TIMESTAMP)",
}


def connection(ws: Workspace) -> Any | None:
    """The DuckDB connection of a DuckDB warehouse; None for other engines (use Ibis)."""
    return getattr(ws.warehouse.store, "raw", None)


def _where(s: date | None, e: date | None, flt: dict[str, list[str]],
           extra: Sequence[tuple[str, Any]] = ()) -> tuple[str, list[Any]]:
    clauses, params = ["TRUE"], []
    if s is not None:
        clauses.append("day >= ?")
        params.append(s)
    if e is not None:
        clauses.append("day <= ?")
        params.append(e)
    for dim, values in flt.items():
        if dim not in rollup.ALL_DIMS:  # callers check; a column name must be one of ours
            raise ValueError(f"not a rollup dimension: {dim}")
        clauses.append(f'list_contains(?::VARCHAR[], "{dim}")')
        params.append(list(values))
    for clause, value in extra:
        clauses.append(clause)
        params.append(value)
    return " AND ".join(clauses), params


def daily_totals(raw: Any, since: date, s: date, e: date,
                 flt: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Per KPI, numerator and denominator of [s, e] (``_current``) and of [since, s)."""
    where, params = _where(since, e, flt)
    sql = (f"SELECT kpi, day >= ? AS _current, sum(numerator) AS num, sum(denominator) AS den "
           f"FROM {rollup.DAILY} WHERE {where} GROUP BY ALL")
    cur = raw.execute(sql, [s, *params])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def customer_totals(raw: Any, since: date, s: date, e: date,
                    flt: dict[str, list[str]]) -> dict[str, Any]:
    """Offered contacts and distinct customers of [s, e] and of [since, s)."""
    # Customers are dense integers, so a bitmap over them counts distinct ones exactly and ~8x
    # faster than count(DISTINCT) (a hash table of a million keys) on two busy cores.
    top = raw.execute(f"SELECT max(customer_no) FROM {rollup.CUSTOMERS}").fetchone()[0] or 0
    where, params = _where(since, e, flt)
    sql = ("SELECT sum(contacts) FILTER (WHERE day >= ?) AS num, "
           "coalesce(bit_count(bitstring_agg(customer_no, 0, ?) FILTER (WHERE day >= ?)), 0) "
           "AS den, "
           "sum(contacts) FILTER (WHERE day < ?) AS p_num, "
           "coalesce(bit_count(bitstring_agg(customer_no, 0, ?) FILTER (WHERE day < ?)), 0) "
           "AS p_den "
           f"FROM {rollup.CUSTOMERS} WHERE {where}")
    cur = raw.execute(sql, [s, top, s, s, top, s, *params])
    names = [d[0] for d in cur.description]
    return dict(zip(names, cur.fetchone(), strict=True))


def kpi_series(raw: Any, kpi: str | list[str], grain: str | None, dims: list[str],
               s: date | None, e: date | None, flt: dict[str, list[str]],
               table: str = rollup.DAILY) -> pd.DataFrame:
    """Numerator and denominator of ``kpi`` per [period] [dims...] from a daily KPI rollup.

    With a list of KPIs, one query answers all of them, with a leading ``kpi`` column.
    """
    if table not in rollup.SLICES:
        raise ValueError(f"not a KPI rollup: {table}")
    for dim in dims:
        if dim not in rollup.SLICES[table]:
            raise ValueError(f"not a dimension of {table}: {dim}")
    many = not isinstance(kpi, str)
    keys = ((["kpi"] if many else []) + ([f"{_BUCKET[grain]} AS period"] if grain else [])
            + [f'"{d}"' for d in dims])
    where, params = _where(s, e, flt, [("list_contains(?::VARCHAR[], kpi)", list(kpi))
                                       if many else ("kpi = ?", kpi)])
    select = ", ".join([*keys, "sum(numerator) AS numerator", "sum(denominator) AS denominator"])
    group = " GROUP BY ALL" if keys else ""
    return raw.execute(f"SELECT {select} FROM {table} WHERE {where}{group}", params).df()


def heatmap_counts(raw: Any, s: date | None, e: date | None,
                   flt: dict[str, list[str]]) -> pd.DataFrame:
    """Offered contacts per local weekday (0 = Monday) × hour from the hourly rollup."""
    where, params = _where(s, e, flt)
    sql = ("SELECT isodow(day) - 1 AS weekday, hour, sum(contacts) AS contacts "
           f"FROM {rollup.HOURLY} WHERE {where} GROUP BY ALL")
    return raw.execute(sql, params).df()
