"""A lean HTTP/1.1 client for the load's hot path: pre-encoded requests, the llhttp parser, no
per-chunk coroutine hand-offs.

Why not aiohttp here: a streamed response is one HTTP chunk per SSE event, and aiohttp pays about
10 µs of Python per chunk (its stream reader, flow control, a task wake-up per read); building a
request costs it about 100 µs. Under a burst of hundreds of streams that is the client's whole
budget. This client writes each request as one pre-built byte string, parses responses with
``httptools`` (llhttp, the parser of Node.js; about 0.2 µs per chunk) and hands every body piece,
with the read's stamp, to a callback that runs inside the read itself. Connections are
:class:`~ais_bench.clients.transport.KernelStampedTransport` s: each read carries the kernel's arrival
stamp (``read_s``) and each request the time its first byte was written (``write_s``).

Scope: plain ``http://`` (aiohttp still serves ``https://`` and everything outside the load), one
request per connection at a time, keep-alive, ``Content-Length``, chunked and read-until-close bodies.
Errors are :class:`HTTPExchangeError` with the ``kind`` the engine records.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httptools

from ais_bench.clients.transport import KernelStampedTransport, enable_kernel_stamps

#: Seconds a connection may take to finish its response after the consumer stopped reading
#: (``[DONE]`` seen) before it is closed instead of reused.
DRAIN_GRACE_S = 5.0
#: Bytes of a non-200 response body kept (for the error message); the rest is read and dropped.
ERROR_BODY_LIMIT = 4096
USER_AGENT = "ais_bench"


class HTTPExchangeError(Exception):
    """A request that did not get a complete response. ``kind``: ``connect`` or ``protocol``."""

    def __init__(self, kind: str, message: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.kind = kind
        self.retryable = retryable


@dataclass(frozen=True)
class Endpoint:
    """Where requests go and the bytes every request starts with."""

    host: str
    port: int
    head: bytes  # request line and the headers shared by every request, without Content-Length

    @classmethod
    def of(cls, url: str, headers: dict[str, str]) -> Endpoint:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the lean HTTP client serves http:// URLs only, not {url!r}")
        port = parts.port or 80
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host_header = parts.netloc.rpartition("@")[2]
        names = {name.lower() for name in headers}
        lines = [f"POST {target} HTTP/1.1", f"Host: {host_header}"]
        if "user-agent" not in names:
            lines.append(f"User-Agent: {USER_AGENT}")
        if "accept" not in names:
            lines.append("Accept: */*")
        if "content-type" not in names:
            lines.append("Content-Type: application/json")
        lines += [f"{name}: {value}" for name, value in headers.items() if name.lower() not in _FRAMING]
        return cls(parts.hostname, port, _encode_header_block(lines))

    def request(self, body: bytes, extra_headers: dict[str, str] | None = None) -> bytes:
        extra = "".join(f"{name}: {value}\r\n" for name, value in extra_headers.items()) if extra_headers else ""
        return b"".join((self.head, f"Content-Length: {len(body)}\r\n{extra}\r\n".encode("latin-1"), body))


#: Headers this client writes itself (the body's framing and the connection's lifetime).
_FRAMING = frozenset({"host", "content-length", "transfer-encoding", "connection"})


def _encode_header_block(lines: list[str]) -> bytes:
    text = "".join(line + "\r\n" for line in lines)
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


class Exchange:
    """One request's response as it arrives.

    ``sink``: called with every body piece of a 200 response, inside the read that brought it
    (``stamps.read_s`` is that read's stamp); it may raise to abort the exchange. Without a sink the
    body is collected in ``body`` (at most ``max_body`` bytes when set; other statuses than 200 keep
    their first ``ERROR_BODY_LIMIT`` bytes).
    ``done`` resolves when the response is complete, when the sink calls :meth:`finish` (e.g. at
    ``[DONE]``), or with the exception that ended it.
    """

    __slots__ = ("body", "body_bytes", "done", "error", "max_body", "reason", "sink", "status")

    def __init__(self, loop: asyncio.AbstractEventLoop, sink: Callable[[bytes], None] | None, max_body: int | None):
        self.done: asyncio.Future[None] = loop.create_future()
        self.sink = sink
        self.max_body = max_body
        self.status = 0
        self.reason = ""
        self.body = bytearray()
        self.body_bytes = 0
        #: Set by a consumer whose own processing failed after the body was read (it ends the exchange).
        self.error: Exception | None = None

    def finish(self) -> None:
        """The consumer has what it needs: resolve now; the rest of the body is read and dropped."""
        if not self.done.done():
            self.done.set_result(None)
        self.sink = None
        self.max_body = 0


class HTTPConnection(asyncio.Protocol):
    """One keep-alive connection; ``send`` starts an exchange; the parser's callbacks feed it."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._parser = httptools.HttpResponseParser(self)
        self.transport: KernelStampedTransport | None = None
        self._exchange: Exchange | None = None
        self._length_known = False
        self._closed = False
        self._drain_timer: asyncio.TimerHandle | None = None

    # --- asyncio.Protocol ----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:  # the sink raised: its error ends the exchange
            self._fail(exc.__context__ or exc)
        except httptools.HttpParserError as exc:
            self._fail(HTTPExchangeError("protocol", f"invalid HTTP response: {exc}"))
        except httptools.HttpParserUpgrade:
            self._fail(HTTPExchangeError("protocol", "the server switched protocols", retryable=False))

    def eof_received(self) -> bool | None:
        exchange = self._exchange
        if exchange is not None and exchange.status and not self._length_known:
            self._complete()  # a body delimited by the end of the connection
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._pool.forget(self)
        reason = _reason(exc) if exc is not None else "server closed the connection"
        exchange = self._exchange
        if exchange is not None and not exchange.done.done():
            where = "before the response" if not exchange.status else "before the response ended"
            exchange.done.set_exception(HTTPExchangeError("protocol", f"{reason} {where}"))
        self._exchange = None

    # --- httptools callbacks -------------------------------------------------------------------
    def on_status(self, reason: bytes) -> None:
        if self._exchange is not None:  # called once per read that holds a piece of the phrase
            self._exchange.reason += reason.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        lowered = name.lower()
        if lowered == b"content-length" or (lowered == b"transfer-encoding" and b"chunked" in value.lower()):
            self._length_known = True

    def on_headers_complete(self) -> None:
        exchange = self._exchange
        if exchange is not None:
            exchange.status = self._parser.get_status_code()
            if exchange.status != 200:
                exchange.sink = None
                exchange.max_body = ERROR_BODY_LIMIT

    def on_body(self, body: bytes) -> None:
        exchange = self._exchange
        if exchange is None:
            return
        exchange.body_bytes += len(body)
        sink = exchange.sink
        if sink is not None:
            sink(body)
            return
        limit = exchange.max_body
        if limit is None:
            exchange.body += body
        elif len(exchange.body) < limit:
            exchange.body += body[: limit - len(exchange.body)]

    def on_message_complete(self) -> None:
        self._complete()

    # --- exchanges -----------------------------------------------------------------------------
    def send(self, request: bytes, exchange: Exchange) -> None:
        self._exchange = exchange
        self._length_known = False
        assert self.transport is not None
        self.transport.write(request)

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
        close it. A no-op once the response has ended (the connection may already serve another)."""
        if self._exchange is exchange and self._drain_timer is None:
            self._drain_timer = asyncio.get_running_loop().call_later(DRAIN_GRACE_S, self._close_if_serving, exchange)

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


class ConnectionPool:
    """Keep-alive connections to one endpoint, opened on demand. The caller bounds how many
    exchanges run at once (the worker's lanes); a connection serves one exchange at a time."""

    def __init__(self, endpoint: Endpoint, kernel_stamps: bool, request_timeout_s: float | None = None) -> None:
        self.endpoint = endpoint
        #: Seconds one request may take in all, connecting included (None: no limit).
        self.request_timeout_s = request_timeout_s
        self._kernel_stamps = kernel_stamps
        self._idle: list[HTTPConnection] = []
        self._open: set[HTTPConnection] = set()
        self._addresses: list[tuple] | None = None

    async def acquire(self) -> HTTPConnection:
        while self._idle:
            connection = self._idle.pop()
            if connection.reusable:
                return connection
        return await self._connect()

    def put_back(self, connection: HTTPConnection) -> None:
        self._idle.append(connection)

    def forget(self, connection: HTTPConnection) -> None:
        self._open.discard(connection)
        if connection in self._idle:
            self._idle.remove(connection)

    def close(self) -> None:
        for connection in list(self._open):
            connection.close()
        self._idle.clear()

    async def _connect(self) -> HTTPConnection:
        loop = asyncio.get_running_loop()
        last_error: BaseException | None = None
        for family, address in await self._resolve(loop):
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                kernel = self._kernel_stamps and enable_kernel_stamps(sock)
                await asyncio.wait_for(loop.sock_connect(sock, address), self.request_timeout_s)
            except (OSError, asyncio.TimeoutError) as exc:
                sock.close()
                last_error = exc
                continue
            except BaseException:
                sock.close()
                raise
            connection = HTTPConnection(self)
            KernelStampedTransport(loop, sock, connection, kernel=kernel).start()
            self._open.add(connection)
            return connection
        if isinstance(last_error, asyncio.TimeoutError):
            raise last_error  # REQUEST_TIME_OUT ran out while connecting
        raise HTTPExchangeError("connect", _reason(last_error) if last_error else "no address to connect to")

    async def _resolve(self, loop: asyncio.AbstractEventLoop) -> list[tuple]:
        if self._addresses is None:
            endpoint = self.endpoint
            try:
                infos = await loop.getaddrinfo(endpoint.host, endpoint.port, type=socket.SOCK_STREAM)
            except OSError as exc:
                raise HTTPExchangeError("connect", f"cannot resolve {endpoint.host}: {_reason(exc)}") from exc
            self._addresses = [(family, address) for family, _, _, _, address in infos]
        return self._addresses


def _reason(exc: BaseException | None) -> str:
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno).lower()
    return (str(exc) if exc is not None else "") or type(exc).__name__
