"""The swept values of ``--concurrency`` and ``--request-rate``: one value, a list ``1,2,4,8`` or a
geometric range ``START:END:xFACTOR`` (``1:64:x2`` = 1, 2, 4, ..., 64; END is included when a step
lands on it and never exceeded)."""

from __future__ import annotations

from dataclasses import dataclass

#: Points a range may produce (a typo such as ``1:1e9:x1.0001`` is refused, not run for weeks).
MAX_SWEEP_POINTS = 64


@dataclass(frozen=True)
class SweepAxis:
    """What a sweep varies: ``name`` (the ``RunOverrides`` field, also ``sweep.json``'s ``axis``),
    ``flag`` and whether its values are integers."""

    name: str
    flag: str
    integer: bool
    unit: str


AXES = {
    "concurrency": SweepAxis("concurrency", "--concurrency", integer=True, unit="requests in flight"),
    "request_rate": SweepAxis("request_rate", "--request-rate", integer=False, unit="req/s"),
}


def parse_sweep_values(text: str, *, integer: bool) -> list[float]:
    """The values ``text`` names, in the order given (a range ascends). Raises ``ValueError`` with
    the reason (argparse shows it as the flag's error)."""
    text = text.strip()
    if ":" in text:
        values = _range_values(text, integer)
    else:
        values = [_number(part, integer) for part in text.split(",")]
    if len(set(values)) != len(values):
        raise ValueError(f"{text!r} names a value twice")
    if len(values) > MAX_SWEEP_POINTS:
        raise ValueError(f"{text!r} makes {len(values)} points, more than {MAX_SWEEP_POINTS}")
    return values


def _range_values(text: str, integer: bool) -> list[float]:
    parts = text.split(":")
    if len(parts) != 3 or not parts[2].strip().lower().startswith("x"):
        raise ValueError(f"{text!r} is not a range: expected START:END:xFACTOR, e.g. 1:64:x2")
    start, end = _number(parts[0], integer), _number(parts[1], integer)
    factor = _float(parts[2].strip()[1:], text)
    if not factor > 1 or factor == float("inf"):
        raise ValueError(f"{text!r}: the factor must be a finite number > 1")
    if start <= 0 or end < start:
        raise ValueError(f"{text!r}: expected 0 < START <= END")
    values: list[float] = []
    value = float(start)
    while value <= end * (1 + 1e-12) and len(values) <= MAX_SWEEP_POINTS:
        stepped = float(round(value)) if integer else value
        if not values or stepped > values[-1]:
            values.append(stepped)
        value *= factor
    return values


def _number(part: str, integer: bool) -> float:
    part = part.strip()
    if not part:
        raise ValueError("an empty value in the list: expected e.g. 1,2,4,8")
    if integer:
        try:
            value = int(part)
        except ValueError:
            raise ValueError(f"{part!r} is not an integer") from None
        if value < 1:
            raise ValueError(f"{value} is too small: expected an integer >= 1")
        return float(value)
    number = _float(part, part)
    if not number >= 0 or number == float("inf"):
        raise ValueError(f"{part} is out of range: expected a finite number >= 0")
    return number


def _float(part: str, whole: str) -> float:
    try:
        return float(part)
    except ValueError:
        raise ValueError(f"{part!r} in {whole!r} is not a number") from None
