"""Server vs client over the same span: generation tokens, and requests on the server vs in flight.

- tokens: the server's generation-token counter increase over its counter span (``derive``: from the
  last scrape at or before the window's start to the first at or after its end) against the client's
  output tokens built the way that counter moves (``names.ServerNames.generation_counted``): for a
  counter that grows per engine step, the tokens received in the span (each successful request's
  output tokens spread evenly over its token events); for one that grows when a request finishes,
  the output tokens of the successful requests that ended in the span. The comparison allows the
  *edge error*: a scrape's reading may stand for a moment up to half a scrape interval from its stamp
  (the scrape's round trip, the server answering ``/metrics`` between its steps, the last tokens
  still on their way), so the client's tokens (built the same way) within half an interval of
  either end of the span may fall on the other side. Too short a span is not judged;
- requests: at each scrape inside the window, the server's running (plus waiting, when exposed)
  requests against the client's requests in flight (sent, not yet ended) within half an interval of
  the scrape; judged on the means, with enough scrapes only;
- prompt tokens: a server that counts only the prompt tokens it computed (llama.cpp) is never
  compared with the client's input tokens; its prompt-cache share is derived from them instead.

A relative difference over ``TOLERANCE`` beyond the edge error is a warning that names the likely cause.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ais_bench.records.record import RequestTable
from ais_bench.records.server_series import ServerSeries
from ais_bench.server_metrics.derive import CounterIncrease, SeriesView, ServerStageSummary
from ais_bench.server_metrics.names import KNOWN_SERVERS, Counting, ServerNames

TOLERANCE = 0.05
#: Fewest scrapes in a counter span (both ends included) for the token comparison to be judged.
MIN_SCRAPES = 5
#: Fewest requests finished inside the span for a counter that grows when a request finishes.
MIN_COMPLETIONS = 8
#: Fewest scrapes inside the window for the running-requests comparison to be judged.
MIN_GAUGE_SAMPLES = 10


@dataclass(frozen=True)
class TokenComparison:
    """The server's generation tokens against the client's over ``span`` (seconds, perf_counter)."""

    counted: Counting
    span: tuple[float, float]
    server_tokens: float
    client_tokens: float
    edge_tokens: float
    scrapes: int
    completions: int
    verdict: str

    @property
    def seconds(self) -> float:
        return self.span[1] - self.span[0]


@dataclass(frozen=True)
class RequestsComparison:
    """The server's mean running (+ waiting) requests against the client's in flight, over ``samples``
    scrapes; ``client_low`` / ``client_high``: the client's mean fewest / most in flight within half an
    interval of each scrape."""

    server_mean: float
    client_mean: float
    client_low: float
    client_high: float
    samples: int
    verdict: str


@dataclass(frozen=True)
class CrossCheck:
    """One stage's comparison (None where a side has no number)."""

    stage: str
    server: str
    tokens: TokenComparison | None
    requests: RequestsComparison | None
    prompt_cache_share: float | None
    warnings: tuple[str, ...]

    @property
    def server_generation_tokens_per_s(self) -> float | None:
        return None if self.tokens is None else self.tokens.server_tokens / self.tokens.seconds

    @property
    def client_output_tokens_per_s(self) -> float | None:
        return None if self.tokens is None else self.tokens.client_tokens / self.tokens.seconds

    def lines(self) -> list[str]:
        """What was not judged, for the screen (a difference found is a warning instead)."""
        head = f"Server metrics cross-check ({self.server}, {self.stage} stage)"
        return [
            f"{head}: {what} {part.verdict}"
            for what, part in (("tokens/s", self.tokens), ("requests", self.requests))
            if part is not None and part.verdict.startswith("not judged")
        ]

    def to_json_dict(self) -> dict[str, Any]:
        tokens, requests = self.tokens, self.requests
        return {
            "server": self.server,
            "server_generation_tokens_per_s": self.server_generation_tokens_per_s,
            "client_output_tokens_per_s": self.client_output_tokens_per_s,
            "generation_counted": None if tokens is None else tokens.counted,
            "counter_span_s": None if tokens is None else list(tokens.span),
            "server_generation_tokens": None if tokens is None else tokens.server_tokens,
            "client_output_tokens": None if tokens is None else tokens.client_tokens,
            "edge_error_tokens": None if tokens is None else tokens.edge_tokens,
            "scrapes_in_span": None if tokens is None else tokens.scrapes,
            "completions_in_span": None if tokens is None else tokens.completions,
            "tokens_verdict": None if tokens is None else tokens.verdict,
            "server_requests_mean": None if requests is None else requests.server_mean,
            "client_in_flight_mean": None if requests is None else requests.client_mean,
            "client_in_flight_range": None if requests is None else [requests.client_low, requests.client_high],
            "requests_samples": None if requests is None else requests.samples,
            "requests_verdict": None if requests is None else requests.verdict,
            "prompt_cache_share": self.prompt_cache_share,
            "warnings": list(self.warnings),
        }


