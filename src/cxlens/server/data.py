"""Access to the stage modules for the views: availability, memoised metric queries, blocks,
JSON-friendly values and number formatting. The views themselves are in :mod:`views`.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from contextvars import ContextVar
from datetime import date, datetime
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

from cxlens.server.filters import Filters
from cxlens.server.i18n import label
from cxlens.workspace import Workspace

Block = dict[str, Any]


_NEEDS: dict[str, tuple[str, ...]] = {
    "metrics": ("KPIS", "compute", "compute_many", "overview"),
    "profile": ("lookup",),
    "quality": ("report",),
    "qa": ("scorecards",),
}


def stage_module(name: str) -> ModuleType | None:
    """``cxlens.<name>``, or None when that part is not installed or lacks what pages call."""
    full = f"cxlens.{name}"
    try:
        module = importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name and full.startswith(exc.name):
            return None
        raise
    for attr in _NEEDS.get(name, ()):
        try:
            getattr(module, attr)
        except (AttributeError, ImportError):  # a lazy attribute whose module is not there yet
            return None
    return module


def block(
    block_id: str, option: dict[str, Any] | None = None, message: str = "", **extra: Any
) -> Block:
    """A chart block; ``ok`` is True only when the option holds at least one data point."""
    ok = option is not None and _has_points(option)
    return {
        "id": block_id,
        "ok": ok,
        "option": option if ok else None,
        "message": "" if ok else message,
        **extra,
    }


def _has_points(option: dict[str, Any]) -> bool:
    for series in option.get("series", []):
        if series.get("data"):
            return True
    return False


def clean(value: Any) -> Any:
    """JSON-friendly Python values (numpy → python, NaN → None, timestamps → ISO text)."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value is not None and type(value).__name__ in {"NAType", "NaTType"}:
        return None
    return value


def records(frame: Any) -> list[dict[str, Any]]:
    """Rows of a pandas DataFrame / Arrow table / list of dicts, cleaned."""
    if frame is None:
        return []
    if hasattr(frame, "to_dict") and hasattr(frame, "columns"):
        return [clean(r) for r in frame.to_dict("records")]
    if hasattr(frame, "to_pylist"):
        return [clean(r) for r in frame.to_pylist()]
    return [clean(dict(r)) for r in frame]


# -- metrics helpers ---------------------------------------------------------------------------
def kpi_catalog() -> dict[str, dict[str, str]]:
    """name → {label_en, label_zh, definition, unit} from ``cxlens.metrics.KPIS``."""
    metrics = stage_module("metrics")
    if metrics is None:
        return {}
    out: dict[str, dict[str, str]] = {}
    for name, kpi in metrics.KPIS.items():
        get = kpi.get if isinstance(kpi, dict) else lambda k, d="", o=kpi: getattr(o, k, d)
        out[name] = {
            k: str(get(k, "") or "") for k in ("label_en", "label_zh", "definition", "unit")
        }
    return out


def kpi_label(name: str, lang: str, catalog: dict[str, dict[str, str]] | None = None) -> str:
    entry = (catalog or kpi_catalog()).get(name)
    if not entry:
        return name
    return entry["label_zh" if lang == "zh" else "label_en"] or name


# Results of metric queries, shared by every view and language while the data is unchanged.
# The server's Gate installs its memo (cleared when the warehouse changes); elsewhere it is off.
MEMO: ContextVar[dict[Any, Any] | None] = ContextVar("cxlens_metric_memo", default=None)


def memoised(key: tuple[Any, ...], compute_fn: Callable[[], Any]) -> Any:
    memo = MEMO.get()
    if memo is None:
        return compute_fn()
    if key not in memo:
        memo[key] = compute_fn()
    return memo[key]


# Where the server keeps a view's filter-independent parts on disk (QA scorecards, the fitted
# forecast): the Gate installs its persistent cache here while it computes a view.
PARTS: ContextVar[Callable[[tuple[Any, ...], Callable[[], Any]], Any] | None] = ContextVar(
    "cxlens_view_parts", default=None
)


def stored_part(key: tuple[Any, ...], compute_fn: Callable[[], Any]) -> Any:
    """A JSON-native aggregate that no filter changes, kept with the stored views of this data
    state: a restarted server does not refit a forecast because someone picked a new period."""
    parts = PARTS.get()
    if parts is None:
        return memoised(key, compute_fn)
    return parts(key, compute_fn)


def compute(
    ws: Workspace, kpi: str, f: Filters, by: str | list[str] | None = None, grain: str | None = None
) -> list[dict[str, Any]]:
    """``metrics.compute`` for the filtered period as rows; [] when the KPI is unknown."""
    metrics = stage_module("metrics")
    if metrics is None or kpi not in metrics.KPIS:
        return []
    by_key = tuple(by) if isinstance(by, list) else by
    return memoised(  # type: ignore[no-any-return]
        ("compute", kpi, by_key, grain, f.start, f.end, tuple(sorted(f.dims.items()))),
        lambda: records(
            metrics.compute(ws, kpi, by=by, grain=grain, start=f.start, end=f.end, filters=f.dims)
        ),
    )


