"""Staffing plans from the forecast, and the frames the web UI's Workforce page renders.

* :func:`staffing_plan` — agents per queue x channel x interval for the next days, with peaks
  marked (Erlang C by default; Erlang A with the patience estimated from abandoned calls).
* :func:`forecast_vs_actual` — last week's held-out actuals next to the forecast made without
  them (and the seasonal-naive baseline), then the forecast for the coming days.
* :func:`peak_heatmap` — average contacts per hour x weekday from the history.

The forecast is memoised per workspace, settings and interaction count, so the three calls of one
page render fit the models once.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from cxlens.errors import InputError
from cxlens.wfm.erlang import check_fraction, check_interval, check_target

if TYPE_CHECKING:
    import pandas as pd

    from cxlens.wfm.forecast import ForecastResult
    from cxlens.workspace import Workspace

PEAK_QUANTILE = 0.9
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_CACHE: dict[tuple[Any, ...], ForecastResult] = {}
_CACHE_SIZE = 8


def parse_target(text: str | tuple[float, float]) -> tuple[float, float]:
    """``"80/20"`` or ``(0.8, 20)`` -> (0.8, 20.0): share answered within so many seconds."""
    if isinstance(text, tuple):
        share, seconds = float(text[0]), float(text[1])
    else:
        parts = str(text).replace("%", "").split("/")
        try:
            if len(parts) != 2:
                raise ValueError
            share, seconds = float(parts[0]), float(parts[1])
        except ValueError as exc:
            raise InputError(
                f"service-level target {text!r} is not like 80/20",
                "write percent answered / seconds, e.g. 80/20",
            ) from exc
    if share > 1:  # 80 -> 0.8 (a share of exactly 1 stays 100%)
        share = share / 100
    if not math.isfinite(share) or not math.isfinite(seconds):
        raise InputError(f"service-level target {text!r} is not a number")
    check_target(share, seconds)
    return share, seconds


def cached_forecast(ws: Workspace, days: int, interval: int, queue: str | None = None
                    ) -> ForecastResult:
    """:func:`cxlens.wfm.forecast.forecast`, memoised while the inputs stay the same."""
    from cxlens.wfm.forecast import forecast

    rows = int(ws.warehouse.table("interactions").count().to_pyarrow().as_py())
    key = (str(ws.path.resolve()), ws.settings.model_dump_json(), rows, days, interval, queue)
    if key not in _CACHE:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = forecast(ws, days=days, interval=interval, queue=queue)
    return _CACHE[key]


def _patience_by_queue(ws: Workspace, patience: float | None) -> dict[str, float | None]:
    from cxlens.wfm.history import estimate_patience

    if patience is not None:
        if not math.isfinite(patience) or patience <= 0:
            raise InputError(f"patience must be above 0 seconds, got {patience:g}")
        return {}
    if ws.settings.wfm.patience_s > 0:
        return {}
    return {q: p.patience_s for q, p in estimate_patience(ws).items()}


def staffing_plan(
    ws: Workspace,
    target: tuple[float, float] | str | None = None,
    interval: int | None = None,
    days: int = 7,
    shrinkage: float | None = None,
    max_occupancy: float | None = None,
    model: str | None = None,
    patience: float | None = None,
    queue: str | None = None,
) -> pd.DataFrame:
    """Agents needed per queue x channel x interval for the next ``days`` days.

    Args:
        target: (share, seconds) or "80/20"; default from settings.wfm.
        interval: minutes per interval (divides the day); default settings.wfm.interval_minutes.
        shrinkage, max_occupancy: defaults from settings.wfm.
        model: "erlang_c" (default, settings.wfm.staffing_model) or "erlang_a" (callers abandon
            with the patience estimated from the warehouse; a queue without abandoned calls
            falls back to Erlang C).
        patience: mean patience in seconds, overriding the estimate.

    Chat handle time is divided by ``settings.wfm.chat_concurrency`` (chats per agent at once).

    Returns one row per queue x channel x interval: calls, aht_s, erlangs, agents,
    scheduled_agents, service_level, asa_s, occupancy, wait_probability, abandon_rate, model,
    peak (offered load in the top 10% of that queue's horizon), daily_peak (the intervals
    needing the day's most agents).

    >>> plan = staffing_plan(ws, target="80/20", interval=30, days=7)   # doctest: +SKIP
    >>> plan[plan.peak][["queue", "interval_start", "agents"]]        # doctest: +SKIP
    """
    import numpy as np

    from cxlens.wfm.erlang import staff_erlang_a, staff_erlang_c

    s = ws.settings.wfm
    share, seconds = parse_target(target if target is not None
                                  else (s.service_level_target, float(s.service_level_seconds)))
    minutes = check_interval(interval if interval is not None else s.interval_minutes)
    check_target(share, seconds, minutes * 60)
    shrink = s.shrinkage if shrinkage is None else shrinkage
    occ = s.max_occupancy if max_occupancy is None else max_occupancy
    check_fraction("shrinkage", shrink)
    check_fraction("max occupancy", occ)
    chosen_model = model or s.staffing_model
    if chosen_model not in ("erlang_c", "erlang_a"):
        raise InputError(f"unknown staffing model {chosen_model!r}", "use erlang_c or erlang_a")
    result = cached_forecast(ws, days, minutes, queue)
    fc = result.forecast.copy()
    fixed = patience if patience is not None else (s.patience_s or None)
    estimated = _patience_by_queue(ws, patience)
    fc["patience_s"] = fixed if fixed else fc["queue"].map(estimated)
    fc["aht_s"] = fc["aht_s"].fillna(fc["aht_s"].mean())
    if fc["aht_s"].isna().any():
        raise InputError("no answered contacts to estimate handle time from",
                         "load interactions with talk_s / acw_s")
    # an agent handling k chats at once is busy for AHT / k per chat
    concurrency = np.where(fc["channel"] == "chat", s.chat_concurrency, 1.0)
    fc["aht_s"] = fc["aht_s"] / concurrency
    calls, aht = fc["calls"].to_numpy(float), fc["aht_s"].clip(lower=1.0).to_numpy(float)
    c = staff_erlang_c(calls, aht, minutes * 60, share, seconds, max_occupancy=occ,
                       shrinkage=shrink, allow_zero=True)
    fc["erlangs"] = c["load"]
    for col in ("agents", "scheduled_agents", "service_level", "asa", "occupancy",
                "wait_probability"):
        fc[col] = c[col]
    fc["abandon_rate"] = np.nan
    fc["model"] = "erlang_c"
    has_pat = fc["patience_s"].notna().to_numpy() & (fc["patience_s"].fillna(0) > 0).to_numpy()
    if has_pat.any():
        if chosen_model == "erlang_a":
            a = staff_erlang_a(calls[has_pat], aht[has_pat], minutes * 60,
                               fc["patience_s"].to_numpy(float)[has_pat], share, seconds,
                               max_occupancy=occ, shrinkage=shrink, allow_zero=True)
            for col in ("agents", "scheduled_agents", "service_level", "asa", "occupancy",
                        "wait_probability", "abandon_rate"):
                fc.loc[has_pat, col] = a[col]
            fc.loc[has_pat, "model"] = "erlang_a"
        else:  # expected abandonment at the Erlang C staff, for information
            from cxlens.wfm.erlang import erlang_a_metrics

            met = erlang_a_metrics(c["agents"][has_pat], calls[has_pat], minutes * 60,
                                   aht[has_pat], fc["patience_s"].to_numpy(float)[has_pat],
                                   seconds)
            fc.loc[has_pat, "abandon_rate"] = met["abandon_rate"]
    fc = fc.rename(columns={"asa": "asa_s"})
    fc = _mark_peaks(fc)
    cols = ["queue", "channel", "interval_start", "calls", "aht_s", "erlangs", "agents",
            "scheduled_agents", "service_level", "asa_s", "occupancy", "wait_probability",
            "abandon_rate", "patience_s", "model", "peak", "daily_peak", "holiday"]
    out = fc[cols].copy()
    for col in ("agents", "scheduled_agents"):
        out[col] = out[col].astype("int64")
    out = out.reset_index(drop=True)
    # series left out (too little history) travel with the frame for the CLI and the UI
    out.attrs["skipped"] = list(result.skipped)
    out.attrs["history_end"] = str(result.history_end)
    return out


def _mark_peaks(fc: pd.DataFrame) -> pd.DataFrame:
    # ranked by offered load (continuous) rather than agents (small integers tie a lot)
    keys = [fc["queue"], fc["channel"]]
    busy = fc["erlangs"].where(fc["agents"] > 0)
    threshold = busy.groupby(keys).transform(lambda v: v.quantile(PEAK_QUANTILE))
    fc["peak"] = (fc["erlangs"] >= threshold) & (fc["agents"] > 0)
    day = fc["interval_start"].dt.normalize()
    day_max = fc.groupby([fc["queue"], fc["channel"], day])["agents"].transform("max")
    fc["daily_peak"] = (fc["agents"] == day_max) & (fc["agents"] > 0)
    return fc


def forecast_vs_actual(ws: Workspace, queue: str | None = None, days: int = 7,
                       interval: int = 30) -> pd.DataFrame:
    """Held-out actuals vs forecast (and baseline) for the last week, then the next ``days``.

    Columns: queue, channel, interval_start, actual, forecast, baseline, kind ("backtest" rows
    carry actuals; "forecast" rows are the future, actual NaN).
    """
    import pandas as pd

    result = cached_forecast(ws, days, interval, queue)
    past = result.holdout.assign(kind="backtest")
    if not past.empty:
        start = past["interval_start"].max().normalize() - pd.Timedelta(days=days - 1)
        past = past[past["interval_start"] >= start]
    future = result.forecast.rename(columns={"calls": "forecast"})[
        ["queue", "channel", "interval_start", "forecast"]].assign(
        actual=float("nan"), baseline=float("nan"), kind="forecast")
    cols = ["queue", "channel", "interval_start", "actual", "forecast", "baseline", "kind"]
    frames = [f[cols] for f in (past, future) if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


def peak_heatmap(ws: Workspace, queue: str | None = None) -> pd.DataFrame:
    """Average contacts per hour x weekday (local time) over the whole history.

    Columns: weekday (0 = Monday), weekday_name, hour, contacts (mean per day), share (of the
    week's contacts). 168 rows, ready to pivot into the heatmap.
    """
    from cxlens.wfm.history import load_history, require_history

    hist = load_history(ws, 60, queue=queue)
    require_history(hist, queue)
    total = hist.groupby("interval_start", as_index=False)["calls"].sum()
    total["weekday"] = total["interval_start"].dt.dayofweek
    total["hour"] = total["interval_start"].dt.hour
    grid = total.groupby(["weekday", "hour"], as_index=False)["calls"].mean()
    grid = grid.rename(columns={"calls": "contacts"})
    grid["weekday_name"] = grid["weekday"].map(dict(enumerate(WEEKDAYS)))
    week = grid["contacts"].sum()
    grid["share"] = grid["contacts"] / week if week > 0 else 0.0
    return grid[["weekday", "weekday_name", "hour", "contacts", "share"]]