def cross_check(series: ServerSeries, summary: ServerStageSummary, table: RequestTable) -> CrossCheck | None:
    """Compare the first server of ``summary`` that counts generated tokens or running requests with
    the client's records; None when no known server was scraped."""
    derived = next((d for d in summary.servers if d.generation_tokens is not None or d.running is not None), None)
    if derived is None:
        return None
    names = next(n for n in KNOWN_SERVERS if n.server == derived.server)
    half_interval_s = scrape_interval_s(series) / 2
    stage = summary.window.stage
    warnings: list[str] = []
    tokens = None
    if derived.generation_tokens is not None and names.generation_counted is not None:
        tokens = compare_tokens(series, derived.generation_tokens, names, table, half_interval_s)
        warnings += _token_warning(derived.server, stage, tokens)
    requests = _compare_requests(series, names, summary, table, half_interval_s)
    if requests is not None:
        warnings += _requests_warning(derived.server, stage, requests)
    share = derived.prompt_cache_share
    if share is None and derived.prompt_tokens_computed is not None:
        share = client_prompt_cache_share(derived.prompt_tokens_computed, names, table)
    return CrossCheck(stage, derived.server, tokens, requests, share, tuple(warnings))


def scrape_interval_s(series: ServerSeries) -> float:
    """The median gap between scrapes (0 with fewer than two)."""
    times = series.scrape_times_s
    return float(np.median(np.diff(times))) if len(times) > 1 else 0.0


class ClientTokens:
    """The client's tokens as (moment, tokens) points, for sums over time ranges: each request's
    tokens placed where a server counter of the given :data:`Counting` would count them."""

    def __init__(self, times: np.ndarray, tokens: np.ndarray) -> None:
        order = np.argsort(times, kind="stable")
        self.times = times[order]
        self._cumulative = np.concatenate(([0.0], np.cumsum(tokens[order], dtype=np.float64)))

    @classmethod
    def output(cls, table: RequestTable, counted: Counting) -> ClientTokens:
        """The successful requests' output tokens: spread over their token events (``per_step``), or
        whole at their end (``at_end``), first token (``at_first_token``) or send (``at_arrival``)."""
        if counted == "per_step":
            return cls(*_spread_over_events(table))
        return cls(*_at_moment(table, table.output_tokens, counted))

    @classmethod
    def input(cls, table: RequestTable, counted: Counting) -> ClientTokens:
        """The successful requests' input tokens, whole at the moment ``counted`` names (``per_step``:
        their first token, when the prompt has been evaluated)."""
        return cls(*_at_moment(table, table.input_tokens, "at_first_token" if counted == "per_step" else counted))

    def between(self, from_s: float, to_s: float) -> float:
        """Tokens at moments in ``(from_s, to_s]``."""
        lo, hi = np.searchsorted(self.times, [from_s, to_s], side="right")
        return float(self._cumulative[hi] - self._cumulative[lo])

    def count_between(self, from_s: float, to_s: float) -> int:
        """Points (requests, or token events) at moments in ``(from_s, to_s]``."""
        lo, hi = np.searchsorted(self.times, [from_s, to_s], side="right")
        return int(hi - lo)


