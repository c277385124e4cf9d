"""`cxlens ingest` and `cxlens quality`: load source files; see where every row went."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cxlens.cli.common import DEFAULT_WORKSPACE, JsonOpt, WorkspaceOpt, console, emit_json, opened

FORMAT_NAMES = ("asterisk", "freeswitch", "amazon-connect", "genesys", "zendesk", "chatwoot",
                "email", "mapped", "auto")


def ingest_cmd(
    path: Annotated[Path, typer.Argument(help="File (or .eml folder) to ingest.")],
    format_: Annotated[str, typer.Option(
        "--format", "-f", help=f"Source format: {', '.join(FORMAT_NAMES)}.")] = "auto",
    source: Annotated[str | None, typer.Option(
        help="Source system name (default: the format, or the mapping's source).")] = None,
    encoding: Annotated[str | None, typer.Option(
        help="Text encoding of the file, e.g. gb18030 (default: UTF-8, checked strictly).")] = None,
    mapping: Annotated[Path | None, typer.Option(
        help="YAML mapping for --format mapped.")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Read, clean and count without writing anything.")] = False,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    json_: JsonOpt = False,
) -> None:
    """Ingest a source file: every record is stored, quarantined with a reason, or counted as a
    duplicate. Re-ingesting the same file adds nothing."""
    from cxlens.ingest import ingest

    if format_ not in FORMAT_NAMES:
        from cxlens.errors import InputError

        raise InputError(f"unknown format {format_!r}", f"use one of: {', '.join(FORMAT_NAMES)}")
    with opened(workspace) as ws:
        if json_:
            result = ingest(ws, path, format_, source=source, encoding=encoding,
                            mapping=mapping, dry_run=dry_run)
        else:
            result = _with_progress(ws, path, format_, source, encoding, mapping, dry_run)
    if json_:
        emit_json(result.as_dict())
        return
    _print_result(result.as_dict())


def _with_progress(ws: Any, path: Path, format_: str, source: str | None, encoding: str | None,
                   mapping: Path | None, dry_run: bool) -> Any:
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

    from cxlens.ingest import ingest

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
                  TextColumn("{task.fields[records]:,} records"), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task(path.name, total=None, records=0)

        def tick(done: int, total: int, records: int) -> None:
            bar.update(task, completed=done, total=total or None, records=records)

        return ingest(ws, path, format_, source=source, encoding=encoding, mapping=mapping,
                      dry_run=dry_run, progress=tick)


def _print_result(doc: dict[str, Any]) -> None:
    from rich.table import Table

    if doc["status"] == "already ingested":
        console.print(f"[yellow]{doc['message']}[/]")
        return
    title = f"{Path(doc['path']).name} ({doc['format']}, source {doc['source']}) — {doc['status']}"
    table = Table("read", "stored", "quarantined", "duplicates", title=title)
    table.add_row(*(f"{doc[k]:,}" for k in ("read", "stored", "quarantined", "duplicates")))
    console.print(table)
    if doc["tables"]:
        console.print("rows by table: " + ", ".join(f"{t} {n:,}" for t, n in doc["tables"].items()))
    for reason, count in list(doc["quarantine_reasons"].items())[:10]:
        console.print(f"  quarantined {count:,} × {reason}")
    if doc["superseded_elsewhere"]:
        console.print(f"  {doc['superseded_elsewhere']:,} stored call(s) of other sources were "
                      "the same calls as richer records here and moved to quarantine")
    console.print(f"{doc['seconds']} s · ingest {doc['ingest_id']}")


def quality_cmd(workspace: WorkspaceOpt = DEFAULT_WORKSPACE, json_: JsonOpt = False) -> None:
    """Data-quality report: per source and table, rows read/stored/quarantined by reason, null
    rates of key columns, duplicates, value ranges, time coverage."""
    from cxlens.quality import report

    with opened(workspace, read_only=True) as ws:
        doc = report(ws)
    if json_:
        emit_json(doc)
        return
    _print_quality(doc)


def _print_quality(doc: dict[str, Any]) -> None:
    from rich.table import Table

    ingests = Table("source", "format", "files", "read", "stored", "quarantined", "duplicates",
                    title="Ingests")
    for row in doc["ingests"]:
        ingests.add_row(row["source"], row["format"], str(row["files"]), f"{row['read']:,}",
                        f"{row['stored']:,}", f"{row['quarantined']:,}", f"{row['duplicates']:,}")
    console.print(ingests)
    tables = Table("table", "source", "rows", "from", "to", "duplicate keys", "null rates (key cols)",
                   title="Tables")
    for row in doc["tables"]:
        nulls = ", ".join(f"{c} {r:.0%}" for c, r in row["null_rates"].items() if r > 0) or "—"
        tables.add_row(row["table"], row["source"], f"{row['rows']:,}",
                       str(row["time_from"] or "—"), str(row["time_to"] or "—"),
                       f"{row['duplicate_keys']:,}", nulls)
    console.print(tables)
    quarantine = Table("source", "table", "reason", "rows", title="Quarantine")
    for row in doc["quarantine"]:
        quarantine.add_row(row["source"], row["record_table"], row["reason"], f"{row['rows']:,}")
    console.print(quarantine)


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    app.command("ingest")(ingest_cmd)
    app.command("quality")(quality_cmd)
