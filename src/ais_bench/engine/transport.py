"""The HTTP connections of a worker: aiohttp, with each socket read stamped as it happens.

Why: a request's coroutine runs some time after its bytes were read from the socket. When many
streams are busy, the loop first reads every ready socket (``data_received``), then resumes each
waiting coroutine in turn; the last one would take its ``perf_counter()`` after all the others have
decoded and parsed their events: at 256 streams, milliseconds late. ``StampingResponseHandler``
records the time in ``data_received`` itself, before aiohttp parses the bytes; the reader uses that
stamp for every event the read completed. It is never earlier than the arrival of the bytes that
complete an event (it is the time of the latest read on the connection) and costs one attribute
store per socket read.

aiohttp has no public hook for the protocol class, so ``build_connector`` replaces the connector's
protocol factory when it has the expected shape (``functools.partial(ResponseHandler, ...)``, aiohttp
3.9 to 3.14 at least); otherwise it leaves aiohttp alone and the reader stamps when it resumes.
"""

from __future__ import annotations

import functools
from time import perf_counter

import aiohttp
from aiohttp.client_proto import ResponseHandler


class StampingResponseHandler(ResponseHandler):
    """aiohttp's client connection protocol plus ``read_s``: ``perf_counter()`` of the latest socket
    read (taken before the bytes are parsed)."""

    read_s: float = 0.0

    def data_received(self, data: bytes) -> None:
        if data:
            self.read_s = perf_counter()
        super().data_received(data)


def build_connector(limit: int) -> aiohttp.TCPConnector:
    """A keep-alive connector for ``limit`` connections whose sockets stamp their reads (if possible)."""
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=0, force_close=False)
    factory = getattr(connector, "_factory", None)
    if isinstance(factory, functools.partial) and factory.func is ResponseHandler:
        connector._factory = functools.partial(  # type: ignore[attr-defined]
            StampingResponseHandler, *factory.args, **factory.keywords
        )
    return connector


def stamping_protocol(resp: aiohttp.ClientResponse) -> StampingResponseHandler | None:
    """The stamping protocol of the connection that carries ``resp``, or None (then stamp on resume)."""
    connection = resp.connection
    protocol = connection.protocol if connection is not None else None
    return protocol if isinstance(protocol, StampingResponseHandler) else None
