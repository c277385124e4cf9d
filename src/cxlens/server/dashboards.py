"""The cached views every shell asks for: the web pages, the JSON API and the start-up warm-up.

One function per view kind, so a page and its API twin share one cache entry and one cache key
(a page and the API asking for the same filters compute the view once). Aggregate views are
also kept on disk per data state (``persist=True``), so a restarted server serves them at once;
the contacts drill-down (rows about people) is kept in memory only.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, Final

from cxlens.errors import CxlensError
from cxlens.server import data, views
from cxlens.server.filters import Filters
from cxlens.server.gate import Gate
from cxlens.workspace import Workspace

View = Callable[[Workspace, Filters, str], dict[str, Any]]

# The filtered dashboards: page name → the view function behind the page and its API twin.
DASHBOARDS: Final[dict[str, View]] = {
    "overview": views.overview,
    "journeys": views.journeys_view,
    "agents": views.agents_view,
    "workforce": views.workforce_view,
}


# Dashboards that read only some of the filters, cached by those alone: the workforce page
# plans the coming days from the whole history, whatever period or tier is picked.
FILTERS_READ: Final[dict[str, tuple[str, ...]]] = {"workforce": ("queue", "channel")}


def dashboard(gate: Gate, name: str, f: Filters, lang: str) -> dict[str, Any]:
    """The view of dashboard ``name`` for filters ``f`` in ``lang``, cached until data changes."""
    view = DASHBOARDS[name]
    key = f.key()
    if name in FILTERS_READ:
        key = {k: v for k, v in key.items() if k in FILTERS_READ[name]}
    return gate.cached(name, {"f": key, "lang": lang}, lambda ws: view(ws, f, lang), persist=True)


def quality(gate: Gate, lang: str) -> dict[str, Any]:
    """The data-quality view (workspace-wide: no filters)."""
    return gate.cached(
        "quality", {"lang": lang}, lambda ws: views.quality_view(ws, lang), persist=True
    )


def contacts(gate: Gate, kpi: str, f: Filters) -> dict[str, Any]:
    """The first rows of the drill-down behind KPI ``kpi``."""
    return gate.cached(
        "contacts", {"f": f.key(), "kpi": kpi}, lambda ws: views.contacts_view(ws, kpi, f)
    )


def catalog(gate: Gate) -> dict[str, dict[str, str]]:
    """Every KPI's labels, unit and definition."""
    return gate.cached("catalog", {}, lambda ws: data.kpi_catalog())


def period(gate: Gate) -> tuple[date, date] | None:
    """First and last local day with contacts (kept on disk as ISO dates, like the views)."""

    def iso(ws: Workspace) -> list[str] | None:
        bounds = data.data_period(ws)
        return None if bounds is None else [bounds[0].isoformat(), bounds[1].isoformat()]

    found = gate.cached("period", {}, iso, persist=True)
    return None if found is None else (date.fromisoformat(found[0]), date.fromisoformat(found[1]))


def options(gate: Gate) -> dict[str, list[str]]:
    """Values of the channel, queue and tier pickers."""
    return gate.cached("options", {}, data.filter_options, persist=True)


def default_filters(gate: Gate) -> Filters | None:
    """The view a visitor without filters gets: the last 28 days that have data."""
    bounds = period(gate)
    if bounds is None:
        return None
    return Filters(start=max(bounds[0], bounds[1] - timedelta(days=27)), end=bounds[1])


def warm(gate: Gate, languages: tuple[str, ...] = ("en", "zh")) -> int:
    """Compute the default view of every dashboard page ahead of the first visitor.

    Returns how many views were computed; a failure only means the first visitor waits.
    """
    done = 0
    try:
        options(gate)
        f = default_filters(gate)
        if f is None:
            return done
        for lang in languages:
            for name in DASHBOARDS:
                dashboard(gate, name, f, lang)
                done += 1
            quality(gate, lang)
            done += 1
    except CxlensError:
        pass
    return done
