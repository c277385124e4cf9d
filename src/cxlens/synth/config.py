"""The knobs of the synthetic contact centre (sizes, period, seed, behaviour rates)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta

from cxlens.errors import InputError

# Local time of the simulated centre is China Standard Time (no DST): UTC = local - 8 h.
LOCAL_UTC_OFFSET_H = 8
# Upper bounds that keep ids unique and the run finite; far above any realistic request.
MAX_CUSTOMERS = 20_000_000
MAX_DAYS = 3_660


@dataclass(frozen=True)
class SynthConfig:
    """What to generate. Build it with :meth:`checked` so bad values fail with a clear message.

    >>> from cxlens.synth import SynthConfig
    >>> SynthConfig.checked(customers=500, days=30, seed=1).customers
    500
    """

    customers: int = 20_000
    days: int = 90
    seed: int = 7
    start: str = "2026-08-01"
    # customers generated together; a chunk's problems and contacts stay inside it
    chunk_customers: int = 2_000
    # mean problems per customer per day (before tier/plan/incident multipliers)
    problem_rate: float = 0.06
    en_share: float = 0.15
    vip_share: float = 0.08
    billing_share: float = 0.45
    duplicate_share: float = 0.02
    household_share: float = 0.12
    incidents: bool = True

    @classmethod
    def checked(cls, **values: object) -> SynthConfig:
        """Validate and build a config; raises :class:`InputError` with what to fix."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(f"unknown synth option(s): {', '.join(unknown)}",
                             f"use {', '.join(sorted(known))}")
        config = cls(**values)  # type: ignore[arg-type]
        config.validate()
        return config

    def validate(self) -> None:
        """Raise :class:`InputError` when a value cannot be generated."""
        for name, upper in (("customers", MAX_CUSTOMERS), ("days", MAX_DAYS),
                            ("chunk_customers", 1_000_000)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise InputError(f"{name} must be a whole number, got {value!r}")
            if value <= 0:
                raise InputError(f"{name} must be positive, got {value}",
                                 f"pass --{name.replace('_', '-')} 1 or more")
            if value > upper:
                raise InputError(f"{name} must be at most {upper:,}, got {value:,}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise InputError(f"seed must be a non-negative whole number, got {self.seed!r}")
        try:
            date.fromisoformat(str(self.start))
        except ValueError as exc:
            raise InputError(f"start must be a date like 2026-08-01, got {self.start!r}") from exc
        for name in ("problem_rate", "en_share", "vip_share", "billing_share",
                     "duplicate_share", "household_share"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0 <= value <= 1:
                raise InputError(f"{name} must be between 0 and 1, got {value!r}")

    @property
    def start_date(self) -> date:
        return date.fromisoformat(str(self.start))

    @property
    def start_utc(self) -> datetime:
        """Local midnight of the first day, as naive UTC."""
        d = self.start_date
        return datetime(d.year, d.month, d.day) - timedelta(hours=LOCAL_UTC_OFFSET_H)

    @property
    def chunks(self) -> int:
        return -(-self.customers // self.chunk_customers)

    def chunk_range(self, chunk: int) -> tuple[int, int]:
        """Global person indices [lo, hi) of one chunk."""
        lo = chunk * self.chunk_customers
        return lo, min(self.customers, lo + self.chunk_customers)
