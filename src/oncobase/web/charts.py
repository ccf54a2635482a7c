"""Plotly figures as JSON (drawn in the browser by the served plotly.min.js)."""

from __future__ import annotations

import json

from oncobase.api.statistics import CountTable, SurvivalRow


def bar_chart_json(
    table: CountTable | None, *, kind: str = "bar", stacked: bool = False
) -> str | None:
    """One trace per column of the table; suppressed cells are gaps."""
    if table is None or not table.rows:
        return None
    traces = []
    for j, column in enumerate(table.columns):
        trace: dict[str, object] = {
            "type": "scatter" if kind == "line" else "bar",
            "name": column,
            "x": table.rows,
            "y": [row[j] for row in table.cells],
        }
        if kind == "line":
            trace["mode"] = "lines+markers"
        traces.append(trace)
    layout = {
        "barmode": "stack" if stacked else "group",
        "margin": {"l": 50, "r": 10, "t": 10, "b": 80},
        "xaxis": {"title": {"text": table.row_dimension}, "type": "category"},
        "yaxis": {"title": {"text": "cases"}, "rangemode": "tozero"},
        "showlegend": len(table.columns) > 1,
        "height": 360,
    }
    return json.dumps({"data": traces, "layout": layout})


def survival_chart_json(rows: list[SurvivalRow]) -> str | None:
    shown = [r for r in rows if r.estimate is not None]
    if not shown:
        return None
    traces = []
    for years in sorted({r.years for r in shown}):
        sel = [r for r in shown if r.years == years]
        traces.append(
            {
                "type": "bar",
                "name": f"{years:g} y",
                "x": [f"{r.site_group} {r.sex}" for r in sel],
                "y": [r.estimate for r in sel],
                "error_y": {
                    "type": "data",
                    "symmetric": False,
                    "array": [(r.ci_upper or 0) - (r.estimate or 0) for r in sel],
                    "arrayminus": [(r.estimate or 0) - (r.ci_lower or 0) for r in sel],
                },
            }
        )
    layout = {
        "barmode": "group",
        "margin": {"l": 50, "r": 10, "t": 10, "b": 100},
        "yaxis": {"title": {"text": "observed survival"}, "range": [0, 1]},
        "height": 360,
    }
    return json.dumps({"data": traces, "layout": layout})
