"""The one HTTP client of a run: the load, the warm-up, the model discovery and the pre-flight check.

- :func:`open_client`: a :class:`~ais_bench.clients.http1.ConnectionPool` for one URL (``http://`` or
  ``https://``), closed on exit: no redirects followed, ``Accept-Encoding: identity`` asked and
  nothing decompressed, a connect (TLS handshake included) limited to ``CONNECT_TIMEOUT_S``;
- :func:`send`: one request on a connection of the pool, up to the end of its response (or until
  its body ``sink`` calls ``Exchange.finish``); a reused keep-alive connection that the server had
  closed is replaced once, transparently;
- :func:`fetch` (model discovery) and :func:`check_connect` (pre-flight) on top of them;
- :func:`describe_failure`: the one place where a failed exchange becomes the (kind, message,
  retryable) a record or an error line shows.

The pool runs on the loop of :func:`~ais_bench.clients.loop.run_worker_loop` (it watches sockets with
``add_reader``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from ais_bench.clients.http1 import (
    CONNECT_TIMEOUT_S,
    ConnectionPool,
    Endpoint,
    Exchange,
    HTTPConnection,
    HTTPExchangeError,
)
from ais_bench.clients.tls import DEFAULT_TLS, TLSOptions, build_tls_context

#: Kinds of failure that happened before the request reached the server.
CONNECT_KINDS = frozenset({"connect", "connect_timeout"})


class SendDeadlinePassed(Exception):
    """The request was not sent: its send deadline (``send_by_s``) had passed once a connection was ready."""


@contextlib.asynccontextmanager
async def open_client(
    url: str,
    headers: dict[str, str],
    request_timeout_s: float | None,
    *,
    kernel_stamps: bool = False,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
    tls: TLSOptions = DEFAULT_TLS,
    method: str = "POST",
) -> AsyncIterator[ConnectionPool]:
    """A connection pool for ``method`` requests to ``url`` (closed on exit). ``request_timeout_s``:
    REQUEST_TIME_OUT (None: no limit); ``tls``: how an ``https://`` server is checked; ``kernel_stamps``:
    ask the kernel for receive stamps (``clients/transport.py``)."""
    tls_context = build_tls_context(tls) if url.startswith("https://") else None
    pool = ConnectionPool(
        Endpoint.of(url, headers, method), kernel_stamps, request_timeout_s, connect_timeout_s=connect_timeout_s,
        tls_context=tls_context,
    )
    try:
        yield pool
    finally:
        pool.close()


async def send(
    pool: ConnectionPool,
    request: bytes,
    new_exchange: Callable[[HTTPConnection], Exchange],
    *,
    timeout_at: float | None = None,
    send_by_s: float | None = None,
) -> Exchange:
    """Send ``request`` (bytes of ``pool.endpoint.request``) and wait for its exchange to end; returns
    the exchange (any status: the caller reads ``status``, ``body``, ``problem``).

    ``new_exchange(connection)``: makes the exchange of one try on ``connection`` (a second try, on a
    new connection, when a reused keep-alive connection turned out closed). ``timeout_at``: the end of REQUEST_TIME_OUT on the
    loop's clock; ``send_by_s``: no byte is sent at or after this time on the pool's clock (``perf_counter``)
    (:class:`SendDeadlinePassed`, the connection goes back to the pool unused).

    Raises :class:`HTTPExchangeError`, or what the exchange's body sink raised, or cancellation; the
    connection is dropped then, unless its response had already ended."""
    loop = asyncio.get_running_loop()
    fresh = False
    while True:
        connection = None
        exchange: Exchange | None = None
        try:
            connection = await pool.acquire(fresh=fresh)
            if send_by_s is not None and pool.clock() >= send_by_s:
                pool.put_back(connection)
                raise SendDeadlinePassed()
            exchange = new_exchange(connection)
            connection.send(request, exchange)
            remaining_s = None if timeout_at is None else max(timeout_at - loop.time(), 0.0)
            await asyncio.wait_for(exchange.done, remaining_s)
            return exchange
        except HTTPExchangeError as exc:
            exc.reused = connection is not None and connection.reused
            if exc.unanswered and exc.reused and not fresh:
                fresh = True  # the server had closed this keep-alive connection: send again on a new one
                continue
            raise
        except asyncio.TimeoutError:
            _drop(exchange)
            kind = "connect_timeout" if exchange is None else "read_timeout"
            raise HTTPExchangeError(kind, "REQUEST_TIME_OUT ran out", request_timeout=True) from None
        except BaseException:
            _drop(exchange)
            raise


def _drop(exchange: Exchange | None) -> None:
    if exchange is not None and exchange.connection is not None:
        exchange.connection.abort(exchange)


@dataclass(frozen=True)
class Failure:
    """A failed exchange as a record (and an error line) shows it."""

    kind: str
    message: str
    retryable: bool


def describe_failure(exc: HTTPExchangeError, url: str, events: int | None) -> Failure:
    """The one mapping of a failed exchange to (kind, message, retryable). ``events``: SSE events (or
    bodies) received before it failed; None for a request whose answer is not counted in events
    (model discovery, the pre-flight check): its message is ``cannot reach URL: ...`` or ``URL: ...``."""
    if events is None:
        reason = "no complete answer in time" if exc.request_timeout else str(exc)
        where = f"cannot reach {url}" if exc.kind in CONNECT_KINDS else url
        return Failure(exc.kind, f"{where}: {reason}", exc.retryable)
    if exc.request_timeout:
        return Failure(exc.kind, f"timed out after {events} events (REQUEST_TIME_OUT)", exc.retryable)
    if exc.kind in CONNECT_KINDS:
        return Failure(exc.kind, f"cannot reach {url}: {exc}", exc.retryable)
    return Failure(exc.kind, f"stream ended early after {events} events: {exc}", exc.retryable)


async def fetch(
    url: str, headers: dict[str, str], *, method: str = "GET", body: bytes = b"", timeout_s: float,
    tls: TLSOptions = DEFAULT_TLS,
) -> Exchange:
    """One ``method`` request to ``url`` with ``body``, its whole answer collected (``status``,
    ``reason``, ``headers``, ``body``), within ``timeout_s``. Raises :class:`HTTPExchangeError`."""
    loop = asyncio.get_running_loop()
    async with open_client(url, headers, timeout_s, connect_timeout_s=timeout_s, tls=tls, method=method) as pool:
        request = pool.endpoint.request(body)
        return await send(pool, request, lambda _connection: Exchange(loop, None, None), timeout_at=loop.time() + timeout_s)


async def check_connect(url: str, *, timeout_s: float, tls: TLSOptions = DEFAULT_TLS) -> None:
    """Open one connection to ``url`` (TCP, and the TLS handshake for ``https://``) and close it.
    Raises :class:`HTTPExchangeError`."""
    async with open_client(url, {}, None, connect_timeout_s=timeout_s, tls=tls) as pool:
        connection = await pool.acquire()
        connection.close()
