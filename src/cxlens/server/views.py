"""What each page shows, computed from the stage modules (metrics, journeys, profile, quality, qa,
wfm). The web pages, the JSON API and the static report all call these functions, so they show
the same numbers.

Every view degrades instead of failing: a module that is not installed, or a table the pipeline
has not filled yet, gives a block with ``ok=False`` and a message, rendered as "no data yet".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cxlens.errors import CxlensError, NotFoundError
from cxlens.server import charts
from cxlens.server.data import (
    Block,
    _is_rate,
    _missing,
    _signed,
    block,
    clean,
    compute,
    compute_many,
    fmt_value,
    kpi_catalog,
    kpi_label,
    overview_tiles,
    records,
    regroup,
    stage_module,
    stored_part,
)
from cxlens.server.filters import Filters
from cxlens.server.i18n import label, value_label
from cxlens.workspace import Workspace

OVERVIEW_TREND_KPI = "offered"


def overview(ws: Workspace, f: Filters, lang: str) -> dict[str, Any]:
    """KPI tiles vs the previous period, trend, weekday × hour peaks, channel mix, top reasons."""
    metrics = stage_module("metrics")
    if metrics is None:
        missing = _missing("metrics", lang)
        return {
            "tiles": [],
            "blocks": {
                k: block(k, None, missing)
                for k in ("trend", "heatmap", "channel_mix", "reasons", "sentiment")
            },
        }
    catalog = kpi_catalog()
    tiles = [_tile(t, catalog, lang) for t in overview_tiles(ws, f)]
    trend_rows = compute(ws, OVERVIEW_TREND_KPI, f, by="channel", grain="day")
    trend = _series_by(trend_rows, "channel", lang)
    blocks = {
        "trend": block(
            "trend", charts.line(trend[0], trend[1], area=True, stack=True) if trend[0] else None
        ),
        "heatmap": heatmap_block(ws, f, lang),
        # Offered is a count, so the channel mix is the trend summed over days (no new query).
        "channel_mix": _share_block(
            "channel_mix", regroup(trend_rows, OVERVIEW_TREND_KPI, "channel"), "channel", lang
        ),
        "reasons": _top_block(
            "reasons",
            compute(ws, OVERVIEW_TREND_KPI, f, by="reason"),
            "reason",
            kpi_label(OVERVIEW_TREND_KPI, lang, catalog),
            lang,
        ),
        "sentiment": _trend_block(
            "sentiment",
            compute(ws, "sentiment_index", f, grain="day"),
            kpi_label("sentiment_index", lang, catalog),
        ),
    }
    return {"tiles": tiles, "blocks": blocks}


def _tile(raw: dict[str, Any], catalog: dict[str, dict[str, str]], lang: str) -> dict[str, Any]:
    """A dashboard tile from a ``metrics.overview`` entry, with display strings."""
    name = str(raw.get("kpi") or "")
    entry = catalog.get(name, {})
    unit = str(raw.get("unit") or entry.get("unit") or "")
    value, previous = raw.get("value"), raw.get("previous")
    no_data = raw.get("status") == "no data" or value is None
    # Rates change in points (81.0% → 83.5% is +2.5 pt); everything else in per cent.
    if _is_rate(unit):
        change, change_display = raw.get("change"), _signed(raw.get("change"), " pt")
    else:
        change, change_display = raw.get("change_pct"), _signed(raw.get("change_pct"), "%")
    better = raw.get("higher_is_better")
    trend = (
        "none"
        if change is None
        else "flat"
        if abs(change) < 0.05
        else ("up" if change > 0 else "down")
    )
    if better is False and trend in {"up", "down"}:
        trend = "down" if trend == "up" else "up"  # colour by good/bad, not by direction
    return {
        "kpi": name,
        "label": kpi_label(name, lang, catalog),
        "unit": unit,
        "value": value,
        "previous": previous,
        "change": change,
        "no_data": no_data,
        "definition": entry.get("definition", ""),
        "display": label("no_data", lang) if no_data else fmt_value(value, unit),
        "previous_display": fmt_value(previous, unit),
        "change_display": change_display,
        "trend": trend,
    }


def _series_by(
    rows: list[dict[str, Any]], dim: str, lang: str, value: str = "value"
) -> tuple[list[str], dict[str, list[Any]]]:
    periods = sorted({str(r.get("period"))[:10] for r in rows if r.get("period") is not None})
    names = sorted({str(r.get(dim)) for r in rows})
    index = {(str(r.get("period"))[:10], str(r.get(dim))): r.get(value) for r in rows}
    return periods, {value_label(n, lang): [index.get((p, n)) for p in periods] for n in names}


def _share_block(block_id: str, rows: list[dict[str, Any]], dim: str, lang: str) -> Block:
    items = [
        (value_label(r.get(dim), lang), r.get("value") or 0) for r in rows if r.get(dim) is not None
    ]
    items.sort(key=lambda kv: -float(kv[1]))
    return block(block_id, charts.pie(items) if items else None, rows=rows)


def _top_block(
    block_id: str,
    rows: list[dict[str, Any]],
    dim: str,
    name: str,
    lang: str,
    top: int = 10,
    percent: bool = False,
) -> Block:
    items = sorted(
        (r for r in rows if r.get(dim) is not None and r.get("value") is not None),
        key=lambda r: -float(r["value"]),
    )[:top]
    items.reverse()  # largest on top in a horizontal bar chart
    option = (
        charts.bars(
            [value_label(r[dim], lang) for r in items],
            {name: [r["value"] for r in items]},
            horizontal=True,
            percent=percent,
        )
        if items
        else None
    )
    return block(block_id, option, rows=rows)


def _trend_block(
    block_id: str, rows: list[dict[str, Any]], name: str, percent: bool = False
) -> Block:
    rows = [r for r in rows if r.get("period") is not None]
    rows.sort(key=lambda r: str(r["period"]))
    option = (
        charts.line(
            [str(r["period"])[:10] for r in rows],
            {name: [r.get("value") for r in rows]},
            percent=percent,
        )
        if rows
        else None
    )
    return block(block_id, option, rows=rows)


def heatmap_block(ws: Workspace, f: Filters, lang: str) -> Block:
    """Contacts by local weekday × hour over the period (the peaks)."""
    metrics = stage_module("metrics")
    if metrics is None or not hasattr(metrics, "heatmap"):
        return block("heatmap", None, _missing("metrics", lang))
    rows = records(metrics.heatmap(ws, start=f.start, end=f.end, filters=f.dims))
    cells = [(int(r["weekday"]), int(r["hour"]), float(r.get("contacts") or 0)) for r in rows]
    names = label("weekday_names", lang).split(",")
    busy = any(v for _, _, v in cells)  # 168 zero cells are "no contacts", not a chart
    return block("heatmap", charts.heatmap(cells, names) if busy else None, rows=rows)


def journeys_view(ws: Workspace, f: Filters, lang: str) -> dict[str, Any]:
    """Sankey of channel paths, true vs channel FCR by reason, repeat-contact drivers."""
    catalog = kpi_catalog()
    paths = journey_paths(ws, f)
    by_reason = compute_many(ws, ["fcr_true", "fcr_channel", "repeat_rate"], f, by="reason")
    fcr_true = by_reason.get("fcr_true", [])
    fcr_channel = by_reason.get("fcr_channel", [])
    reasons = sorted(
        {str(r.get("reason")) for r in fcr_true + fcr_channel if r.get("reason") is not None}
    )
    true_by = {str(r.get("reason")): r.get("value") for r in fcr_true}
    chan_by = {str(r.get("reason")): r.get("value") for r in fcr_channel}
    fcr_option = (
        charts.bars(
            [value_label(r, lang) for r in reasons],
            {
                kpi_label("fcr_channel", lang, catalog): [chan_by.get(r) for r in reasons],
                kpi_label("fcr_true", lang, catalog): [true_by.get(r) for r in reasons],
            },
            percent=True,
        )
        if reasons
        else None
    )
    repeat = by_reason.get("repeat_rate", [])
    tiles = [
        _tile(t, catalog, lang)
        for t in overview_tiles(ws, f)
        if str(t.get("kpi")) in {"fcr_true", "fcr_channel", "repeat_rate", "contacts_per_customer"}
    ]
    message = "" if stage_module("journeys") else _missing("journeys", lang)
    return {
        "tiles": tiles,
        "paths": paths[:25],
        "blocks": {
            "sankey": block(
                "sankey",
                charts.sankey(
                    [(p["path"], p["journeys"]) for p in paths],
                    display=lambda c: value_label(c, lang),
                    single=label("only_contact", lang),
                )
                if paths
                else None,
                message,
            ),
            "fcr_by_reason": block(
                "fcr_by_reason",
                fcr_option,
                message,
                rows={"fcr_true": fcr_true, "fcr_channel": fcr_channel},
            ),
            "repeat_drivers": _top_block(
                "repeat_drivers",
                repeat,
                "reason",
                kpi_label("repeat_rate", lang, catalog),
                lang,
                percent=True,
            ),
        },
    }


def journey_paths(ws: Workspace, f: Filters, top: int = 40) -> list[dict[str, Any]]:
    """The most common channel paths of journeys that started in the period."""
    j = ws.warehouse.table("journeys")
    start = datetime.combine(f.start, datetime.min.time())
    end = datetime.combine(f.end_exclusive, datetime.min.time())
    zone = ZoneInfo(ws.settings.locale.timezone)
    # Journey times are naive UTC; the period is in local days, so shift the bounds.
    # Each bound uses its own offset, so a period spanning a DST change is still exact.
    lo = start - (zone.utcoffset(start) or timedelta(0))
    hi = end - (zone.utcoffset(end) or timedelta(0))
    raw = getattr(ws.warehouse.store, "raw", None)
    if raw is not None:
        # Plain SQL with bound values on DuckDB: compiling the Ibis expression cost more than
        # running it (a fresh filter's page waits for both).
        sql = (
            "SELECT channel_path AS path, count(*) AS journeys, "
            "sum(CAST(resolved AS BIGINT)) AS resolved FROM journeys "
            "WHERE started_at >= ? AND started_at < ? AND channel_path IS NOT NULL "
            "AND (? = '' OR contains(channel_path, ?)) "
            "GROUP BY channel_path ORDER BY journeys DESC, path LIMIT ?"
        )
        found = raw.execute(sql, [lo, hi, f.channel, f.channel, top])
        names = [d[0] for d in found.description]
        return [clean(dict(zip(names, row, strict=True))) for row in found.fetchall()]
    expr = j.filter((j.started_at >= lo) & (j.started_at < hi) & j.channel_path.notnull())
    if f.channel:
        expr = expr.filter(expr.channel_path.contains(f.channel))
    rows = expr.group_by(path=expr.channel_path).aggregate(
        journeys=expr.count(), resolved=expr.resolved.cast("int64").sum()
    )
    return records(rows.order_by([rows.journeys.desc(), rows.path]).limit(top).to_pyarrow())


def agents_view(ws: Workspace, f: Filters, lang: str) -> dict[str, Any]:
    """Handled, AHT, FCR, CSAT per agent, team and queue, and the QA scorecards."""
    catalog = kpi_catalog()
    kpis = [k for k in ("handled", "aht", "fcr_channel", "fcr_true", "csat") if k in catalog]
    merged: dict[str, dict[str, dict[str, Any]]] = {"queue": {}, "team": {}, "agent": {}}
    # One query for all KPIs by queue and one by team × agent (teams re-aggregated from agents),
    # each read from a KPI rollup when it is fresh.
    by_queue = compute_many(ws, kpis, f, by="queue")
    by_agent = compute_many(ws, kpis, f, by=["team", "agent"])
    for kpi in kpis:
        per_agent = by_agent.get(kpi, [])
        slices = {
            "queue": by_queue.get(kpi, []),
            "agent": per_agent,
            "team": regroup(per_agent, kpi, "team"),
        }
        for dim, rows in slices.items():
            for r in rows:
                key = r.get(dim)
                if key is None:
                    continue
                entry = merged[dim].setdefault(str(key), {dim: key})
                entry[kpi] = r.get("value")
                if dim == "agent":
                    entry["team"] = r.get("team")
    tables = {
        dim: sorted(rows.values(), key=lambda r: -(r.get("handled") or 0))
        for dim, rows in merged.items()
    }
    queue_rows = tables.get("queue", [])
    aht = (
        charts.bars(
            [r["queue"] for r in queue_rows],
            {kpi_label("aht", lang, catalog): [r.get("aht") for r in queue_rows]},
            y_name="s",
        )
        if queue_rows and "aht" in kpis
        else None
    )
    handled = (
        charts.bars(
            [r["queue"] for r in queue_rows],
            {kpi_label("handled", lang, catalog): [r.get("handled") for r in queue_rows]},
        )
        if queue_rows and "handled" in kpis
        else None
    )
    scorecards: list[dict[str, Any]] = []
    qa = stage_module("qa")
    if qa is not None and hasattr(qa, "scorecards"):
        scorecards = stored_part(
            ("scorecards", "agent"), lambda: records(qa.scorecards(ws, by="agent"))
        )
    missing = "" if catalog else _missing("metrics", lang)
    return {
        "kpis": [
            {"kpi": k, "label": kpi_label(k, lang, catalog), "unit": catalog[k]["unit"]}
            for k in kpis
        ],
        "tables": tables,
        "scorecards": scorecards,
        "blocks": {
            "handled_by_queue": block("handled_by_queue", handled, missing),
            "aht_by_queue": block("aht_by_queue", aht, missing),
            "sentiment": _trend_block(
                "sentiment",
                compute(ws, "sentiment_index", f, grain="day"),
                kpi_label("sentiment_index", lang, catalog),
            ),
        },
    }


def quality_view(ws: Workspace, lang: str) -> dict[str, Any]:
    """The connectors' data-quality report plus stored vs quarantined rows per table."""
    from cxlens.server.gate import table_counts

    counts = table_counts(ws)
    q = ws.warehouse.table("quarantine")
    by_reason = records(
        q.group_by(["record_table", "reason"])
        .aggregate(rows=q.count())
        .order_by(["record_table", "reason"])
        .to_pyarrow()
    )
    tables = [
        t
        for t, n in counts.items()
        if n and t not in {"quarantine", "stage_runs", "audit_log", "users"}
    ]
    quarantined = {}
    for r in by_reason:
        quarantined[r["record_table"]] = quarantined.get(r["record_table"], 0) + r["rows"]
    option = (
        charts.bars(
            tables,
            {
                label("rows", lang): [counts[t] for t in tables],
                "quarantine": [quarantined.get(t, 0) for t in tables],
            },
            horizontal=True,
        )
        if tables
        else None
    )
    report: dict[str, Any] | None = None
    quality = stage_module("quality")
    if quality is not None and hasattr(quality, "report"):
        report = clean(quality.report(ws))
    return {
        "counts": counts,
        "quarantine": by_reason,
        "report": report,
        "blocks": {"rows": block("rows", option)},
    }


