"""ECharts option builders: plain dicts, shared by the web pages and the static report.

Each builder takes already-aggregated rows (a handful to a few hundred points) and returns the
``option`` object ECharts renders; the browser does no data work, so the UI and the report show
exactly the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

PALETTE = [
    "#2563eb",
    "#f59e0b",
    "#10b981",
    "#ef4444",
    "#8b5cf6",
    "#06b6d4",
    "#ec4899",
    "#84cc16",
    "#64748b",
    "#f97316",
]


def _base(**extra: Any) -> dict[str, Any]:
    option: dict[str, Any] = {
        "color": PALETTE,
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 56, "right": 24, "top": 36, "bottom": 40},
        "animation": False,
    }
    option.update(extra)
    return option


def _num(value: Any, digits: int = 4) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number != number:  # NaN: no data for that point, ECharts shows a gap
        return None
    return round(number, digits)


def line(
    x: Sequence[Any],
    series: dict[str, Sequence[Any]],
    *,
    area: bool = False,
    stack: bool = False,
    y_name: str = "",
    percent: bool = False,
) -> dict[str, Any]:
    """A time line: one series per key over the same ``x`` labels (``percent``: values are
    already percentages; only the axis shows a % sign)."""
    return _base(
        legend={"top": 0, "type": "scroll"} if len(series) > 1 else None,
        xAxis={"type": "category", "data": [str(v) for v in x], "boundaryGap": False},
        yAxis={
            "type": "value",
            "name": y_name,
            **({"axisLabel": {"formatter": "{value}%"}} if percent else {}),
        },
        series=[
            {
                "name": name,
                "type": "line",
                "showSymbol": len(x) < 40,
                "data": [_num(v) for v in values],
                **({"stack": "total"} if stack else {}),
                **({"areaStyle": {"opacity": 0.25}} if area else {}),
            }
            for name, values in series.items()
        ],
    )


def bars(
    categories: Sequence[Any],
    series: dict[str, Sequence[Any]],
    *,
    horizontal: bool = False,
    percent: bool = False,
    y_name: str = "",
) -> dict[str, Any]:
    """Grouped bars (one group per category, one bar per series)."""
    cat_axis = {
        "type": "category",
        "data": [str(c) for c in categories],
        "axisLabel": {"interval": 0, "rotate": 0 if horizontal or len(categories) < 8 else 30},
    }
    val_axis = {
        "type": "value",
        "name": y_name,
        **({"axisLabel": {"formatter": "{value}%"}} if percent else {}),
    }
    return _base(
        legend={"top": 0} if len(series) > 1 else None,
        tooltip={"trigger": "axis", "axisPointer": {"type": "shadow"}},
        grid={"left": 120 if horizontal else 56, "right": 24, "top": 36, "bottom": 60},
        xAxis=val_axis if horizontal else cat_axis,
        yAxis=cat_axis if horizontal else val_axis,
        series=[
            {"name": name, "type": "bar", "data": [_num(v, 2) for v in values]}
            for name, values in series.items()
        ],
    )


def pie(items: Sequence[tuple[str, float]]) -> dict[str, Any]:
    """A donut of shares (e.g. the channel mix)."""
    return {
        "color": PALETTE,
        "animation": False,
        "tooltip": {"trigger": "item", "formatter": "{b}: {c} ({d}%)"},
        "legend": {"orient": "vertical", "left": 0, "type": "scroll"},
        "series": [
            {
                "type": "pie",
                "radius": ["40%", "70%"],
                "center": ["60%", "50%"],
                "data": [{"name": str(n), "value": _num(v)} for n, v in items],
            }
        ],
    }


def heatmap(
    cells: Sequence[tuple[int, int, float]], weekday_names: Sequence[str]
) -> dict[str, Any]:
    """Weekday (0 = Monday) × hour (0-23) grid of values."""
    peak = max((v for _, _, v in cells), default=0) or 1
    return {
        "animation": False,
        "tooltip": {"position": "top"},
        "grid": {"left": 56, "right": 24, "top": 16, "bottom": 72},
        "xAxis": {
            "type": "category",
            "data": [f"{h:02d}" for h in range(24)],
            "splitArea": {"show": True},
        },
        "yAxis": {
            "type": "category",
            "data": list(weekday_names),
            "splitArea": {"show": True},
            "inverse": True,
        },
        "visualMap": {
            "min": 0,
            "max": _num(peak),
            "calculable": True,
            "orient": "horizontal",
            "left": "center",
            "bottom": 0,
            "inRange": {"color": ["#f0f9ff", "#60a5fa", "#1e3a8a"]},
        },
        "series": [
            {
                "type": "heatmap",
                "name": "contacts",
                "data": [[int(h), int(d), _num(v)] for d, h, v in cells],
                "label": {"show": False},
            }
        ],
    }


def sankey(
    paths: Sequence[tuple[str, int]],
    max_steps: int = 4,
    display: Callable[[str], str] = str,
    single: str = "(only contact)",
) -> dict[str, Any]:
    """Channel paths ("web>chat>phone", count) as a Sankey of step-numbered channels.

    Nodes are "1 web", "2 chat"... so a path that returns to a channel (phone>phone) stays acyclic,
    which the Sankey layout requires; steps beyond ``max_steps`` are folded into the last one.
    """
    links: dict[tuple[str, str], int] = {}
    nodes: dict[str, None] = {}
    for path, count in paths:
        # Paths are written "web > chat > phone"; spaces around ">" are not part of a channel.
        every = [s.strip() for s in str(path).split(">") if s.strip()]
        steps = every[:max_steps]
        if len(every) > max_steps and steps:
            steps[-1] = steps[-1] + "+"
        names = [
            f"{i + 1} {display(s.rstrip('+'))}{'+' if s.endswith('+') else ''}"
            for i, s in enumerate(steps)
        ]
        for name in names:
            nodes.setdefault(name)
        if len(names) == 1:
            # A one-contact journey ends where it starts: show it as a flow into "end".
            names = [names[0], single]
            nodes.setdefault(single)
        for a, b in zip(names, names[1:], strict=False):
            links[(a, b)] = links.get((a, b), 0) + int(count)
    return {
        "color": PALETTE,
        "animation": False,
        "tooltip": {"trigger": "item"},
        "series": [
            {
                "type": "sankey",
                "layoutIterations": 32,
                "nodeGap": 10,
                "left": 8,
                "right": 80,
                "emphasis": {"focus": "adjacency"},
                "data": [{"name": n} for n in sorted(nodes)],
                "links": [{"source": a, "target": b, "value": v} for (a, b), v in links.items()],
                "lineStyle": {"color": "gradient", "curveness": 0.5, "opacity": 0.35},
            }
        ],
    }
