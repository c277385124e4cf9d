"""The ``journeys`` pipeline stage: write ``journey_contacts`` and ``journeys``."""

from __future__ import annotations

import time
from typing import Any

from cxlens.journeys import build
from cxlens.workspace import Workspace

DAY_S = 86_400.0


def stitching_options(ws: Workspace) -> dict[str, Any]:
    """The :func:`build.touches` arguments this workspace's settings give (web sessions aside):
    shared by the stage and by :func:`cxlens.journeys.evaluate.evaluate_stitching`."""
    from cxlens.identity.stage import edge_rules

    cfg = ws.settings.journeys
    rules = edge_rules(ws)
    return dict(
        window_s=cfg.window_days * DAY_S,
        self_service_channels=cfg.self_service_channels,
        split_by_reason=cfg.split_by_reason,
        borrow_s=cfg.reason_borrow_hours * 3600.0,
        split_by_case=cfg.split_by_case,
        case_attach_s=cfg.case_attach_hours * 3600.0,
        link_s=cfg.line_link_minutes * 60.0,
        identifiers=ws.warehouse.table("identifiers"),
        link_blocked=rules.blocked,
        link_max_records=rules.max_records,
    )


def build_expressions(ws: Workspace) -> tuple[Any, Any]:
    """The (touches, journeys-from-stored-touches) builders for this workspace's settings."""
    wh = ws.warehouse
    cfg = ws.settings.journeys
    touches = build.touches(
        wh.table("interactions"), wh.table("identity_map"),
        web_events=wh.table("web_events") if cfg.include_web_sessions else None,
        help_prefixes=cfg.help_page_prefixes,
        **stitching_options(ws),
    )
    return touches, build.summarise


def run(ws: Workspace) -> dict[str, Any]:
    """Stitch interactions into journeys; returns counts and the headline journey figures.

    >>> import cxlens
    >>> from cxlens.journeys import stage
    >>> stage.run(cxlens.open("demo-ws"))   # doctest: +SKIP
    {'journeys': 41873, 'touches': 60211, ...}
    """
    t0 = time.perf_counter()
    wh = ws.warehouse
    touches, summarise = build_expressions(ws)
    with wh.transaction():
        n_touches = wh.replace("journey_contacts", touches)
        # Summarise from the stored touches: the window pipeline is not computed twice.
        n_journeys = wh.replace(
            "journeys", summarise(wh.table("journey_contacts"), wh.table("interactions"))
        )
    j = wh.table("journeys")
    stats = j.aggregate(
        multi=j.count(where=j.contacts > 1),
        cross=j.count(where=j.channels.contains(",")),
        fcr=j.count(where=j.first_contact_resolved),
    ).to_pyarrow().to_pylist()[0]
    return {
        "journeys": n_journeys,
        "touches": n_touches,
        "multi_contact_journeys": int(stats["multi"] or 0),
        "cross_channel_journeys": int(stats["cross"] or 0),
        "first_contact_resolved": int(stats["fcr"] or 0),
        "seconds": round(time.perf_counter() - t0, 2),
    }
