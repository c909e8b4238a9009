"""Server vs client over the same span, on hand-made runs and scripted scrapes; every figure below is
worked out by hand from the timestamps.

The run (``waves``): 10 waves of 4 requests sent together every 2 s (wave k at 2k), each with 16
token events at 2k + 0.1 j (j = 1..16, one token each) and ending at its last event, 2k + 1.6; so 64
tokens end together at 2k + 1.6, as llama.cpp's ``--parallel 4`` slots finish in lockstep. Scrapes
every 0.5 s at 0.25 + 0.5 m, never on an event.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from ais_bench.records.record import RequestTable
from ais_bench.records.server_series import ServerSeries
from ais_bench.server_metrics import StageWindow, derive
from ais_bench.server_metrics.cross_check import (
    MIN_GAUGE_SAMPLES,
    CrossCheck,
    InFlight,
    client_tokens_between,
    cross_check,
    scrape_interval_s,
)

WAVES, PER_WAVE, TOKENS, INPUT = 10, 4, 16, 100
SCRAPES = [0.25 + 0.5 * m for m in range(41)]  # 0.25 .. 20.25
#: the steady window of the tests: counter span (3.25, 11.75], the last scrape at or before 3.5 and
#: the first at or after 11.5
STEADY = (3.5, 11.5)


def waves() -> RequestTable:
    points, starts, ends = [], [], []
    for k in range(WAVES):
        for _ in range(PER_WAVE):
            send = 2.0 * k
            points.append([send] + [round(send + 0.1 * j, 9) for j in range(1, TOKENS + 1)])
            starts.append(send)
            ends.append(send + 0.1 * TOKENS)
    n = len(points)
    return RequestTable.from_columns(points, [True] * n, [INPUT] * n, [TOKENS] * n, starts, ends)


def ended_by(t: float) -> int:
    """Requests of ``waves`` ended at or before ``t``."""
    return sum(PER_WAVE for k in range(WAVES) if 2.0 * k + 1.6 <= t)


def tokens_by(t: float) -> int:
    """Token events of ``waves`` at or before ``t``."""
    return sum(PER_WAVE for k in range(WAVES) for j in range(1, TOKENS + 1) if 2.0 * k + 0.1 * j <= t)


def first_tokens_by(t: float) -> int:
    return sum(PER_WAVE for k in range(WAVES) if 2.0 * k + 0.1 <= t)


def running_at(t: float) -> int:
    return PER_WAVE if any(2.0 * k <= t < 2.0 * k + 1.6 for k in range(WAVES)) else 0


def scripted(metrics: dict[str, Callable[[float], float]]) -> ServerSeries:
    return ServerSeries.of([(t, name, "", float(value(t))) for t in SCRAPES for name, value in metrics.items()])


def llamacpp(generated: Callable[[float], float] = lambda t: TOKENS * ended_by(t), **more: Callable[[float], float]):
    """llama.cpp's counters: generated tokens added when a request ends (its slot released)."""
    return scripted({
        "llamacpp:tokens_predicted_total": generated,
        "llamacpp:requests_processing": running_at,
        "llamacpp:requests_deferred": lambda t: 0,
        **{f"llamacpp:{name}": value for name, value in more.items()},
    })


def check(series: ServerSeries, window: tuple[float, float] = STEADY) -> CrossCheck:
    result = cross_check(series, derive(series, StageWindow("stable", *window)), waves())
    assert result is not None
    return result


def test_the_old_figure_is_off_by_the_edges_of_a_short_span() -> None:
    # tokens received in (3.25, 11.75]: wave 1's events 3.3..3.6 (4 x 4), waves 2-5 whole (4 x 64)
    assert client_tokens_between(waves(), 3.25, 11.75) == 16 + 4 * 64 == 272
    # while the at-end counter grew by the 5 waves that ended in it (3.6, 5.6, ..., 11.6): 320, +17.6 %
    assert TOKENS * (ended_by(11.75) - ended_by(3.25)) == 320