def client_tokens_between(table: RequestTable, from_s: float, to_s: float) -> float:
    """Output tokens of the successful requests received in ``(from_s, to_s]``: each request's tokens
    spread evenly over its token events (its time points after the send)."""
    return ClientTokens.output(table, "per_step").between(from_s, to_s)


def _spread_over_events(table: RequestTable) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.diff(table.offsets) - 1  # events after the send
    rows = np.flatnonzero(table.success & (lengths > 0))
    counts = lengths[rows]
    firsts = table.offsets[rows] + 1
    index = np.repeat(firsts - np.concatenate(([0], np.cumsum(counts)[:-1])), counts) + np.arange(counts.sum())
    weights = np.repeat(table.output_tokens[rows] / counts, counts)
    return table.time_points_s[index.astype(np.int64)], weights.astype(np.float64)


def _at_moment(table: RequestTable, tokens: np.ndarray, counted: Counting) -> tuple[np.ndarray, np.ndarray]:
    rows = np.flatnonzero(table.success)
    if counted == "at_end":
        moments = table.end_s[rows]
    elif counted == "at_arrival":
        moments = table.start_s[rows]
    else:  # at_first_token: the first time point after the send
        has_event = np.diff(table.offsets)[rows] > 1
        rows = rows[has_event]
        moments = table.time_points_s[table.offsets[rows] + 1]
    return moments.astype(np.float64), tokens[rows].astype(np.float64)


def compare_tokens(
    series: ServerSeries, counter: CounterIncrease, names: ServerNames, table: RequestTable, half_interval_s: float
) -> TokenComparison:
    """The server's generation counter over its span against the client's tokens built the same way."""
    assert names.generation_counted is not None
    counted = names.generation_counted
    client = ClientTokens.output(table, counted)
    a, b = counter.from_s, counter.to_s
    client_tokens = client.between(a, b)
    edge = sum(_edge_tokens(client, edge_s, half_interval_s) for edge_s in (a, b))
    times = series.scrape_times_s
    scrapes = int(np.count_nonzero((times >= a) & (times <= b)))
    completions = int(np.count_nonzero(table.success & (table.end_s > a) & (table.end_s <= b)))
    verdict = _token_verdict(counter.increase, client_tokens, edge, scrapes, completions, counted)
    return TokenComparison(counted, (a, b), counter.increase, client_tokens, edge, scrapes, completions, verdict)


def _edge_tokens(client: ClientTokens, edge_s: float, half_interval_s: float) -> float:
    """The most tokens that can fall on the wrong side of a span end: those of the client within half
    an interval on the side with more of them."""
    return max(client.between(edge_s - half_interval_s, edge_s), client.between(edge_s, edge_s + half_interval_s))


def _token_verdict(
    server: float, client: float, edge: float, scrapes: int, completions: int, counted: Counting
) -> str:
    if scrapes < MIN_SCRAPES or (counted == "at_end" and completions < MIN_COMPLETIONS):
        return f"not judged: window holds {scrapes} scrapes / {completions} completions"
    return "agrees" if abs(server - client) <= edge + TOLERANCE * client else "differs"


def _compare_requests(
    series: ServerSeries, names: ServerNames, summary: ServerStageSummary, table: RequestTable, half_interval_s: float
) -> RequestsComparison | None:
    per_time = _server_requests_per_scrape(series, names, summary)
    if len(per_time) < 2:
        return None
    times = np.array(sorted(per_time), dtype=np.float64)
    server = np.array([per_time[t] for t in times.tolist()])
    in_flight = InFlight(table)
    at, low, high = (np.array(values, dtype=np.float64) for values in zip(
        *(in_flight.around(t, half_interval_s) for t in times.tolist()), strict=True
    ))
    server_mean, client_low, client_high = float(server.mean()), float(low.mean()), float(high.mean())
    if len(times) < MIN_GAUGE_SAMPLES:
        verdict = f"not judged: window holds {len(times)} samples of the server's requests"
    elif client_low * (1 - TOLERANCE) <= server_mean <= client_high * (1 + TOLERANCE):
        verdict = "agrees"
    else:
        verdict = "differs"
    return RequestsComparison(server_mean, float(at.mean()), client_low, client_high, len(times), verdict)


