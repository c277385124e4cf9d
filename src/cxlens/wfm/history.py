"""Contact history for planning: interval counts per queue and channel, and caller patience.

The warehouse does the heavy part (one Ibis aggregate over ``interactions``, the same expression
on DuckDB and PySpark); what comes back is bounded (queues x channels x intervals) and is put on
the local clock in pandas, because staffing happens in local time (``settings.locale.timezone``).

Counted contacts: inbound (or direction unknown) contacts of the planned channels
(``settings.wfm.channels``). Handle time = talk + hold + after-call work of answered contacts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cxlens.errors import NotFoundError
from cxlens.wfm.erlang import check_interval

if TYPE_CHECKING:
    import pandas as pd

    from cxlens.workspace import Workspace

NO_QUEUE = "(none)"
SERIES_COLUMNS = ("queue", "channel")


@dataclass(frozen=True)
class Patience:
    """Mean caller patience of one queue: exponential MLE with answered calls as censored."""

    queue: str
    patience_s: float | None  # None: no abandoned call seen, patience cannot be estimated
    abandoned: int
    waited: int
    exposure_s: float


def _contacts(ws: Workspace, channels: list[str] | None, queue: str | None):  # -> ir.Table
    import ibis

    t = ws.warehouse.table("interactions")
    chosen = channels if channels is not None else list(ws.settings.wfm.channels)
    expr = t.filter(
        t.started_at.notnull(),
        t.direction.isnull() | (t.direction == "inbound"),
        t.channel.isin(chosen),
    )
    expr = expr.mutate(queue=expr.queue.fill_null(NO_QUEUE))
    if queue is not None:
        expr = expr.filter(expr.queue == ibis.literal(queue))
    return expr


def load_history(
    ws: Workspace,
    interval: int = 30,
    queue: str | None = None,
    channels: list[str] | None = None,
) -> pd.DataFrame:
    """Contacts per queue x channel x local interval, with empty intervals filled by zeros.

    Returns columns queue, channel, interval_start (naive local time), calls, answered,
    abandoned, handle_s (sum over answered), wait_s (sum). Empty frame if nothing matches.
    """
    import ibis
    import pandas as pd

    minutes = check_interval(interval)
    base = math.gcd(minutes, 15)  # every real UTC offset is a multiple of 15 minutes
    t = _contacts(ws, channels, queue)
    abandoned = t.abandoned.fill_null(False)
    handle = t.talk_s.fill_null(0) + t.hold_s.fill_null(0) + t.acw_s.fill_null(0)
    agg = (
        t.mutate(
            hour=t.started_at.truncate("h"),
            slot=(t.started_at.minute() // base).cast("int64"),
            is_ab=abandoned.cast("int64"),
            ht=ibis.ifelse(abandoned, 0.0, handle.cast("float64")),
            w=t.wait_s.fill_null(0).cast("float64"),
        )
        .group_by(["queue", "channel", "hour", "slot"])
        .aggregate(calls=ibis._.count(), abandoned=ibis._.is_ab.sum(), handle_s=ibis._.ht.sum(),
                   wait_s=ibis._.w.sum())
        .to_pandas()
    )
    cols = ["queue", "channel", "interval_start", "calls", "answered", "abandoned", "handle_s",
            "wait_s"]
    if agg.empty:
        return pd.DataFrame(columns=cols)
    utc = pd.to_datetime(agg["hour"]) + pd.to_timedelta(agg["slot"] * base, unit="min")
    local = (utc.dt.tz_localize("UTC").dt.tz_convert(ws.settings.locale.timezone)
             .dt.tz_localize(None))
    agg["interval_start"] = local.dt.floor(f"{minutes}min")
    agg["calls"] = agg["calls"].astype("int64")
    agg["abandoned"] = agg["abandoned"].fillna(0).astype("int64")
    agg["answered"] = agg["calls"] - agg["abandoned"]
    summed = (agg.groupby(["queue", "channel", "interval_start"], as_index=False)
              [["calls", "answered", "abandoned", "handle_s", "wait_s"]].sum())
    return _fill_grid(summed, minutes)[cols]


def _fill_grid(frame: pd.DataFrame, minutes: int) -> pd.DataFrame:
    """Zeros for the intervals without contacts, from each series' first day to the last day."""
    import pandas as pd

    end = frame["interval_start"].max().normalize() + pd.Timedelta(days=1)
    parts = []
    for (q, ch), part in frame.groupby(["queue", "channel"], sort=True):
        start = part["interval_start"].min().normalize()
        grid = pd.date_range(start, end, freq=f"{minutes}min", inclusive="left")
        full = part.set_index("interval_start").reindex(grid)
        full.index.name = "interval_start"
        full = full.drop(columns=["queue", "channel"]).fillna(0).reset_index()
        full.insert(0, "channel", ch)
        full.insert(0, "queue", q)
        parts.append(full)
    out = pd.concat(parts, ignore_index=True)
    for col in ("calls", "answered", "abandoned"):
        out[col] = out[col].astype("int64")
    return out


def estimate_patience(ws: Workspace, channels: list[str] | None = None) -> dict[str, Patience]:
    """Mean patience per queue from the warehouse's waits and abandons.

    Exponential patience with right-censoring: an abandoned call shows its patience (its wait);
    an answered call only shows that patience exceeded its wait. The maximum-likelihood mean is
    total time spent waiting (all calls) / number of abandoned calls.
    """
    t = _contacts(ws, channels if channels is not None else ["phone"], None)
    t = t.filter(t.wait_s.notnull())
    rows = (
        t.group_by("queue")
        .aggregate(abandoned=t.abandoned.fill_null(False).cast("int64").sum(),
                   waited=(t.wait_s > 0).cast("int64").sum(),
                   exposure=t.wait_s.cast("float64").sum())
        .to_pyarrow().to_pylist()
    )
    out: dict[str, Patience] = {}
    for row in rows:
        ab = int(row["abandoned"] or 0)
        exposure = float(row["exposure"] or 0.0)
        patience = exposure / ab if ab and exposure > 0 else None
        out[row["queue"]] = Patience(row["queue"], patience, ab, int(row["waited"] or 0), exposure)
    return out


def require_history(frame: pd.DataFrame, queue: str | None) -> None:
    """A clear error when there is nothing to plan from (no forecast is ever invented)."""
    if frame.empty:
        where = f" for queue {queue!r}" if queue else ""
        raise NotFoundError(
            f"no inbound contacts{where} in the warehouse to forecast from",
            "ingest interactions first (cxlens ingest), or check the queue name and wfm.channels",
        )