def test_llamacpp_at_end_counter_against_the_requests_that_ended_in_the_span() -> None:
    result = check(llamacpp())
    tokens = result.tokens
    assert tokens is not None and tokens.counted == "at_end"
    assert tokens.span == (3.25, 11.75)
    assert (tokens.server_tokens, tokens.client_tokens) == (320.0, 320.0)
    # half an interval either side of 3.25 holds no end; of 11.75, wave 5's 64 tokens at 11.6
    assert tokens.edge_tokens == 64.0
    assert (tokens.scrapes, tokens.completions) == (18, 20)
    assert tokens.verdict == "agrees" and result.warnings == ()
    assert result.server_generation_tokens_per_s == pytest.approx(320 / 8.5)
    assert result.client_output_tokens_per_s == pytest.approx(320 / 8.5)


def test_a_burst_read_on_the_other_side_of_a_scrape_is_within_the_edge_error() -> None:
    # the server reads its counter just before wave 5's slots are released (11.6) though the client
    # had them at 11.6: the scrape at 11.75 misses 64 tokens; 256 vs 320 is -20 %, within 64 + 5 %
    result = check(llamacpp(lambda t: TOKENS * ended_by(t - 0.2)))
    assert result.tokens is not None and result.tokens.server_tokens == 256.0
    assert result.tokens.verdict == "agrees" and result.warnings == ()


def test_another_client_beyond_the_edge_error_warns() -> None:
    # another client adds 32 tokens per wave: 5 x 96 = 480 against 320 (+50 %; allowed 64 + 16)
    result = check(llamacpp(lambda t: (TOKENS + 8) * ended_by(t)))
    assert result.tokens is not None and result.tokens.verdict == "differs"
    (warning,) = result.warnings
    assert "+50.0%" in warning and "requests that finished" in warning and "64 tokens" in warning
    assert "another client is using the server" in warning


def test_a_short_window_is_not_judged() -> None:
    # window (3.5, 4.5): span (3.25, 4.75] holds 4 scrapes and wave 1's 4 ends
    result = check(llamacpp(lambda t: 3 * TOKENS * ended_by(t)), window=(3.5, 4.5))
    assert result.tokens is not None
    assert result.tokens.verdict == "not judged: window holds 4 scrapes / 4 completions"
    assert not any("tokens/s" in warning for warning in result.warnings)
    assert "tokens/s not judged: window holds 4 scrapes / 4 completions" in result.lines()[0]


def test_running_requests_within_half_an_interval_of_each_scrape() -> None:
    result = check(llamacpp())
    requests = result.requests
    assert requests is not None and requests.samples == 16  # scrapes 3.75 .. 11.25
    # at each wave's 4 scrapes (2k + 0.25, 0.75, 1.25, 1.75): 4, 4, 4, 0 running; the window holds
    # 3.75 (0), three whole waves and 10.25 .. 11.25 (4, 4, 4): 48 / 16
    assert requests.server_mean == requests.client_mean == 3.0
    # the scrapes at 2k + 1.75 see the wave end at 2k + 1.6 and the next start at 2k + 2 within 0.25 s
    assert (requests.client_low, requests.client_high) == (3.0, (48 + 4 * 4) / 16)
    assert requests.verdict == "agrees"


def test_running_requests_of_another_client_warn() -> None:
    result = check(llamacpp(requests_deferred=lambda t: 4))  # 4 more waiting at every scrape: 7.0 vs 3..4
    assert result.requests is not None and result.requests.verdict == "differs"
    (warning,) = result.warnings
    assert "7.00 requests on the server" in warning and "3.00 to 4.00" in warning
    assert "another client's requests" in warning


def test_few_samples_of_the_running_gauge_are_not_judged() -> None:
    result = check(llamacpp(requests_deferred=lambda t: 4), window=(3.5, 6.0))  # scrapes 3.75 .. 5.75
    assert result.requests is not None and result.requests.samples == 5 < MIN_GAUGE_SAMPLES
    assert result.requests.verdict == "not judged: window holds 5 samples of the server's requests"
    assert result.warnings == ()


def test_vllm_per_step_counter_against_the_tokens_received() -> None:
    def vllm(share: float) -> ServerSeries:
        return scripted({
            "vllm:generation_tokens_total": lambda t: share * tokens_by(t),
            "vllm:num_requests_running": running_at,
        })

    result = check(vllm(1.0))
    tokens = result.tokens
    assert tokens is not None and tokens.counted == "per_step"
    assert tokens.server_tokens == tokens.client_tokens == 272.0  # as in the first test
    # events within 0.25 s of 3.25: (3.0, 3.25] 3.1, 3.2 (2 x 4), (3.25, 3.5] 3.3, 3.4, 3.5 (3 x 4); of
    # 11.75: (11.5, 11.75] 11.6 only (4), (11.75, 12.0] none
    assert tokens.edge_tokens == 12.0 + 4.0
    assert tokens.verdict == "agrees" and result.warnings == ()
    # one server of two behind a proxy: 136 against 272
    (warning,) = check(vllm(0.5)).warnings
    assert "-50.0%" in warning and "tokens received in it" in warning and "proxy or router" in warning