def workforce_view(ws: Workspace, f: Filters, lang: str) -> dict[str, Any]:
    """Forecast vs actual (held-out last week, then the next 7 days), the staffing plan with its
    peaks, and the average weekday × hour load, all from ``cxlens.wfm``."""
    wfm = stage_module("wfm")
    view: dict[str, Any] = {"plan": [], "summary": {}, "blocks": {}}
    if wfm is None:
        missing = _missing("wfm", lang)
        view["blocks"] = {k: block(k, None, missing) for k in ("forecast", "staffing", "heatmap")}
        return view
    fva, plan, peaks, message = _workforce_parts(ws, wfm, f.queue or None)
    sums: dict[str, list[float | None]] = {}
    for r in fva:
        if f.channel and r.get("channel") != f.channel:
            continue
        slot = sums.setdefault(str(r["interval_start"])[:16].replace("T", " "), [None, None, None])
        for i, col in enumerate(("actual", "forecast", "baseline")):
            if r.get(col) is not None:
                slot[i] = (slot[i] or 0.0) + float(r[col])
    times = sorted(sums)
    option = (
        charts.line(
            times,
            {
                label("contacts", lang): [sums[t][0] for t in times],
                "forecast": [sums[t][1] for t in times],
                "seasonal naive": [sums[t][2] for t in times],
            },
        )
        if times
        else None
    )
    staffing: dict[str, float] = {}
    for r in plan:
        if f.channel and r.get("channel") != f.channel:
            continue
        key = str(r.get("interval_start"))[:16].replace("T", " ")
        staffing[key] = staffing.get(key, 0.0) + float(r.get("scheduled_agents") or 0)
    slots = sorted(staffing)
    staff_option = (
        charts.line(slots, {"scheduled agents": [staffing[s] for s in slots]}, area=True)
        if slots
        else None
    )
    cells = [(int(r["weekday"]), int(r["hour"]), float(r.get("contacts") or 0)) for r in peaks]
    names = label("weekday_names", lang).split(",")
    shown = [r for r in plan if r.get("peak")] or plan
    view["plan"] = [
        {
            k: r.get(k)
            for k in (
                "queue",
                "channel",
                "interval_start",
                "calls",
                "aht_s",
                "agents",
                "scheduled_agents",
                "service_level",
                "occupancy",
                "peak",
            )
            if k in r
        }
        for r in shown[:300]
    ]
    view["summary"] = {
        "intervals": len(plan),
        "peak_intervals": sum(1 for r in plan if r.get("peak")),
        "max_scheduled": max(staffing.values(), default=None),
    }
    view["blocks"] = {
        "forecast": block("forecast", option, message),
        "staffing": block("staffing", staff_option, message),
        "heatmap": block("heatmap", charts.heatmap(cells, names) if cells else None, message),
    }
    return view


