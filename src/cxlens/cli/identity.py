"""Identity commands: `profile`, `forget`, and `eval identity`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cxlens.cli.common import DEFAULT_WORKSPACE, JsonOpt, WorkspaceOpt, console, emit_json, opened

IdentifierArg = Annotated[
    str, typer.Argument(help="Phone, e-mail, account, order number, WeChat id or customer key.")
]


def profile_cmd(
    identifier: IdentifierArg,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    timeline: Annotated[int, typer.Option(help="Timeline events to show (newest first).")] = 20,
    json_: JsonOpt = False,
) -> None:
    """Show a customer's 360 profile, found by any identifier in any written form."""
    from cxlens.profile import lookup

    with opened(workspace) as ws:
        result = lookup(ws, identifier, actor="cli", timeline_limit=max(timeline, 0))
    if json_:
        emit_json(result)
        return
    _render(result)


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        # ratios (precision 0.99686) need their digits; amounts read better with two
        return f"{value:.4f}" if abs(value) <= 1 else f"{value:,.2f}"
    return str(value)


def _render(result: dict[str, Any]) -> None:
    from rich.columns import Columns
    from rich.panel import Panel
    from rich.table import Table

    p = result["profile"]
    title = f"{_fmt(p.get('name'))}  [dim]{result['customer_key']}[/]"
    groups = {
        "Who": ["tier", "city", "language", "customer_since", "segment", "records", "sources"],
        "Value": ["orders", "spend", "last_purchase_at", "clv", "churn_risk"],
        "Contact": ["contacts", "contacts_30d", "contacts_90d", "preferred_channel",
                    "preferred_hour", "last_contact_at", "web_sessions", "web_dwell_s"],
        "Experience": ["last_csat", "last_nps", "last_ces", "sentiment_avg", "sentiment_trend",
                       "open_journeys", "repeat_contacts", "open_cases"],
    }
    panels = []
    for name, fields in groups.items():
        table = Table.grid(padding=(0, 1))
        for f in fields:
            if f in p:
                table.add_row(f"[dim]{f}[/]", _fmt(p[f]))
        panels.append(Panel(table, title=name, expand=True))
    console.rule(title)
    console.print(Columns(panels, equal=True, expand=True))
    ids = Table("type", "value", "records", title="identifiers", title_justify="left")
    for row in result["identifiers"]:
        ids.add_row(row["type"], str(row["value"]), str(row["records"]))
    console.print(ids)
    events = Table("when (UTC)", "what", "channel", "detail", "ref", title="timeline",
                   title_justify="left")
    for e in result["timeline"]:
        events.add_row(_fmt(e["at"])[:16], e["kind"], _fmt(e["channel"]), _fmt(e["detail"]),
                       _fmt(e["ref"]))
    console.print(events)


def forget_cmd(
    identifier: IdentifierArg,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    json_: JsonOpt = False,
) -> None:
    """Erase a person from every table (audited; forgetting again erases nothing)."""
    from cxlens.forget import forget

    with opened(workspace) as ws:
        result = forget(ws, identifier, actor="cli").as_dict()
    if json_:
        emit_json(result)
    elif not result["erased"]:
        console.print(f"nothing to erase: no customer matches {identifier!r}")
    else:
        console.print(f"erased {result['customer_key'] or 'unresolved records'}: "
                      f"{result['total']} rows from {len(result['rows'])} tables")


def eval_identity_cmd(
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    truth: Annotated[Path | None, typer.Option(help="records.parquet (default: the "
                                                    "workspace's truth/).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Score identity_map against synth truth: pairwise precision, recall, F1, over/under-merged,
    and the evidence ceiling: the recall a perfect resolver reaches on the same identifiers."""
    from cxlens.identity.evaluate import evaluate

    with opened(workspace) as ws:
        result = evaluate(ws, truth)
    if json_:
        emit_json(result)
        return
    from rich.table import Table

    evidence = result.pop("evidence", None)
    table = Table("metric", "value", title="identity vs ground truth")
    for name, value in result.items():
        table.add_row(name, _fmt(value) if not isinstance(value, dict) else str(value))
    if evidence:
        for name, value in evidence.items():
            if name != "outside_by_source":
                table.add_row(f"evidence: {name}", _fmt(value))
    console.print(table)
    if evidence and evidence["outside_by_source"]:
        outside = Table("table", "source", "records",
                        title="records with no evidence tying them to the rest of their person")
        for row in evidence["outside_by_source"]:
            outside.add_row(row["record_table"], row["source"], _fmt(row["records"]))
        console.print(outside)


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    app.command("profile")(profile_cmd)
    app.command("forget")(forget_cmd)
    groups["eval"].command("identity")(eval_identity_cmd)