def compute_many(
    ws: Workspace, kpis: list[str], f: Filters, by: str | list[str] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """``metrics.compute_many`` for the filtered period: rows per KPI (unknown KPIs left out)."""
    metrics = stage_module("metrics")
    if metrics is None:
        return {}
    known = [k for k in kpis if k in metrics.KPIS]
    by_key = tuple(by) if isinstance(by, list) else by
    frames = memoised(
        ("compute_many", tuple(known), by_key, f.start, f.end, tuple(sorted(f.dims.items()))),
        lambda: {
            name: records(frame)
            for name, frame in metrics.compute_many(
                ws, known, by=by, start=f.start, end=f.end, filters=f.dims
            ).items()
        },
    )
    return frames  # type: ignore[no-any-return]


def overview_tiles(ws: Workspace, f: Filters) -> list[dict[str, Any]]:
    """``metrics.overview`` rows for the period (every KPI, with the previous period)."""
    metrics = stage_module("metrics")
    if metrics is None:
        return []
    return memoised(  # type: ignore[no-any-return]
        ("overview", f.start, f.end, tuple(sorted(f.dims.items()))),
        lambda: records(metrics.overview(ws, start=f.start, end=f.end, filters=f.dims)),
    )


def regroup(rows: list[dict[str, Any]], kpi: str, dim: str) -> list[dict[str, Any]]:
    """Re-aggregate finer rows (e.g. per team × agent) to ``dim`` by summing numerators and
    denominators: exact for KPIs that are sums over contacts, which is how metrics defines them."""
    metrics = stage_module("metrics")
    if metrics is None:
        return []
    definition = metrics.KPIS[kpi]
    sums: dict[Any, list[float]] = {}
    for r in rows:
        acc = sums.setdefault(r.get(dim), [0.0, 0.0])
        acc[0] += float(r.get("numerator") or 0)
        acc[1] += float(r.get("denominator") or 0)
    return [
        {dim: key, "value": metrics.value_of(definition, n, d), "numerator": n, "denominator": d}
        for key, (n, d) in sums.items()
    ]


def _missing(module: str, lang: str) -> str:
    return label("unavailable", lang).format(module=module)


# -- reference data ----------------------------------------------------------------------------
def data_period(ws: Workspace) -> tuple[date, date] | None:
    """First and last local day with contacts (None when there are none)."""
    metrics = stage_module("metrics")
    if metrics is not None and hasattr(metrics, "period_bounds"):
        bounds = metrics.period_bounds(ws)
        if bounds and bounds[0] is not None:
            return _as_date(bounds[0]), _as_date(bounds[1])
        return None
    t = ws.warehouse.table("interactions")
    row = t.aggregate(lo=t.started_at.min(), hi=t.started_at.max()).to_pyarrow().to_pylist()[0]
    if row["lo"] is None:
        return None
    zone = ZoneInfo(ws.settings.locale.timezone)
    return (_local(row["lo"], zone).date(), _local(row["hi"], zone).date())


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if hasattr(value, "date"):
        return value.date()  # type: ignore[no-any-return]
    return date.fromisoformat(str(value)[:10])


def _local(ts: datetime, zone: ZoneInfo) -> datetime:
    from datetime import UTC

    return ts.replace(tzinfo=UTC).astimezone(zone)


def filter_options(ws: Workspace) -> dict[str, list[str]]:
    """Values for the channel, queue and tier pickers."""
    wh = ws.warehouse
    out: dict[str, list[str]] = {}
    for dim, table in (("channel", "interactions"), ("queue", "interactions"), ("tier", "parties")):
        t = wh.table(table)
        values = t.select(t[dim]).distinct().to_pyarrow().column(0).to_pylist()
        out[dim] = sorted(str(v) for v in values if v not in (None, ""))[:200]
    return out


# -- pages -------------------------------------------------------------------------------------
def _signed(number: Any, suffix: str) -> str:
    if number is None:
        return ""
    return f"{float(number):+.1f}{suffix}"


def _is_rate(unit: str) -> bool:
    return unit.strip() == "%"


def fmt_value(value: Any, unit: str = "") -> str:
    """A number as a manager reads it: 12,345 · 81.2% · 245 s · 4.31."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    number = float(value)
    if math.isnan(number):
        return "—"
    unit_l = unit.strip().lower()
    if _is_rate(unit_l):
        return f"{number:.1f}%"
    if unit_l in {"s", "sec", "seconds"}:
        return f"{number:,.0f} s"
    if number == int(number) and abs(number) < 1e15:
        return f"{int(number):,}"
    return f"{number:,.2f}"
