"""``ais_bench compare --fail-if RULE``: a threshold on a comparison row, for CI gates.

Grammar (spaces allowed between the parts)::

    RULE   := KEY OP AMOUNT
    KEY    := METRIC "." STAT | THROUGHPUT        ttft.p99, e2el.mean, request_throughput
    METRIC := ttft | tpot | itl | e2el            STAT := mean | p50 | p90 | p99
    THROUGHPUT := request_throughput | output_token_throughput | goodput | slo_attainment
    OP     := ">" | "<"
    AMOUNT := [+|-] NUMBER "%"                    the change from the baseline, in percent
            | (+|-) NUMBER UNIT                   the change from the baseline, in UNIT
            | NUMBER UNIT                         the compared run's own value, in UNIT
    UNIT   := ms | s (latencies) | req/s (request_throughput, goodput) | tokens/s | tok/s
              (output_token_throughput) | nothing (slo_attainment, a share 0..1)

``ttft.p99>+10%``: violated when a run's TTFT p99 is more than 10 % above the baseline's;
``output_token_throughput<-5%``: when its output token throughput fell by more than 5 %;
``e2el.p90>+200ms``: when its E2EL p90 rose by more than 200 ms; ``ttft.p99>500ms``: when its TTFT p99
is above 500 ms. A percent without a sign is a rise (``>``) or a fall (``<``) alike: ``ttft.p99>10%``
is ``ttft.p99>+10%``. ``slo_attainment<0.99``: when fewer than 99 % of a run's requests met the SLO.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ais_bench.errors import ConfigError
from ais_bench.metrics.comparison import GOODPUT_ROWS, LATENCY_METRICS, LATENCY_STATS, THROUGHPUTS

#: Units a rule may use, by the unit of the rows it applies to, and their factor to that unit.
_UNITS = {
    "ms": {"ms": 1.0, "s": 1000.0},
    "req/s": {"req/s": 1.0},
    "tokens/s": {"tokens/s": 1.0, "tok/s": 1.0},
    "share": {"": 1.0},
}
_RULE = re.compile(
    r"^\s*(?P<key>[a-z][a-z0-9_]*(?:\.[a-z0-9]+)?)\s*(?P<op>[<>])\s*(?P<sign>[+-]?)\s*"
    r"(?P<number>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>%|ms|s|req/s|tokens/s|tok/s|)\s*$"
)
GRAMMAR_HINT = (
    "write METRIC.STAT>+10% or <-5% (a change in percent), >+20ms (a change with a unit) or >500ms (the "
    "value); METRIC: ttft, tpot, itl, e2el (STAT: mean, p50, p90, p99), request_throughput, output_token_throughput, "
    "goodput, slo_attainment"
)


@dataclass(frozen=True)
class FailIf:
    """A parsed rule: ``key`` of a comparison row, ``above`` (``>``) or not (``<``), ``amount`` in the
    row's unit (or percent), ``relative`` (a change in percent), ``change`` (a change from the
    baseline rather than the run's own value). ``text``: the rule as written."""

    text: str
    key: str
    above: bool
    amount: float
    relative: bool
    change: bool

    def violated(self, a: float, b: float) -> bool:
        """Whether a run's value ``b`` against the baseline's ``a`` breaks the rule."""
        if self.relative:
            if a == 0:
                return False
            measured = (b - a) / abs(a) * 100
        else:
            measured = b - a if self.change else b
        return measured > self.amount if self.above else measured < self.amount


def row_unit(key: str) -> str | None:
    """The unit of the comparison rows named ``key``; None when there is no such row."""
    if key in THROUGHPUTS:
        return THROUGHPUTS[key][1]
    if key in GOODPUT_ROWS:
        return GOODPUT_ROWS[key]
    metric, _, stat = key.partition(".")
    return "ms" if metric in LATENCY_METRICS and stat in LATENCY_STATS else None


def parse_fail_if(text: str) -> FailIf:
    """``text`` as a ``FailIf``; a one-line ``ConfigError`` naming what is wrong otherwise."""
    match = _RULE.match(text)
    if match is None:
        raise ConfigError(f"--fail-if {text!r} is not a threshold", hint=GRAMMAR_HINT)
    key, unit = match["key"], match["unit"]
    expected = row_unit(key)
    if expected is None:
        raise ConfigError(f"--fail-if {text!r}: no metric {key!r}", hint=GRAMMAR_HINT)
    sign = -1.0 if match["sign"] == "-" else 1.0
    above = match["op"] == ">"
    if unit == "%":
        amount = sign * float(match["number"])
        if not match["sign"] and not above:
            amount = -amount  # "<5%" reads as "fell by more than 5 %"
        return FailIf(text, key, above, amount, relative=True, change=True)
    if unit not in _UNITS[expected]:
        allowed = ", ".join(["%", *(name or "no unit" for name in _UNITS[expected])])
        raise ConfigError(
            f"--fail-if {text!r}: {key} is in {expected}, not {unit or 'a number without a unit'}",
            hint=f"use one of {allowed}",
        )
    amount = sign * float(match["number"]) * _UNITS[expected][unit]
    return FailIf(text, key, above, amount, relative=False, change=bool(match["sign"]))
