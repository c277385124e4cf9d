"""Workforce commands: ``cxlens forecast`` and ``cxlens staff`` (plan or stateless calculator)."""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cxlens.cli.common import DEFAULT_WORKSPACE, JsonOpt, WorkspaceOpt, console, emit_json, opened
from cxlens.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

CsvOpt = Annotated[bool, typer.Option("--csv", help="Print the full table as CSV.")]
IntervalOpt = Annotated[
    int | None, typer.Option("--interval", help="Interval in minutes (divides the day).")]
DaysOpt = Annotated[int, typer.Option("--days", help="Days ahead to plan.")]
QueueOpt = Annotated[str | None, typer.Option("--queue", help="Only this queue.")]


def _clean(value: Any) -> Any:
    """JSON has no NaN/inf: they become null; numpy scalars become Python numbers."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _clean(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _write_csv(frame: pd.DataFrame) -> None:
    frame.to_csv(sys.stdout, index=False, float_format="%.4f")


def forecast_cmd(
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    days: DaysOpt = 7,
    interval: IntervalOpt = None,
    queue: QueueOpt = None,
    json_: JsonOpt = False,
    csv: CsvOpt = False,
) -> None:
    """Forecast contacts and AHT per queue x channel x interval, with a backtest vs seasonal naive."""
    from cxlens.wfm.plan import cached_forecast

    with opened(workspace, read_only=True) as ws:
        minutes = interval if interval is not None else ws.settings.wfm.interval_minutes
        result = cached_forecast(ws, days, minutes, queue)
    if csv:
        _write_csv(result.forecast)
        return
    if json_:
        emit_json({
            "interval_minutes": result.interval, "history_end": _clean(result.history_end),
            "backtest": _records(result.backtest), "skipped": result.skipped,
            "forecast": _records(result.forecast),
        })
        return
    from rich.table import Table

    bt = Table("queue", "channel", "model", "WAPE", "bias", "naive WAPE", "beats naive",
               title=f"backtest: last {int(result.backtest['weeks'].max()) if len(result.backtest) else 0} weeks held out")
    for row in result.backtest.itertuples():
        mark = "*" if row.chosen else ""
        bt.add_row(row.queue, row.channel, f"{row.model}{mark}", f"{row.wape:.1%}",
                   f"{row.bias:+.1%}", f"{row.baseline_wape:.1%}", "yes" if row.beats_baseline
                   else "NO")
    console.print(bt)
    fc = result.forecast.assign(day=result.forecast["interval_start"].dt.date)
    daily = fc.groupby(["queue", "channel", "day"], as_index=False)["calls"].sum()
    table = Table("queue", "channel", "day", "calls", title=f"forecast, next {days} days "
                  f"({result.interval}-min intervals; --csv for every interval)")
    for row in daily.itertuples():
        table.add_row(row.queue, row.channel, str(row.day), f"{row.calls:,.0f}")
    console.print(table)
    for item in result.skipped:
        console.print(f"skipped {item['queue']}/{item['channel']}: {item['reason']}")


def _calculator(calls: float, interval: int, aht: float, target: str, shrinkage: float,
                max_occupancy: float, patience: float | None, agents: int | None,
                asa: float | None, blocking: float | None) -> dict[str, Any]:
    from cxlens.wfm import erlang
    from cxlens.wfm.plan import parse_target

    minutes = erlang.check_interval(interval)
    share, seconds = parse_target(target)
    erlang.check_target(share, seconds, minutes * 60)
    for name, value in (("calls per interval", calls), ("AHT (seconds)", aht)):
        if not math.isfinite(value) or value <= 0:
            raise InputError(f"{name} must be above 0, got {value:g}")
    erlang.check_fraction("shrinkage", shrinkage)
    erlang.check_fraction("max occupancy", max_occupancy)
    if patience is not None and (not math.isfinite(patience) or patience <= 0):
        raise InputError(f"patience must be above 0 seconds, got {patience:g}")
    load = float(erlang.offered_load(calls, aht, minutes * 60))
    out: dict[str, Any] = {
        "model": "erlang_a" if patience is not None else "erlang_c",
        "calls": calls, "interval_minutes": minutes, "aht_s": aht,
        "target": {"service_level": share, "answer_s": seconds}, "erlangs": round(load, 4),
    }
    if agents is not None:
        if agents < 0:
            raise InputError(f"agents must not be negative, got {agents}")
        if patience is not None:
            met = erlang.erlang_a_metrics(agents, calls, minutes * 60, aht, patience, seconds)
        else:
            met = erlang.erlang_c_metrics(agents, load, aht, seconds)
        out["agents"] = agents
        out["scheduled_agents"] = int(math.ceil(agents / (1 - shrinkage) - 1e-9))
        out["stable"] = bool(met["stable"])
        if not out["stable"]:
            out["note"] = (f"unstable: offered load {load:.2f} erlangs >= {agents} agents; "
                           "the queue grows without bound")
    elif patience is not None:
        met = erlang.staff_erlang_a(calls, aht, minutes * 60, patience, share, seconds,
                                    max_occupancy=max_occupancy, shrinkage=shrinkage)
    else:
        met = erlang.staff_erlang_c(calls, aht, minutes * 60, share, seconds, asa_s=asa,
                                    max_occupancy=max_occupancy, shrinkage=shrinkage)
    if agents is None:
        out["agents"] = int(met["agents"])
        out["scheduled_agents"] = int(met["scheduled_agents"])
    out["shrinkage"] = shrinkage
    out["max_occupancy"] = max_occupancy
    out["service_level"] = round(float(met["service_level"]), 4)
    out["asa"] = _clean(round(float(met["asa"]), 2))
    out["occupancy"] = round(float(met["occupancy"]), 4)
    out["wait_probability"] = round(float(met["wait_probability"]), 4)
    if patience is not None:
        out["patience_s"] = patience
        out["abandon_rate"] = round(float(met["abandon_rate"]), 4)
    if blocking is not None:
        # lines hold a call while it waits and while it talks
        held = (aht + (out["asa"] or 0.0)) * calls / (minutes * 60)
        out["trunks"] = int(erlang.trunks_erlang_b(held, blocking))
        out["blocking_target"] = blocking
    return out


def staff_cmd(
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    target: Annotated[str | None, typer.Option(
        help="Service-level target: percent answered / seconds, e.g. 80/20.")] = None,
    interval: IntervalOpt = None,
    days: DaysOpt = 7,
    shrinkage: Annotated[float | None, typer.Option(
        help="Share of paid time away from calls (0.3 = 30%).")] = None,
    max_occupancy: Annotated[float | None, typer.Option(
        "--max-occupancy", help="Cap on agent occupancy (0.85 = 85%).")] = None,
    patience: Annotated[float | None, typer.Option(
        help="Mean caller patience in seconds: Erlang A (abandonment).")] = None,
    model: Annotated[str | None, typer.Option(
        help="Plan with erlang_c or erlang_a (default: settings).")] = None,
    queue: QueueOpt = None,
    calls: Annotated[float | None, typer.Option(
        help="Calculator: calls offered in one interval (no workspace needed).")] = None,
    aht: Annotated[float | None, typer.Option(help="Calculator: average handle time, s.")] = None,
    agents: Annotated[int | None, typer.Option(
        help="Calculator: evaluate this many agents instead of solving for them.")] = None,
    asa: Annotated[float | None, typer.Option(help="Calculator: ASA target in seconds.")] = None,
    blocking: Annotated[float | None, typer.Option(
        help="Calculator: also size trunks (Erlang B) for this blocking, e.g. 0.01.")] = None,
    simulate: Annotated[bool, typer.Option(
        "--simulate", help="Check the plan by discrete-event simulation.")] = False,
    full: Annotated[bool, typer.Option("--full", help="Print every interval.")] = False,
    json_: JsonOpt = False,
    csv: CsvOpt = False,
) -> None:
    """Agents per interval: a plan from the workspace forecast, or a one-interval calculator.

    Plan: cxlens staff --workspace W --target 80/20 --interval 30 --days 7 [--json|--csv]
    Calculator: cxlens staff --calls 100 --interval 30 --aht 180 --target 80/20 --shrinkage 0.3
    """
    if calls is not None or aht is not None:
        if calls is None or aht is None:
            raise InputError("the calculator needs both --calls and --aht",
                             "e.g. cxlens staff --calls 100 --interval 30 --aht 180")
        result = _calculator(calls, interval or 30, aht, target or "80/20",
                             0.0 if shrinkage is None else shrinkage,
                             1.0 if max_occupancy is None else max_occupancy, patience, agents,
                             asa, blocking)
        if json_ or csv:
            emit_json(result)
        else:
            _print_calculator(result)
        return
    from cxlens.wfm.plan import staffing_plan

    with opened(workspace, read_only=True) as ws:
        plan = staffing_plan(ws, target=target, interval=interval, days=days,
                             shrinkage=shrinkage, max_occupancy=max_occupancy, model=model,
                             patience=patience, queue=queue)
        minutes = interval or ws.settings.wfm.interval_minutes
        answer_s = float((target or f"0/{ws.settings.wfm.service_level_seconds}").split("/")[1])
    skipped = plan.attrs.get("skipped", [])
    if simulate:
        from cxlens.wfm.simulate import simulate_plan

        plan = simulate_plan(plan, minutes, answer_s=answer_s)
    if csv:
        _write_csv(plan)
    elif json_:
        emit_json({"plan": _records(plan), "summary": _summary(plan), "skipped": skipped})
    else:
        _print_plan(plan, full)
        for item in skipped:
            console.print(f"not planned {item['queue']}/{item['channel']}: {item['reason']}")


def _summary(plan: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for (q, ch), part in plan.groupby(["queue", "channel"]):
        calls = part["calls"].sum()
        peak = part.loc[part["agents"].idxmax()]
        row = {
            "queue": q, "channel": ch, "calls": round(float(calls), 1),
            "peak_agents": int(peak["agents"]), "peak_at": peak["interval_start"].isoformat(),
            "scheduled_agent_hours": float(part["scheduled_agents"].sum()
                                           * _minutes(part) / 60),
            "service_level": _weighted(part, "service_level"),
        }
        if "sim_service_level" in part:
            row["sim_service_level"] = _weighted(part, "sim_service_level", "sim_calls")
        rows.append(row)
    return rows


def _minutes(part: pd.DataFrame) -> float:
    times = part["interval_start"].sort_values()
    return float((times.iloc[1] - times.iloc[0]).total_seconds() / 60) if len(times) > 1 else 30.0


def _weighted(part: pd.DataFrame, col: str, weight: str = "calls") -> float | None:
    w = part[weight].where(part[col].notna(), 0)
    total = float(w.sum())
    return round(float((part[col].fillna(0) * w).sum() / total), 4) if total > 0 else None


def _print_calculator(result: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table("", "", title=f"{result['model'].replace('_', ' ').title()}: "
                  f"{result['calls']:g} calls / {result['interval_minutes']} min, "
                  f"AHT {result['aht_s']:g} s")
    for key in ("erlangs", "agents", "scheduled_agents", "service_level", "asa", "occupancy",
                "wait_probability", "abandon_rate", "trunks"):
        if key in result:
            value = result[key]
            table.add_row(key.replace("_", " "), "unbounded" if value is None else f"{value}")
    console.print(table)
    if "note" in result:
        console.print(f"[red]{result['note']}[/red]")


def _print_plan(plan: pd.DataFrame, full: bool) -> None:
    from rich.table import Table

    if full:
        table = Table("queue", "channel", "interval", "calls", "AHT", "agents", "scheduled",
                      "SL", "ASA", "occ", "peak")
        for r in plan.itertuples():
            table.add_row(r.queue, r.channel, f"{r.interval_start:%a %m-%d %H:%M}",
                          f"{r.calls:.1f}", f"{r.aht_s:.0f}", str(r.agents),
                          str(r.scheduled_agents), f"{r.service_level:.1%}",
                          f"{r.asa_s:.1f}", f"{r.occupancy:.0%}", "PEAK" if r.peak else "")
        console.print(table)
        return
    day = plan["interval_start"].dt.normalize()
    table = Table("queue", "channel", "day", "calls", "peak agents", "peak at",
                  "scheduled agent-h", title="staffing plan (peaks; --full or --csv for "
                  "every interval)")
    for (q, ch, d), part in plan.groupby(["queue", "channel", day]):
        peak = part.loc[part["agents"].idxmax()]
        table.add_row(q, ch, f"{d:%a %Y-%m-%d}", f"{part['calls'].sum():,.0f}",
                      str(int(peak["agents"])), f"{peak['interval_start']:%H:%M}",
                      f"{part['scheduled_agents'].sum() * _minutes(part) / 60:,.1f}")
    console.print(table)


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add ``forecast`` and ``staff`` to the CLI."""
    app.command("forecast")(forecast_cmd)
    app.command("staff")(staff_cmd)

