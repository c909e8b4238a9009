"""The grammar of swept values: one value, a list, START:END:xFACTOR."""

from __future__ import annotations

import pytest

from ais_bench.sweep.values import MAX_SWEEP_POINTS, parse_sweep_values


@pytest.mark.parametrize(
    ("text", "integer", "expected"),
    [
        ("8", True, [8]),
        ("1,2,4,8,16", True, [1, 2, 4, 8, 16]),
        (" 16, 4 ,1", True, [16, 4, 1]),  # kept in the order given
        ("1:64:x2", True, [1, 2, 4, 8, 16, 32, 64]),
        ("1:50:x2", True, [1, 2, 4, 8, 16, 32]),  # END not reached exactly: never exceeded
        ("1:10:x1.5", True, [1, 2, 3, 5, 8]),  # 1, 1.5, 2.25, 3.375, 5.06, 7.59 rounded, duplicates dropped
        ("0.5,1.5", False, [0.5, 1.5]),
        ("0.5:4:x2", False, [0.5, 1.0, 2.0, 4.0]),
        ("2:2:x2", True, [2]),
    ],
)
def test_values(text: str, integer: bool, expected: list[float]) -> None:
    assert parse_sweep_values(text, integer=integer) == expected


@pytest.mark.parametrize(
    ("text", "integer", "message"),
    [
        ("1,,4", True, "empty value"),
        ("1,2.5", True, "'2.5' is not an integer"),
        ("0,1", True, "0 is too small"),
        ("1,1", True, "names a value twice"),
        ("1:64", True, "expected START:END:xFACTOR"),
        ("1:64:2", True, "expected START:END:xFACTOR"),
        ("1:64:x1", True, "factor must be a finite number > 1"),
        ("8:1:x2", True, "0 < START <= END"),
        ("1:64:xfast", True, "is not a number"),
        ("-1,2", False, "out of range"),
        ("nan", False, "out of range"),
        ("1:1000000:x1.01", True, f"more than {MAX_SWEEP_POINTS}"),
    ],
)
def test_bad_values(text: str, integer: bool, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_sweep_values(text, integer=integer)
