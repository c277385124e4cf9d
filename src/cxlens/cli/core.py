"""Workspace commands: init, tables, synth, run, demo, export."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

from cxlens.cli.common import DEFAULT_WORKSPACE, JsonOpt, WorkspaceOpt, console, emit_json, opened
from cxlens.errors import InputError


def init_cmd(
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    backend: Annotated[str, typer.Option(help="Backend URL (default: DuckDB file).")] = "",
    region: Annotated[str, typer.Option(help="Default phone region.")] = "",
    timezone: Annotated[str, typer.Option(help="Local time zone.")] = "",
) -> None:
    """Create an empty workspace (settings file + warehouse with every canonical table)."""
    from cxlens.config import load_settings
    from cxlens.workspace import init

    settings = load_settings(None)
    if backend:
        settings.warehouse.backend = backend
    if region:
        settings.locale.region = region
    if timezone:
        settings.locale.timezone = timezone
    ws = init(workspace, settings)
    tables = ws.warehouse.tables()
    ws.close()
    console.print(f"workspace ready: {workspace} ({len(tables)} tables, backend {ws.backend_url})")


def tables_cmd(workspace: WorkspaceOpt = DEFAULT_WORKSPACE, json_: JsonOpt = False) -> None:
    """Row counts per table (quarantine included), so you can see where every row went."""
    with opened(workspace, read_only=True) as ws:
        counts = ws.warehouse.counts()
    if json_:
        emit_json(counts)
        return
    from rich.table import Table

    table = Table("table", "rows", title=str(workspace))
    for name, rows in counts.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)


def synth_cmd(
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    customers: Annotated[int, typer.Option(help="Number of customers.")] = 20_000,
    days: Annotated[int, typer.Option(help="Days of history.")] = 90,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 7,
    start: Annotated[str, typer.Option(help="First day (YYYY-MM-DD).")] = "2026-08-01",
    emit: Annotated[
        Path | None,
        typer.Option(help="Also write vendor-format source files into this folder."),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Generate a realistic multi-channel contact centre (with ground truth) into the workspace."""
    from cxlens import synth
    from cxlens.workspace import init

    config = synth.SynthConfig.checked(customers=customers, days=days, seed=seed, start=start)
    ws = init(workspace)
    try:
        with console.status("generating...") if not json_ else contextlib.nullcontext():
            summary = synth.generate(ws, config)
        if emit is not None:
            summary["files"] = synth.emit_files(emit, config)
    finally:
        ws.close()
    if json_:
        emit_json(summary)
    else:
        console.print(summary)


def run_cmd(
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    stages: Annotated[list[str] | None, typer.Argument(help="Stages to run (default: all).")] = None,
    force: Annotated[bool, typer.Option(help="Re-run stages whose inputs did not change.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Run the pipeline stages in order (identity, journeys, text, qa, profile, ...)."""
    from cxlens import pipeline

    with opened(workspace) as ws:
        results = pipeline.run(
            ws, only=stages or None, force=force,
            progress=None if json_ else lambda n, d: console.print(f"[bold]{n}[/]: {d}..."),
        )
    if json_:
        emit_json(results)
        return
    for result in results:
        console.print(result)


def export_cmd(
    table: Annotated[str, typer.Argument(help="Table to export.")],
    out: Annotated[Path, typer.Option(help="Output .parquet or .csv file.")],
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
) -> None:
    """Export one table to Parquet or CSV (the export is written to the audit log)."""
    from cxlens import audit

    if out.suffix not in {".parquet", ".csv"}:
        raise InputError(f"cannot export to {out.suffix or 'a file without suffix'}",
                         "use a .parquet or .csv file name")
    with opened(workspace) as ws:
        if out.suffix == ".parquet":
            ws.warehouse.export_parquet(table, out)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            ws.warehouse.table(table).to_csv(out)
        audit.record(ws, actor="cli", action="export", target=table, detail=str(out))
    console.print(f"wrote {out}")


def demo_cmd(
    workspace: Annotated[
        Path, typer.Option("--workspace", "-w", envvar="CXLENS_WORKSPACE")
    ] = Path("demo-workspace"),
    customers: Annotated[int, typer.Option(help="Number of customers.")] = 20_000,
    days: Annotated[int, typer.Option(help="Days of history.")] = 90,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the web UI after.")] = True,
    host: Annotated[str, typer.Option(help="Host for the web UI.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for the web UI.")] = 8765,
    json_: JsonOpt = False,
) -> None:
    """Build a demo workspace: synth → warehouse → every stage → summary → serve."""
    from cxlens import demo

    summary = demo.build(workspace, customers=customers, days=days, seed=seed,
                         say=None if json_ else console.print)
    if json_:
        emit_json(summary)
    else:
        demo.print_summary(summary, console)
    if serve:
        demo.serve(workspace, host=host, port=port, say=console.print)


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    app.command("init")(init_cmd)
    app.command("tables")(tables_cmd)
    app.command("synth")(synth_cmd)
    app.command("run")(run_cmd)
    app.command("demo")(demo_cmd)
    app.command("export")(export_cmd)
