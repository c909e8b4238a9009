"""``--fail-if`` rules: the grammar, the units, and when a rule is broken."""

from __future__ import annotations

import pytest

from ais_bench.config.fail_if import FailIf, parse_fail_if
from ais_bench.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ttft.p99>+10%", FailIf("ttft.p99>+10%", "ttft.p99", True, 10.0, relative=True, change=True)),
        ("ttft.p99>10%", FailIf("ttft.p99>10%", "ttft.p99", True, 10.0, relative=True, change=True)),
        (" e2el.mean < -5 % ", FailIf(" e2el.mean < -5 % ", "e2el.mean", False, -5.0, relative=True, change=True)),
        ("output_token_throughput<5%",
         FailIf("output_token_throughput<5%", "output_token_throughput", False, -5.0, relative=True, change=True)),
        ("e2el.p90>+200ms", FailIf("e2el.p90>+200ms", "e2el.p90", True, 200.0, relative=False, change=True)),
        ("itl.p50>1.5s", FailIf("itl.p50>1.5s", "itl.p50", True, 1500.0, relative=False, change=False)),
        ("request_throughput<20req/s",
         FailIf("request_throughput<20req/s", "request_throughput", False, 20.0, relative=False, change=False)),
        ("output_token_throughput<-100tok/s",
         FailIf("output_token_throughput<-100tok/s", "output_token_throughput", False, -100.0, relative=False,
                change=True)),
        ("goodput<-10%", FailIf("goodput<-10%", "goodput", False, -10.0, relative=True, change=True)),
        ("slo_attainment<0.99", FailIf("slo_attainment<0.99", "slo_attainment", False, 0.99, relative=False,
                                       change=False)),
    ],
)
def test_grammar(text: str, expected: FailIf) -> None:
    assert parse_fail_if(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ttft.p99", "is not a threshold"),
        ("ttft.p99>=10%", "is not a threshold"),
        ("ttft.p95>+10%", "no metric 'ttft.p95'"),
        ("goodness>+10%", "no metric 'goodness'"),
        ("ttft.p99>+10req/s", "ttft.p99 is in ms, not req/s"),
        ("request_throughput<-3ms", "request_throughput is in req/s, not ms"),
        ("ttft.p99>500", "ttft.p99 is in ms, not a number without a unit"),
        ("slo_attainment<0.9req/s", "slo_attainment is in share, not req/s"),
    ],
)
def test_bad_rules_are_one_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_fail_if(text)
    line = caught.value.one_line()
    assert message in line and "\n" not in line
    assert "--fail-if" in line


def test_when_rules_are_broken() -> None:
    rise = parse_fail_if("ttft.p99>+10%")
    assert rise.violated(100.0, 110.5) and not rise.violated(100.0, 110.0) and not rise.violated(100.0, 50.0)
    fall = parse_fail_if("output_token_throughput<-5%")
    assert fall.violated(1000.0, 940.0) and not fall.violated(1000.0, 960.0) and not fall.violated(1000.0, 2000.0)
    added = parse_fail_if("e2el.p90>+200ms")
    assert added.violated(1000.0, 1200.5) and not added.violated(1000.0, 1199.0)
    value = parse_fail_if("ttft.p99>0.5s")
    assert value.violated(10.0, 501.0) and not value.violated(900.0, 499.0)
    assert not rise.violated(0.0, 5.0)  # no percent change from 0
