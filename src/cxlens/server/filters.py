"""The filters every page and API call shares: period, channel, queue, tier."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from cxlens.errors import InputError

_SAFE = re.compile(r"^[\w .:@/&+-]{1,80}$", re.UNICODE)
MAX_DAYS = 731


@dataclass(frozen=True)
class Filters:
    """A period of local calendar days [start, end] (both inclusive) and optional dimension values."""

    start: date
    end: date
    channel: str = ""
    queue: str = ""
    tier: str = ""

    @property
    def dims(self) -> dict[str, str]:
        """The dimension filters that are set, as ``metrics`` expects them."""
        return {
            k: v
            for k, v in (("channel", self.channel), ("queue", self.queue), ("tier", self.tier))
            if v
        }

    @property
    def end_exclusive(self) -> date:
        return self.end + timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def query(self, **extra: Any) -> dict[str, str]:
        """Query-string parameters that reproduce these filters (for links)."""
        doc = {k: str(v) for k, v in asdict(self).items() if v}
        doc.update({k: str(v) for k, v in extra.items() if v not in (None, "")})
        return doc

    def key(self) -> dict[str, str]:
        return self.query()


def parse_date(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InputError(f"{name} must be a date YYYY-MM-DD, got {value!r}") from exc


def _value(value: str | None, name: str) -> str:
    value = (value or "").strip()
    if value and not _SAFE.match(value):
        raise InputError(f"invalid {name} {value[:40]!r}", "pick a value from the list")
    return value


def parse(
    start: str | None,
    end: str | None,
    channel: str | None,
    queue: str | None,
    tier: str | None,
    default: tuple[date, date] | None,
) -> Filters:
    """Validate raw query values; a missing period falls back to ``default`` (last 28 data days)."""
    fallback_end = default[1] if default else date.today()
    fallback_start = default[0] if default else fallback_end - timedelta(days=27)
    end_day = parse_date(end, "to") if end else fallback_end
    start_day = (
        parse_date(start, "from")
        if start
        else (
            max(fallback_start, end_day - timedelta(days=27))
            if not end
            else end_day - timedelta(days=27)
        )
    )
    if start_day > end_day:
        raise InputError(
            f"the period starts ({start_day}) after it ends ({end_day})",
            "swap the from and to dates",
        )
    if (end_day - start_day).days > MAX_DAYS:
        raise InputError(f"the period is longer than {MAX_DAYS} days", "choose a shorter period")
    return Filters(
        start=start_day,
        end=end_day,
        channel=_value(channel, "channel"),
        queue=_value(queue, "queue"),
        tier=_value(tier, "tier"),
    )


def month_bounds(period: str) -> tuple[date, date]:
    """``YYYY-MM`` → first and last day of that month."""
    match = re.fullmatch(r"(\d{4})-(\d{2})", period.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise InputError(f"period must be a month YYYY-MM, got {period!r}")
    first = date(int(match.group(1)), int(match.group(2)), 1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, following - timedelta(days=1)
