"""Server vs client over the same window, on a hand-made run (tokens spread over token events)."""

from __future__ import annotations

import numpy as np

from ais_bench.records.record import RequestTable
from ais_bench.records.server_series import ServerSeries
from ais_bench.server_metrics import StageWindow, derive
from ais_bench.server_metrics.cross_check import client_tokens_between, cross_check

LABELS = 'model_name="m"'


def two_requests() -> RequestTable:
    """r0: sent at 0, token events at 1, 2, 3, 4 (8 tokens); r1: sent at 0, events at 5, 6 (4 tokens)."""
    points = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 0.0, 5.0, 6.0])
    return RequestTable(
        start_s=np.array([0.0, 0.0]), end_s=np.array([4.0, 6.0]), success=np.array([True, True]),
        input_tokens=np.array([10, 10]), output_tokens=np.array([8, 4]), offsets=np.array([0, 5, 8]),
        time_points_s=points,
    )


def scraped(generated_at_10: float, running: tuple[float, float]) -> ServerSeries:
    return ServerSeries.of([
        (0.0, "vllm:generation_tokens_total", LABELS, 0.0),
        (2.0, "vllm:num_requests_running", LABELS, running[0]),
        (5.5, "vllm:num_requests_running", LABELS, running[1]),
        (10.0, "vllm:generation_tokens_total", LABELS, generated_at_10),
    ])


def check(series: ServerSeries):
    summary = derive(series, StageWindow("total", 0.0, 6.0))
    return cross_check(series, summary, two_requests())


def test_client_tokens_are_spread_over_their_events() -> None:
    table = two_requests()
    assert client_tokens_between(table, 0.0, 10.0) == 12.0
    assert client_tokens_between(table, 2.0, 5.0) == 2 * 3 + 2 * 1  # r0's events 2, 3, 4; r1's 5


def test_agreeing_server_gives_no_warning() -> None:
    result = check(scraped(12.0, (2.0, 1.0)))
    assert result is not None
    assert result.server_generation_tokens_per_s == 1.2 and result.client_output_tokens_per_s == 1.2
    assert (result.server_requests_mean, result.client_in_flight_mean) == (1.5, 1.5)
    assert result.warnings == ()


def test_server_busier_than_the_client_names_another_client() -> None:
    result = check(scraped(20.0, (4.0, 2.0)))
    assert result is not None and len(result.warnings) == 2
    tokens, requests = result.warnings
    assert "2.0 tokens/s" in tokens and "1.2 tokens/s" in tokens and "+66.7%" in tokens
    assert "another client is using the server" in tokens
    assert "3.00 requests on the server" in requests and "1.50 in flight" in requests
    assert "another client's requests" in requests


def test_server_quieter_than_the_client_names_a_proxy() -> None:
    result = check(scraped(6.0, (1.0, 0.5)))
    assert result is not None
    assert all("proxy or router" in warning for warning in result.warnings) and len(result.warnings) == 2


def test_no_known_server_no_check() -> None:
    series = ServerSeries.of([(0.0, "process_cpu_seconds_total", "", 1.0), (1.0, "process_cpu_seconds_total", "", 2.0)])
    assert check(series) is None


def test_warnings_are_whole_sentences_naming_stage_server_and_cause() -> None:
    result = check(scraped(20.0, (4.0, 2.0)))
    assert result is not None
    assert result.warnings == (
        "server metrics (vllm, total stage): the server generated 2.0 tokens/s, the client received 1.2 tokens/s "
        "(+66.7%); likely cause: another client is using the server, or the server counts tokens the client does "
        "not receive (cancelled or timed-out requests)",
        "server metrics (vllm, total stage): 3.00 requests on the server on average (running + waiting) while the "
        "client had 1.50 in flight (+100.0%); likely cause: another client's requests are on the server",
    )
