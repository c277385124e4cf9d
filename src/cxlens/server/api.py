"""The JSON API under ``/api/v1`` (OpenAPI at ``/docs``). Same data functions as the pages."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from cxlens import audit
from cxlens.errors import NotFoundError
from cxlens.server import auth, dashboards, data, views
from cxlens.server.app import principal, require
from cxlens.server.filters import Filters
from cxlens.server.gate import Gate
from cxlens.server.pages import page_filters

router = APIRouter(prefix="/api/v1", tags=["cxlens"])
Lang = Annotated[str, Query(pattern="^(en|zh)$", description="Label language")]


def _gate(request: Request) -> Gate:
    return request.app.state.gate  # type: ignore[no-any-return]


@router.get("/whoami", summary="The caller's user name and role")
def whoami(who: auth.Principal = Depends(principal)) -> dict[str, Any]:
    return {
        "username": who.username,
        "role": who.role,
        "via": who.via,
        "permissions": sorted(
            p
            for p in ("aggregates", "contacts", "export", "profile", "service", "users")
            if who.can(p)
        ),
    }


@router.get("/kpis", summary="Every KPI with its labels, unit and definition")
def kpis(request: Request, who: auth.Principal = require("aggregates")) -> dict[str, Any]:
    return {"kpis": dashboards.catalog(_gate(request))}


@router.get("/kpi/{name}", summary="One KPI sliced by a dimension and/or a time grain")
def kpi(
    request: Request,
    name: Annotated[str, Path(max_length=64)],
    by: Annotated[str | None, Query(max_length=64, description="dimension, e.g. channel")] = None,
    grain: Annotated[
        str | None, Query(max_length=16, description="15min|hour|day|week|month")
    ] = None,
    who: auth.Principal = require("aggregates"),
    f: Filters = Depends(page_filters),
) -> dict[str, Any]:
    catalog = dashboards.catalog(_gate(request))
    if name not in catalog:
        raise NotFoundError(
            f"unknown KPI {name!r}",
            "known KPIs: " + (", ".join(sorted(catalog)) or "none installed"),
        )
    rows = _gate(request).cached(
        "kpi",
        {"f": f.key(), "name": name, "by": by, "grain": grain},
        lambda ws: data.compute(ws, name, f, by=by or None, grain=grain or None),
    )
    return {
        "kpi": name,
        **catalog[name],
        "start": f.start,
        "end": f.end,
        "filters": f.dims,
        "by": by,
        "grain": grain,
        "rows": rows,
    }


@dataclass(frozen=True)
class Scope:
    """What an aggregate endpoint works on: the server's gate, the filters, the label language."""

    gate: Gate
    f: Filters
    lang: str

    def dashboard(self, name: str) -> dict[str, Any]:
        return dashboards.dashboard(self.gate, name, self.f, self.lang)

    def period(self) -> dict[str, Any]:
        return {"start": self.f.start, "end": self.f.end, "filters": self.f.dims}


def aggregate_scope(
    request: Request,
    lang: Lang = "en",
    who: auth.Principal = require("aggregates"),
    f: Filters = Depends(page_filters),
) -> Scope:
    """Dependency of the aggregate endpoints (needs the ``aggregates`` permission)."""
    return Scope(_gate(request), f, lang)


Aggregates = Annotated[Scope, Depends(aggregate_scope)]


@router.get("/overview", summary="KPI tiles with the previous period and change")
def overview(s: Aggregates) -> dict[str, Any]:
    return {**s.period(), "tiles": s.dashboard("overview")["tiles"]}


@router.get("/heatmap", summary="Contacts by local weekday (0 = Monday) and hour")
def heatmap(s: Aggregates) -> dict[str, Any]:
    found = s.gate.cached(
        "heatmap", {"f": s.f.key()}, lambda ws: views.heatmap_block(ws, s.f, "en")
    )
    return {**s.period(), "cells": found.get("rows", [])}


@router.get("/journeys", summary="Channel paths, true vs channel FCR by reason, repeat drivers")
def journeys(s: Aggregates) -> dict[str, Any]:
    view = s.dashboard("journeys")
    blocks = view["blocks"]
    return {
        **s.period(),
        "paths": view["paths"],
        "tiles": view["tiles"],
        "fcr_by_reason": blocks["fcr_by_reason"].get("rows", {}),
        "repeat_by_reason": blocks["repeat_drivers"].get("rows", []),
    }


@router.get("/agents", summary="Handled, AHT, FCR, CSAT per queue, team and agent; QA scorecards")
def agents(s: Aggregates) -> dict[str, Any]:
    view = s.dashboard("agents")
    return {**s.period(), "kpis": view["kpis"], **view["tables"], "scorecards": view["scorecards"]}


@router.get("/quality", summary="Data-quality report and quarantine counts")
def quality(request: Request, who: auth.Principal = require("aggregates")) -> dict[str, Any]:
    view = dashboards.quality(_gate(request), "en")
    return {k: v for k, v in view.items() if k != "blocks"}


@router.get("/workforce", summary="Forecast vs actual and the staffing plan")
def workforce(s: Aggregates) -> dict[str, Any]:
    view = s.dashboard("workforce")
    forecast = view["blocks"]["forecast"]
    return {
        **s.period(),
        "plan": view["plan"],
        "summary": view.get("summary"),
        "available": forecast["ok"],
        "message": forecast["message"],
    }


@router.get("/contacts", summary="The contacts behind a KPI (drill-down)")
def contacts(
    request: Request,
    kpi: Annotated[str, Query(max_length=64)],
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    who: auth.Principal = require("contacts"),
    f: Filters = Depends(page_filters),
) -> dict[str, Any]:
    view = dashboards.contacts(_gate(request), kpi, f)
    return {**view, "rows": view["rows"][:limit]}


@router.get("/contacts.csv", summary="Drill-down contacts as CSV (an audited export)")
def contacts_csv(
    request: Request,
    kpi: Annotated[str, Query(max_length=64)],
    who: auth.Principal = require("export"),
    f: Filters = Depends(page_filters),
) -> Response:
    gate = _gate(request)
    with gate.workspace() as ws:
        view = views.contacts_view(ws, kpi, f, limit=1_000_000)
        audit.record(
            ws,
            who.username,
            "export",
            f"contacts:{kpi}",
            f"{f.start}..{f.end} {f.dims} rows={len(view['rows'])}",
        )
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=view["columns"] or ["none"])
    writer.writeheader()
    writer.writerows(view["rows"])
    name = f"contacts-{kpi}-{f.start}-{f.end}.csv"
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/customers/{identifier}", summary="A customer's 360 profile by any identifier")
def customer(
    request: Request,
    identifier: Annotated[str, Path(min_length=1, max_length=200)],
    who: auth.Principal = require("profile"),
) -> dict[str, Any]:
    with _gate(request).workspace() as ws:
        return views.customer_view(ws, identifier, who.username)