def _wfm_part(ws: Workspace, wfm: Any, queue: str | None) -> dict[str, Any]:
    """Forecast vs actual, staffing plan and peaks of one queue (None: all), or why not."""
    try:
        return {
            "fva": records(wfm.forecast_vs_actual(ws, queue=queue, days=7, interval=30)),
            "plan": records(wfm.staffing_plan(ws, days=7, interval=30, queue=queue)),
            "peaks": records(wfm.peak_heatmap(ws, queue=queue)),
            "message": "",
        }
    except CxlensError as exc:  # e.g. a queue with no history: say so, invent nothing
        return {"fva": [], "plan": [], "peaks": [], "message": str(exc)}


def _workforce_parts(
    ws: Workspace, wfm: Any, queue: str | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], str]:
    """The workforce figures of ``queue``, kept with the stored views of this data state.

    Forecasts and staffing plans are fitted per queue × channel series, so a queue's rows are
    the all-queues rows of that queue (a test checks it): a queue picked in the filter re-slices
    the stored all-queues fit instead of fitting again. Only its peak heatmap (a mean over the
    queue's own days) is one more query.
    """
    every = stored_part(("wfm", None), lambda: _wfm_part(ws, wfm, None))
    if queue is None or every["message"]:
        return every["fva"], every["plan"], every["peaks"], every["message"]
    fva = [r for r in every["fva"] if r.get("queue") == queue]
    plan = [r for r in every["plan"] if r.get("queue") == queue]
    if not fva:  # not a series of the all-queues fit (no history): ask wfm, which says why
        own = stored_part(("wfm", queue), lambda: _wfm_part(ws, wfm, queue))
        return own["fva"], own["plan"], own["peaks"], own["message"]
    try:
        peaks = stored_part(
            ("wfm_peaks", queue), lambda: records(wfm.peak_heatmap(ws, queue=queue))
        )
    except CxlensError as exc:
        return fva, plan, [], str(exc)
    return fva, plan, peaks, ""


