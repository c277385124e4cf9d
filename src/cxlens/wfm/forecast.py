"""Contact-volume and AHT forecast per queue x channel x interval, with an honest backtest.

Models (statsforecast), all with daily and weekly seasonality on the interval grid:

* ``ETS x profile`` (top-down, the classic planner's method): daily volume by AutoETS with a
  weekly season, spread over the day by each weekday's intraday profile (last 4 weeks, shrunk
  towards the all-days profile so a quiet slot does not swing on a handful of calls).
* ``SeasWA``: statsforecast's SeasonalWindowAverage — the mean of the same interval over the last
  4 weeks (weekly season of ``7 x intervals-per-day``, so the daily shape is inside it).
* ``SeasonalNaive`` (same interval last week) is the **baseline** every model must beat.

Why not MSTL on the interval grid: with a weekly period of 336 (30-min intervals) it took ~15 s
per series on the 2-core build machine; the top-down model gives the same seasonality for ~1% of
the cost (docs/wfm.md).

Incident days (volume above ``incident_factor`` x the usual same-weekday volume) and configured
holidays are replaced by the usual same-weekday profile before fitting, so a one-off spike does
not become next week's forecast. The backtest holds out the last ``backtest_weeks`` weeks one week
at a time and scores WAPE = sum|actual - forecast| / sum actual and bias = sum(forecast - actual)
/ sum actual per queue x channel; the model with the lowest WAPE is chosen.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cxlens.errors import ConfigError, InputError, NotFoundError
from cxlens.wfm.erlang import check_interval
from cxlens.wfm.history import load_history, require_history

if TYPE_CHECKING:
    import pandas as pd

    from cxlens.workspace import Workspace

TOP_DOWN = "ETS x profile"
WINDOW_AVG = "SeasWA"
BASELINE = "SeasonalNaive"
MIN_HISTORY_DAYS = 14
PROFILE_WEEKS = 4
PROFILE_PRIOR = 50.0  # pseudo-calls pulling a weekday's intraday shape towards all days'
AHT_PRIOR = 20.0  # pseudo-calls pulling an interval's AHT towards the queue's mean


@dataclass
class ForecastResult:
    """What :func:`forecast` returns. Frames use naive local time (settings.locale.timezone)."""

    forecast: pd.DataFrame  # queue, channel, interval_start, calls, aht_s, model, holiday
    backtest: pd.DataFrame  # queue, channel, model, wape, bias, baseline_wape, baseline_bias, ...
    holdout: pd.DataFrame  # queue, channel, interval_start, actual, forecast, baseline (last week)
    skipped: list[dict[str, str]] = field(default_factory=list)
    history_end: Any = None
    interval: int = 30

    def summary(self) -> dict[str, Any]:
        """Small JSON-able digest (CLI, pipeline summaries)."""
        return {
            "series": int(self.forecast.groupby(["queue", "channel"]).ngroups)
            if not self.forecast.empty else 0,
            "intervals": len(self.forecast),
            "history_end": str(self.history_end),
            "backtest": self.backtest.to_dict(orient="records"),
            "skipped": self.skipped,
        }


def _holidays(ws: Workspace) -> set[dt.date]:
    out = set()
    for text in ws.settings.wfm.holidays:
        try:
            out.add(dt.date.fromisoformat(text))
        except ValueError as exc:
            raise ConfigError(f"wfm.holidays: {text!r} is not a date like 2026-10-01") from exc
    return out


def _clean(frame: pd.DataFrame, factor: float, holidays: set[dt.date]) -> pd.DataFrame:
    """Replace incident days and holidays by the same weekday's usual (median) intervals."""
    import numpy as np

    f = frame.copy()
    f["day"] = f["ds"].dt.normalize()
    f["wd"] = f["ds"].dt.dayofweek
    f["slot"] = f["ds"] - f["day"]
    daily = f.groupby(["unique_id", "day"], as_index=False)["y"].sum()
    daily["wd"] = daily["day"].dt.dayofweek
    daily["usual"] = daily.groupby(["unique_id", "wd"])["y"].transform("median")
    hol = daily["day"].dt.date.isin(holidays)
    daily["odd"] = hol | ((daily["usual"] > 0) & (daily["y"] > factor * daily["usual"]))
    f = f.merge(daily[["unique_id", "day", "odd"]], on=["unique_id", "day"])
    usual = (f[~f["odd"]].groupby(["unique_id", "wd", "slot"])["y"].median().rename("usual_y"))
    f = f.join(usual, on=["unique_id", "wd", "slot"])
    f["y"] = np.where(f["odd"] & f["usual_y"].notna(), f["usual_y"], f["y"])
    return f[["unique_id", "ds", "y", "odd"]]


