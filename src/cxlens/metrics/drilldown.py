"""The contacts drill-down on DuckDB: the KPI's Ibis query compiled once, run with bound values.

Building and compiling the drill-down's Ibis expression (the contacts fact with its joins, the
KPI's population and measure) took about 70 % of a drill-down on the demo workspace — more than
DuckDB running it — and a page with a new filter paid it every time. The expression does not
depend on the period, the filter values or the limit, so it is compiled once per KPI, joins and
settings, and each request wraps it in a query whose period, filter values and limit are bound
parameters. The filters are the same comparisons the Ibis version makes (a timestamp range on
the fact's ``ts``, ``IN`` lists on its dimension columns); DuckDB pushes them down to the scans.

Only names are written into the SQL: columns of the fact (our constants) and dimension names
checked against :data:`cxlens.metrics.registry.DIMENSIONS` by the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cxlens.workspace import Workspace

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pandas as pd

_COMPILED: dict[tuple[Any, ...], tuple[str, tuple[str, ...]]] = {}
_MAX_COMPILED = 256
_ORDER = 'ORDER BY "ts" DESC, "interaction_id"'


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def compiled(ws: Workspace, key: tuple[Any, ...], build: Any) -> tuple[str, tuple[str, ...]]:
    """The SQL and columns of the expression ``build()`` returns, compiled once per ``key``,
    workspace and settings."""
    full = (str(ws.path), ws.settings.model_dump_json(), *key)
    if full not in _COMPILED:
        if len(_COMPILED) >= _MAX_COMPILED:
            _COMPILED.pop(next(iter(_COMPILED)))
        expr: ir.Table = build()
        _COMPILED[full] = (str(ws.warehouse.store.con.compile(expr)), tuple(expr.columns))
    return _COMPILED[full]


def rows(raw: Any, body: str, cols: list[str], late_key: bool, lo: datetime | None,
         hi: datetime | None, flt: dict[str, list[str]], limit: int) -> pd.DataFrame:
    """The newest ``limit`` rows of ``body`` in [lo, hi) matching ``flt``.

    ``late_key``: ``body`` has no ``customer_key``; it is looked up in the identity map for the
    rows returned only (the rule of :func:`cxlens.metrics.facts.customer_keys`).
    """
    where, params = ["TRUE"], []
    if lo is not None:
        where.append('"ts" >= ?')
        params.append(lo)
    if hi is not None:
        where.append('"ts" < ?')
        params.append(hi)
    for dim, values in flt.items():
        where.append(f'list_contains(?::VARCHAR[], "{dim}")')
        params.append(list(values))
    cond = " AND ".join(where)
    if not late_key:
        sql = (f"SELECT {_quoted(cols)}, measure FROM ({body}) AS fact WHERE {cond} "
               f"{_ORDER} LIMIT ?")
        return _frame(raw.execute(sql, [*params, limit]))
    shown_cols = [c for c in cols if c != "customer_key"]
    sql = (
        f"WITH shown AS (SELECT {_quoted(shown_cols)}, source, source_id, measure "
        f"FROM ({body}) AS fact WHERE {cond} {_ORDER} LIMIT ?), "
        "keys AS (SELECT source, source_id, max(customer_key) AS customer_key "
        "FROM identity_map WHERE record_table = 'interactions' "
        "AND source_id IN (SELECT source_id FROM shown) GROUP BY source, source_id) "
        f"SELECT {_quoted(cols)}, measure FROM shown LEFT JOIN keys USING (source, source_id) "
        f"{_ORDER}"
    )
    return _frame(raw.execute(sql, [*params, limit]))


def _frame(cursor: Any) -> pd.DataFrame:
    # Through Arrow, as Ibis does: integer columns with NULLs become floats with NaN, the same
    # frame (and CSV) the Ibis query gives, not pandas' nullable integers.
    return cursor.to_arrow_table().to_pandas()