def contacts_view(ws: Workspace, kpi: str, f: Filters, limit: int = 500) -> dict[str, Any]:
    """The contacts behind a KPI tile (drill-down), newest first."""
    metrics = stage_module("metrics")
    if metrics is None:
        raise NotFoundError("the KPI layer is not installed", "install cxlens with metrics")
    if kpi not in metrics.KPIS:
        raise NotFoundError(
            f"unknown KPI {kpi!r}", "known KPIs: " + ", ".join(sorted(metrics.KPIS))
        )
    frame = metrics.contacts(ws, kpi, start=f.start, end=f.end, filters=f.dims, limit=limit + 1)
    rows = records(frame)
    columns = (
        [str(c) for c in frame.columns]
        if hasattr(frame, "columns")
        else (list(rows[0]) if rows else [])
    )
    return {"kpi": kpi, "rows": rows[:limit], "columns": columns, "more": len(rows) > limit}


def customer_view(ws: Workspace, identifier: str, actor: str) -> dict[str, Any]:
    """One customer's 360 profile with the cross-channel timeline; ``profile.lookup`` writes
    the read to the audit log with ``actor`` (the user name)."""
    profile = stage_module("profile")
    if profile is None:
        raise NotFoundError(
            "customer profiles are not installed yet", "install cxlens with the profile stage"
        )
    return clean(profile.lookup(ws, identifier, actor=actor))  # type: ignore[no-any-return]