def _profile(train: pd.DataFrame) -> pd.DataFrame:
    """Intraday share per series x weekday x slot from the last PROFILE_WEEKS weeks of train."""
    last = train["ds"].max()
    recent = train[train["ds"] > last - _weeks(PROFILE_WEEKS)].copy()
    recent["wd"] = recent["ds"].dt.dayofweek
    recent["slot"] = recent["ds"] - recent["ds"].dt.normalize()
    by_slot = recent.groupby(["unique_id", "wd", "slot"], as_index=False)["y"].sum()
    by_slot["wd_total"] = by_slot.groupby(["unique_id", "wd"])["y"].transform("sum")
    overall = recent.groupby(["unique_id", "slot"])["y"].sum()
    overall = (overall / overall.groupby(level=0).transform("sum")).rename("all_share")
    by_slot = by_slot.join(overall.fillna(0), on=["unique_id", "slot"])
    by_slot["share"] = (by_slot["y"] + PROFILE_PRIOR * by_slot["all_share"]) / (
        by_slot["wd_total"] + PROFILE_PRIOR)
    return by_slot[["unique_id", "wd", "slot", "share"]]


def _weeks(n: int) -> Any:
    import pandas as pd

    return pd.Timedelta(weeks=n)


def _top_down(train: pd.DataFrame, days: int, spd: int, minutes: int) -> pd.DataFrame:
    """Daily AutoETS (weekly season) x intraday profile, for ``days`` days after train's end."""
    import pandas as pd
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    daily = (train.assign(ds=train["ds"].dt.normalize())
             .groupby(["unique_id", "ds"], as_index=False)["y"].sum())
    sf = StatsForecast(models=[AutoETS(season_length=7, model="ANA", alias=TOP_DOWN)],
                       freq="D", n_jobs=1)
    fc = sf.forecast(df=daily, h=days)
    fc = fc.reset_index() if "unique_id" not in fc.columns else fc
    slots = pd.DataFrame({"slot": pd.to_timedelta(range(0, 1440, minutes), unit="min")})
    grid = fc.merge(slots, how="cross")
    grid["wd"] = grid["ds"].dt.dayofweek
    grid = grid.merge(_profile(train), on=["unique_id", "wd", "slot"], how="left")
    grid["ds"] = grid["ds"] + grid["slot"]
    grid[TOP_DOWN] = grid[TOP_DOWN].clip(lower=0) * grid["share"].fillna(1.0 / spd)
    return grid[["unique_id", "ds", TOP_DOWN]]


def _interval_models(train: pd.DataFrame, h: int, spd: int, weeks: int) -> pd.DataFrame:
    from statsforecast import StatsForecast
    from statsforecast.models import SeasonalNaive, SeasonalWindowAverage

    models = [SeasonalNaive(season_length=7 * spd, alias=BASELINE)]
    if weeks >= 2:
        models.append(SeasonalWindowAverage(season_length=7 * spd,
                                            window_size=min(PROFILE_WEEKS, weeks),
                                            alias=WINDOW_AVG))
    sf = StatsForecast(models=models, freq=f"{1440 // spd}min", n_jobs=1)
    fc = sf.forecast(df=train[["unique_id", "ds", "y"]], h=h)
    return fc.reset_index() if "unique_id" not in fc.columns else fc


