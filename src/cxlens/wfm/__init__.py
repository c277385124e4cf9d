"""Workforce management: forecast contacts, staff them (Erlang B/C/A), check by simulation.

The public API (imported lazily so ``import cxlens.wfm`` stays light)::

    import cxlens
    from cxlens import wfm
    ws = cxlens.open("demo-ws")
    wfm.forecast_vs_actual(ws, queue=None, days=7, interval=30)   # held-out week + next days
    wfm.staffing_plan(ws, target=(0.8, 20), interval=30, days=7)  # per queue x interval
    wfm.peak_heatmap(ws)                                          # hour x weekday
    wfm.staff_erlang_c(100, aht_s=180, interval_s=1800, target=0.8, answer_s=20)

See docs/wfm.md for the definitions and the benchmark.
"""

from __future__ import annotations

from cxlens._lazy import lazy_exports

_EXPORTS = {
    "forecast": "cxlens.wfm.forecast",
    "ForecastResult": "cxlens.wfm.forecast",
    "staffing_plan": "cxlens.wfm.plan",
    "forecast_vs_actual": "cxlens.wfm.plan",
    "peak_heatmap": "cxlens.wfm.plan",
    "parse_target": "cxlens.wfm.plan",
    "load_history": "cxlens.wfm.history",
    "estimate_patience": "cxlens.wfm.history",
    "erlang_b": "cxlens.wfm.erlang",
    "erlang_c": "cxlens.wfm.erlang",
    "erlang_c_metrics": "cxlens.wfm.erlang",
    "erlang_a_metrics": "cxlens.wfm.erlang",
    "staff_erlang_c": "cxlens.wfm.erlang",
    "staff_erlang_a": "cxlens.wfm.erlang",
    "trunks_erlang_b": "cxlens.wfm.erlang",
    "simulate_interval": "cxlens.wfm.simulate",
    "simulate_plan": "cxlens.wfm.simulate",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
