"""`cxlens run`: the stages in order, each redone only when its inputs changed.

A stage is a module with one public entry ``run(ws) -> dict`` (a small summary). The list below
is the whole pipeline; a stage whose module is not installed is reported as unavailable.
A stage's fingerprint is the row counts of its input tables plus the fingerprints of the stages
it follows; when it matches the last successful run the stage is skipped.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cxlens.errors import NotFoundError
from cxlens.workspace import Workspace


@dataclass(frozen=True)
class Stage:
    name: str
    entry: str  # "module:function"
    inputs: tuple[str, ...]
    description: str
    # the stage just before, when the two share no table (neither reads what the other writes):
    # where the store allows it, they run at the same time, each on its own connection
    beside: str | None = None

    def load(self) -> Callable[[Workspace], dict[str, Any]] | None:
        module_name, func = self.entry.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                return None
            raise
        return getattr(module, func)


STAGES: tuple[Stage, ...] = (
    Stage("identity", "cxlens.identity.stage:run",
          ("identifiers", "parties", "interactions", "orders", "web_events", "surveys",
           "outreach", "cases"), "resolve records to customers"),
    Stage("journeys", "cxlens.journeys.stage:run",
          ("identity_map", "interactions"), "stitch contacts into episodes"),
    Stage("speech", "cxlens.speech.stage:run",
          ("interactions",), "transcribe call recordings"),
    Stage("text", "cxlens.text.stage:run",
          ("interactions", "messages", "parties", "surveys"), "language, PII, sentiment, intent"),
    Stage("qa", "cxlens.qa.stage:run",
          ("messages", "interaction_insights"), "quality inspection"),
    Stage("profile", "cxlens.profile.stage:run",
          ("identity_map", "journeys", "interaction_insights", "orders", "surveys",
           "web_events", "cases", "scores"),
          "customer 360"),
    # profile writes customer_360 and its lookup tables, kpis the kpi_rollup* tables
    Stage("kpis", "cxlens.metrics.rollup:run",
          ("interactions", "surveys", "journey_contacts", "interaction_insights", "identity_map",
           "agents", "parties"), "daily KPI rollup for the dashboard", beside="profile"),
)
STAGE_NAMES = tuple(s.name for s in STAGES)


def _input_counts(ws: Workspace, stage: Stage) -> dict[str, int]:
    """Rows of the stage's input tables (0 for a missing one): one catalog lookup and a count
    per input, not ``Warehouse.counts()`` of every table (three of those per stage cost ~1 s of
    a demo build)."""
    wh = ws.warehouse
    present = set(wh.tables())
    return {t: wh.store.count(t) if t in present else 0 for t in stage.inputs}


def _fingerprint(ws: Workspace, stage: Stage, upstream: dict[str, str]) -> str:
    doc: dict[str, object] = dict(_input_counts(ws, stage))
    doc["_upstream"] = upstream  # type: ignore[assignment]
    doc["_settings"] = ws.settings.model_dump_json()  # type: ignore[assignment]
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def _last_fingerprint(ws: Workspace, name: str) -> str | None:
    runs = ws.warehouse.table("stage_runs")
    rows = (
        runs.filter(runs.stage == name).order_by(runs.finished_at.desc()).limit(1)
        .select("fingerprint").to_pyarrow().to_pylist()
    )
    return rows[0]["fingerprint"] if rows else None


def run(
    ws: Workspace,
    only: list[str] | None = None,
    force: bool = False,
    progress: Callable[[str, str], None] | None = None,
) -> list[dict[str, Any]]:
    """Run the pipeline (or the ``only`` stages). Returns one result dict per stage."""
    unknown = [name for name in only or [] if name not in STAGE_NAMES]
    if unknown:
        raise NotFoundError(
            f"unknown stage {', '.join(unknown)}", f"stages: {', '.join(STAGE_NAMES)}"
        )
    results: list[dict[str, Any]] = []
    upstream: dict[str, str] = {}
    stages = [s for s in STAGES if not only or s.name in only]
    beside_done: dict[str, dict[str, Any]] = {}
    for i, stage in enumerate(stages):
        if stage.name in beside_done:  # ran beside the stage before it
            results.append(beside_done.pop(stage.name))
            continue
        entry = stage.load()
        if entry is None:
            results.append({"stage": stage.name, "status": "unavailable"})
            continue
        fingerprint = _fingerprint(ws, stage, upstream)
        if not force and _last_fingerprint(ws, stage.name) == fingerprint:
            upstream[stage.name] = fingerprint  # a stage that runs gets its entry in _record
            results.append({"stage": stage.name, "status": "up to date"})
            continue
        partner = _partner(ws, stage, stages[i + 1] if i + 1 < len(stages) else None,
                           upstream, force)
        if progress:
            progress(stage.name, stage.description)
            if partner is not None:
                progress(partner[0].name, partner[0].description)
        if partner is None:
            results.append(_run_one(ws, stage, entry, upstream))
            continue
        p_stage, p_entry = partner
        with ThreadPoolExecutor(1) as pool:
            beside = pool.submit(_run_beside, ws, p_stage, p_entry)
            try:
                results.append(_run_one(ws, stage, entry, upstream))
            finally:
                started, seconds, summary = beside.result()
        beside_done[p_stage.name] = _record(ws, p_stage, upstream, started, seconds, summary)
    return results


def _partner(
    ws: Workspace, stage: Stage, after: Stage | None, upstream: dict[str, str], force: bool
) -> tuple[Stage, Callable[[Workspace], dict[str, Any]]] | None:
    """The next stage, when it may run beside ``stage`` and has work to do."""
    if after is None or after.beside != stage.name:
        return None
    if not getattr(ws.warehouse.store, "concurrent_connections", False):
        return None
    entry = after.load()
    if entry is None:
        return None
    # A stage writes none of its own inputs, so its after-run fingerprint (what the next stage's
    # fingerprint includes) is known before it runs, and the partner's fingerprint (and so
    # whether it must run) is the one a run after it would compute.
    done = _fingerprint(ws, stage, upstream)
    fingerprint = _fingerprint(ws, after, {**upstream, stage.name: done})
    if not force and _last_fingerprint(ws, after.name) == fingerprint:
        return None
    return after, entry


def _run_beside(
    ws: Workspace, stage: Stage, entry: Callable[[Workspace], dict[str, Any]]
) -> tuple[datetime, float, dict[str, Any]]:
    """Run a stage on a connection of its own (same settings, same warehouse file)."""
    own = Workspace(path=ws.path, settings=ws.settings)
    try:
        started = datetime.now(UTC).replace(tzinfo=None)
        t0 = time.perf_counter()
        summary = entry(own) or {}
        return started, round(time.perf_counter() - t0, 2), summary
    finally:
        own.close()


def _run_one(
    ws: Workspace, stage: Stage, entry: Callable[[Workspace], dict[str, Any]],
    upstream: dict[str, str],
) -> dict[str, Any]:
    started = datetime.now(UTC).replace(tzinfo=None)
    t0 = time.perf_counter()
    summary = entry(ws) or {}
    return _record(ws, stage, upstream, started, round(time.perf_counter() - t0, 2), summary)


def _record(
    ws: Workspace, stage: Stage, upstream: dict[str, str], started: datetime, seconds: float,
    summary: dict[str, Any],
) -> dict[str, Any]:
    """Write the stage's run record; returns its result."""
    # the stage's own outputs are not among its inputs: one fingerprint serves the run
    # record and the stages after it (stage_runs is no stage's input). ``upstream`` holds the
    # stages before it only, as when the next run checks it, or a re-run would never be skipped.
    done = _fingerprint(ws, stage, upstream)
    ws.warehouse.append("stage_runs", [{
        "stage": stage.name, "fingerprint": done,
        "started_at": started, "finished_at": datetime.now(UTC).replace(tzinfo=None),
        "summary": json.dumps(summary, default=str, ensure_ascii=False),
    }])
    upstream[stage.name] = done
    return {"stage": stage.name, "status": "done", "seconds": seconds, **summary}
