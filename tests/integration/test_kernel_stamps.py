"""Kernel-stamped connections (``clients/transport.py``): stamps that a busy client cannot delay.

Real HTTP on 127.0.0.1: the embedded simulator in ground-truth mode (it records when it wrote each
event and, on its own kernel-stamped connections, when each request's bytes arrived) or a small
aiohttp server in the test.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
import struct
import sys
import time
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp import web

from ais_bench.clients.backends import VLLMCustomAPIChatStream, backend_for
from ais_bench.clients.transport import (
    KERNEL_STAMPS_ENV,
    SO_TIMESTAMPNS,
    KernelStampedTransport,
    StampingResponseHandler,
    _arrival_s,
    build_connector,
    kernel_stamps_supported,
    run_worker_loop,
    stamps_of,
)
from ais_bench.engine.request import send_request
from ais_bench.sim import SimConfig, start_sim_process

pytestmark = pytest.mark.skipif(not kernel_stamps_supported(), reason="kernel receive stamps need Linux")

FAST = {"prefill_base_ms": 0.0, "prefill_per_token_ms": 0.0, "decode_per_seq_ms": 0.0}
STREAM_BODY = {"prompt": "x", "max_tokens": 6, "ignore_eos": True, "stream": True}


def _truth(path: Path) -> dict[str, dict]:
    entries = (orjson.loads(line) for line in path.read_bytes().splitlines())
    return {entry["request_id"]: entry for entry in entries}


def test_a_blocked_client_still_stamps_each_read_with_the_arrival_time(tmp_path: Path):
    """After the first event the client's loop is blocked for 150 ms while the rest of the stream
    arrives; the read that follows is stamped with the arrival of its newest bytes (the server's
    write of the last event), not with the time the loop got round to it."""
    truth_path = tmp_path / "truth.jsonl"
    cfg = SimConfig(max_num_seqs=1, decode_base_ms=10.0, record_truth_path=str(truth_path), **FAST)

    async def read_with_a_pause(url: str) -> tuple[object, list[tuple[float, float, int]]]:
        reads = []
        events = 0
        async with aiohttp.ClientSession(connector=build_connector(2)) as session:
            headers = {"X-Request-Id": "slow-reader"}
            async with session.post(url + "/v1/completions", json=STREAM_BODY, headers=headers) as resp:
                stamps = stamps_of(resp)
                while True:
                    chunk = await resp.content.readany()
                    if not chunk:
                        break
                    events += chunk.count(b"\n\n")
                    reads.append((stamps.read_s, time.perf_counter(), events))
                    if len(reads) == 1:
                        time.sleep(0.15)  # a busy client: nothing is read while the stream goes on
        return stamps, reads

    with start_sim_process(cfg) as sim:
        stamps, reads = run_worker_loop(read_with_a_pause(sim.url))
    assert isinstance(stamps, KernelStampedTransport)
    written_s = _truth(truth_path)["slow-reader"]["event_times_s"]  # every event, [DONE] included
    assert reads[0][2] == 1 and reads[-1][2] == len(written_s) == 7  # 6 tokens and [DONE]
    for stamp_s, _, events in reads:
        assert 0 <= stamp_s - written_s[events - 1] < 0.002
    _, got_s, _ = reads[1]
    assert got_s - written_s[-1] > 0.05  # the loop read it late ...
    assert reads[1][0] - written_s[-1] < 0.002  # ... and the stamp did not follow


def test_the_send_stamp_is_the_first_write_not_the_time_spent_queued_in_the_client(tmp_path: Path):
    truth_path = tmp_path / "truth.jsonl"
    cfg = SimConfig(max_num_seqs=2, decode_base_ms=5.0, record_truth_path=str(truth_path), **FAST)
    spec = backend_for(VLLMCustomAPIChatStream)
    body = orjson.dumps(
        {"model": "sim-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4,
         "ignore_eos": True, "stream": True}
    )

    async def send_behind_a_busy_loop(url: str):
        async with aiohttp.ClientSession(connector=build_connector(2)) as session:
            warm, _ = await send_request(session, spec, url, body, True, 0, 65536, None, {"X-Request-Id": "warm"})
            assert warm.error_kind is None
            # Runs after the request's stamp (taken before any await) and before aiohttp's write task.
            blocker = asyncio.get_running_loop().call_soon(time.sleep, 0.05)
            attempt, _ = await send_request(session, spec, url, body, True, 0, 65536, None, {"X-Request-Id": "queued"})
            blocker.cancel()
            return attempt

    with start_sim_process(cfg) as sim:
        attempt = run_worker_loop(send_behind_a_busy_loop(sim.url + "/v1/chat/completions"))
    assert attempt.error_kind is None
    entry = _truth(truth_path)["queued"]
    points = attempt.points
    assert 0 <= entry["arrival_s"] - points[0] < 0.002  # the request's bytes reached the server then
    client_ttft = points[1] - points[0]
    server_ttft = entry["event_times_s"][0] - entry["arrival_s"]
    assert abs(client_ttft - server_ttft) < 0.002
    if sys.version_info < (3, 12):  # aiohttp writes the body from a task there: the block came first
        assert attempt.queued_s is not None and attempt.queued_s >= 0.045


def test_a_large_request_body_is_written_whole_through_the_stamped_transport():
    received: dict[str, object] = {}

    async def echo_digest(request: web.Request) -> web.StreamResponse:
        data = await request.read()
        received["bytes"] = len(data)
        resp = web.StreamResponse()
        await resp.prepare(request)
        await asyncio.sleep(0.05)  # keeps the connection busy while the client looks at it
        await resp.write(orjson.dumps({"sha256": hashlib.sha256(data).hexdigest()}))
        return resp

    async def run() -> tuple[object, dict, str]:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/digest", echo_digest)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        payload = bytes(range(256)) * (32 * 1024)  # 8 MiB: more than a socket buffer takes at once
        try:
            async with (
                aiohttp.ClientSession(connector=build_connector(2)) as session,
                session.post(f"http://127.0.0.1:{port}/digest", data=payload) as resp,
            ):
                transport = resp.connection.transport if resp.connection else None
                answer = orjson.loads(await resp.read())
        finally:
            await runner.cleanup()
        return transport, answer, hashlib.sha256(payload).hexdigest()

    transport, answer, digest = run_worker_loop(run())
    assert isinstance(transport, KernelStampedTransport)
    assert received["bytes"] == 8 * 1024 * 1024
    assert answer["sha256"] == digest


def test_stamps_fall_back_to_the_loop_read_time_when_kernel_stamps_are_off(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(KERNEL_STAMPS_ENV, "0")
    cfg = SimConfig(max_num_seqs=1, decode_base_ms=1.0, **FAST)

    async def one_read(url: str):
        async with (
            aiohttp.ClientSession(connector=build_connector(2)) as session,
            session.post(url + "/v1/completions", json=STREAM_BODY) as resp,
        ):
            stamps = stamps_of(resp)
            await resp.read()
            return stamps

    with start_sim_process(cfg) as sim:
        stamps = run_worker_loop(one_read(sim.url))
    assert isinstance(stamps, StampingResponseHandler) and stamps.read_s > 0


def test_arrival_stamps_move_to_the_perf_counter_clock_and_never_into_the_future():
    def timespec_ancillary(wall_ns: int) -> list[tuple[int, int, bytes]]:
        return [(socket.SOL_SOCKET, SO_TIMESTAMPNS, struct.pack("@qq", *divmod(wall_ns, 1_000_000_000)))]

    before = time.perf_counter()
    five_ms_ago = _arrival_s(timespec_ancillary(time.time_ns() - 5_000_000))
    assert abs((before - five_ms_ago) - 0.005) < 0.0005
    future = _arrival_s(timespec_ancillary(time.time_ns() + 10_000_000_000))
    assert future <= time.perf_counter()
    assert before <= _arrival_s([]) <= time.perf_counter()
