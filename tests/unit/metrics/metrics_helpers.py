"""Shared test data and hypothesis strategies of the metrics tests."""

from __future__ import annotations

import math

from hypothesis import strategies as st

from ais_bench.records.record import RequestTable

# Three successful requests, one "successful" with a single time point (counts as failed) and one
# failed request that was never sent. Hand-computed values are in test_metrics_summary.py.
HAND_POINTS = [
    [10.0, 10.2, 10.3, 10.45, 11.0],  # n_in 100, n_out 9
    [10.5, 10.8, 11.1, 11.3],  # n_in 200, n_out 4
    [11.0, 11.4],  # n_in 50, n_out 1
    [10.9],  # success=True but < 2 points -> failed
    [],  # failed, no time points, no start
]
HAND_SUCCESS = [True, True, True, True, False]
HAND_IN = [100, 200, 50, 7, 0]
HAND_OUT = [9, 4, 1, 0, 0]


def build_hand_table() -> RequestTable:
    return RequestTable.from_columns(HAND_POINTS, HAND_SUCCESS, HAND_IN, HAND_OUT)


def table_from_rows(rows: list[tuple[list[float], bool, int, int]]) -> RequestTable:
    return RequestTable.from_columns(
        [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows]
    )


@st.composite
def request_rows(draw: st.DrawFn, max_rows: int = 25) -> list[tuple[list[float], bool, int, int]]:
    """Random requests: float times (some equal, i.e. zero gaps), random lengths and success flags."""
    n = draw(st.integers(0, max_rows))
    rows = []
    for _ in range(n):
        start = draw(st.floats(0, 1000, allow_nan=False, allow_infinity=False))
        gaps = draw(
            st.lists(
                st.one_of(st.just(0.0), st.floats(1e-6, 5, allow_nan=False, allow_infinity=False)), max_size=9
            )
        )
        points = [start]
        for gap in gaps:
            points.append(points[-1] + gap)
        if draw(st.booleans()) and len(points) > 1 and draw(st.booleans()):
            points = points[:1]  # sometimes a single point
        rows.append(
            (
                points,
                draw(st.booleans()) or draw(st.booleans()),
                draw(st.integers(0, 60)),
                draw(st.integers(0, 60)),
            )
        )
    return rows


def assert_close(actual: float | None, expected: float, *, abs_tol: float) -> None:
    assert actual is not None
    assert math.isclose(actual, expected, abs_tol=abs_tol), (actual, expected)
