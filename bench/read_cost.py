"""User-space CPU per socket read of the client's read path, without the system calls.

Usage: ``.venv/bin/python bench/read_cost.py [--connections 64 1024] [--events-per-read 1 2] [--src DIR]``

The load's own read path (``KernelStampedTransport._on_readable`` with a kernel stamp, the
``HTTPConnection`` and httptools, the stream's sink and its token frame) over N connections whose
sockets are replaced by in-memory ones: ``recvmsg_into`` copies a prepared read (one or more token
events of a streamed chat response, one HTTP chunk each) into the buffer and returns a kernel stamp.
What is left is the Python and C work of each read that the tool itself does, without the kernel's
share and without its noise (``bench/read_scaling.py`` measures the whole read with real sockets).
``time.thread_time`` over 20 rounds of a read on every connection; the least of 9 repeats is printed
(the figure least disturbed by other work on the machine). ``--src`` points at another checkout's
``src`` to compare two versions of the code in the same session. A script that prints figures, not a
test.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import struct
import sys
import time
from pathlib import Path
from typing import Any

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
ROLE = '{"id":"chatcmpl-sim-0","object":"chat.completion.chunk","created":1796065827,"model":"sim-model","choices":[{"index":0,"delta":{"role":"assistant"},"logprobs":null,"finish_reason":null}]}'
TOKEN = '{"id":"chatcmpl-sim-0","object":"chat.completion.chunk","created":1796065827,"model":"sim-model","choices":[{"index":0,"delta":{"content":" fox"},"logprobs":null,"finish_reason":null}]}'
ROUNDS = 20
REPEATS = 9


def _chunk(data: str) -> bytes:
    event = f"data: {data}\n\n".encode()
    return f"{len(event):x}\r\n".encode() + event + b"\r\n"


class _MemorySocket:
    """What the transport calls of its socket; each ``recvmsg_into`` returns the prepared read once,
    with a kernel stamp one microsecond old."""

    def __init__(self) -> None:
        self.pending = b""
        now_ns = time.time_ns() - 1_000
        self._ancillary = [(socket.SOL_SOCKET, 35, struct.pack("@qq", *divmod(now_ns, 1_000_000_000)))]

    def fileno(self) -> int:
        return -1

    def getsockname(self) -> tuple[str, int]:
        return ("127.0.0.1", 1)

    def getpeername(self) -> tuple[str, int]:
        return ("127.0.0.1", 2)

    def recvmsg_into(self, buffers: list[memoryview], _ancillary_bytes: int) -> tuple[int, list[Any], int, None]:
        data, self.pending = self.pending, b""
        if not data:
            raise BlockingIOError
        buffers[0][: len(data)] = data
        return len(data), self._ancillary, 0, None

    def getsockopt(self, *_args: int) -> int:
        return 0

    def send(self, data: bytes) -> int:
        return len(data)


class _NoPollLoop:
    """The transport registers its reader here instead of with the event loop."""

    def add_reader(self, *_args: Any) -> None:
        pass

    def remove_reader(self, *_args: Any) -> None:
        pass


async def _per_read_us(connections: int, events_per_read: int) -> float:
    from ais_bench.clients.backends import OPENAI_CHAT, backend_for
    from ais_bench.clients.http1 import ConnectionPool, Endpoint, Exchange, HTTPConnection
    from ais_bench.clients.response import ResponseState
    from ais_bench.clients.sse import SSEDecoder
    from ais_bench.clients.transport import KernelStampedTransport
    from ais_bench.engine.attempt import Attempt
    from ais_bench.engine.stream import event_sink

    loop = asyncio.get_running_loop()
    spec = backend_for(OPENAI_CHAT)
    pool = ConnectionPool(Endpoint.of("http://127.0.0.1:1/v1/chat/completions", {}), kernel_stamps=True)
    streams = []
    for _ in range(connections):
        sock, connection = _MemorySocket(), HTTPConnection(pool)
        transport = KernelStampedTransport(_NoPollLoop(), sock, connection, kernel=True)  # type: ignore[arg-type]
        transport.start()
        exchange = Exchange(loop, None, None)
        sink: Any = event_sink(SSEDecoder(), spec, Attempt([0.0], ResponseState()), exchange, transport)
        exchange.sink = getattr(sink, "on_read", sink)
        connection.send(pool.endpoint.request(b"{}"), exchange)
        sock.pending = HEAD + _chunk(ROLE) + _chunk(TOKEN)  # the frame is learned on the first token
        transport._on_readable()
        streams.append((sock, transport))
    read = _chunk(TOKEN) * events_per_read
    best = float("inf")
    for _ in range(REPEATS):
        start = time.thread_time()
        for _ in range(ROUNDS):
            for sock, transport in streams:
                sock.pending = read
                transport._on_readable()
        best = min(best, (time.thread_time() - start) / (ROUNDS * connections))
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, nargs="+", default=[64, 1024])
    parser.add_argument("--events-per-read", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--src", type=Path, default=Path(__file__).resolve().parents[1] / "src")
    args = parser.parse_args()
    sys.path.insert(0, str(args.src.resolve()))
    import uvloop

    print(f"python {sys.version.split()[0]}, src {args.src}, least of {REPEATS} repeats")
    for connections in args.connections:
        for events in args.events_per_read:
            per_read = uvloop.run(_per_read_us(connections, events))
            print(f"{connections:5d} connections, {events} event(s) per read: {per_read:.2f} us per read")


if __name__ == "__main__":
    main()
