"""`cxlens report`: one self-contained HTML file for a month (ECharts and data inlined).

The numbers come from the same functions as the web UI (:mod:`cxlens.server.data`, which calls
:mod:`cxlens.metrics`), so the report for October equals the Overview page filtered to
2026-10-01..2026-10-31. The previous month is computed the same way for the comparison.

>>> import cxlens
>>> ws = cxlens.open("demo-workspace")                         # doctest: +SKIP
>>> build(ws, "2026-10", Path("report.html"))["kpis"]          # doctest: +SKIP
14
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from cxlens.errors import InputError
from cxlens.workspace import Workspace

HERE = Path(__file__).parent / "server"


def previous_month(period: str) -> str:
    from cxlens.server.filters import month_bounds

    first, _ = month_bounds(period)
    last_of_previous = first - timedelta(days=1)
    return f"{last_of_previous.year:04d}-{last_of_previous.month:02d}"


def latest_full_month(bounds: tuple[date, date]) -> str:
    """The last calendar month the data covers entirely (else the month of the last day)."""
    first, last = bounds
    following = last + timedelta(days=1)
    candidate = (
        date(last.year, last.month, 1)
        if following.day == 1
        else (date(last.year, last.month, 1) - timedelta(days=1)).replace(day=1)
    )
    if candidate < date(first.year, first.month, 1) or (candidate < first):
        candidate = date(last.year, last.month, 1)
    return f"{candidate.year:04d}-{candidate.month:02d}"


def collect(ws: Workspace, period: str, lang: str = "en") -> dict[str, Any]:
    """Everything the report shows, as data (also handy for tests and JSON output)."""
    from cxlens.server import data, views
    from cxlens.server.filters import Filters, month_bounds

    start, end = month_bounds(period)
    bounds = data.data_period(ws)
    if bounds is None:
        raise InputError(
            "the workspace has no contacts to report on", "ingest data or run `cxlens demo` first"
        )
    if end < bounds[0] or start > bounds[1]:
        raise InputError(f"no contacts in {period}", f"the data covers {bounds[0]} .. {bounds[1]}")
    month = Filters(start=start, end=end)
    prev_start, prev_end = month_bounds(previous_month(period))
    before = Filters(start=prev_start, end=prev_end)
    current = views.overview(ws, month, lang)
    previous = {t["kpi"]: t for t in views.overview(ws, before, lang)["tiles"]}
    tiles = []
    for tile in current["tiles"]:
        prev = previous.get(tile["kpi"], {}).get("value")
        value = tile["value"]
        change = (value - prev) / abs(prev) if value is not None and prev not in (None, 0) else None
        tiles.append(
            {
                **tile,
                "previous": prev,
                "previous_display": data.fmt_value(prev, tile["unit"]),
                "change": change,
                "change_display": ""
                if change is None
                else f"{'+' if change >= 0 else ''}{change * 100:.1f}%",
                "trend": "none"
                if change is None
                else "up"
                if change > 0.0005
                else "down"
                if change < -0.0005
                else "flat",
            }
        )
    journeys = views.journeys_view(ws, month, lang)
    blocks = dict(current["blocks"])
    blocks.update(
        {
            "sankey": journeys["blocks"]["sankey"],
            "fcr_by_reason": journeys["blocks"]["fcr_by_reason"],
            "repeat_drivers": journeys["blocks"]["repeat_drivers"],
        }
    )
    return {
        "period": period,
        "previous_period": previous_month(period),
        "start": start,
        "end": end,
        "data_covers": bounds,
        "tiles": tiles,
        "blocks": blocks,
        "paths": journeys["paths"][:15],
    }


def build(
    ws: Workspace, period: str, out: Path, lang: str = "en", actor: str = "cli"
) -> dict[str, Any]:
    """Write the report for ``period`` (YYYY-MM) to ``out``; the export is audited."""
    import jinja2

    from cxlens import audit
    from cxlens.server.i18n import LANGUAGES, translator

    if lang not in LANGUAGES:
        raise InputError(f"unknown language {lang!r}", f"use one of {', '.join(LANGUAGES)}")
    doc = collect(ws, period, lang)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True
    )
    from cxlens.server.app import _cell

    env.filters["fmt"] = _cell
    html = env.get_template("report.html").render(
        doc=doc,
        t=translator(lang),
        lang=lang,
        echarts=(HERE / "static" / "echarts.min.js").read_text(encoding="utf-8"),
        css=(HERE / "static" / "app.css").read_text(encoding="utf-8"),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        workspace=ws.path.name,
    )
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the target and rename, so a failed run never leaves half a report.
        fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".report-", suffix=".html")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(html)
        os.replace(tmp, out)
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc.strerror}", "choose a writable --out") from exc
    audit.record(ws, actor, "report", period, str(out))
    charts = sum(1 for b in doc["blocks"].values() if b["ok"])
    return {
        "path": str(out),
        "bytes": len(html.encode()),
        "period": period,
        "kpis": len(doc["tiles"]),
        "charts": charts,
    }
