"""A misbehaving HTTP/1.1 gateway for the soak run: it relays requests to an upstream server (the
simulator) and, per request, does what real gateways and servers sometimes do.

Faults (drawn per POST from one seeded RNG; the first ``calm_requests`` POSTs, the warm-up, get none):
- ``continue``: an interim ``HTTP/1.1 100 Continue`` is written before the real response;
- ``stale_close``: the client connection is closed right after the response, without
  ``Connection: close`` (a keep-alive connection the server drops: the client's next request on it
  must go again on a new connection, not fail);
- ``redirect``: a ``307`` to another path is answered instead (the tool must fail the request with
  "server redirected to ...");
- ``gzip``: a gzip-compressed event stream is answered instead (the tool must fail the request with
  a reason naming the compression);
and always: at most ``max_connections`` client connections are served at once (further ones wait,
accepted by the kernel but unanswered, like a gateway's connection limit), and a client connection
idle for ``idle_close_s`` is closed (llama.cpp's server does that after 5 s).

Runs in a background thread: ``with FaultGateway(upstream_port, ...) as gateway: gateway.port``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gzip
import random
import threading
from dataclasses import dataclass, field

REDIRECT_TARGET = "/v2/chat/completions"


@dataclass(frozen=True)
class GatewayFaults:
    continue_rate: float = 0.05
    stale_close_rate: float = 0.05
    redirect_rate: float = 0.005
    gzip_rate: float = 0.005
    max_connections: int = 64
    idle_close_s: float = 5.0
    calm_requests: int = 5
    seed: int = 11


@dataclass
class GatewayLog:
    injected: collections.Counter[str] = field(default_factory=collections.Counter)
    posts: int = 0
    connections: int = 0
    open_now: int = 0
    max_open: int = 0


class FaultGateway:
    def __init__(self, upstream_port: int, faults: GatewayFaults) -> None:
        self.upstream_port = upstream_port
        self.faults = faults
        self.log = GatewayLog()
        self.port = 0
        self._rng = random.Random(faults.seed)
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._tasks: set[asyncio.Task[None]] = set()

    def __enter__(self) -> FaultGateway:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fault gateway did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def snapshot(self) -> GatewayLog:
        with self._lock:
            log = self.log
            return GatewayLog(collections.Counter(log.injected), log.posts, log.connections, log.open_now, log.max_open)

    def _serve(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        self._slots = asyncio.Semaphore(self.faults.max_connections)
        server = loop.run_until_complete(asyncio.start_server(self._accept, "127.0.0.1", 0, backlog=1024))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            server.close()
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # asyncio drops its own reference once the client's connection is lost
        task.add_done_callback(self._tasks.discard)
        async with self._slots:
            with self._lock:
                self.log.connections += 1
                self.log.open_now += 1
                self.log.max_open = max(self.log.max_open, self.log.open_now)
            upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
            try:
                upstream = await asyncio.open_connection("127.0.0.1", self.upstream_port)
                await self._relay_requests(reader, writer, *upstream)
            except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError):
                pass
            finally:
                writer.close()
                if upstream is not None:
                    upstream[1].close()
                with self._lock:
                    self.log.open_now -= 1

    async def _relay_requests(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> None:
        while True:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.faults.idle_close_s)
            except asyncio.IncompleteReadError:
                return
            body = await reader.readexactly(_content_length(head))
            fault = self._draw(head)
            if fault == "redirect":
                writer.write(_redirect_response())
                await writer.drain()
                continue
            if fault == "gzip":
                writer.write(_gzip_stream_response())
                await writer.drain()
                continue
            if fault == "continue":
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            up_writer.write(head + body)
            await up_writer.drain()
            if not await _relay_response(up_reader, writer) or fault == "stale_close":
                return

    def _draw(self, head: bytes) -> str:
        if not head.startswith(b"POST "):
            return "none"
        faults = self.faults
        with self._lock:
            self.log.posts += 1
            if self.log.posts <= faults.calm_requests:
                return "none"
            u = self._rng.random()
            edge = 0.0
            for kind, rate in (
                ("continue", faults.continue_rate),
                ("stale_close", faults.stale_close_rate),
                ("redirect", faults.redirect_rate),
                ("gzip", faults.gzip_rate),
            ):
                edge += rate
                if u < edge:
                    self.log.injected[kind] += 1
                    return kind
        return "none"


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip() or 0)
    return 0


async def _relay_response(up_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """Copy one response from upstream to the client as it arrives; False when the upstream
    connection ended (then the client connection is closed as well)."""
    head = await up_reader.readuntil(b"\r\n\r\n")
    writer.write(head)
    lowered = head.lower()
    if b"transfer-encoding: chunked" in lowered:
        while True:
            size_line = await up_reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip(), 16)
            data = await up_reader.readexactly(size + 2)
            writer.write(size_line + data)
            await writer.drain()
            if size == 0:
                return b"connection: close" not in lowered
    length = _content_length(head)
    if length or b"content-length:" in lowered:
        writer.write(await up_reader.readexactly(length))
        await writer.drain()
        return b"connection: close" not in lowered
    with contextlib.suppress(ConnectionError):
        while data := await up_reader.read(65536):  # delimited by the end of the connection
            writer.write(data)
            await writer.drain()
    return False


def _redirect_response() -> bytes:
    return (
        f"HTTP/1.1 307 Temporary Redirect\r\nLocation: {REDIRECT_TARGET}\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def _gzip_stream_response() -> bytes:
    body = gzip.compress(b'data: {"choices":[{"index":0,"delta":{"content":"x"}}]}\n\ndata: [DONE]\n\n')
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Encoding: gzip\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body
