"""Send one request and stamp it: the hot path.

Stamps (``perf_counter`` seconds; ``clients/transport.py`` has the details):
- the send: the moment the request's first byte was handed to the kernel, as the connection
  recorded it; when it cannot (TLS, other platforms), the time just before the request was handed to
  aiohttp;
- one per socket read: the kernel's arrival stamp of the read's newest bytes; when there is none,
  the time the connection's protocol received them, before any parsing; when that is unavailable
  too, the time the reader resumed.

Every SSE event completed by the bytes one read returns gets that read's stamp; only **token
events** (events the adapter counts as generated tokens: not a role-only, finish-only or usage-only
chunk) become time points, so TTFT ends at the first token event and ITL gaps lie between token
events. ``[DONE]`` is not an event. A stream is complete only with its backend's end marker
(``BackendSpec.end_marker``); one that ends without it fails ("stream cut after N events"), and a
``finish_reason`` of ``abort`` or ``error`` fails the request with that reason. Failures are data: a record with ``success=False``, an error ``kind`` and a message;
nothing raises out of :func:`send_request` except cancellation.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter
from typing import Any

import aiohttp
import orjson

from ais_bench.clients.backends import END_BODY, END_MARKER_NAMES, BackendSpec
from ais_bench.clients.errors import ResponseError, clean_error_text
from ais_bench.clients.http1 import (
    ConnectionPool,
    Exchange,
    HTTPConnection,
    HTTPExchangeError,
    unusable_body_reason,
)
from ais_bench.clients.response import ResponseState
from ais_bench.clients.sse import SSEDecoder
from ais_bench.clients.transport import stamps_of
from ais_bench.records.record import RequestRecord

#: Bytes of an error response body kept for the message.
ERROR_BODY_LIMIT = 4096


@dataclass(slots=True)
class Attempt:
    """Outcome of one HTTP attempt (internal)."""

    points: list[float]
    state: ResponseState
    error_kind: str | None = None
    error_message: str | None = None
    http_status: int | None = None
    retryable: bool = False
    #: Events received (token events or not; ``[DONE]`` excluded) and the stamp of the last read
    #: that brought an event or ``[DONE]`` (the end of a complete stream).
    events: int = 0
    end_s: float | None = None


#: Finish reasons that mean the server gave up on the request (SGLang/vLLM abort, errors).
FAILED_FINISH_REASONS = frozenset({"abort", "error", "cancelled"})


async def send_request(
    session: aiohttp.ClientSession | ConnectionPool,
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

    ``session``: the worker's lean HTTP/1.1 connection pool (``clients/http1.py``, plain http) or an
    aiohttp session (https, and the pre-flight request). Each attempt is appended to ``started`` as it
    begins, so a caller that is cancelled can still record what the interrupted attempt saw.
    ``headers``: extra headers of this request only.

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
            if isinstance(session, ConnectionPool):
                await _lean_attempt(session, spec, url, body, stream, max_chunk_bytes, attempt, headers, send_by_s)
            else:
                await _attempt(session, spec, url, body, stream, max_chunk_bytes, attempt, headers, send_by_s)
        except SendDeadlinePassed:
            if started is not None:
                started.pop()
            return (previous, attempts - 1) if previous is not None else (attempt, 0)
        finally:
            first_send_s = _time_from_first_send(attempt, first_send_s)
        if attempt.error_kind is None or not attempt.retryable or attempts > retry:
            return attempt, attempts
        previous = attempt


class SendDeadlinePassed(Exception):
    """The attempt was not sent: its send deadline (``send_by_s``) had passed."""


def _check_send_deadline(send_by_s: float | None) -> None:
    if send_by_s is not None and perf_counter() >= send_by_s:
        raise SendDeadlinePassed()


def _time_from_first_send(attempt: Attempt, first_send_s: float | None) -> float | None:
    """Put the first attempt's send time into a later ``attempt``; returns the first send time."""
    if not attempt.points:
        return first_send_s
    if first_send_s is None:
        return attempt.points[0]
    attempt.points[0] = first_send_s
    return first_send_s


