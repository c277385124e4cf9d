"""`cxlens demo`: synth → warehouse → every stage → summary → report → serve.

A re-run reuses the workspace: data is generated only when the warehouse has no interactions,
and the pipeline skips stages whose inputs did not change.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cxlens.errors import CxlensError
from cxlens.workspace import Workspace

DEMO_USER = ("demo", "demo")
Say = Callable[[str], Any] | None


def _say(say: Say, text: str) -> None:
    if say is not None:
        say(text)


def build(
    workspace: Path | str, customers: int = 20_000, days: int = 90, seed: int = 7, say: Say = None
) -> dict[str, Any]:
    """Build (or refresh) a demo workspace; returns what is in it.

    >>> summary = build("demo-workspace", customers=2_000, days=30)   # doctest: +SKIP
    >>> summary["tables"]["interactions"] > 0                          # doctest: +SKIP
    True
    """
    from cxlens import pipeline, users
    from cxlens.workspace import init

    t0 = time.perf_counter()
    path = Path(workspace)
    ws = init(path)
    try:
        summary: dict[str, Any] = {"workspace": str(path.resolve())}
        # the store's own count: an Ibis scalar .execute() compiles and goes through pandas
        interactions = ws.warehouse.count("interactions")
        if interactions == 0:
            from cxlens import synth

            _say(say, f"generating {customers:,} customers over {days} days (seed {seed})...")
            config = synth.SynthConfig.checked(customers=customers, days=days, seed=seed)
            summary["synth"] = synth.generate(ws, config)
        else:
            _say(say, f"reusing {interactions:,} interactions already in {path}")
        summary["stages"] = pipeline.run(
            ws, progress=lambda name, what: _say(say, f"stage {name}: {what}...")
        )
        if users.get_user(ws, DEMO_USER[0]) is None:
            users.add_user(ws, DEMO_USER[0], "admin", DEMO_USER[1], check_policy=False)
        summary["login"] = {"username": DEMO_USER[0], "password": DEMO_USER[1]}
        summary["tables"] = ws.warehouse.counts()
        summary.update(_kpis_and_report(ws, say))
    finally:
        ws.close()
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    return summary


def _kpis_and_report(ws: Workspace, say: Say) -> dict[str, Any]:
    from cxlens import report
    from cxlens.server import data, views
    from cxlens.server.filters import Filters

    out: dict[str, Any] = {"period": None, "kpis": [], "report": None}
    bounds = data.data_period(ws)
    if bounds is None:
        return out
    out["period"] = {"start": bounds[0].isoformat(), "end": bounds[1].isoformat()}
    if data.stage_module("metrics") is not None:
        from datetime import timedelta

        f = Filters(start=max(bounds[0], bounds[1] - timedelta(days=27)), end=bounds[1])
        tiles = views.overview(ws, f, "en")["tiles"]
        out["kpis"] = [
            {
                "kpi": t["kpi"],
                "label": t["label"],
                "value": t["display"],
                "change": t["change_display"],
            }
            for t in tiles
        ]
        month = report.latest_full_month(bounds)
        target = ws.path / "reports" / f"report-{month}.html"
        try:
            _say(say, f"writing the {month} report...")
            out["report"] = report.build(ws, month, target, actor="demo")["path"]
        except CxlensError as exc:  # a report problem must not hide the rest of the demo
            out["report_error"] = str(exc)
    return out


def print_summary(summary: dict[str, Any], console: Any) -> None:
    """Rows per table, period, top KPIs, stage results, where the report is (Rich tables)."""
    from rich.table import Table

    tables = Table("table", "rows", title="warehouse")
    for name, rows in sorted(summary.get("tables", {}).items()):
        if rows:
            tables.add_row(name, f"{rows:,}")
    console.print(tables)
    stages = Table("stage", "status", "seconds", title="pipeline")
    for stage in summary.get("stages", []):
        stages.add_row(
            stage.get("stage", ""), str(stage.get("status", "")), str(stage.get("seconds", ""))
        )
    console.print(stages)
    if summary.get("kpis"):
        kpis = Table("KPI", "value", "vs previous", title="last 28 days")
        for tile in summary["kpis"]:
            kpis.add_row(tile["label"], tile["value"], tile["change"])
        console.print(kpis)
    period = summary.get("period")
    if period:
        console.print(f"period: {period['start']} .. {period['end']}")
    if summary.get("report"):
        console.print(f"report: {summary['report']}")
    if summary.get("report_error"):
        console.print(f"report not written: {summary['report_error']}")
    console.print(f"built in {summary.get('seconds', '?')} s: {summary.get('workspace')}")


def serve(
    workspace: Path | str,
    host: str | None = None,
    port: int | None = None,
    say: Say = None,
    show_demo_login: bool = True,
) -> None:
    """Print the URL (and the demo log-in), then serve the UI until interrupted."""
    import uvicorn

    from cxlens.server import create_app

    app = create_app(Path(workspace), warm=True)
    settings = app.state.gate.settings.server
    host = host or settings.host
    port = port or settings.port
    shown = "127.0.0.1" if host in {"0.0.0.0", "::"} else host
    _say(say, f"cxlens web UI: http://{shown}:{port}/  (API docs: http://{shown}:{port}/docs)")
    if show_demo_login:
        _say(say, f"log in as {DEMO_USER[0]} / {DEMO_USER[1]}")
    uvicorn.run(app, host=host, port=port, log_level="warning")
