"""The highest load that meets an SLO: double from 1 until a point's attainment falls below the
target, then bisect between the highest passing and the lowest failing value until they are at most
``resolution`` apart, measuring at most ``max_points`` points.

A point passes when its SLO attainment (the share of its requests that met every bound) is at least
the target; a point without results fails. The verdict of a point whose Wilson 95 % interval
straddles the target (``low < target <= high``) is uncertain: it is flagged, not re-run (a re-run
with the same request count rarely settles it; more requests per point do).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SearchPoint:
    """One measured point: its ``attainment`` (0..1) and interval, None when it gave no results."""

    value: float
    attainment: float | None
    ci_low: float | None = None
    ci_high: float | None = None

    def passes(self, target: float) -> bool:
        return self.attainment is not None and self.attainment >= target

    def uncertain(self, target: float) -> bool:
        """Its interval straddles ``target``: the verdict could flip with more requests."""
        return self.ci_low is not None and self.ci_high is not None and self.ci_low < target <= self.ci_high


@dataclass(frozen=True)
class SearchOutcome:
    """``max_passing``: the highest passing value (None: not even the lowest measured passes);
    ``min_failing``: the lowest failing value (None: every point passed); ``points`` in the order
    measured; ``limited``: the point budget or the axis' maximum ended the search before it
    reached ``resolution``."""

    target: float
    resolution: float
    max_passing: float | None
    min_failing: float | None
    points: list[SearchPoint] = field(default_factory=list)
    limited: bool = False

    @property
    def uncertain_values(self) -> list[float]:
        """The bracketing points (highest passing, lowest failing) whose verdict is uncertain."""
        bracket = {self.max_passing, self.min_failing}
        return [p.value for p in self.points if p.value in bracket and p.uncertain(self.target)]


def search_max_passing(
    measure: Callable[[float], SearchPoint],
    *,
    target: float,
    resolution: float,
    integer: bool,
    max_points: int,
    max_value: float,
) -> SearchOutcome:
    """Search with ``measure`` (value -> its measured point); see the module docstring. ``integer``:
    only whole values are measured (``resolution`` >= 1); ``max_value``: the axis' largest value."""
    points: list[SearchPoint] = []

    def passes(value: float) -> bool:
        point = measure(value)
        points.append(point)
        return point.passes(target)

    passing: float | None = None
    failing: float | None = None
    value = 1.0
    while len(points) < max_points and value <= max_value:
        if not passes(value):
            failing = value
            break
        passing, value = value, value * 2
    while failing is not None and len(points) < max_points:
        middle = _middle(passing or 0.0, failing, resolution, integer)
        if middle is None:
            break
        if passes(middle):
            passing = middle
        else:
            failing = middle
    limited = failing is None or _middle(passing or 0.0, failing, resolution, integer) is not None
    return SearchOutcome(target, resolution, passing, failing, points, limited)


def _middle(low: float, high: float, resolution: float, integer: bool) -> float | None:
    """The next value to measure between a passing ``low`` (0 = none yet) and a failing ``high``,
    None when they are within ``resolution`` (nothing left to measure)."""
    if high - low <= resolution * (1 + 1e-9):
        return None
    if integer:
        middle = float(int(low + (high - low) // 2))
        return middle if low < middle < high and middle >= 1 else None
    return round(low + (high - low) / 2, 9)


def confidence_statement(outcome: SearchOutcome, axis_name: str) -> str:
    """One paragraph: the result, what brackets it, how sure it is."""
    target = f"{outcome.target:g}"
    by_value = {p.value: p for p in outcome.points}
    if outcome.max_passing is None:
        text = f"no measured {axis_name} met the SLO attainment target {target}"
        if outcome.min_failing is not None:
            text += f" (the lowest measured, {outcome.min_failing:g}, failed)"
    else:
        text = f"highest {axis_name} meeting SLO attainment >= {target}: {outcome.max_passing:g} ({_point_text(by_value[outcome.max_passing])})"
        if outcome.min_failing is not None:
            text += f"; {outcome.min_failing:g} fails ({_point_text(by_value[outcome.min_failing])})"
        else:
            text += "; no measured value failed"
    if outcome.limited:
        text += f"; the search stopped at its limit before reaching the resolution {outcome.resolution:g}"
    else:
        text += f"; resolution {outcome.resolution:g}"
    uncertain = outcome.uncertain_values
    if uncertain:
        values = ", ".join(f"{v:g}" for v in uncertain)
        text += (
            f". Uncertain: the 95% interval of the attainment at {values} straddles the target "
            "(too few requests per point to tell): raise --num-prompts for a firmer answer"
        )
    else:
        text += ". The 95% intervals of the bracketing points clear the target"
    return text + "."


def _point_text(point: SearchPoint) -> str:
    if point.attainment is None:
        return "no results"
    interval = ""
    if point.ci_low is not None and point.ci_high is not None:
        interval = f", 95% CI {point.ci_low:.3f}-{point.ci_high:.3f}"
    return f"attainment {point.attainment:.3f}{interval}"
