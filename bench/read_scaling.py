"""CPU per socket read of the whole client read path at N open streams, against a bare-socket floor.

Usage: ``.venv/bin/python bench/read_scaling.py [--connections 64 1024] [--rounds 60] [--repeat 3]``

In one process (uvloop, no server process): N TCP connections over 127.0.0.1, each carrying one
streamed chat response. The client side of each is read by
- **ais_bench**: the load's own path (``KernelStampedTransport`` with kernel stamps, ``HTTPConnection``
  with httptools, ``engine.stream.event_sink`` folding the stream's token events into an ``Attempt``);
- **floor**: a bare ``asyncio.Protocol`` on uvloop's own transport counting ``\\n\\n`` per read (the
  ``raw-socket`` client of ``bench/client_capacity.py``).
Each round writes one token event (one HTTP chunk) to each of the N server sockets, then lets the
loop read them all: the CPU time of that (``time.thread_time``; the writes are timed apart and
subtracted) per read is the figure, one event per read, the regime of a paced server
(``client_capacity.py --rate``). The two clients alternate, medians of ``--repeat``, so their ratio
holds on a busy machine. What grows with N here is what the number of open streams costs per event
(cache footprint per connection, the loop's poll); per-request and per-connection set-up costs are
not in it. A script that prints figures, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import uvloop

from ais_bench.clients.backends import OPENAI_CHAT, backend_for
from ais_bench.clients.http1 import ConnectionPool, Endpoint, Exchange, HTTPConnection
from ais_bench.clients.response import ResponseState
from ais_bench.clients.sse import SSEDecoder
from ais_bench.clients.transport import KernelStampedTransport, enable_kernel_stamps
from ais_bench.engine.attempt import Attempt
from ais_bench.engine.stream import event_sink

HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
    b"Connection: keep-alive\r\n\r\n"
)
ROLE = '{"id":"chatcmpl-sim-0","object":"chat.completion.chunk","created":1796065827,"model":"sim-model","choices":[{"index":0,"delta":{"role":"assistant"},"logprobs":null,"finish_reason":null}]}'
TOKEN = '{"id":"chatcmpl-sim-0","object":"chat.completion.chunk","created":1796065827,"model":"sim-model","choices":[{"index":0,"delta":{"content":" fox"},"logprobs":null,"finish_reason":null}]}'


def _chunk(data: str) -> bytes:
    event = f"data: {data}\n\n".encode()
    return f"{len(event):x}\r\n".encode() + event + b"\r\n"


class _Counter:
    """Reads seen so far; wakes the round when it reaches ``target``."""

    def __init__(self) -> None:
        self.reads = 0
        self.target = 0
        self.done: asyncio.Future[None] | None = None

    def add(self) -> None:
        self.reads += 1
        if self.reads >= self.target and self.done is not None and not self.done.done():
            self.done.set_result(None)


class _Floor(asyncio.Protocol):
    def __init__(self, counter: _Counter) -> None:
        self.counter = counter
        self.events = 0

    def data_received(self, data: bytes) -> None:
        self.events += data.count(b"\n\n")
        self.counter.add()


def _pairs(count: int) -> list[tuple[socket.socket, socket.socket]]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(count)
    pairs = []
    for _ in range(count):
        client = socket.socket()
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.connect(listener.getsockname())
        server, _addr = listener.accept()
        server.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.setblocking(False)
        pairs.append((client, server))
    listener.close()
    return pairs


async def _attach_ais_bench(pairs: list[tuple[socket.socket, socket.socket]], counter: _Counter) -> list[Attempt]:
    loop = asyncio.get_running_loop()
    spec = backend_for(OPENAI_CHAT)
    pool = ConnectionPool(Endpoint.of("http://127.0.0.1:1/v1/chat/completions", {}), kernel_stamps=True)
    attempts = []
    for client, _server in pairs:
        enable_kernel_stamps(client)
        connection = HTTPConnection(pool)
        transport = KernelStampedTransport(loop, client, connection, kernel=True)
        transport.start()
        attempt = Attempt([0.0], ResponseState())
        exchange = Exchange(loop, None, None)
        sink = event_sink(SSEDecoder(), spec, attempt, exchange, transport)

        def counted(chunk: bytes, sink: Callable[[bytes], None] = sink) -> None:
            sink(chunk)
            counter.add()

        exchange.sink = counted
        connection.send(pool.endpoint.request(b"{}"), exchange)
        attempts.append(attempt)
    return attempts


async def _attach_floor(pairs: list[tuple[socket.socket, socket.socket]], counter: _Counter) -> list[_Floor]:
    loop = asyncio.get_running_loop()
    protocols = []
    for client, _server in pairs:
        _transport, protocol = await loop.create_connection(lambda: _Floor(counter), sock=client)
        protocols.append(protocol)
    return protocols


async def _rounds(pairs: list[tuple[socket.socket, socket.socket]], counter: _Counter, first: bytes, rounds: int) -> float:
    """Send ``first`` to every connection (untimed), then ``rounds`` of one token event each; returns
    the CPU seconds the loop spent reading, per read."""
    loop = asyncio.get_running_loop()
    event = _chunk(TOKEN)

    async def one_round(data: bytes) -> tuple[float, float]:
        counter.target = counter.reads + len(pairs)
        counter.done = loop.create_future()
        write0 = time.thread_time()
        for _client, server in pairs:
            server.send(data)
        write_s = time.thread_time() - write0
        cpu0 = time.thread_time()
        await counter.done
        return time.thread_time() - cpu0, write_s

    await one_round(first)
    await one_round(event)  # the token frame is learned on the first token event
    cpu_s = 0.0
    for _ in range(rounds):
        read_s, _write_s = await one_round(event)
        cpu_s += read_s
    return cpu_s / (rounds * len(pairs))


async def _measure(client: str, connections: int, rounds: int) -> float:
    pairs = _pairs(connections)
    counter = _Counter()
    try:
        first = HEAD + _chunk(ROLE)
        if client == "ais_bench":
            attempts = await _attach_ais_bench(pairs, counter)
            per_read_s = await _rounds(pairs, counter, first, rounds)
            assert all(a.state.content_events == rounds + 1 for a in attempts), "a stream lost events"
        else:
            protocols = await _attach_floor(pairs, counter)
            per_read_s = await _rounds(pairs, counter, first, rounds)
            assert all(p.events == rounds + 2 for p in protocols)
        return per_read_s
    finally:
        for client_sock, server in pairs:
            server.close()
            client_sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, nargs="+", default=[64, 1024])
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, one token event per read, {args.rounds} rounds, medians of {args.repeat}")
    for connections in args.connections:
        figures: dict[str, list[float]] = {"floor": [], "ais_bench": []}
        for _ in range(args.repeat):
            for client in figures:
                figures[client].append(uvloop.run(_measure(client, connections, args.rounds)))
        floor, ours = statistics.median(figures["floor"]) * 1e6, statistics.median(figures["ais_bench"]) * 1e6
        ratios = [f / a for f, a in zip(figures["floor"], figures["ais_bench"], strict=True)]
        print(f"{connections:5d} connections: floor {floor:.2f} us, ais_bench {ours:.2f} us per read; "
              f"floor / ais_bench {statistics.median(ratios):.2f} "
              f"(runs {', '.join(f'{r:.2f}' for r in ratios)})")


if __name__ == "__main__":
    main()
