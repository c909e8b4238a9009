"""Kernel-stamped connections (``clients/transport.py``): stamps that a busy client cannot delay.

Real HTTP on 127.0.0.1, through the load's HTTP client (``clients/http1.py``): the embedded
simulator in ground-truth mode (it records when it wrote each event and, on its own kernel-stamped
connections, when each request's bytes arrived) or a small aiohttp server in the test.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
import struct
import time
from pathlib import Path

import orjson
import pytest
from aiohttp import web

from ais_bench.clients.backends import OPENAI_CHAT, backend_for
from ais_bench.clients.http1 import ConnectionPool, Endpoint, Exchange
from ais_bench.clients.loop import run_worker_loop
from ais_bench.clients.transport import (
    KERNEL_STAMPS_ENV,
    SO_TIMESTAMPNS,
    KernelStampedTransport,
    _arrival_s,
    kernel_stamps_enabled,
    kernel_stamps_supported,
)
from ais_bench.engine.request import send_request
from ais_bench.sim import SimConfig, start_sim_process

pytestmark = pytest.mark.skipif(not kernel_stamps_supported(), reason="kernel receive stamps need Linux")

#: How far a kernel stamp may lie from the writer's ``perf_counter()`` taken just before its write: on
#: 127.0.0.1 the bytes arrive inside the write call (µs), unless the writer is preempted between the
#: two, which a busy 2-core machine does for tens of ms (110 ms seen once). The clients below are
#: blocked for 0.5 s, so every wrong stamp these tests catch is >= 440 ms off.
WRITE_TO_ARRIVAL_S = 0.25
BLOCKED_S = 0.5

FAST = {"prefill_base_ms": 0.0, "prefill_per_token_ms": 0.0, "decode_per_seq_ms": 0.0}
STREAM_BODY = orjson.dumps({"prompt": "x", "max_tokens": 6, "ignore_eos": True, "stream": True})


def _truth(path: Path) -> dict[str, dict]:
    entries = (orjson.loads(line) for line in path.read_bytes().splitlines())
    return {entry["request_id"]: entry for entry in entries}


def _pool(url: str) -> ConnectionPool:
    return ConnectionPool(Endpoint.of(url, {}), kernel_stamps_enabled(), None)


def test_a_blocked_client_still_stamps_each_read_with_the_arrival_time(tmp_path: Path):
    """After the first event the client's loop is blocked for 0.5 s while the rest of the stream
    arrives; the read that follows is stamped with the arrival of its newest bytes (the server's
    write of the last event), not with the time the loop got round to it."""
    truth_path = tmp_path / "truth.jsonl"
    # 50 ms between events: the first read holds the first event (or a few, on a very busy machine)
    # and the rest arrive (within 0.3 s) while the loop is blocked for twice BLOCKED_S, so a stamp
    # taken when the loop reads them would be >= 0.7 s late.
    cfg = SimConfig(max_num_seqs=1, decode_base_ms=50.0, record_truth_path=str(truth_path), **FAST)

    async def read_with_a_pause(url: str) -> tuple[object, list[tuple[float, float, int]]]:
        pool = _pool(url + "/v1/completions")
        connection = await pool.acquire()
        pieces: list[tuple[float, float, int]] = []  # (read stamp, when seen, events so far)

        def sink(piece: bytes) -> None:
            events = (pieces[-1][2] if pieces else 0) + piece.count(b"\n\n")
            pieces.append((connection.transport.read_s, time.perf_counter(), events))
            if len(pieces) == 1:
                time.sleep(2 * BLOCKED_S)  # a busy client: nothing is read while the stream goes on

        exchange = Exchange(asyncio.get_running_loop(), sink, None)
        connection.send(pool.endpoint.request(STREAM_BODY, {"X-Request-Id": "slow-reader"}), exchange)
        await asyncio.wait_for(exchange.done, 5)
        pool.close()
        return connection.transport, pieces

    with start_sim_process(cfg) as sim:
        transport, pieces = run_worker_loop(read_with_a_pause(sim.url))
    assert isinstance(transport, KernelStampedTransport) and transport.kernel
    written_s = _truth(truth_path)["slow-reader"]["event_times_s"]  # every event, [DONE] included
    # The sink gets each read's body at once: the first read holds the first event, maybe more.
    assert pieces[0][2] >= 1 and pieces[-1][2] == len(written_s) == 7  # 6 tokens and [DONE]
    newest_of_read: dict[float, int] = {}
    for stamp_s, _, events in pieces:  # the pieces of one read share its stamp
        newest_of_read[stamp_s] = max(events, newest_of_read.get(stamp_s, 0))
    for stamp_s, events in newest_of_read.items():
        assert 0 <= stamp_s - written_s[events - 1] < WRITE_TO_ARRIVAL_S
    assert len(newest_of_read) >= 2  # a read before the block and one after it
    late_stamp_s, late_seen_s, late_events = pieces[-1]
    assert late_seen_s - written_s[late_events - 1] > 0.05  # the loop read it late ...
    assert late_stamp_s - written_s[newest_of_read[late_stamp_s] - 1] < WRITE_TO_ARRIVAL_S  # ... the stamp did not


def test_the_send_stamp_is_the_first_write_not_the_time_spent_waiting_in_the_client(tmp_path: Path):
    truth_path = tmp_path / "truth.jsonl"
    cfg = SimConfig(max_num_seqs=2, decode_base_ms=5.0, record_truth_path=str(truth_path), **FAST)
    spec = backend_for(OPENAI_CHAT)
    body = orjson.dumps(
        {"model": "sim-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4,
         "ignore_eos": True, "stream": True}
    )

    async def send_behind_a_busy_loop(url: str):
        pool = _pool(url)
        # Runs while the request waits for its connection, after the stamp taken before sending.
        asyncio.get_running_loop().call_soon(time.sleep, BLOCKED_S)
        before_s = time.perf_counter()
        attempt, _ = await send_request(pool, spec, url, body, True, 0, 65536, None, {"X-Request-Id": "queued"})
        pool.close()
        return attempt, before_s

    with start_sim_process(cfg) as sim:
        attempt, before_s = run_worker_loop(send_behind_a_busy_loop(sim.url + "/v1/chat/completions"))
    assert attempt.error_kind is None
    entry = _truth(truth_path)["queued"]
    points = attempt.points
    assert points[0] - before_s >= BLOCKED_S - 0.005  # the stamp is the write, after the loop was free again
    assert 0 <= entry["arrival_s"] - points[0] < WRITE_TO_ARRIVAL_S  # and the request's bytes reached the server then
    client_ttft = points[1] - points[0]
    server_ttft = entry["event_times_s"][0] - entry["arrival_s"]
    assert abs(client_ttft - server_ttft) < 2 * WRITE_TO_ARRIVAL_S  # one write-to-arrival at each end


def test_a_large_request_body_is_written_whole_through_the_stamped_transport():
    received: dict[str, int] = {}

    async def echo_digest(request: web.Request) -> web.Response:
        data = await request.read()
        received["bytes"] = len(data)
        return web.Response(body=hashlib.sha256(data).hexdigest().encode())

    async def run() -> tuple[object, bytes, str]:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/digest", echo_digest)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        payload = bytes(range(256)) * (32 * 1024)  # 8 MiB: more than a socket buffer takes at once
        pool = _pool(f"http://127.0.0.1:{runner.addresses[0][1]}/digest")
        try:
            connection = await pool.acquire()
            exchange = Exchange(asyncio.get_running_loop(), None, None)
            connection.send(pool.endpoint.request(payload), exchange)
            await asyncio.wait_for(exchange.done, 10)
        finally:
            pool.close()
            await runner.cleanup()
        return connection.transport, bytes(exchange.body), hashlib.sha256(payload).hexdigest()

    transport, answer, digest = run_worker_loop(run())
    assert isinstance(transport, KernelStampedTransport)
    assert received["bytes"] == 8 * 1024 * 1024
    assert answer.decode() == digest


def test_stamps_fall_back_to_the_loop_read_time_when_kernel_stamps_are_off(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(KERNEL_STAMPS_ENV, "0")
    cfg = SimConfig(max_num_seqs=1, decode_base_ms=1.0, **FAST)

    async def one_request(url: str) -> tuple[KernelStampedTransport, float, float]:
        pool = _pool(url + "/v1/completions")
        connection = await pool.acquire()
        exchange = Exchange(asyncio.get_running_loop(), None, None)
        sent_s = time.perf_counter()
        connection.send(pool.endpoint.request(STREAM_BODY), exchange)
        await asyncio.wait_for(exchange.done, 5)
        pool.close()
        return connection.transport, sent_s, time.perf_counter()

    with start_sim_process(cfg) as sim:
        transport, sent_s, done_s = run_worker_loop(one_request(sim.url))
    assert not kernel_stamps_enabled()
    assert isinstance(transport, KernelStampedTransport) and not transport.kernel
    assert sent_s < transport.read_s <= done_s


def test_arrival_stamps_move_to_the_perf_counter_clock_and_never_into_the_future():
    def timespec_ancillary(wall_ns: int) -> list[tuple[int, int, bytes]]:
        return [(socket.SOL_SOCKET, SO_TIMESTAMPNS, struct.pack("@qq", *divmod(wall_ns, 1_000_000_000)))]

    before = time.perf_counter()
    wall_ns = time.time_ns()
    after = time.perf_counter()
    five_ms_ago = _arrival_s(timespec_ancillary(wall_ns - 5_000_000))
    # The wall clock was read between ``before`` and ``after`` (however long a preemption made that);
    # the 0.5 ms only covers the offset between the two clocks as the transport measured it (µs).
    assert before - 0.005 - 0.0005 <= five_ms_ago <= after - 0.005 + 0.0005
    future = _arrival_s(timespec_ancillary(time.time_ns() + 10_000_000_000))
    assert future <= time.perf_counter()
    assert before <= _arrival_s([]) <= time.perf_counter()
