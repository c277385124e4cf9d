"""Server commands: ``serve``, ``report``, and the ``user`` group (add, list, key, disable)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cxlens.cli.common import DEFAULT_WORKSPACE, JsonOpt, WorkspaceOpt, console, emit_json, opened
from cxlens.errors import InputError


def serve_cmd(
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    host: Annotated[str | None, typer.Option(help="Interface to listen on (server.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (server.port).")] = None,
) -> None:
    """Serve the web UI and the JSON API (log-in required; /health is open)."""
    from cxlens import demo

    demo.serve(workspace, host=host, port=port, say=console.print, show_demo_login=False)


def report_cmd(
    period: Annotated[str, typer.Option(help="Month to report, YYYY-MM.")],
    out: Annotated[Path, typer.Option(help="HTML file to write.")] = Path("report.html"),
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    lang: Annotated[str, typer.Option(help="Label language: en or zh.")] = "en",
    json_: JsonOpt = False,
) -> None:
    """Write one self-contained HTML report of a month vs the previous month."""
    from cxlens import report

    if out.suffix.lower() not in {".html", ".htm"}:
        raise InputError(
            f"the report is HTML: {out} does not end in .html", "pass --out report.html"
        )
    with opened(workspace) as ws:
        summary = report.build(ws, period, out, lang=lang, actor="cli")
    if json_:
        emit_json(summary)
    else:
        console.print(
            f"wrote {summary['path']} ({summary['bytes'] // 1024} KiB, "
            f"{summary['kpis']} KPIs, {summary['charts']} charts)"
        )


def user_add_cmd(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Option(help="admin | analyst | agent | service")] = "analyst",
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from the first line of stdin."),
    ] = False,
    key: Annotated[
        bool, typer.Option("--key/--no-key", help="Also issue an API key (printed once).")
    ] = False,
    replace: Annotated[bool, typer.Option(help="Replace an existing user of that name.")] = False,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    json_: JsonOpt = False,
) -> None:
    """Create a user. Passwords are hashed (scrypt); service users get an API key instead."""
    from cxlens import users

    password: str | None = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise InputError("no password on stdin", "echo 'the password' | cxlens user add ...")
    elif role != "service":
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    with_key = key or role == "service"
    with opened(workspace) as ws:
        issued = users.add_user(ws, name, role, password, with_key=with_key, replace=replace)
        from cxlens import audit

        audit.record(ws, "cli", "user_add", name, role)
    if json_:
        emit_json({"username": name, "role": role, "api_key": issued})
        return
    console.print(f"user {name} ({role}) created")
    if issued:
        console.print(f"API key (shown once, stored hashed): {issued}")


def user_list_cmd(workspace: WorkspaceOpt = DEFAULT_WORKSPACE, json_: JsonOpt = False) -> None:
    """List users and roles (never their secrets)."""
    from cxlens import users

    with opened(workspace, read_only=True) as ws:
        rows = users.list_users(ws)
    if json_:
        emit_json(rows)
        return
    from rich.table import Table

    table = Table("user", "role", "password", "API key", "disabled", "created")
    for r in rows:
        table.add_row(
            r["username"],
            r["role"],
            "yes" if r["has_password"] else "-",
            "yes" if r["has_api_key"] else "-",
            "yes" if r["disabled"] else "",
            str(r["created_at"])[:16],
        )
    console.print(table)


def user_key_cmd(
    name: Annotated[str, typer.Argument(help="User name.")],
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    json_: JsonOpt = False,
) -> None:
    """Issue a new API key for a user (the previous key stops working)."""
    from cxlens import audit, users

    with opened(workspace) as ws:
        issued = users.issue_key(ws, name)
        audit.record(ws, "cli", "user_key", name)
    if json_:
        emit_json({"username": name, "api_key": issued})
    else:
        console.print(f"API key for {name} (shown once, stored hashed): {issued}")


def user_disable_cmd(
    name: Annotated[str, typer.Argument(help="User name.")],
    enable: Annotated[bool, typer.Option("--enable", help="Re-enable instead.")] = False,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
) -> None:
    """Disable a user: their sessions and API key stop working at once."""
    from cxlens import audit, users

    with opened(workspace) as ws:
        users.set_disabled(ws, name, disabled=not enable)
        audit.record(ws, "cli", "user_enable" if enable else "user_disable", name)
    console.print(f"user {name} {'enabled' if enable else 'disabled'}")


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    app.command("serve")(serve_cmd)
    app.command("report")(report_cmd)
    group = groups["user"]
    group.command("add")(user_add_cmd)
    group.command("list")(user_list_cmd)
    group.command("key")(user_key_cmd)
    group.command("disable")(user_disable_cmd)
