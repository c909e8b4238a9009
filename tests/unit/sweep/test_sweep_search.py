"""The SLO search on a fake attainment function: doubling, bisection, the point budget, uncertainty."""

from __future__ import annotations

from ais_bench.sweep.search import SearchPoint, confidence_statement, search_max_passing


def _step(limit: float, *, interval: float = 0.0) -> tuple[list[float], object]:
    """Attainment 1 up to ``limit``, 0.5 above; each point's interval +/- ``interval``."""
    measured: list[float] = []

    def measure(value: float) -> SearchPoint:
        measured.append(value)
        attainment = 1.0 if value <= limit else 0.5
        return SearchPoint(value, attainment, max(0.0, attainment - interval), min(1.0, attainment + interval))

    return measured, measure


def test_integer_search_doubles_then_bisects() -> None:
    measured, measure = _step(5)
    outcome = search_max_passing(measure, target=0.99, resolution=1, integer=True, max_points=12, max_value=1024)
    assert measured == [1, 2, 4, 8, 6, 5]
    assert (outcome.max_passing, outcome.min_failing, outcome.limited) == (5, 6, False)
    assert outcome.uncertain_values == []


def test_limit_at_a_power_of_two() -> None:
    measured, measure = _step(4)
    outcome = search_max_passing(measure, target=0.99, resolution=1, integer=True, max_points=12, max_value=1024)
    assert measured == [1, 2, 4, 8, 6, 5]
    assert (outcome.max_passing, outcome.min_failing) == (4, 5)


def test_nothing_passes() -> None:
    measured, measure = _step(0.5)
    outcome = search_max_passing(measure, target=0.99, resolution=1, integer=True, max_points=12, max_value=1024)
    assert measured == [1]
    assert (outcome.max_passing, outcome.min_failing, outcome.limited) == (None, 1, False)
    assert "no measured concurrency met" in confidence_statement(outcome, "concurrency")


def test_rate_search_below_one_bisects_from_zero() -> None:
    measured, measure = _step(0.3)
    outcome = search_max_passing(measure, target=0.99, resolution=0.25, integer=False, max_points=12, max_value=1e6)
    assert measured == [1, 0.5, 0.25]
    assert (outcome.max_passing, outcome.min_failing, outcome.limited) == (0.25, 0.5, False)


def test_rate_search_to_resolution() -> None:
    measured, measure = _step(3.1)
    outcome = search_max_passing(measure, target=0.99, resolution=0.25, integer=False, max_points=12, max_value=1e6)
    assert measured == [1, 2, 4, 3, 3.5, 3.25]
    assert (outcome.max_passing, outcome.min_failing) == (3, 3.25)


def test_point_budget_ends_the_search() -> None:
    measured, measure = _step(1000)
    outcome = search_max_passing(measure, target=0.99, resolution=1, integer=True, max_points=4, max_value=1024)
    assert measured == [1, 2, 4, 8]
    assert (outcome.max_passing, outcome.min_failing, outcome.limited) == (8, None, True)
    assert "stopped at its limit" in confidence_statement(outcome, "concurrency")
    measured, measure = _step(5)
    outcome = search_max_passing(measure, target=0.99, resolution=1, integer=True, max_points=5, max_value=1024)
    assert measured == [1, 2, 4, 8, 6]
    assert (outcome.max_passing, outcome.min_failing, outcome.limited) == (4, 6, True)


def test_axis_maximum_ends_the_doubling() -> None:
    measured, measure = _step(1e9)
    outcome = search_max_passing(measure, target=0.99, resolution=1, integer=True, max_points=12, max_value=8)
    assert measured == [1, 2, 4, 8]
    assert outcome.max_passing == 8 and outcome.limited


def test_a_point_without_results_fails() -> None:
    def measure(value: float) -> SearchPoint:
        return SearchPoint(value, 1.0 if value < 3 else None)

    outcome = search_max_passing(measure, target=0.99, resolution=1, integer=True, max_points=12, max_value=64)
    assert (outcome.max_passing, outcome.min_failing) == (2, 3)


def test_straddling_intervals_are_flagged() -> None:
    _, measure = _step(4, interval=0.2)  # 1.0 [0.8, 1.0] straddles 0.99; 0.5 [0.3, 0.7] does not
    outcome = search_max_passing(measure, target=0.99, resolution=1, integer=True, max_points=12, max_value=64)
    assert outcome.uncertain_values == [4]
    statement = confidence_statement(outcome, "concurrency")
    assert statement.startswith("highest concurrency meeting SLO attainment >= 0.99: 4 (attainment 1.000, 95% CI 0.800-1.000)")
    assert "5 fails (attainment 0.500, 95% CI 0.300-0.700)" in statement
    assert "Uncertain: the 95% interval of the attainment at 4 straddles the target" in statement
    _, measure = _step(4)
    outcome = search_max_passing(measure, target=0.99, resolution=1, integer=True, max_points=12, max_value=64)
    assert "intervals of the bracketing points clear the target" in confidence_statement(outcome, "concurrency")
