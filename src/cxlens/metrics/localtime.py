"""Local time for KPI slicing: UTC timestamps shifted by the zone's offset, in Ibis.

Timestamps are stored as naive UTC. A day, week or hour bucket must follow the contact centre's
clock (``settings.locale.timezone``), so the offset is applied in the query. For a zone without
daylight saving in the queried range (Asia/Shanghai) that is one constant shift; across DST
transitions it is a short ``CASE`` over the transitions inside the range, which every Ibis
backend compiles.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import ibis

if TYPE_CHECKING:
    import ibis.expr.types as ir

GRAINS = ("15min", "hour", "day", "week", "month")


def offsets(tz: str, lo: datetime, hi: datetime) -> list[tuple[datetime | None, int]]:
    """[(utc_from, offset_seconds)] covering [lo, hi] (naive UTC); the first has utc_from None."""
    zone = ZoneInfo(tz)

    def off(moment: datetime) -> int:
        aware = moment.replace(tzinfo=UTC).astimezone(zone)
        delta = aware.utcoffset()
        return int(delta.total_seconds()) if delta else 0

    start, end = lo - timedelta(days=1), hi + timedelta(days=1)
    result: list[tuple[datetime | None, int]] = [(None, off(start))]
    step = timedelta(days=1)
    current = start
    while current < end:
        nxt = min(current + step, end)
        if off(nxt) != result[-1][1]:
            # Narrow the change down to the quarter hour (all zones change on a quarter hour).
            a, b = current, nxt
            while b - a > timedelta(minutes=15):
                mid = a + (b - a) / 2
                mid = mid.replace(minute=mid.minute - mid.minute % 15, second=0, microsecond=0)
                if mid <= a:
                    break
                if off(mid) == result[-1][1]:
                    a = mid
                else:
                    b = mid
            result.append((b, off(b)))
        current = nxt
    return result


def to_local(ts: ir.TimestampValue, tz: str, lo: datetime, hi: datetime) -> ir.TimestampValue:
    """``ts`` (naive UTC) as naive local time in ``tz``, exact for instants within [lo, hi]."""
    table = offsets(tz, lo, hi)
    if len(table) == 1:
        return ts + ibis.interval(seconds=table[0][1]) if table[0][1] else ts
    branches = []
    for (_, off), (until, _next) in zip(table, table[1:], strict=False):
        branches.append((ts < ibis.literal(until), ts + ibis.interval(seconds=off)))
    return ibis.cases(*branches, else_=ts + ibis.interval(seconds=table[-1][1]))


def bucket(local: ir.TimestampValue, grain: str) -> ir.TimestampValue:
    """The start of the ``grain`` bucket holding ``local`` (weeks start on Monday)."""
    if grain == "15min":
        return local.truncate("h") + ((local.minute() // 15) * 15).as_interval("m")
    unit = {"hour": "h", "day": "D", "week": "W", "month": "M"}[grain]
    return local.truncate(unit)


def local_midnight_utc(day: date, tz: str) -> datetime:
    """The naive-UTC instant at which local ``day`` begins in ``tz``."""
    aware = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz))
    return aware.astimezone(UTC).replace(tzinfo=None)


def utc_to_local_date(moment: datetime, tz: str) -> date:
    """The local calendar date of a naive-UTC instant."""
    return moment.replace(tzinfo=UTC).astimezone(ZoneInfo(tz)).date()
