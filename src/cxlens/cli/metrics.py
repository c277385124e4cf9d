"""KPI commands: ``cxlens kpi``, ``cxlens kpis`` and ``cxlens eval journeys``."""

from __future__ import annotations

import math
from typing import Annotated, Any

import typer

from cxlens.cli.common import DEFAULT_WORKSPACE, JsonOpt, WorkspaceOpt, console, emit_json, opened
from cxlens.errors import InputError


def _parse_filters(items: list[str] | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InputError(f"--filter {item!r} is not KEY=VALUE", "e.g. --filter channel=phone")
        out.setdefault(key.strip(), []).extend(v.strip() for v in value.split(",") if v.strip())
    return out


def _clean(value: Any) -> Any:
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _fmt(value: Any, unit: str) -> str:
    value = _clean(value)
    if value is None:
        return "no data"
    if isinstance(value, float):
        if unit == "contacts":
            return f"{value:,.0f}"
        return f"{value:,.1f}" + {"%": "%", "pp": " pp"}.get(unit, "")
    return str(value)


def kpi_cmd(
    name: Annotated[str, typer.Argument(help="KPI name (see `cxlens kpis`).")],
    by: Annotated[list[str] | None, typer.Option("--by", help="Dimension to slice by (repeatable).")] = None,
    grain: Annotated[str | None, typer.Option(help="Time grain: 15min, hour, day, week, month.")] = None,
    start: Annotated[str | None, typer.Option("--from", help="First local day (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last local day, inclusive.")] = None,
    filters: Annotated[list[str] | None, typer.Option("--filter", help="KEY=VALUE[,VALUE] (repeatable).")] = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    json_: JsonOpt = False,
) -> None:
    """Compute one KPI, optionally sliced by dimensions and time, with the previous period."""
    from cxlens import metrics

    kpi = metrics.get_kpi(name)
    flt = _parse_filters(filters)
    with opened(workspace, read_only=True) as ws:
        frame = metrics.compute(ws, name, by=by, grain=grain, start=start, end=end,
                                filters=flt, compare=True)
        available = metrics.has_data(ws, kpi)
    rows = [{k: _clean(v) for k, v in r.items()} for r in frame.to_dict(orient="records")]
    if json_:
        emit_json({"kpi": kpi.describe(), "status": "ok" if available else "no data",
                   "from": start, "to": end, "by": by or [], "grain": grain,
                   "filters": flt, "rows": rows})
        return
    from rich.table import Table

    table = Table(*(c for c in frame.columns), title=f"{kpi.label_en} ({kpi.unit})")
    for r in rows:
        table.add_row(*(_fmt(r[c], "pp" if c == "change" and kpi.unit == "%" else kpi.unit)
                        if c in ("value", "previous", "change")
                        else str(r[c] if r[c] is not None else "—") for c in frame.columns))
    console.print(table)
    if not available:
        console.print(f"no data: {name} needs {', '.join(kpi.needs)}")
    console.print(f"[dim]{kpi.definition}[/dim]")


def kpis_cmd(json_: JsonOpt = False) -> None:
    """List every KPI with its definition (numerator, denominator, exclusions)."""
    from cxlens import metrics

    entries = [k.describe() for k in metrics.KPIS.values()]
    if json_:
        emit_json({"kpis": entries, "dimensions": list(metrics.DIMENSIONS),
                   "grains": list(metrics.GRAINS)})
        return
    from rich.table import Table

    table = Table("kpi", "label", "unit", "definition", title="KPIs", show_lines=True)
    for e in entries:
        table.add_row(e["name"], f"{e['label_en']}\n{e['label_zh']}", e["unit"], e["definition"])
    console.print(table)
    console.print(f"dimensions: {', '.join(metrics.DIMENSIONS)}; grains: "
                  f"{', '.join(metrics.GRAINS)}")


def eval_journeys_cmd(workspace: WorkspaceOpt = DEFAULT_WORKSPACE, json_: JsonOpt = False) -> None:
    """Score journey stitching against synth truth (share of true episodes rebuilt exactly)."""
    from cxlens.journeys.evaluate import evaluate

    with opened(workspace, read_only=True) as ws:
        result = evaluate(ws)
    if json_:
        emit_json(result)
        return
    ok = result["exact_rate"] >= result["goal"]
    console.print(
        f"journeys: {result['exact']:,} of {result['true_episodes']:,} true episodes rebuilt "
        f"exactly ({result['exact_rate']:.1%}, goal {result['goal']:.0%}) — "
        f"{'[green]met[/green]' if ok else '[red]missed[/red]'}"
    )
    console.print(
        f"split episodes {result['split_episodes']:,}; merged journeys "
        f"{result['merged_journeys']:,}; pure journeys {result['pure_journey_rate']:.1%}"
    )


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add ``kpi``, ``kpis`` and ``eval journeys``."""
    app.command("kpi")(kpi_cmd)
    app.command("kpis")(kpis_cmd)
    groups["eval"].command("journeys")(eval_journeys_cmd)