async def _attempt(
    session: aiohttp.ClientSession,
    spec: BackendSpec,
    url: str,
    body: bytes,
    stream: bool,
    max_chunk_bytes: int,
    attempt: Attempt,
    headers: dict[str, str] | None = None,
    send_by_s: float | None = None,
) -> Attempt:
    points = attempt.points
    state = attempt.state
    _check_send_deadline(send_by_s)  # aiohttp connects and writes inside post(): checked just before
    try:
        points.append(perf_counter())
        async with session.post(url, data=body, headers=headers, allow_redirects=False) as resp:
            if resp.status != 200:
                return await _http_error(attempt, resp)
            problem = unusable_body_reason(_kept_headers(resp), stream=stream)
            if problem is not None:
                raw = await resp.content.read(ERROR_BODY_LIMIT)
                points.append(perf_counter())
                _fail(attempt, "protocol", _unusable_body_text(problem, raw))
            elif stream:
                await _read_stream(resp, spec, attempt, max_chunk_bytes)
            else:
                stamps = stamps_of(resp)
                raw = await resp.read()
                points.append(stamps.read_s if stamps is not None else perf_counter())
                spec.parse_full_body(raw, state)
                check_finish_reason(attempt)
    except asyncio.CancelledError:
        _fail(attempt, "cancelled", "request cancelled by user (run interrupted)")
        raise
    except aiohttp.ClientConnectorCertificateError as exc:
        _fail(attempt, "connect", f"cannot reach {url}: {certificate_problem(exc.certificate_error)}")
    except aiohttp.ClientConnectorSSLError as exc:
        _fail(attempt, "connect", f"cannot reach {url}: {tls_handshake_problem(exc)}")
    except aiohttp.ClientConnectorError as exc:
        _fail(attempt, "connect", f"cannot reach {url}: {_reason(exc)}", retryable=True)
    except aiohttp.ConnectionTimeoutError:
        _fail(attempt, "connect_timeout", f"cannot reach {url}: {_connect_timeout_text(session, url)}", retryable=True)
    except (aiohttp.ServerTimeoutError, asyncio.TimeoutError):
        _fail(attempt, "read_timeout", f"timed out after {_events(attempt, stream)} events (REQUEST_TIME_OUT)", retryable=True)
    except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
        message = f"stream ended early after {_events(attempt, stream)} events: {_reason(exc)}"
        _fail(attempt, "protocol", message, retryable=True)
    except ResponseError as exc:
        _fail(attempt, exc.kind, _response_error_text(exc))
    except aiohttp.ClientError as exc:
        _fail(attempt, "protocol", f"{type(exc).__name__}: {_reason(exc)}", retryable=True)
    return attempt