def _server_requests_per_scrape(
    series: ServerSeries, names: ServerNames, summary: ServerStageSummary
) -> dict[float, float]:
    view = SeriesView(series)
    window = summary.window
    per_time: dict[float, float] = {}
    for selectors in (names.running, names.waiting):
        rows = view.rows(selectors)
        if rows is None:
            continue
        rows = rows[window.holds(series.t_s[rows])]
        for t_s, value in zip(series.t_s[rows].tolist(), series.value[rows].tolist(), strict=True):
            per_time[t_s] = per_time.get(t_s, 0.0) + value
    return per_time


class InFlight:
    """The client's requests in flight (sent, not yet ended) as a step function of time."""

    def __init__(self, table: RequestTable) -> None:
        sent = np.isfinite(table.start_s) & np.isfinite(table.end_s)
        moments = np.concatenate((table.start_s[sent], table.end_s[sent]))
        steps = np.concatenate((np.ones(int(sent.sum())), -np.ones(int(sent.sum()))))
        self.times, inverse = np.unique(moments, return_inverse=True)
        self.counts = np.cumsum(np.bincount(inverse, weights=steps, minlength=len(self.times)))

    def at(self, t_s: float) -> float:
        index = int(np.searchsorted(self.times, t_s, side="right")) - 1
        return float(self.counts[index]) if index >= 0 else 0.0

    def around(self, t_s: float, half_s: float) -> tuple[float, float, float]:
        """(in flight at ``t_s``, fewest and most within ``half_s`` of it)."""
        lo, hi = np.searchsorted(self.times, [t_s - half_s, t_s + half_s], side="right")
        values = [self.at(t_s - half_s), *self.counts[lo:hi].tolist()]
        return self.at(t_s), min(values), max(values)


def client_prompt_cache_share(computed: CounterIncrease, names: ServerNames, table: RequestTable) -> float | None:
    """1 - the server's computed prompt tokens / the client's input tokens over the counter span (the
    requests' input tokens placed where the counter counts them); None when the client sent none.
    Negative when the server computed more prompt tokens than this client sent (another client)."""
    counted = names.prompt_counted or "at_first_token"
    sent = ClientTokens.input(table, counted).between(computed.from_s, computed.to_s)
    return None if sent <= 0 else 1.0 - computed.increase / sent


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


def _token_warning(server: str, stage: str, tokens: TokenComparison) -> list[str]:
    difference = _relative(tokens.server_tokens, tokens.client_tokens)
    if tokens.verdict != "differs" or difference is None:
        return []
    how = "tokens of the requests that finished in it" if tokens.counted == "at_end" else "tokens received in it"
    found = (
        f"the server generated {tokens.server_tokens / tokens.seconds:.1f} tokens/s over its counter span of "
        f"{tokens.seconds:.1f} s, the client {tokens.client_tokens / tokens.seconds:.1f} tokens/s ({how}; "
        f"{difference:+.1%}, beyond the {TOLERANCE:.0%} tolerance and the {tokens.edge_tokens:g} tokens a "
        "scrape edge can shift)"
    )
    return [_difference_warning(f"{server}, {stage} stage", found, difference > 0, _TOKEN_CAUSES)]


def _requests_warning(server: str, stage: str, requests: RequestsComparison) -> list[str]:
    if requests.verdict != "differs":
        return []
    found = (
        f"{requests.server_mean:.2f} requests on the server on average (running + waiting, {requests.samples} "
        f"scrapes) while the client had {requests.client_mean:.2f} in flight ({requests.client_low:.2f} to "
        f"{requests.client_high:.2f} within half a scrape interval of each scrape)"
    )
    busier = requests.server_mean > requests.client_high
    return [_difference_warning(f"{server}, {stage} stage", found, busier, _REQUEST_CAUSES)]


def _difference_warning(where: str, found: str, server_busier: bool, causes: tuple[str, str]) -> str:
    """The warning of a difference found: where, what, and the likely cause."""
    return f"server metrics ({where}): {found}; likely cause: {causes[0] if server_busier else causes[1]}"
