"""Send one request and stamp it: the attempt state machine of the hot path.

A request is up to ``1 + retry`` attempts, each one exchange through the run's client
(``clients/client.py`` ``send``, on the lean HTTP/1.1 client of ``clients/http1.py``). Stamps are
``perf_counter`` seconds (``clients/transport.py`` has the details):

- the send: the moment the request's first byte was handed to the kernel, as its connection
  recorded it (for ``https://``, the first encrypted byte);
- one per socket read: the kernel's arrival stamp of the read's newest bytes (encrypted ones for
  ``https://``); where there is none (not Linux, ``AIS_BENCH_KERNEL_STAMPS=0``), the time the loop
  read them, before any parsing.

How a stream's events become time points, and when a stream is complete: ``engine/stream.py``.
Failures are data: an attempt with an error ``kind``, a message and whether it may be retried
(``clients/client.py`` ``describe_failure`` for failed exchanges, ``engine/error_text.py`` for answers
that cannot be used); nothing raises out of :func:`send_request` except cancellation. The record
written to disk: ``engine/request_record.py``.
"""

from __future__ import annotations

import asyncio

from ais_bench.clients.backends import BackendSpec
from ais_bench.clients.client import SendDeadlinePassed, describe_failure, send
from ais_bench.clients.errors import ResponseError
from ais_bench.clients.http1 import ConnectionPool, Exchange, HTTPConnection, HTTPExchangeError
from ais_bench.clients.response import ResponseState
from ais_bench.clients.sse import SSEDecoder
from ais_bench.engine.attempt import Attempt, fail
from ais_bench.engine.error_text import http_status_text, response_error_text, unusable_body_text
from ais_bench.engine.stream import check_finish_reason, check_stream_end, event_sink


async def send_request(
    pool: ConnectionPool,
    spec: BackendSpec,
    url: str,
    body: bytes,
    stream: bool,
    retry: int,
    max_chunk_bytes: int,
    started: list[Attempt] | None = None,
    headers: dict[str, str] | None = None,
    *,
    send_by_s: float | None = None,
) -> tuple[Attempt, int]:
    """Send ``body`` to ``url`` with up to ``retry`` extra attempts; returns (last attempt, attempts).

    ``pool``: the client's connection pool for ``url`` (``clients/client.py`` ``open_client``). Each
    attempt is appended to ``started`` as it begins, so a caller that is cancelled can still record
    what the interrupted attempt saw. ``headers``: extra headers of this request only.

    A retried request is timed from its first send, what its user waited: every later attempt's
    send point (``points[0]``) is replaced by the first attempt's once it ends (or is cancelled), so
    the record's E2EL and TTFT include the failed attempts; its events are the last attempt's.

    ``send_by_s`` (perf_counter s, pressure mode's deadline): no byte of any attempt is sent at or
    after it (checked just before the write). A request not sent at all returns 0 attempts; a retry
    not sent leaves the previous attempt's failure as the outcome.
    """
    attempts = 0
    first_send_s: float | None = None
    previous: Attempt | None = None
    while True:
        attempts += 1
        attempt = Attempt([], ResponseState())
        if started is not None:
            started.append(attempt)
        try:
            await _attempt(pool, spec, url, body, stream, max_chunk_bytes, attempt, headers, send_by_s)
        except SendDeadlinePassed:
            if started is not None:
                started.pop()
            return (previous, attempts - 1) if previous is not None else (attempt, 0)
        finally:
            first_send_s = _time_from_first_send(attempt, first_send_s)
        if attempt.error_kind is None or not attempt.retryable or attempts > retry:
            return attempt, attempts
        previous = attempt


def _time_from_first_send(attempt: Attempt, first_send_s: float | None) -> float | None:
    """Put the first attempt's send time into a later ``attempt``; returns the first send time."""
    if not attempt.points:
        return first_send_s
    if first_send_s is None:
        return attempt.points[0]
    attempt.points[0] = first_send_s
    return first_send_s


