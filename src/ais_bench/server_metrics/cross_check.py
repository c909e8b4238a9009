"""Server vs client over the same window: generation tokens/s, and requests on the server vs in flight.

- tokens: the server's generation-token counter increase over the counter span (``derive``) against
  the output tokens the client received in that span: each successful request's output tokens spread
  evenly over its token events (time points after the send), the events inside the span counted;
- requests: at each scrape inside the window, the server's running (plus waiting, when exposed)
  requests against the client's requests in flight then (sent, not yet ended); their means compared.

A relative difference over ``TOLERANCE`` is a warning that names the likely cause.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ais_bench.records.record import RequestTable
from ais_bench.records.server_series import ServerSeries
from ais_bench.server_metrics.derive import SeriesView, ServerDerived, ServerStageSummary
from ais_bench.server_metrics.names import KNOWN_SERVERS

TOLERANCE = 0.05


@dataclass(frozen=True)
class CrossCheck:
    """One stage's comparison (None where a side has no number)."""

    stage: str
    server: str
    server_generation_tokens_per_s: float | None
    client_output_tokens_per_s: float | None
    server_requests_mean: float | None
    client_in_flight_mean: float | None
    warnings: tuple[str, ...]

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "server_generation_tokens_per_s": self.server_generation_tokens_per_s,
            "client_output_tokens_per_s": self.client_output_tokens_per_s,
            "server_requests_mean": self.server_requests_mean,
            "client_in_flight_mean": self.client_in_flight_mean,
            "warnings": list(self.warnings),
        }


def cross_check(series: ServerSeries, summary: ServerStageSummary, table: RequestTable) -> CrossCheck | None:
    """Compare the first server of ``summary`` that counts generated tokens or running requests with
    the client's records; None when no known server was scraped."""
    derived = next((d for d in summary.servers if d.generation_tokens is not None or d.running is not None), None)
    if derived is None:
        return None
    stage = summary.window.stage
    server_rate = client_rate = None
    warnings: list[str] = []
    if derived.generation_tokens is not None:
        span = derived.generation_tokens
        client_tokens = client_tokens_between(table, span.from_s, span.to_s)
        server_rate, client_rate = span.per_s, client_tokens / (span.to_s - span.from_s)
        warnings += _token_warning(derived.server, stage, server_rate, client_rate)
    server_requests, client_in_flight = _requests_on_server(series, derived, summary, table)
    if server_requests is not None and client_in_flight is not None:
        warnings += _requests_warning(derived.server, stage, server_requests, client_in_flight)
    return CrossCheck(stage, derived.server, server_rate, client_rate, server_requests, client_in_flight, tuple(warnings))


def client_tokens_between(table: RequestTable, from_s: float, to_s: float) -> float:
    """Output tokens of the successful requests received in ``[from_s, to_s]``: each request's tokens
    spread evenly over its token events (its time points after the send)."""
    total = 0.0
    for i in np.flatnonzero(table.success).tolist():
        events = table.time_points(i)[1:]
        if not len(events):
            continue
        inside = np.count_nonzero((events >= from_s) & (events <= to_s))
        total += float(table.output_tokens[i]) * inside / len(events)
    return total


def _requests_on_server(
    series: ServerSeries, derived: ServerDerived, summary: ServerStageSummary, table: RequestTable
) -> tuple[float | None, float | None]:
    names = next(n for n in KNOWN_SERVERS if n.server == derived.server)
    view = SeriesView(series)
    window = summary.window
    per_time: dict[float, float] = {}
    for selectors in (names.running, names.waiting):
        rows = view.rows(selectors)
        if rows is None:
            continue
        for t_s, value in zip(series.t_s[rows].tolist(), series.value[rows].tolist(), strict=True):
            if window.start_s <= t_s <= window.end_s:
                per_time[t_s] = per_time.get(t_s, 0.0) + value
    if len(per_time) < 2:
        return None, None
    times = np.array(sorted(per_time), dtype=np.float64)
    server = np.array([per_time[t] for t in times.tolist()])
    in_flight = [(np.count_nonzero((table.start_s <= t) & (table.end_s > t))) for t in times.tolist()]
    return float(server.mean()), float(np.mean(in_flight))


def _relative(server: float, client: float) -> float | None:
    if client <= 0:
        return None if server <= 0 else float("inf")
    return (server - client) / client


#: The likely cause of a difference: (when the server counts more than the client, when it counts fewer).
_TOKEN_CAUSES = (
    "another client is using the server, or the server counts tokens the client does not receive "
    "(cancelled or timed-out requests)",
    "the scraped server is one of several behind a proxy or router, or the client's token counts "
    "come from a tokenizer or from events instead of the server's usage",
)
_REQUEST_CAUSES = (
    "another client's requests are on the server",
    "requests wait in a proxy or router before reaching the server, or the scraped server is one of "
    "several behind it",
)


def _token_warning(server: str, stage: str, server_rate: float, client_rate: float) -> list[str]:
    found = f"the server generated {server_rate:.1f} tokens/s, the client received {client_rate:.1f} tokens/s"
    return _difference_warning(f"{server}, {stage} stage", server_rate, client_rate, found, _TOKEN_CAUSES)


def _requests_warning(server: str, stage: str, server_requests: float, client_in_flight: float) -> list[str]:
    found = (
        f"{server_requests:.2f} requests on the server on average (running + waiting) while the client had "
        f"{client_in_flight:.2f} in flight"
    )
    return _difference_warning(f"{server}, {stage} stage", server_requests, client_in_flight, found, _REQUEST_CAUSES)


def _difference_warning(
    where: str, server_value: float, client_value: float, found: str, causes: tuple[str, str]
) -> list[str]:
    """One warning when the server's value differs from the client's by more than ``TOLERANCE``:
    what was ``found``, the relative difference and the likely cause; none otherwise."""
    difference = _relative(server_value, client_value)
    if difference is None or abs(difference) <= TOLERANCE:
        return []
    cause = causes[0] if difference > 0 else causes[1]
    return [f"server metrics ({where}): {found} ({difference:+.1%}); likely cause: {cause}"]
