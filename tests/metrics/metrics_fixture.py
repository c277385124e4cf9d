"""Load the hand-made KPI fixture (tests/fixtures/metrics) into a workspace."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa

from cxlens.load import store_records

HERE = Path(__file__).resolve().parent.parent / "fixtures" / "metrics"
STAMP = datetime(2026, 10, 1)


def _rows(name: str) -> list[dict[str, str]]:
    with (HERE / name).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _f(value: str) -> float | None:
    return float(value) if value not in ("", None) else None


def _b(value: str) -> bool | None:
    return {"true": True, "false": False}.get(value)


def _map(table: str, source: str, source_id: str, customer: str) -> dict[str, object]:
    return {"record_table": table, "source": source, "source_id": source_id,
            "customer_key": customer, "method": "fixture", "updated_at": STAMP}


def load(ws, surveys: bool = True, insights: bool = True, journeys: bool = True) -> None:
    """Store interactions, agents, parties (+ surveys, insights, scores) and run journeys."""
    imap: list[dict[str, object]] = []
    records = []
    for r in _rows("interactions.csv"):
        start = datetime.fromisoformat(r["started_at"])
        wait, talk, hold = _f(r["wait_s"]) or 0.0, _f(r["talk_s"]), _f(r["hold_s"])
        abandoned = _b(r["abandoned"])
        answered = None if abandoned else start + timedelta(seconds=wait)
        if r["ended_at"] == "MISSING":
            ended = None
        elif r["ended_at"]:
            ended = datetime.fromisoformat(r["ended_at"])
        else:
            ended = start + timedelta(seconds=wait + (talk or 0.0) + (hold or 0.0))
        records.append({
            "source": "fx", "source_id": r["source_id"], "channel": r["channel"],
            "direction": r["direction"], "queue": r["queue"] or None,
            "agent_id": r["agent_id"] or None, "started_at": start, "answered_at": answered,
            "ended_at": ended, "wait_s": _f(r["wait_s"]), "talk_s": talk, "hold_s": hold,
            "acw_s": _f(r["acw_s"]), "transfers": int(r["transfers"]), "abandoned": abandoned,
            "resolved": _b(r["resolved"]), "reason": r["reason"] or None,
            "language": r["language"],
        })
        if r["customer"]:
            imap.append(_map("interactions", "fx", r["source_id"], r["customer"]))
    store_records(ws, "interactions", pa.Table.from_pylist(records))
    store_records(ws, "agents", pa.Table.from_pylist([
        {"source": "hr", "source_id": a["source_id"], "name": a["name"], "team": a["team"]}
        for a in _rows("agents.csv")]))
    parties = _rows("parties.csv")
    store_records(ws, "parties", pa.Table.from_pylist([
        {"source": "crm", "source_id": p["source_id"], "name": p["name"], "tier": p["tier"]}
        for p in parties]))
    imap += [_map("parties", "crm", p["source_id"], p["customer"]) for p in parties]
    ws.warehouse.replace("identity_map", imap)
    ws.warehouse.replace("scores", [
        {"customer_key": s["customer"], "model": "segment", "label": s["label"], "score": 1.0,
         "scored_at": STAMP} for s in _rows("scores.csv")])
    if surveys:
        store_records(ws, "surveys", pa.Table.from_pylist([
            {"source": "survey", "source_id": s["source_id"],
             "interaction_ref": "fx:" + s["interaction"], "sent_at": STAMP,
             "csat": _f(s["csat"]), "nps": _f(s["nps"]), "ces": _f(s["ces"])}
            for s in _rows("surveys.csv")]))
    if insights:
        ws.warehouse.replace("interaction_insights", [
            {"interaction_id": "fx:" + s["interaction"], "sentiment": float(s["sentiment"])}
            for s in _rows("insights.csv")])
    if journeys:
        from cxlens.journeys import stage

        stage.run(ws)