async def _attempt(
    pool: ConnectionPool,
    spec: BackendSpec,
    url: str,
    body: bytes,
    stream: bool,
    max_chunk_bytes: int,
    attempt: Attempt,
    headers: dict[str, str] | None,
    send_by_s: float | None = None,
) -> None:
    """One attempt: one exchange (``clients/client.py`` ``send``), its outcome recorded on ``attempt``.
    Raises :class:`SendDeadlinePassed` (nothing was sent) and cancellation."""
    attempt.points.append(pool.clock())
    loop = asyncio.get_running_loop()
    timeout_s = pool.request_timeout_s
    timeout_at = None if timeout_s is None else loop.time() + timeout_s
    tries: list[tuple[Exchange, SSEDecoder | None]] = []

    def new_exchange(connection: HTTPConnection) -> Exchange:
        exchange = Exchange(loop, None, None)
        decoder = SSEDecoder(max_chunk_bytes) if stream else None
        if decoder is not None:
            assert connection.transport is not None
            exchange.sink = event_sink(decoder, spec, attempt, exchange, connection.transport)
        tries.append((exchange, decoder))
        return exchange

    try:
        await send(pool, pool.endpoint.request(body, headers), new_exchange, timeout_at=timeout_at, send_by_s=send_by_s)
    except asyncio.CancelledError:
        _note_send(attempt, tries)
        fail(attempt, "cancelled", "request cancelled by user (run interrupted)")
        raise
    except HTTPExchangeError as exc:
        _note_send(attempt, tries)
        failure = describe_failure(exc, url, attempt.events_so_far)
        fail(attempt, failure.kind, failure.message, retryable=failure.retryable)
        return
    except ResponseError as exc:
        _note_send(attempt, tries)
        fail(attempt, exc.kind, response_error_text(exc, tries[-1][0].body_bytes))
        return
    _note_send(attempt, tries)
    exchange, decoder = tries[-1]
    _read_outcome(spec, attempt, exchange, decoder)


def _note_send(attempt: Attempt, tries: list[tuple[Exchange, SSEDecoder | None]]) -> None:
    """The send point is the moment the request's first byte went to the kernel (once it was sent)."""
    if tries and tries[-1][0].connection is not None:
        attempt.points[0] = tries[-1][0].sent_s


def _read_outcome(spec: BackendSpec, attempt: Attempt, exchange: Exchange, decoder: SSEDecoder | None) -> None:
    """Record what a finished exchange brought: an error, an HTTP status, a full body, a stream's end."""
    points = attempt.points
    connection = exchange.connection
    assert connection is not None and connection.transport is not None
    read_s = connection.transport.read_s
    if exchange.error is not None:  # an event failed to parse after [DONE] had ended the exchange
        fail(attempt, exchange.error.kind, response_error_text(exchange.error, exchange.body_bytes))
    elif exchange.status != 200:
        points.append(read_s)
        attempt.http_status = exchange.status
        text = http_status_text(exchange.status, exchange.reason, exchange.headers.get("location"), bytes(exchange.body))
        fail(attempt, "http_status", text)
    elif exchange.problem is not None:
        points.append(read_s)
        fail(attempt, "protocol", unusable_body_text(exchange.problem, bytes(exchange.body)))
    elif decoder is None:
        points.append(read_s)
        try:
            spec.parse_full_body(bytes(exchange.body), attempt.state)
        except ResponseError as exc:
            fail(attempt, exc.kind, response_error_text(exc))
            return
        check_finish_reason(attempt)
    elif exchange.sink is not None:  # the body ended without [DONE]
        connection.drain_or_close(exchange)
        if decoder.has_partial_event:
            fail(attempt, "protocol", f"stream ended early after {attempt.events} events (inside an event)")
        else:
            check_stream_end(spec, attempt, body_delimited=not exchange.close_delimited)
    else:
        connection.drain_or_close(exchange)
        check_finish_reason(attempt)
