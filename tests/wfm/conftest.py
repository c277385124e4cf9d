"""A small generated contact history with daily and weekly seasonality (before/without synth)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def generate_history(
    ws,
    days: int = 35,
    start: str = "2026-06-01",
    queues: tuple[str, ...] = ("billing", "tech"),
    channels: tuple[str, ...] = ("phone",),
    daily_calls: float = 600.0,
    incident_day: int | None = None,
    seed: int = 3,
    utc_offset_h: int = 8,
) -> pd.DataFrame:
    """Insert Poisson arrivals (busy 9-18 local, quiet weekends) into ``interactions``."""
    rng = np.random.default_rng(seed)
    rows = []
    minutes = np.arange(0, 1440, 15)
    hour = minutes / 60
    shape = np.exp(-((hour - 11) / 2.5) ** 2) + 0.8 * np.exp(-((hour - 15.5) / 2.0) ** 2) + 0.03
    shape = shape / shape.sum()
    day0 = pd.Timestamp(start)
    for qi, queue in enumerate(queues):
        for channel in channels:
            scale = daily_calls * (1 + 0.5 * qi) * (0.5 if channel == "chat" else 1.0)
            for d in range(days):
                day = day0 + pd.Timedelta(days=d)
                weekly = 0.45 if day.dayofweek >= 5 else (1.15 if day.dayofweek == 0 else 1.0)
                spike = 3.0 if incident_day is not None and d == incident_day else 1.0
                counts = rng.poisson(scale * weekly * spike * shape)
                for m, c in zip(minutes, counts, strict=True):
                    if not c:
                        continue
                    offsets = rng.uniform(0, 15 * 60, c)
                    for off in offsets:
                        local = day + pd.Timedelta(minutes=int(m)) + pd.Timedelta(seconds=float(off))
                        wait = float(rng.exponential(30.0))
                        abandoned = bool(rng.random() < 0.05)
                        rows.append({
                            "source": "gen", "source_id": f"{queue}-{channel}-{len(rows)}",
                            "channel": channel, "direction": "inbound", "queue": queue,
                            "started_at": local - pd.Timedelta(hours=utc_offset_h),
                            "wait_s": wait, "abandoned": abandoned,
                            "talk_s": None if abandoned else float(rng.gamma(4, 40)),
                            "hold_s": 0.0, "acw_s": None if abandoned else 30.0,
                        })
    frame = pd.DataFrame(rows)
    frame["interaction_id"] = "gen:" + frame["source_id"]
    frame["started_at"] = frame["started_at"].dt.floor("s")
    ws.warehouse.append("interactions", frame)
    return frame


@pytest.fixture(scope="module")
def history_ws(tmp_path_factory):
    """A DuckDB workspace with 35 days of two phone queues (module-scoped: built once)."""
    import cxlens
    from cxlens.config import load_settings

    settings = load_settings(None, environ={})
    ws = cxlens.init(tmp_path_factory.mktemp("wfm") / "ws", settings)
    generate_history(ws)
    yield ws
    ws.close()


@pytest.fixture
def make_history():
    """The generator as a fixture: ``make_history(ws, days=..., ...)``."""
    return generate_history
