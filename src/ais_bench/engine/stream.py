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
from ais_bench.clients.token_frame import TokenFrame
from ais_bench.clients.transport import KernelStampedTransport
from ais_bench.engine.attempt import Attempt, fail

#: Finish reasons that mean the server gave up on the request (SGLang/vLLM abort, errors).
FAILED_FINISH_REASONS = frozenset({"abort", "error", "cancelled"})


def event_sink(
    decoder: SSEDecoder, spec: BackendSpec, attempt: Attempt, exchange: Exchange, stamps: KernelStampedTransport
) -> Callable[[bytes], None]:
    """The body callback of a streamed response on the connection whose transport is ``stamps``,
    called once per socket read: it splits the read's events and gives each token event the read's
    stamp. ``[DONE]`` finishes the exchange (the rest of the body is dropped). A parse error is kept
    on the exchange and ends it. Only token events become time points.

    With kernel stamps the events are parsed inside the read: the stamp is the kernel's, so parsing
    cannot delay it. Without them (a read is stamped when the loop reads it) parsing waits for the
    loop's next turn (``call_soon``), so when many sockets are ready at once they are all read and
    stamped before any of them is parsed."""
    return _EventSink(decoder, spec, attempt, exchange, stamps).on_read


class _EventSink:
    """What :func:`event_sink` returns the bound ``on_read`` of. One slotted object holds everything a
    read touches (not a closure's cells, one object each): with a thousand streams open, each read
    finds its stream's state in fewer cache lines (``bench/read_scaling.py``)."""

    __slots__ = (
        "attempt", "decoder", "exchange", "frame", "kernel", "parse", "pending", "points", "stamps", "state",
    )

    def __init__(
        self, decoder: SSEDecoder, spec: BackendSpec, attempt: Attempt, exchange: Exchange,
        stamps: KernelStampedTransport,
    ) -> None:
        self.decoder = decoder
        self.parse = spec.parse_stream_event
        self.attempt = attempt
        self.points = attempt.points
        self.state = attempt.state
        self.exchange = exchange
        self.stamps = stamps
        self.kernel = stamps.kernel
        #: The stream's token frame once the adapter has learned it, with kernel stamps only (then a
        #: parse error ends the connection at once: no read follows one that failed).
        self.frame: TokenFrame | None = None
        #: Reads waiting to be parsed (loop stamps only): their events (``[DONE]`` excluded) and stamp.
        self.pending: list[tuple[list[str], float]] = []

    def on_read(self, chunk: bytes) -> None:
        frame = self.frame
        if frame is None and self.kernel and self.state.content_events == 0:
            chunk = self._parse_events_until_frame(chunk)
            frame = self.frame
            if not chunk:
                return
        if frame is not None and self.decoder.holds_whole_events(chunk):
            # Reads of the stream's plain token events, taken without the SSE split and the per-event
            # parse (``clients/token_frame.py``): the whole read, or else the run of them it starts
            # with (the last read of a stream: its last tokens, then the finish and usage chunks).
            now = self.stamps.read_s
            body = chunk
            count = frame.fold_read(body, self.state, self.points, now)
            if count is None:
                cut = frame.end_of_last_event(chunk)
                body = chunk[:cut]
                count = frame.fold_read(body, self.state, self.points, now) if 0 < cut < len(chunk) else None
            if count is not None:
                self.decoder.skip(body)
                attempt = self.attempt
                attempt.end_s = now
                attempt.events += count
                if body is chunk:
                    return
                chunk = chunk[len(body) :]
        self._parse_events(chunk)

    def _parse_events_until_frame(self, chunk: bytes) -> bytes:
        """Parse a read's events one by one until the adapter has learned the stream's token frame
        (the first read: the role chunk, then token events the frame can take) or has seen a token
        event without learning one (an adapter that has none); returns the rest of the read."""
        if 13 in chunk:  # b"\r": lines may end otherwise; the decoder takes the read whole
            return chunk
        start = 0
        while self.frame is None and self.state.content_events == 0:
            end = chunk.find(b"\n\n", start)
            if end < 0:
                break
            self._parse_events(chunk[start : end + 2])
            start = end + 2
            if self.state.ended or self.exchange.error is not None:
                return b""
        return chunk[start:] if start else chunk

    def _parse_events(self, chunk: bytes) -> None:
        """The SSE decoder's split and the adapter's parse, event by event."""
        exchange = self.exchange
        if exchange.error is not None:
            return
        state = self.state
        decoder = self.decoder
        events = decoder.feed(chunk)
        if not events:
            return
        attempt = self.attempt
        attempt.end_s = now = self.stamps.read_s
        ended = "[DONE]" in events
        if ended:
            events = events[: events.index("[DONE]")]
        if events:
            attempt.events += len(events)
            if self.kernel:
                self._parse_read(events, now)
            else:
                if not self.pending:
                    asyncio.get_running_loop().call_soon(self._parse_pending)
                self.pending.append((events, now))
        if ended and exchange.error is None:
            state.ended = True
            exchange.finish()

    def _parse_read(self, events: list[str], stamp: float) -> None:
        state = self.state
        parse = self.parse
        first = counted = state.content_events
        try:
            for data in events:
                parse(data, state)
                counted = state.content_events
        except ResponseError as exc:
            self._fail_exchange(exc)
        finally:  # the token events parsed before one that failed keep their points
            if counted != first:
                self.points.extend([stamp] * (counted - first))
        if self.kernel and self.frame is None:
            self.frame = state.token_frame

    def _fail_exchange(self, exc: ResponseError) -> None:
        exchange = self.exchange
        exchange.error = exc
        if not exchange.done.done():
            exchange.done.set_exception(exc)
        if exchange.connection is not None:
            exchange.connection.abort(exchange)

    def _parse_pending(self) -> None:
        pending = self.pending
        try:
            for events, stamp in pending:
                if self.exchange.error is not None:
                    return
                self._parse_read(events, stamp)
        finally:
            pending.clear()


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
