"""The HTTP client of a run: the same for the warm-up and the load, so both see a server alike.

``http://`` and ``https://`` URLs go through the lean HTTP/1.1 client (``clients/http1.py``, TLS in
``clients/tls.py``) where the loop can watch sockets; elsewhere (Windows) through aiohttp configured
to behave the same way: no redirects followed, ``Accept-Encoding: identity`` asked and nothing
decompressed, a connect (TLS handshake included) limited to ``CONNECT_TIMEOUT_S``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import aiohttp

from ais_bench.clients.http1 import CONNECT_TIMEOUT_S, ConnectionPool, Endpoint
from ais_bench.clients.tls import DEFAULT_TLS, TLSOptions, build_tls_context
from ais_bench.clients.transport import build_connector, lean_client_supported

HttpClient = aiohttp.ClientSession | ConnectionPool


def uses_lean_client(url: str) -> bool:
    return url.startswith(("http://", "https://")) and lean_client_supported()


@contextlib.asynccontextmanager
async def open_http_client(
    url: str,
    headers: dict[str, str],
    request_timeout_s: float | None,
    connections: int | None,
    *,
    kernel_stamps: bool = False,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
    tls: TLSOptions = DEFAULT_TLS,
) -> AsyncIterator[HttpClient]:
    """A client for requests to ``url``: a :class:`ConnectionPool` or an aiohttp session (closed on exit).
    ``connections``: how many requests it serves at once (None: no limit, an open-loop replay);
    ``request_timeout_s``: REQUEST_TIME_OUT; ``tls``: how an ``https://`` server is checked."""
    tls_context = build_tls_context(tls) if url.startswith("https://") else None
    if uses_lean_client(url):
        pool = ConnectionPool(
            Endpoint.of(url, headers), kernel_stamps, request_timeout_s, connect_timeout_s=connect_timeout_s,
            tls_context=tls_context,
        )
        try:
            yield pool
        finally:
            pool.close()
        return
    timeout = aiohttp.ClientTimeout(total=request_timeout_s, sock_connect=connect_timeout_s)
    if not any(name.lower() == "accept-encoding" for name in headers):
        headers = {**headers, "Accept-Encoding": "identity"}
    async with aiohttp.ClientSession(
        connector=build_connector(0 if connections is None else connections + 8, tls_context),
        timeout=timeout,
        headers=headers,
        trust_env=False,
        auto_decompress=False,
    ) as session:
        yield session
