"""Reading a streamed response into an attempt: SSE events stamped inside the socket read, and when
a stream counts as complete.

Every SSE event completed by the bytes one read returns gets that read's stamp (the kernel's
arrival time of its newest bytes, ``clients/transport.py``); only **token events** (events the
adapter counts as generated tokens: not a role-only, finish-only or usage-only chunk) become time
points, so TTFT ends at the first token event and ITL gaps lie between token events. ``[DONE]`` is
not an event. A stream is complete only with its backend's end marker (``BackendSpec.end_marker``);
one that ends without it fails ("stream cut after N events"), and a ``finish_reason`` of ``abort``,
``error`` or ``cancelled`` fails the request with that reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ais_bench.clients.backends import END_BODY, END_MARKER_NAMES, BackendSpec
from ais_bench.clients.errors import ResponseError
from ais_bench.clients.http1 import Exchange
from ais_bench.clients.sse import SSEDecoder
from ais_bench.clients.transport import KernelStampedTransport
from ais_bench.engine.attempt import Attempt, fail

#: Finish reasons that mean the server gave up on the request (SGLang/vLLM abort, errors).
FAILED_FINISH_REASONS = frozenset({"abort", "error", "cancelled"})


def event_sink(
    decoder: SSEDecoder, spec: BackendSpec, attempt: Attempt, exchange: Exchange, stamps: KernelStampedTransport
) -> Callable[[bytes], None]:
    """The body callback of a streamed response on the connection whose transport is ``stamps``,
    called once per socket read. Inside the read it only splits events and stamps them with the
    read's stamp; parsing the events' JSON waits for the loop's next turn (``call_soon``), so when
    many sockets are ready at once they are all read (and stamped) before any of them is parsed. ``[DONE]`` finishes the exchange (the rest of the body is dropped).
    A parse error is kept on the exchange and ends it. Only token events become time points."""
    feed = decoder.feed
    parse = spec.parse_stream_event
    points = attempt.points
    state = attempt.state
    call_soon = asyncio.get_running_loop().call_soon
    #: Per read: its events (``[DONE]`` excluded) and its stamp, which each of its token events gets.
    pending: list[tuple[list[str], float]] = []

    def parse_pending() -> None:
        try:
            for events, stamp in pending:
                first = counted = state.content_events
                try:
                    for data in events:
                        parse(data, state)
                        counted = state.content_events
                finally:  # the token events parsed before one that failed keep their points
                    if counted != first:
                        points.extend([stamp] * (counted - first))
        except ResponseError as exc:
            exchange.error = exc
            if not exchange.done.done():
                exchange.done.set_exception(exc)
            if exchange.connection is not None:
                exchange.connection.abort(exchange)
        finally:
            pending.clear()

    def sink(chunk: bytes) -> None:
        if exchange.error is not None:
            return
        events = feed(chunk)
        if not events:
            return
        now = stamps.read_s
        attempt.end_s = now
        ended = "[DONE]" in events
        if ended:
            events = events[: events.index("[DONE]")]
        if events:
            attempt.events += len(events)
            if not pending:
                call_soon(parse_pending)
            pending.append((events, now))
        if ended:
            state.ended = True
            exchange.finish()

    return sink


def check_stream_end(spec: BackendSpec, attempt: Attempt, *, body_delimited: bool) -> None:
    """A stream body ended without ``[DONE]``: complete if the adapter saw its final event, or, for an
    API whose end marker is the body's end, if the body had its own end (chunked or a length, not the
    connection closing); else fail it as cut. Then check its finish reason."""
    state = attempt.state
    if not state.ended and spec.end_marker == END_BODY and body_delimited:
        state.ended = True
    if not state.ended:
        marker = END_MARKER_NAMES[spec.end_marker]
        fail(attempt, "protocol", f"stream cut after {attempt.events} events: it ended without {marker}", retryable=True)
        return
    check_finish_reason(attempt)


def check_finish_reason(attempt: Attempt) -> None:
    """Fail a complete response whose finish reason says the server gave up on it."""
    reason = attempt.state.finish_reason
    if reason is not None and reason.lower() in FAILED_FINISH_REASONS:
        fail(attempt, "server_error", f"the server ended the generation with finish_reason {reason!r}")
