"""The KPI semantic layer: every KPI defined once, sliced by any dimension and local time grain.

>>> from cxlens import metrics
>>> sorted(metrics.KPIS)[:3]
['abandon_rate', 'abandoned', 'aht']
>>> metrics.compute(ws, "fcr_true", by="channel", grain="week")   # doctest: +SKIP

Public API (stable; see docs/kpis.md): :data:`KPIS`, :data:`DIMENSIONS`, :data:`GRAINS`,
:func:`compute`, :func:`compute_many`, :func:`overview`, :func:`heatmap`, :func:`contacts`, :func:`period_bounds`.
"""

from __future__ import annotations

from cxlens.metrics.query import (
    compute,
    compute_many,
    contacts,
    get_kpi,
    has_data,
    heatmap,
    overview,
    period_bounds,
    value_of,
)
from cxlens.metrics.registry import DIMENSIONS, GRAINS, KPIS, Kpi

__all__ = [
    "DIMENSIONS", "GRAINS", "KPIS", "Kpi", "compute", "compute_many", "contacts", "get_kpi",
    "has_data", "heatmap", "overview", "period_bounds", "value_of",
]