def _predict(train: pd.DataFrame, days: int, spd: int, minutes: int) -> pd.DataFrame:
    weeks = int((train.groupby("unique_id")["ds"].count().min()) // (7 * spd))
    fc = _interval_models(train, days * spd, spd, weeks)
    return fc.merge(_top_down(train, days, spd, minutes), on=["unique_id", "ds"], how="left")


def _score(frame: pd.DataFrame, model: str) -> pd.DataFrame:
    g = frame.assign(err=(frame[model] - frame["y"]).abs(), diff=frame[model] - frame["y"])
    agg = g.groupby("unique_id").agg(actual=("y", "sum"), err=("err", "sum"), diff=("diff", "sum"))
    denom = agg["actual"].where(agg["actual"] > 0)
    return agg.assign(wape=agg["err"] / denom, bias=agg["diff"] / denom)[["wape", "bias"]]


def _backtest(clean: pd.DataFrame, raw: pd.DataFrame, weeks: int, spd: int, minutes: int
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out each of the last ``weeks`` weeks in turn; score every model on the raw actuals."""
    import pandas as pd

    end = clean["ds"].max() + pd.Timedelta(minutes=minutes)
    parts = []
    for k in range(weeks, 0, -1):
        cutoff = end - _weeks(k)
        train = clean[clean["ds"] < cutoff]
        pred = _predict(train, 7, spd, minutes)
        parts.append(pred.merge(raw[["unique_id", "ds", "y"]], on=["unique_id", "ds"]))
    scored = pd.concat(parts, ignore_index=True)
    models = [m for m in (TOP_DOWN, WINDOW_AVG) if m in scored.columns]
    rows = []
    base = _score(scored, BASELINE)
    for m in models:
        s = _score(scored, m)
        rows.append(s.assign(model=m, baseline_wape=base["wape"], baseline_bias=base["bias"]))
    table = pd.concat(rows).reset_index()
    return table, parts[-1]


def forecast(
    ws: Workspace,
    days: int = 7,
    interval: int | None = None,
    queue: str | None = None,
    channels: list[str] | None = None,
    backtest_weeks: int | None = None,
) -> ForecastResult:
    """Forecast contacts and AHT per queue x channel x interval for the next ``days`` days.

    >>> result = forecast(ws, days=7, interval=30)             # doctest: +SKIP
    >>> result.backtest[["queue", "wape", "baseline_wape"]]    # doctest: +SKIP
    """
    import numpy as np
    import pandas as pd

    settings = ws.settings.wfm
    minutes = check_interval(interval if interval is not None else settings.interval_minutes)
    if not isinstance(days, int) or days < 1 or days > 366:
        raise InputError(f"forecast days must be between 1 and 366, got {days}")
    weeks = settings.backtest_weeks if backtest_weeks is None else backtest_weeks
    if weeks < 0:
        raise InputError(f"backtest weeks must be 0 or more, got {weeks}")
    spd = 1440 // minutes
    hist = load_history(ws, minutes, queue=queue, channels=channels)
    require_history(hist, queue)
    hist["unique_id"] = hist["queue"] + "\x1f" + hist["channel"]
    raw = hist.rename(columns={"interval_start": "ds", "calls": "y"})
    raw["y"] = raw["y"].astype("float64")
    length = raw.groupby("unique_id")["ds"].count() / spd
    skipped = [
        {"queue": u.split("\x1f")[0], "channel": u.split("\x1f")[1],
         "reason": f"only {n:.0f} days of history; need {MIN_HISTORY_DAYS}"}
        for u, n in length.items() if n < MIN_HISTORY_DAYS
    ]
    keep = length[length >= MIN_HISTORY_DAYS].index
    if len(keep) == 0:
        first = skipped[0]
        raise NotFoundError(
            f"not enough history to forecast: queue {first['queue']!r} has {first['reason']}",
            "load at least two weeks of contacts",
        )
    raw = raw[raw["unique_id"].isin(keep)].reset_index(drop=True)
    holidays = _holidays(ws)
    clean = _clean(raw[["unique_id", "ds", "y"]], settings.incident_factor, holidays)

    # backtest only as many weeks as leave at least two weeks to train on
    usable = int(length[keep].min() // 7) - 2
    weeks = max(0, min(weeks, usable))
    if weeks:
        backtest, holdout = _backtest(clean, raw, weeks, spd, minutes)
    else:
        backtest, holdout = pd.DataFrame(), pd.DataFrame()

    pred = _predict(clean[["unique_id", "ds", "y"]], days, spd, minutes)
    if not backtest.empty:
        best = backtest.sort_values("wape").drop_duplicates("unique_id").set_index("unique_id")
        chosen = best["model"]
        backtest["chosen"] = backtest["model"] == backtest["unique_id"].map(chosen)
    else:
        chosen = pd.Series(TOP_DOWN, index=keep)
    pred["model"] = pred["unique_id"].map(chosen).fillna(TOP_DOWN)
    picked = np.where(pred["model"] == WINDOW_AVG, pred.get(WINDOW_AVG, pred[TOP_DOWN]),
                      pred[TOP_DOWN])
    pred["calls"] = np.clip(np.nan_to_num(picked.astype(float)), 0, None)
    pred["holiday"] = pred["ds"].dt.date.isin(holidays)
    pred = _holiday_effect(pred, raw, clean, holidays)
    pred["aht_s"] = _aht(hist, pred)
    out = pred.assign(queue=pred["unique_id"].str.split("\x1f").str[0],
                      channel=pred["unique_id"].str.split("\x1f").str[1])
    out = out.rename(columns={"ds": "interval_start"})[
        ["queue", "channel", "interval_start", "calls", "aht_s", "model", "holiday"]]
    return ForecastResult(
        forecast=out.sort_values(["queue", "channel", "interval_start"]).reset_index(drop=True),
        backtest=_tidy_backtest(backtest, weeks),
        holdout=_tidy_holdout(holdout, chosen),
        skipped=skipped,
        history_end=raw["ds"].max() + pd.Timedelta(minutes=minutes),
        interval=minutes,
    )


def _holiday_effect(pred: pd.DataFrame, raw: pd.DataFrame, clean: pd.DataFrame,
                    holidays: set[dt.date]) -> pd.DataFrame:
    """Scale future holidays by the median holiday/usual volume ratio seen in the history."""
    if not pred["holiday"].any():
        return pred
    days = raw.assign(day=raw["ds"].dt.normalize())
    past = days[days["day"].dt.date.isin(holidays)]
    if past.empty:
        return pred
    actual = past.groupby("unique_id")["y"].sum()
    usual = clean[clean["ds"].dt.normalize().dt.date.isin(holidays)].groupby("unique_id")["y"].sum()
    ratio = (actual / usual.where(usual > 0)).fillna(1.0)
    factor = pred["unique_id"].map(ratio).fillna(1.0)
    pred["calls"] = pred["calls"].where(~pred["holiday"], pred["calls"] * factor)
    return pred


def _aht(hist: pd.DataFrame, pred: pd.DataFrame) -> Any:
    """AHT per series x weekday x slot over the last PROFILE_WEEKS weeks, for pred's intervals."""
    end = hist["interval_start"].max()
    h = hist[hist["interval_start"] > end - _weeks(PROFILE_WEEKS)].copy()
    h["wd"] = h["interval_start"].dt.dayofweek
    h["slot"] = h["interval_start"] - h["interval_start"].dt.normalize()
    series = hist.groupby("unique_id")[["handle_s", "answered"]].sum()
    mean = (series["handle_s"] / series["answered"].where(series["answered"] > 0)).rename("mean")
    g = h.groupby(["unique_id", "wd", "slot"], as_index=False)[["handle_s", "answered"]].sum()
    g = g.join(mean, on="unique_id")
    g["aht_s"] = (g["handle_s"] + AHT_PRIOR * g["mean"]) / (g["answered"] + AHT_PRIOR)
    p = pred[["unique_id", "ds"]].assign(wd=pred["ds"].dt.dayofweek,
                                         slot=pred["ds"] - pred["ds"].dt.normalize())
    p = p.merge(g[["unique_id", "wd", "slot", "aht_s"]], on=["unique_id", "wd", "slot"],
                how="left")
    return p["aht_s"].fillna(p["unique_id"].map(mean)).to_numpy()


def _tidy_backtest(table: pd.DataFrame, weeks: int) -> pd.DataFrame:
    import pandas as pd

    cols = ["queue", "channel", "model", "wape", "bias", "baseline_wape", "baseline_bias",
            "beats_baseline", "chosen", "weeks"]
    if table.empty:
        return pd.DataFrame(columns=cols)
    t = table.copy()
    t["queue"] = t["unique_id"].str.split("\x1f").str[0]
    t["channel"] = t["unique_id"].str.split("\x1f").str[1]
    t["beats_baseline"] = t["wape"] < t["baseline_wape"]
    t["weeks"] = weeks
    return t[cols].sort_values(["queue", "channel", "model"]).reset_index(drop=True)


def _tidy_holdout(holdout: pd.DataFrame, chosen: pd.Series) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    cols = ["queue", "channel", "interval_start", "actual", "forecast", "baseline"]
    if holdout.empty:
        return pd.DataFrame(columns=cols)
    h = holdout.copy()
    pick = h["unique_id"].map(chosen).fillna(TOP_DOWN)
    if WINDOW_AVG in h.columns:
        h["forecast"] = np.where(pick == WINDOW_AVG, h[WINDOW_AVG], h[TOP_DOWN])
    else:
        h["forecast"] = h[TOP_DOWN]
    h["queue"] = h["unique_id"].str.split("\x1f").str[0]
    h["channel"] = h["unique_id"].str.split("\x1f").str[1]
    h = h.rename(columns={"ds": "interval_start", "y": "actual", BASELINE: "baseline"})
    h["forecast"] = h["forecast"].clip(lower=0)
    return h[cols].reset_index(drop=True)