async def _lean_attempt(
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
    """One attempt through the lean client. A reused keep-alive connection that the server had
    closed (it ends before any byte of the response) is not a failure: the request goes again, once,
    on a new connection, within the same attempt (as every HTTP client does; ``retry`` is not used)."""
    attempt.points.append(perf_counter())
    loop = asyncio.get_running_loop()
    timeout_s = pool.request_timeout_s
    deadline = None if timeout_s is None else loop.time() + timeout_s
    request = pool.endpoint.request(body, headers)
    fresh = False
    while True:
        try:
            await _lean_exchange(pool, spec, request, stream, max_chunk_bytes, attempt, (deadline, send_by_s), fresh)
        except HTTPExchangeError as exc:
            if exc.unanswered and exc.reused and not fresh:
                fresh = True  # the server had closed this keep-alive connection: send again on a new one
                continue
            _fail_exchange(attempt, url, exc)
        return


async def _lean_exchange(
    pool: ConnectionPool,
    spec: BackendSpec,
    request: bytes,
    stream: bool,
    max_chunk_bytes: int,
    attempt: Attempt,
    deadlines: tuple[float | None, float | None],
    fresh: bool,
) -> None:
    """Send ``request`` on a connection of ``pool`` and read its response into ``attempt``. Raises
    :class:`HTTPExchangeError` (with ``reused`` set) when the connection failed, and
    :class:`SendDeadlinePassed` (the connection goes back to the pool unused) when the send deadline
    had passed once a connection was ready; every other outcome is recorded on ``attempt``.
    ``deadlines``: (end of REQUEST_TIME_OUT on the loop clock, send deadline in perf_counter s)."""
    deadline, send_by_s = deadlines
    points = attempt.points
    loop = asyncio.get_running_loop()
    connection: HTTPConnection | None = None
    exchange: Exchange | None = None
    decoder = SSEDecoder(max_chunk_bytes) if stream else None
    try:
        connection = await pool.acquire(fresh=fresh)
        if send_by_s is not None and perf_counter() >= send_by_s:
            pool.put_back(connection)
            raise SendDeadlinePassed()
        exchange = Exchange(loop, None, None)
        if decoder is not None:
            exchange.sink = _event_sink(decoder, spec, attempt, exchange, connection)
        connection.send(request, exchange)
        stamps = connection.transport
        assert stamps is not None
        points[0] = stamps.write_s  # the request's first byte went to the kernel then
        remaining = None if deadline is None else max(deadline - loop.time(), 0.0)
        await asyncio.wait_for(exchange.done, remaining)
    except asyncio.CancelledError:
        if connection is not None and exchange is not None:
            connection.abort(exchange)
        _fail(attempt, "cancelled", "request cancelled by user (run interrupted)")
        raise
    except asyncio.TimeoutError:
        if connection is not None and exchange is not None:
            connection.abort(exchange)
        kind = "connect_timeout" if exchange is None else "read_timeout"
        _fail(attempt, kind, f"timed out after {_events(attempt, stream)} events (REQUEST_TIME_OUT)", retryable=True)
        return
    except HTTPExchangeError as exc:
        exc.reused = connection is not None and connection.reused
        raise
    except ResponseError as exc:
        exc.received_bytes = exchange.body_bytes if exchange is not None else 0  # type: ignore[attr-defined]
        _fail(attempt, exc.kind, _response_error_text(exc))
        return
    _read_outcome(spec, attempt, exchange, connection, decoder)


def _fail_exchange(attempt: Attempt, url: str, exc: HTTPExchangeError) -> None:
    if exc.kind == "connect":
        _fail(attempt, "connect", f"cannot reach {url}: {exc}", retryable=exc.retryable)
    elif exc.kind == "connect_timeout":
        _fail(attempt, "connect_timeout", f"cannot reach {url}: {exc}", retryable=exc.retryable)
    else:
        message = f"stream ended early after {max(attempt.events, len(attempt.points) - 1)} events: {exc}"
        _fail(attempt, "protocol", message, retryable=exc.retryable)


def _read_outcome(
    spec: BackendSpec, attempt: Attempt, exchange: Exchange, connection: HTTPConnection, decoder: SSEDecoder | None
) -> None:
    """Record what a finished exchange brought: an error, an HTTP status, a full body, a stream's end."""
    points = attempt.points
    if exchange.error is not None:  # an event failed to parse after [DONE] had ended the exchange
        _fail(attempt, exchange.error.kind, _response_error_text(exchange.error))
    elif exchange.status != 200:
        _lean_http_error(attempt, exchange, connection)
    elif exchange.problem is not None:
        points.append(connection.transport.read_s if connection.transport is not None else perf_counter())
        _fail(attempt, "protocol", _unusable_body_text(exchange.problem, bytes(exchange.body)))
    elif decoder is None:
        points.append(connection.transport.read_s)  # type: ignore[union-attr]
        try:
            spec.parse_full_body(bytes(exchange.body), attempt.state)
        except ResponseError as exc:
            _fail(attempt, exc.kind, _response_error_text(exc))
            return
        check_finish_reason(attempt)
    elif exchange.sink is not None:  # the body ended without [DONE]
        connection.drain_or_close(exchange)
        if decoder.has_partial_event:
            _fail(attempt, "protocol", f"stream ended early after {attempt.events} events (inside an event)")
        else:
            check_stream_end(spec, attempt, body_delimited=not exchange.close_delimited)
    else:
        connection.drain_or_close(exchange)
        check_finish_reason(attempt)


def _event_sink(
    decoder: SSEDecoder, spec: BackendSpec, attempt: Attempt, exchange: Exchange, connection: HTTPConnection
) -> Callable[[bytes], None]:
    """The body callback of a streamed response. Inside the socket read it only splits events and
    stamps each with the read's stamp; parsing the events' JSON waits for the loop's next turn
    (``call_soon``), so when many sockets are ready at once they are all read (and stamped) before
    any of them is parsed. ``[DONE]`` finishes the exchange (the rest of the body is dropped).
    A parse error is kept on the exchange and ends it. Only token events become time points."""
    feed = decoder.feed
    parse = spec.parse_stream_event
    points = attempt.points
    state = attempt.state
    stamps = connection.transport
    call_soon = asyncio.get_running_loop().call_soon
    pending: list[tuple[str, float]] = []

    def parse_pending() -> None:
        try:
            for data, stamp in pending:
                before = state.content_events
                parse(data, state)
                if state.content_events != before:
                    points.append(stamp)
        except ResponseError as exc:
            exc.received_bytes = exchange.body_bytes  # type: ignore[attr-defined]
            exchange.error = exc
            if not exchange.done.done():
                exchange.done.set_exception(exc)
            connection.abort(exchange)
        finally:
            pending.clear()

    def sink(chunk: bytes) -> None:
        if exchange.error is not None:
            return
        now = stamps.read_s  # type: ignore[union-attr]
        for data in feed(chunk):
            attempt.end_s = now
            if data == "[DONE]":
                state.ended = True
                exchange.finish()
                return
            attempt.events += 1
            if not pending:
                call_soon(parse_pending)
            pending.append((data, now))

    return sink


def _lean_http_error(attempt: Attempt, exchange: Exchange, connection: HTTPConnection) -> None:
    attempt.points.append(connection.transport.read_s if connection.transport is not None else perf_counter())
    _http_status_failure(attempt, exchange.status, exchange.reason, exchange.headers.get("location"), bytes(exchange.body))


def _http_status_failure(attempt: Attempt, status: int, reason: str, location: str | None, raw: bytes) -> None:
    """A non-200 answer. Redirects are not followed (a benchmark should measure the server it names,
    and a POST cannot be replayed safely): the reason says where the server points instead."""
    attempt.http_status = status
    message = f"HTTP {status} {reason.strip()}".rstrip()
    if 300 <= status < 400 and location:
        _fail(attempt, "http_status", f"{message}: server redirected to {location}; point url there")
        return
    detail = _server_message(raw)
    _fail(attempt, "http_status", f"{message}: {detail}" if detail else message)


def _unusable_body_text(problem: str, raw: bytes) -> str:
    """The reason of an unusable 200 body, with what the server said when it is readable JSON or text."""
    if raw[:2] == b"\x1f\x8b" or "compressed" in problem:
        return problem
    detail = _server_message(raw)
    return f"{problem}; it sent: {detail}" if detail else problem


async def _read_stream(
    resp: aiohttp.ClientResponse, spec: BackendSpec, attempt: Attempt, max_chunk_bytes: int
) -> None:
    points = attempt.points
    state = attempt.state
    decoder = SSEDecoder(max_chunk_bytes)
    feed = decoder.feed
    parse = spec.parse_stream_event
    readany = resp.content.readany
    stamps = stamps_of(resp)
    received_bytes = 0
    try:
        while True:
            chunk = await readany()
            now = stamps.read_s if stamps is not None else perf_counter()
            if not chunk:
                if decoder.has_partial_event:
                    _fail(attempt, "protocol", f"stream ended early after {attempt.events} events (inside an event)")
                else:
                    check_stream_end(spec, attempt, body_delimited=_length_delimited(resp))
                return
            received_bytes += len(chunk)
            for data in feed(chunk):
                attempt.end_s = now
                if data == "[DONE]":
                    state.ended = True
                    check_finish_reason(attempt)
                    return
                attempt.events += 1
                before = state.content_events
                parse(data, state)
                if state.content_events != before:
                    points.append(now)
    except ResponseError as exc:
        exc.received_bytes = received_bytes  # type: ignore[attr-defined]
        raise


def _length_delimited(resp: aiohttp.ClientResponse) -> bool:
    """The response had a length or chunked encoding (its end is the server's, not a cut)."""
    return "Content-Length" in resp.headers or "chunked" in resp.headers.get("Transfer-Encoding", "").lower()


def check_stream_end(spec: BackendSpec, attempt: Attempt, *, body_delimited: bool) -> None:
    """A stream body ended without ``[DONE]``: complete if the adapter saw its final event, or, for an
    API whose end marker is the body's end, if the body had its own end (chunked or a length, not the
    connection closing); else fail it as cut. Then check its finish reason."""
    state = attempt.state
    if not state.ended and spec.end_marker == END_BODY and body_delimited:
        state.ended = True
    if not state.ended:
        marker = END_MARKER_NAMES[spec.end_marker]
        _fail(attempt, "protocol", f"stream cut after {attempt.events} events: it ended without {marker}", retryable=True)
        return
    check_finish_reason(attempt)


def check_finish_reason(attempt: Attempt) -> None:
    """Fail a complete response whose finish reason says the server gave up on it."""
    reason = attempt.state.finish_reason
    if reason is not None and reason.lower() in FAILED_FINISH_REASONS:
        _fail(attempt, "server_error", f"the server ended the generation with finish_reason {reason!r}")


def _events(attempt: Attempt, stream: bool) -> int:
    """Events received so far, for messages (a body not streamed is one event once read)."""
    return attempt.events if stream else len(attempt.points) - 1


async def _http_error(attempt: Attempt, resp: aiohttp.ClientResponse) -> Attempt:
    raw = await resp.content.read(ERROR_BODY_LIMIT)
    attempt.points.append(perf_counter())
    _http_status_failure(attempt, resp.status, resp.reason or "", resp.headers.get("Location"), raw)
    return attempt


def _kept_headers(resp: aiohttp.ClientResponse) -> dict[str, str]:
    """The headers :func:`unusable_body_reason` reads, as the lean client keeps them."""
    return {name: resp.headers.get(name, "") for name in ("content-type", "content-encoding")}


def _connect_timeout_text(session: aiohttp.ClientSession, url: str) -> str:
    limit_s = session.timeout.sock_connect or session.timeout.connect or session.timeout.total
    text = f"no connection within {limit_s:g} s" if limit_s else "no connection in time"
    if url.startswith("https://"):
        return text + " (no answer to the TLS handshake: if the server speaks plain HTTP, use http:// in url)"
    return text + " (the server accepts no more connections, or nothing answers at this address)"


def certificate_problem(error: BaseException) -> str:
    """A rejected server certificate, named, with the way to trust it."""
    detail = getattr(error, "verify_message", None) or getattr(error, "reason", None) or str(error)
    return (
        f"the server's TLS certificate is not trusted ({detail}); if it is signed by your own CA "
        "(or self-signed), run with SSL_CERT_FILE=/path/to/ca.pem (the CA's certificate in PEM), or "
        "use http:// if the server also serves plain HTTP"
    )


def tls_handshake_problem(exc: aiohttp.ClientConnectorSSLError) -> str:
    error = exc.os_error
    detail = getattr(error, "reason", None) or getattr(error, "strerror", None) or str(error)
    text = f"TLS handshake failed ({str(detail).lower().replace('_', ' ')})"
    if "wrong version" in text or "record layer" in text or "http request" in text:
        text += "; the server does not speak TLS on this port: use http:// in url"
    return text


def _server_message(raw: bytes) -> str:
    try:
        payload: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace").strip()[:200]
    if isinstance(payload, dict):
        error = payload.get("error", payload)
        if isinstance(error, dict):
            return str(error.get("message") or error.get("detail") or error)[:200]
        return str(error)[:200]
    return str(payload)[:200]


def _response_error_text(exc: ResponseError) -> str:
    parts = [str(exc)]
    offset = getattr(exc, "offset_bytes", None)
    if offset is not None and "byte" not in parts[0]:
        parts.append(f"at byte {offset} of the response body")
    received = getattr(exc, "received_bytes", None)
    if offset is None and received is not None:
        parts.append(f"in the response body before byte {received}")
    if exc.snippet and exc.snippet not in parts[0]:
        parts.append(f"near: {exc.snippet}")
    return "; ".join(parts)


def _fail(attempt: Attempt, kind: str, message: str, retryable: bool = False) -> None:
    attempt.error_kind = kind
    attempt.error_message = clean_error_text(message)
    attempt.retryable = retryable


def _reason(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError) and exc.os_error is not None:
        os_error = exc.os_error
        if os_error.errno:
            return os.strerror(os_error.errno).lower()
        return os_error.strerror or str(os_error)
    return str(exc) or type(exc).__name__


def build_record(
    attempt: Attempt, attempts: int, request_id: int, data_index: int, data_abbr: str, worker_id: int
) -> RequestRecord:
    """Turn the last attempt into the record written to disk."""
    points = attempt.points
    state = attempt.state
    if attempt.error_kind is None and len(points) < 2 and state.ended and attempt.end_s is not None:
        points.append(attempt.end_s)  # complete, but no token event: the end stands for the first token
    if attempt.error_kind is None and len(points) < 2:
        _fail(attempt, "protocol", "response ended without any event")
    success = attempt.error_kind is None
    start_s = points[0] if points else float("nan")
    last_s = points[-1] if points else start_s
    if success and attempt.end_s is not None:
        last_s = max(last_s, attempt.end_s)
    return RequestRecord(
        request_id=request_id,
        data_index=data_index,
        data_abbr=data_abbr,
        worker_id=worker_id,
        success=success,
        start_s=start_s,
        end_s=perf_counter() if not success else last_s,
        time_points_s=points,
        usage_input_tokens=state.usage_input_tokens,
        usage_output_tokens=state.usage_output_tokens,
        content_events=state.content_events,
        output_text=state.text,
        reasoning_text="".join(state.reasoning_parts),
        attempts=attempts,
        error_kind=attempt.error_kind,
        error_message=attempt.error_message,
        http_status=attempt.http_status,
        finish_reason=None if state.finish_reason is None else clean_error_text(state.finish_reason)[:32],
    )
