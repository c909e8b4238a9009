"""Plotly.js figures as plain dicts (``{"data": [...], "layout": {...}}``, numpy arrays allowed):
axis layouts of stacked rows and of a grid, adding a trace to a cell, compact time coordinates."""

from __future__ import annotations

from typing import Any

import numpy as np

#: A Plotly.js figure: ``{"data": [trace, ...], "layout": {...}}`` (numpy arrays allowed anywhere).
Figure = dict[str, Any]

#: The look of every axis: light grid lines on white.
AXIS_STYLE = {"gridcolor": "#EBF0F8", "linecolor": "#EBF0F8", "zerolinecolor": "#EBF0F8", "zerolinewidth": 2,
              "ticks": "", "automargin": True}
#: Runs shorter than this store time coordinates as float32 (spacing <= 2**-13 s = 0.12 ms, half the
#: bytes in the file); longer runs keep float64. Hover durations are computed before the cast.
FLOAT32_SPAN_S = 2048.0


def new_figure(height_px: int, axes: dict[str, Any]) -> Figure:
    """An empty figure on white with a horizontal legend on top and the given axes."""
    return {
        "data": [],
        "layout": {
            "height": height_px,
            "hovermode": "closest",
            "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0 + 40 / height_px, "xanchor": "left", "x": 0},
            "margin": {"t": 80, "l": 70, "r": 30, "b": 60},
            "paper_bgcolor": "white",
            "plot_bgcolor": "white",
            "font": {"color": "#2a3f5f"},
            "hoverlabel": {"align": "left"},
            "shapes": [],
            **axes,
        },
    }


def axis_name(name: str, cell: int) -> str:
    """The name of cell ``cell``'s axis: ``x``, ``x2``, ... (``xaxis``, ``xaxis2``, ... in the layout)."""
    return name if cell == 1 else f"{name}{cell}"


def add_trace(figure: Figure, trace: dict[str, Any], cell: int) -> None:
    figure["data"].append({**trace, "xaxis": axis_name("x", cell), "yaxis": axis_name("y", cell)})


def time_coords(values: np.ndarray, span_s: float) -> np.ndarray:
    """Time coordinates (s) as float32 for runs shorter than ``FLOAT32_SPAN_S``, else float64."""
    return values.astype(np.float32) if span_s < FLOAT32_SPAN_S else values


def _title(text: str, x: float, y: float) -> dict[str, Any]:
    return {"text": text, "x": x, "xref": "paper", "xanchor": "center", "y": y, "yref": "paper",
            "yanchor": "bottom", "showarrow": False, "font": {"size": 16}}


def stacked_axes(heights: list[float], titles: list[str], y_titles: list[str], spacing: float) -> dict[str, Any]:
    """Layout of plots stacked in rows sharing one x axis (the last row's, which alone shows its
    labels): each row's x and y axis, and each row's title above it. ``spacing``: the gap between
    two rows (a fraction of the figure's height)."""
    rows = len(heights)
    usable = 1.0 - spacing * (rows - 1)
    layout: dict[str, Any] = {"annotations": []}
    top = 1.0
    for row, (share, title, y_title) in enumerate(zip(heights, titles, y_titles, strict=True), start=1):
        bottom = max(top - share / sum(heights) * usable, 0.0)
        x_axis: dict[str, Any] = {"anchor": axis_name("y", row), "domain": [0.0, 1.0], **AXIS_STYLE}
        if row < rows:
            x_axis.update(matches=axis_name("x", rows), showticklabels=False)
        else:
            x_axis["title"] = {"text": "Time after the first send (s)"}
        y_axis: dict[str, Any] = {"anchor": axis_name("x", row), "domain": [bottom, top], "title": {"text": y_title},
                                  **AXIS_STYLE}
        if row > 1:
            y_axis["rangemode"] = "tozero"
        layout[axis_name("xaxis", row)] = x_axis
        layout[axis_name("yaxis", row)] = y_axis
        layout["annotations"].append(_title(title, 0.5, top))
        top = bottom - spacing
    return layout


def grid_axes(titles: list[str], x_titles: list[str], y_titles: list[str], *, columns: int,
              spacing: tuple[float, float] = (0.06, 0.2)) -> dict[str, Any]:
    """Layout of independent plots in a grid filled row by row (cell k = row * columns + column + 1):
    ``titles``, ``x_titles`` and ``y_titles`` one per cell; ``spacing`` = (horizontal, vertical) gaps."""
    rows = -(-len(titles) // columns)
    width = (1.0 - spacing[0] * (columns - 1)) / columns
    height = (1.0 - spacing[1] * (rows - 1)) / rows
    layout: dict[str, Any] = {"annotations": []}
    for index, (title, x_title, y_title) in enumerate(zip(titles, x_titles, y_titles, strict=True)):
        row, column = divmod(index, columns)
        cell = index + 1
        left, top = column * (width + spacing[0]), 1.0 - row * (height + spacing[1])
        layout[axis_name("xaxis", cell)] = {"anchor": axis_name("y", cell), "domain": [left, left + width],
                                            "title": {"text": x_title}, **AXIS_STYLE}
        layout[axis_name("yaxis", cell)] = {"anchor": axis_name("x", cell), "domain": [top - height, top],
                                            "title": {"text": y_title}, "rangemode": "tozero", **AXIS_STYLE}
        layout["annotations"].append(_title(title, left + width / 2, top))
    return layout