def test_llamacpp_prompt_counter_is_computed_tokens_and_gives_the_cache_share() -> None:
    # llama.cpp evaluated 10 of each request's 100 prompt tokens (the rest came from its slot's cache)
    result = check(llamacpp(prompt_tokens_total=lambda t: 10 * first_tokens_by(t)))
    derived = derive(llamacpp(prompt_tokens_total=lambda t: 10 * first_tokens_by(t)), StageWindow("stable", *STEADY))
    got = derived.servers[0].to_json_dict()
    assert got["prompt_tokens"] is None  # never taken for every prompt token
    assert got["prompt_tokens_computed"] == 10 * 4 * 4  # first tokens at 4.1, 6.1, 8.1, 10.1
    # the client sent 4 waves x 4 x 100 prompt tokens whose first token came in the span
    assert result.prompt_cache_share == pytest.approx(1 - 160 / 1600)
    assert not any("prompt" in warning for warning in result.warnings)


def test_llamacpp_cached_prompt_counter_gives_the_share_from_the_server() -> None:
    series = llamacpp(
        prompt_tokens_total=lambda t: 10 * first_tokens_by(t),
        prompt_tokens_cached_total=lambda t: 30 * first_tokens_by(t),
    )
    got = derive(series, StageWindow("stable", *STEADY)).servers[0].to_json_dict()
    assert (got["prompt_tokens_computed"], got["prompt_tokens_cached"]) == (160.0, 480.0)
    assert got["prompt_cache_share"] == pytest.approx(480 / 640)
    assert check(series).prompt_cache_share == pytest.approx(0.75)  # the server's own, not the client's


def test_in_flight_step_function() -> None:
    in_flight = InFlight(waves())
    assert [in_flight.at(t) for t in (0.0, 1.59, 1.6, 1.99, 2.0)] == [4.0, 4.0, 0.0, 0.0, 4.0]
    assert in_flight.around(1.75, 0.25) == (0.0, 0.0, 4.0)


def test_scrape_interval_is_the_median_gap() -> None:
    assert scrape_interval_s(llamacpp()) == 0.5
    assert scrape_interval_s(ServerSeries.of([(1.0, "x", "", 0.0)])) == 0.0


def test_no_known_server_no_check() -> None:
    series = ServerSeries.of([(0.0, "process_cpu_seconds_total", "", 1.0), (1.0, "process_cpu_seconds_total", "", 2.0)])
    assert cross_check(series, derive(series, StageWindow("total", 0.0, 6.0)), waves()) is None


def test_json_names_every_part() -> None:
    document = check(llamacpp()).to_json_dict()
    assert document["generation_counted"] == "at_end" and document["counter_span_s"] == [3.25, 11.75]
    assert document["tokens_verdict"] == "agrees" and document["requests_verdict"] == "agrees"
    assert document["client_in_flight_range"] == [3.0, 4.0] and document["requests_samples"] == 16
    assert np.isclose(document["edge_error_tokens"], 64.0) and document["warnings"] == []


def test_warnings_are_whole_sentences_naming_stage_server_and_cause() -> None:
    result = check(llamacpp((lambda t: (TOKENS + 8) * ended_by(t)), requests_deferred=lambda t: 4))
    assert result.warnings == (
        "server metrics (llamacpp, stable stage): the server generated 56.5 tokens/s over its counter span of "
        "8.5 s, the client 37.6 tokens/s (tokens of the requests that finished in it; +50.0%, beyond the 5% "
        "tolerance and the 64 tokens a scrape edge can shift); likely cause: another client is using the server, "
        "or the server counts tokens the client does not receive (cancelled or timed-out requests)",
        "server metrics (llamacpp, stable stage): 7.00 requests on the server on average (running + waiting, 16 "
        "scrapes) while the client had 3.00 in flight (3.00 to 4.00 within half a scrape interval of each "
        "scrape); likely cause: another client's requests are on the server",
    )
