"""The run's HTTP/1.1 client, lean for the load's hot path: pre-encoded requests, the llhttp parser,
no per-chunk coroutine hand-offs (``clients/client.py`` is its interface to the rest of the tool).

Why not a general client such as aiohttp: a streamed response is one HTTP chunk per SSE event, and aiohttp pays about
10 µs of Python per chunk (its stream reader, flow control, a task wake-up per read); building a
request costs it about 100 µs. Under a burst of hundreds of streams that is the client's whole
budget. This client writes each request as one pre-built byte string, parses responses with
``httptools`` (llhttp, the parser of Node.js; about 0.2 µs per chunk) and hands the body bytes of
each read (all its chunks at once), with the read's stamp, to a callback that runs inside the read
itself. Connections are
:class:`~ais_bench.clients.transport.KernelStampedTransport` s: each read carries the kernel's arrival
stamp (``read_s``) and each request the time its first byte was written (``write_s``).

Scope: ``http://`` and ``https://`` (TLS in ``clients/tls.py``), one request per connection at a time,
keep-alive, ``Content-Length``, chunked and read-until-close bodies; interim ``1xx`` responses are
skipped; redirects are not followed and compressed bodies are not decoded (the request asks for
``Accept-Encoding: identity``): the engine fails such responses with a reason that says so.
Errors are :class:`HTTPExchangeError` with the ``kind`` the engine records.

Connections (:class:`ConnectionPool`): never more open than requests in flight. A connection whose
consumer left at ``[DONE]`` before its body ended is *draining*: the next request that needs a
connection waits for it (up to ``DRAIN_WAIT_S``) instead of opening another. A connection idle for
``IDLE_CLOSE_S`` is closed (servers close idle keep-alive connections too: llama.cpp after 5 s).
Every ``ERROR_CHECK_S`` the pool looks at the pending socket error of the connections that serve a
request: a reset that arrived together with the last data ends its request then, not at its timeout.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import os
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter
from typing import Any
from urllib.parse import unquote, urlsplit

import httptools

from ais_bench.clients.errors import ResponseError
from ais_bench.clients.tls import (
    TLSHandshakeEOF,
    TLSOptions,
    TLSSession,
    TLSTransport,
    build_tls_context,
    tls_failure_text,
    tls_handshake,
)
from ais_bench.clients.transport import Clock, KernelStampedTransport, enable_kernel_stamps

#: Seconds a connection may take to finish its response after the consumer stopped reading
#: (``[DONE]`` seen) before it is closed instead of reused.
DRAIN_GRACE_S = 5.0
#: Seconds a request that needs a connection waits for a draining one (its consumer left at
#: ``[DONE]``, the body's end has not arrived) before closing it and opening a new one.
DRAIN_WAIT_S = 1.0
#: Seconds an unused keep-alive connection stays open; after that it is closed, never reused (a
#: server may close it at any moment: llama.cpp's after 5 s idle, uvicorn's after 5 s).
IDLE_CLOSE_S = 2.0
#: Seconds a TCP connect may take (REQUEST_TIME_OUT, when shorter, applies instead).
CONNECT_TIMEOUT_S = 10.0
#: Seconds between two looks at the pending socket error of the connections that serve a request
#: (``KernelStampedTransport.check_error``: a reset that arrived together with data).
ERROR_CHECK_S = 0.25
#: Bytes of a non-200 response body kept (for the error message); the rest is read and dropped.
ERROR_BODY_LIMIT = 4096
USER_AGENT = "ais_bench"


class HTTPExchangeError(Exception):
    """A request that did not get a complete response. ``kind``: ``connect``, ``connect_timeout``,
    ``read_timeout`` (the request's time limit ran out: ``request_timeout``) or ``protocol``.
    ``unanswered``: the connection ended before any byte of a response arrived; ``reused``: it had
    served a request before. Both: a keep-alive connection the server had closed; the request can go
    again on a new one (``clients/client.py`` does, once)."""

    def __init__(
        self, kind: str, message: str, retryable: bool = True, unanswered: bool = False, request_timeout: bool = False
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.retryable = retryable
        self.unanswered = unanswered
        self.request_timeout = request_timeout
        self.reused = False


@dataclass(frozen=True)
class Endpoint:
    """Where requests go and the bytes every request starts with."""

    host: str
    port: int
    head: bytes  # request line and the headers shared by every request, without Content-Length
    tls: bool = False  # https: the connections speak TLS (``clients/tls.py``)

    @classmethod
    def of(cls, url: str, headers: dict[str, str], method: str = "POST") -> Endpoint:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the HTTP client serves http:// and https:// URLs only, not {url!r}")
        tls = parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host_header = parts.netloc.rpartition("@")[2]
        names = {name.lower() for name in headers}
        lines = [f"{method} {target} HTTP/1.1", f"Host: {host_header}"]
        if "user-agent" not in names:
            lines.append(f"User-Agent: {USER_AGENT}")
        if "accept" not in names:
            lines.append("Accept: */*")
        if "content-type" not in names:
            lines.append("Content-Type: application/json")
        if "accept-encoding" not in names:
            lines.append("Accept-Encoding: identity")
        lines += [f"{name}: {value}" for name, value in headers.items() if name.lower() not in _FRAMING]
        if parts.username is not None and "authorization" not in names:
            lines.append(f"Authorization: {_basic_credentials(parts.username, parts.password or '')}")
        return cls(parts.hostname, port, _encode_header_block(lines), tls)

    def request(self, body: bytes, extra_headers: dict[str, str] | None = None) -> bytes:
        extra = "".join(f"{name}: {value}\r\n" for name, value in extra_headers.items()) if extra_headers else ""
        return b"".join((self.head, f"Content-Length: {len(body)}\r\n{extra}\r\n".encode("latin-1"), body))


#: Headers this client writes itself (the body's framing and the connection's lifetime).
_FRAMING = frozenset({"host", "content-length", "transfer-encoding", "connection"})


def _basic_credentials(user: str, password: str) -> str:
    """``Basic <base64>`` of a URL's ``user:password`` (percent-decoded), as aiohttp sends them."""
    pair = f"{unquote(user)}:{unquote(password)}".encode("latin-1", "replace")
    return "Basic " + base64.b64encode(pair).decode("ascii")


def _encode_header_block(lines: list[str]) -> bytes:
    text = "".join(line + "\r\n" for line in lines)
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


class Exchange:
    """One request's response as it arrives.

    ``sink``: called with the body bytes of a 200 response, once per read that brought some and
    inside it (``stamps.read_s`` is that read's stamp); it may raise to abort the exchange. Without a sink the
    body is collected in ``body`` (at most ``max_body`` bytes when set; other statuses than 200 keep
    their first ``ERROR_BODY_LIMIT`` bytes).
    ``done`` resolves when the response is complete, when the sink calls :meth:`finish` (e.g. at
    ``[DONE]``), or with the exception that ended it. ``headers``: the response headers the engine
    reads (``content-type``, ``content-encoding``, ``location``; lower-case names, latin-1 text).
    ``problem``: why a 200 body cannot be used (see :func:`unusable_body_reason`); it is then kept
    like an error body instead of going to ``sink``. ``close_delimited``: the body had neither a
    length nor chunked encoding and ended with the connection, so nothing says it was complete.
    """

    __slots__ = (
        "body", "body_bytes", "close_delimited", "connection", "done", "error", "headers", "max_body", "problem",
        "reason", "sent_s", "sink", "status",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, sink: Callable[[bytes], None] | None, max_body: int | None):
        self.done: asyncio.Future[None] = loop.create_future()
        self.sink = sink
        self.max_body = max_body
        self.status = 0
        self.reason = ""
        self.body = bytearray()
        self.body_bytes = 0
        self.headers: dict[str, str] = {}
        self.problem: str | None = None
        #: Set by a consumer whose own processing failed after the body was read (it ends the exchange).
        self.error: ResponseError | None = None
        self.close_delimited = False
        #: The connection that carries it, and the moment its first byte went to the kernel
        #: (``perf_counter`` s; the transport's ``write_s``), both set when it is sent.
        self.connection: HTTPConnection | None = None
        self.sent_s = 0.0

    def finish(self) -> None:
        """The consumer has what it needs: resolve now; the rest of the body is read and dropped."""
        if not self.done.done():
            self.done.set_result(None)
        self.sink = None
        self.max_body = 0


class HTTPConnection(asyncio.Protocol):
    """One keep-alive connection; ``send`` starts an exchange; the parser's callbacks feed it."""

    __slots__ = (
        "_answered", "_body_pieces", "_closed", "_drain_timer", "_exchange", "_interim", "_length_known", "_parser",
        "_pool", "exchanges_sent", "idle_timer", "transport", "waiter",
    )

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._parser = httptools.HttpResponseParser(self)
        self.transport: KernelStampedTransport | None = None
        self._exchange: Exchange | None = None
        self._length_known = False
        self._closed = False
        self._drain_timer: asyncio.TimerHandle | None = None
        #: Requests written on this connection so far (more than one: a reused keep-alive connection).
        self.exchanges_sent = 0
        #: A byte of the current exchange's response has arrived.
        self._answered = False
        #: The response being parsed is an interim one (1xx): skipped.
        self._interim = False
        #: Closes the connection once it has been idle for ``IDLE_CLOSE_S`` (set while in the pool).
        self.idle_timer: asyncio.TimerHandle | None = None
        #: A request waiting for this draining connection (see :meth:`ConnectionPool.acquire`).
        self.waiter: asyncio.Future[HTTPConnection | None] | None = None
        #: Body pieces of the current read for the exchange's sink (see :meth:`_deliver_body`).
        self._body_pieces: list[bytes] = []

    @property
    def reused(self) -> bool:
        return self.exchanges_sent > 1

    @property
    def serving(self) -> bool:
        """A request is on this connection and its response has not ended."""
        return self._exchange is not None

    # --- asyncio.Protocol ----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        error: BaseException | None = None
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:  # the sink raised: its error ends the exchange
            error = exc.__context__ or exc
        except httptools.HttpParserError as exc:
            error = HTTPExchangeError("protocol", f"invalid HTTP response: {exc}")
        except httptools.HttpParserUpgrade:
            error = HTTPExchangeError("protocol", "the server switched protocols", retryable=False)
        if self._body_pieces:
            try:
                self._deliver_body()
            except Exception as exc:  # the sink raised: its error ends the exchange
                error = error or exc
        if error is not None:
            self._fail(error)

    def eof_received(self) -> bool | None:
        exchange = self._exchange
        if exchange is not None and exchange.status and not self._length_known:
            exchange.close_delimited = True
            self._complete()  # a body delimited by the end of the connection
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._pool.forget(self)
        reason = _reason(exc) if exc is not None else "server closed the connection"
        exchange = self._exchange
        if exchange is not None and not exchange.done.done():
            where = "before the response" if not exchange.status else "before the response ended"
            if isinstance(exc, ssl.SSLError) and not self._answered:  # TLS 1.3: the server's verdict on the client
                error = HTTPExchangeError(
                    "connect", tls_failure_text(exc, self._pool.endpoint.host), retryable=False, unanswered=True
                )
            else:
                text = f"{reason} {where}"
                if self._pool.endpoint.tls and not self._answered and not self.reused:
                    text += f"; {_DROPPED_AFTER_HANDSHAKE}"
                error = HTTPExchangeError("protocol", text, unanswered=not self._answered)
            exchange.done.set_exception(error)
        self._exchange = None

    # --- httptools callbacks -------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._answered = True
        self._length_known = False
        if self._exchange is not None:
            self._exchange.reason = ""

    def on_status(self, reason: bytes) -> None:
        if self._exchange is not None:  # called once per read that holds a piece of the phrase
            self._exchange.reason += reason.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        lowered = name.lower()
        if lowered == b"content-length" or (lowered == b"transfer-encoding" and b"chunked" in value.lower()):
            self._length_known = True
        elif lowered in _KEPT_HEADERS and self._exchange is not None:
            self._exchange.headers[lowered.decode("latin-1")] = value.decode("latin-1").strip()

    def on_headers_complete(self) -> None:
        exchange = self._exchange
        status = self._parser.get_status_code()
        if 100 <= status < 200:  # an interim response (100 Continue, 103 Early Hints): the real one follows
            self._interim = True
            if exchange is not None:
                exchange.headers.clear()
            return
        if exchange is not None:
            exchange.status = status
            if status == 200 and exchange.headers:
                exchange.problem = unusable_body_reason(exchange.headers, stream=exchange.sink is not None)
            if status != 200 or exchange.problem is not None:
                exchange.sink = None
                exchange.max_body = ERROR_BODY_LIMIT

    def on_body(self, body: bytes) -> None:
        exchange = self._exchange
        if exchange is None:
            return
        if exchange.sink is not None:  # counted in body_bytes when the read's pieces are handed over
            self._body_pieces.append(body)
            return
        exchange.body_bytes += len(body)
        limit = exchange.max_body
        if limit is None:
            exchange.body += body
        elif len(exchange.body) < limit:
            exchange.body += body[: limit - len(exchange.body)]

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        if self._body_pieces:
            self._deliver_body()
        self._complete()

    def _deliver_body(self) -> None:
        """Hand the body pieces of this read to the sink in one call (one HTTP chunk per SSE event:
        calling it once per read instead of once per chunk halves the Python work per event; every
        piece of a read has the read's stamp anyway)."""
        pieces = self._body_pieces
        body = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        pieces.clear()
        exchange = self._exchange
        if exchange is None:
            return
        exchange.body_bytes += len(body)
        if exchange.sink is not None:
            exchange.sink(body)

    # --- exchanges -----------------------------------------------------------------------------
    def send(self, request: bytes, exchange: Exchange) -> None:
        self.exchanges_sent += 1
        if not self.reusable:  # closed meanwhile: writing would be a silent no-op, and the wait endless
            error = HTTPExchangeError("protocol", "server closed the connection before the response", unanswered=True)
            exchange.done.set_exception(error)
            return
        self._exchange = exchange
        exchange.connection = self
        self._length_known = False
        self._answered = False
        assert self.transport is not None
        self.transport.write(request)
        exchange.sent_s = self.transport.write_s

    @property
    def reusable(self) -> bool:
        return self._exchange is None and not self._closed and self.transport is not None and not self.transport.is_closing()

    def _complete(self) -> None:
        exchange, self._exchange = self._exchange, None
        if self._drain_timer is not None:
            self._drain_timer.cancel()
            self._drain_timer = None
        if exchange is not None and not exchange.done.done():
            exchange.done.set_result(None)
        if self._parser.should_keep_alive() and self.reusable:
            self._pool.put_back(self)
        else:
            self.close()

    def _fail(self, exc: BaseException) -> None:
        exchange, self._exchange = self._exchange, None
        if exchange is not None and not exchange.done.done():
            exchange.done.set_exception(exc)
        self.close()

    def drain_or_close(self, exchange: Exchange) -> None:
        """The consumer of ``exchange`` left before its response ended: reuse the connection if the
        response ends soon (it normally does: ``[DONE]`` is followed by the end of the body), else
        close it. Meanwhile the pool counts it as *draining*: the next request waits for it rather
        than opening another connection. A no-op once the response has ended (the connection may
        already serve another)."""
        if self._exchange is exchange and self._drain_timer is None:
            self._drain_timer = asyncio.get_running_loop().call_later(DRAIN_GRACE_S, self._close_if_serving, exchange)
            self._pool.add_draining(self)

    def _close_if_serving(self, exchange: Exchange) -> None:
        self._drain_timer = None
        if self._exchange is exchange:
            self.close()

    def abort(self, exchange: Exchange) -> None:
        """Drop ``exchange`` and the connection now (cancellation, timeout, a consumer's error), if
        the connection still serves it: once its response has ended, the connection may already
        carry another request, which must not be touched."""
        if self._exchange is not exchange:
            return
        self._exchange = None
        if self.transport is not None:
            self.transport.abort()
        self._closed = True
        self._pool.forget(self)

    def close(self) -> None:
        if self._drain_timer is not None:
            self._drain_timer.cancel()
            self._drain_timer = None
        self._closed = True
        self._pool.forget(self)
        if self.transport is not None:
            self.transport.close()


#: Why a new TLS connection may end before its first response: a server that refuses the client's
#: certificate (or its absence) after the handshake without sending the TLS alert that would say so
#: (servers on Python's asyncio do).
_DROPPED_AFTER_HANDSHAKE = (
    "the server dropped a new TLS connection: if it requires a client certificate, check client_cert "
    "and client_key in the model config"
)

#: Response headers an :class:`Exchange` keeps.
_KEPT_HEADERS = frozenset({b"content-type", b"content-encoding", b"location"})


def unusable_body_reason(headers: dict[str, str], *, stream: bool) -> str | None:
    """Why a 200 response cannot be read as the answer (None: it can). ``headers``: lower-case names.

    The client asks for ``Accept-Encoding: identity`` and never decodes a compressed body, and a
    stream request must be answered with an event stream, not with one JSON document (a server
    that ignores ``stream``, or a proxy that buffers and rewrites the answer).
    """
    encoding = headers.get("content-encoding", "").strip().lower()
    if encoding and encoding != "identity":
        return (
            f"server sent a {encoding}-compressed body although the client asked for an uncompressed one "
            "(Accept-Encoding: identity); turn response compression off in the server or proxy"
        )
    if stream and headers.get("content-type", "").strip().lower().startswith("application/json"):
        return (
            "server answered a stream request with a JSON body instead of an event stream; check that "
            "this API streams (or set stream=False in the model config)"
        )
    return None


class ConnectionPool:
    """Keep-alive connections to one endpoint, opened on demand. The caller bounds how many
    exchanges run at once (the worker's lanes); a connection serves one exchange at a time, and the
    pool never holds more connections than requests in flight plus the idle ones of the last
    ``idle_close_s`` seconds (see the module doc)."""

    def __init__(
        self,
        endpoint: Endpoint,
        kernel_stamps: bool,
        request_timeout_s: float | None = None,
        *,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        idle_close_s: float = IDLE_CLOSE_S,
        tls_context: ssl.SSLContext | None = None,
        clock: Clock = perf_counter,
    ) -> None:
        self.endpoint = endpoint
        #: The clock of the stamps and the send deadline (``perf_counter``; tests pass a fake one).
        self.clock = clock
        #: The TLS context of an ``https://`` endpoint (None: the standard library's default one).
        self.tls_context = (tls_context or build_tls_context(TLSOptions())) if endpoint.tls else None
        #: Seconds one request may take in all, connecting included (None: no limit).
        self.request_timeout_s = request_timeout_s
        #: Seconds a TCP connect may take.
        self.connect_timeout_s = connect_timeout_s
        self.idle_close_s = idle_close_s
        self._kernel_stamps = kernel_stamps
        self._idle: list[HTTPConnection] = []
        self._draining: list[HTTPConnection] = []
        self._open: set[HTTPConnection] = set()
        self._keep_idle = False
        self._addresses: list[tuple[int, Any]] | None = None
        self._error_check: asyncio.TimerHandle | None = None

    @property
    def open_connections(self) -> int:
        return len(self._open)

    async def acquire(self, fresh: bool = False) -> HTTPConnection:
        """A connection ready for a request: an idle one, else a draining one once its response has
        ended, else a new one (``fresh``: always a new one)."""
        if not fresh:
            connection = self._take_idle()
            if connection is None and self._draining:
                connection = await self._wait_for_draining()
            if connection is not None:
                return connection
        return await self._connect()

    def _take_idle(self) -> HTTPConnection | None:
        while self._idle:
            connection = self._idle.pop()
            timer = connection.idle_timer
            if timer is not None:
                connection.idle_timer = None
                timer.cancel()
                if timer.when() <= asyncio.get_running_loop().time():  # idle too long; its timer is late
                    connection.close()
                    continue
            if connection.reusable:
                return connection
        return None

    async def _wait_for_draining(self) -> HTTPConnection | None:
        connection = self._draining.pop(0)
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[HTTPConnection | None] = loop.create_future()
        connection.waiter = waiter
        # A timer, not asyncio.wait_for: this wait is on the path of most requests at high concurrency.
        timer = loop.call_later(DRAIN_WAIT_S, self._stop_waiting_for, connection, waiter)
        try:
            handed = await waiter
        finally:
            timer.cancel()
        # The server may have closed it between the hand-over and now (a FIN right after the body).
        return handed if handed is not None and handed.reusable else None

    @staticmethod
    def _stop_waiting_for(connection: HTTPConnection, waiter: asyncio.Future[HTTPConnection | None]) -> None:
        """``DRAIN_WAIT_S`` passed and the draining connection's response has not ended: it is closed
        and the request that waited for it opens a new one."""
        if waiter.done():
            return
        connection.waiter = None
        connection.close()
        waiter.set_result(None)

    def add_draining(self, connection: HTTPConnection) -> None:
        self._draining.append(connection)

    def put_back(self, connection: HTTPConnection) -> None:
        """A connection whose response ended and that may serve another request."""
        waiter = connection.waiter
        if waiter is not None:
            connection.waiter = None
            if not waiter.done():
                waiter.set_result(connection)  # handed over to the request that waited for it
                return
        if connection in self._draining:
            self._draining.remove(connection)
        if not self._keep_idle:
            connection.idle_timer = asyncio.get_running_loop().call_later(self.idle_close_s, self._close_idle, connection)
        self._idle.append(connection)

    def keep_idle(self, keep: bool) -> None:
        """``True``: idle connections stay open however long they wait (the warm-up's, kept for the
        load, which starts once every worker has warmed up); ``False``: they close after
        ``idle_close_s`` from now, as idle connections do."""
        self._keep_idle = keep
        loop = asyncio.get_running_loop()
        for connection in self._idle:
            if connection.idle_timer is not None:
                connection.idle_timer.cancel()
                connection.idle_timer = None
            if not keep:
                connection.idle_timer = loop.call_later(self.idle_close_s, self._close_idle, connection)

    def _close_idle(self, connection: HTTPConnection) -> None:
        connection.idle_timer = None
        if connection in self._idle:
            connection.close()

    def forget(self, connection: HTTPConnection) -> None:
        self._open.discard(connection)
        if connection in self._idle:
            self._idle.remove(connection)
        if connection in self._draining:
            self._draining.remove(connection)
        if connection.idle_timer is not None:
            connection.idle_timer.cancel()
            connection.idle_timer = None
        waiter, connection.waiter = connection.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)  # the request that waited opens a new connection

    def close(self) -> None:
        if self._error_check is not None:
            self._error_check.cancel()
            self._error_check = None
        for connection in list(self._open):
            connection.close()
        self._idle.clear()
        self._draining.clear()

    def _check_errors_soon(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._error_check is None:
            self._error_check = loop.call_later(ERROR_CHECK_S, self._check_errors, loop)

    def _check_errors(self, loop: asyncio.AbstractEventLoop) -> None:
        """Find the resets that arrived together with data (``KernelStampedTransport.check_error``) on
        the connections that serve a request; again every ``ERROR_CHECK_S`` while any is open."""
        self._error_check = None
        for connection in list(self._open):
            if connection.serving and connection.transport is not None:
                connection.transport.check_error()
        if self._open:
            self._check_errors_soon(loop)

    async def _connect(self) -> HTTPConnection:
        loop = asyncio.get_running_loop()
        timeout_s = self.connect_timeout_s
        if self.request_timeout_s is not None and self.request_timeout_s <= timeout_s:
            timeout_s = self.request_timeout_s
            request_limit = True
        else:
            request_limit = False
        last_error: BaseException | None = None
        for family, address in await self._resolve(loop):
            sock = _open_socket(family)
            try:
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                kernel = self._kernel_stamps and enable_kernel_stamps(sock)
                began_s = loop.time()
                await asyncio.wait_for(loop.sock_connect(sock, address), timeout_s)
            except (OSError, asyncio.TimeoutError) as exc:
                sock.close()
                last_error = exc
                continue
            except BaseException:
                sock.close()
                raise
            try:
                session = await self._handshake(loop, sock, timeout_s - (loop.time() - began_s), timeout_s, request_limit)
            except BaseException:
                sock.close()
                raise
            connection = HTTPConnection(self)
            if session is None:
                KernelStampedTransport(loop, sock, connection, kernel=kernel, clock=self.clock).start()
            else:
                TLSTransport(loop, sock, connection, session, kernel=kernel, clock=self.clock).start()
            self._open.add(connection)
            self._check_errors_soon(loop)
            return connection
        if isinstance(last_error, asyncio.TimeoutError):
            if request_limit:
                raise last_error  # REQUEST_TIME_OUT ran out while connecting
            raise HTTPExchangeError(
                "connect_timeout",
                f"no connection within {timeout_s:g} s (the server accepts no more connections, or "
                "nothing answers at this address)",
            )
        raise HTTPExchangeError("connect", _reason(last_error) if last_error else "no address to connect to")

    async def _handshake(
        self, loop: asyncio.AbstractEventLoop, sock: socket.socket, remaining_s: float, timeout_s: float,
        request_limit: bool,
    ) -> TLSSession | None:
        """The TLS session of a new connection to an ``https://`` endpoint (None for ``http://``), within
        what is left of the connect timeout (``timeout_s`` in all; ``request_limit``: it is
        REQUEST_TIME_OUT's, whose end raises ``asyncio.TimeoutError``). Its failures are not worth
        another address: the server answered, in a way that will not change."""
        context = self.tls_context
        if context is None:
            return None
        try:
            return await asyncio.wait_for(tls_handshake(loop, sock, context, self.endpoint.host), max(remaining_s, 0.0))
        except asyncio.TimeoutError:
            if request_limit:
                raise
            raise HTTPExchangeError(
                "connect_timeout",
                f"no connection within {timeout_s:g} s (no answer to the TLS handshake: if the server speaks "
                "plain HTTP, use http:// in url)",
            ) from None
        except (ssl.SSLError, TLSHandshakeEOF) as exc:
            retryable = isinstance(exc, TLSHandshakeEOF)
            raise HTTPExchangeError("connect", tls_failure_text(exc, self.endpoint.host), retryable=retryable) from None
        except OSError as exc:
            raise HTTPExchangeError("connect", f"TLS handshake failed ({_reason(exc)})") from None

    async def _resolve(self, loop: asyncio.AbstractEventLoop) -> list[tuple[int, Any]]:
        if self._addresses is None:
            endpoint = self.endpoint
            try:
                infos = await loop.getaddrinfo(endpoint.host, endpoint.port, type=socket.SOCK_STREAM)
            except OSError as exc:
                raise HTTPExchangeError("connect", f"cannot resolve {endpoint.host}: {_reason(exc)}") from exc
            self._addresses = [(family, address) for family, _, _, _, address in infos]
        return self._addresses


def _open_socket(family: int) -> socket.socket:
    """A new TCP socket; running out of file descriptors is a per-request failure, not a crash."""
    try:
        return socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:
        detail = _reason(exc)
        if exc.errno in (errno.EMFILE, errno.ENFILE):
            detail += f" (open-file limit of this process: {open_file_limit_text()}); lower batch_size or raise ulimit -n"
        raise HTTPExchangeError("connect", f"cannot open a socket: {detail}") from exc


def open_file_limit_text() -> str:
    """``soft N, hard M`` of RLIMIT_NOFILE, or ``unknown`` where there is no such limit."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return "unknown"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return f"soft {soft}, hard {hard}"


def _reason(exc: BaseException | None) -> str:
    if isinstance(exc, ssl.SSLError):
        return f"TLS error ({str(exc.reason or exc).lower().replace('_', ' ')})"
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno).lower()
    return (str(exc) if exc is not None else "") or type(exc).__name__
