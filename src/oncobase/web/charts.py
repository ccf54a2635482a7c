"""Plotly figures as JSON (drawn in the browser by the served plotly.min.js)."""

from __future__ import annotations

import json

from oncobase.api.statistics import CountTable, Rate, SurvivalRow


def bar_chart_json(
    table: CountTable | None,
    *,
    kind: str = "bar",
    stacked: bool = False,
    value_label: str = "cases",
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
        "yaxis": {"title": {"text": value_label}, "rangemode": "tozero"},
        "showlegend": len(table.columns) > 1,
        "height": 360,
    }
    return json.dumps({"data": traces, "layout": layout})


def _interval_bars(
    name: str,
    x: list[str],
    y: list[float | None],
    *,
    lower: list[float | None],
    upper: list[float | None],
) -> dict[str, object]:
    """A bar trace with its (asymmetric) confidence interval as error bars."""
    return {
        "type": "bar",
        "name": name,
        "x": x,
        "y": y,
        "error_y": {
            "type": "data",
            "symmetric": False,
            "array": [(u or 0) - (v or 0) for v, u in zip(y, upper, strict=True)],
            "arrayminus": [(v or 0) - (lo or 0) for v, lo in zip(y, lower, strict=True)],
        },
    }


def rate_chart_json(rates: list[Rate], *, label: str = "per 100,000") -> str | None:
    """Crude and age-standardised rates of each row, with the ASR's confidence interval."""
    if not rates:
        return None
    x = [r.label for r in rates]
    traces: list[dict[str, object]] = [
        {"type": "bar", "name": "crude", "x": x, "y": [r.crude for r in rates]}
    ]
    if any(r.asr is not None for r in rates):
        traces.append(
            _interval_bars(
                "ASR",
                x,
                [r.asr for r in rates],
                lower=[r.ci_lower for r in rates],
                upper=[r.ci_upper for r in rates],
            )
        )
    layout = {
        "barmode": "group",
        "margin": {"l": 60, "r": 10, "t": 10, "b": 80},
        "xaxis": {"type": "category"},
        "yaxis": {"title": {"text": label}, "rangemode": "tozero"},
        "height": 320,
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
            _interval_bars(
                f"{years:g} y",
                [f"{r.site_group} {r.sex}" for r in sel],
                [r.estimate for r in sel],
                lower=[r.ci_lower for r in sel],
                upper=[r.ci_upper for r in sel],
            )
        )
    layout = {
        "barmode": "group",
        "margin": {"l": 50, "r": 10, "t": 10, "b": 100},
        "yaxis": {"title": {"text": "observed survival"}, "range": [0, 1]},
        "height": 360,
    }
    return json.dumps({"data": traces, "layout": layout})
