"""The sim's serving model seen from real HTTP clients: slots, queueing, batch-dependent TPOT, drift."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp
import orjson

from ais_bench.sim import SimConfig, serve

ZERO_PREFILL = {"prefill_base_ms": 0.0, "prefill_per_token_ms": 0.0}


@dataclass
class StreamTrace:
    sent_s: float
    token_times_s: list[float]

    @property
    def ttft_s(self) -> float:
        return self.token_times_s[0] - self.sent_s

    @property
    def mean_gap_s(self) -> float:
        times = self.token_times_s
        return (times[-1] - times[0]) / (len(times) - 1)


async def _stream_once(session: aiohttp.ClientSession, url: str, max_tokens: int) -> StreamTrace:
    body = {"prompt": "hello", "max_tokens": max_tokens, "ignore_eos": True, "stream": True}
    sent_s = time.perf_counter()
    times: list[float] = []
    async with session.post(url + "/v1/completions", json=body) as resp:
        assert resp.status == 200
        async for line in resp.content:
            stamp_s = time.perf_counter()
            if line.startswith(b"data: {"):
                times.append(stamp_s)
    return StreamTrace(sent_s, times)


async def _run_clients(cfg: SimConfig, clients: int, max_tokens: int) -> list[StreamTrace]:
    server = await serve(cfg)
    try:
        async with aiohttp.ClientSession() as session:
            jobs = [_stream_once(session, server.url, max_tokens) for _ in range(clients)]
            return list(await asyncio.gather(*jobs))
    finally:
        await server.close()


def _max_overlap(intervals: list[tuple[float, float]], tolerance_s: float) -> int:
    shrunk = [(a + tolerance_s, b - tolerance_s) for a, b in intervals]
    return max(sum(1 for a, b in shrunk if a <= start <= b) for start, _ in shrunk)


def test_at_most_max_num_seqs_decode_at_once_and_queued_wait():
    cfg = SimConfig(max_num_seqs=4, decode_base_ms=10.0, decode_per_seq_ms=0.0, **ZERO_PREFILL)
    traces = asyncio.run(_run_clients(cfg, clients=8, max_tokens=20))
    assert all(len(t.token_times_s) == 20 for t in traces)
    intervals = [(t.token_times_s[0], t.token_times_s[-1]) for t in traces]
    assert _max_overlap(intervals, tolerance_s=0.004) <= 4
    by_ttft = sorted(traces, key=lambda t: t.ttft_s)
    first_half_decode_s = max(t.token_times_s[-1] - t.token_times_s[0] for t in by_ttft[:4])
    assert first_half_decode_s >= 0.19 * 0.9
    for trace in by_ttft[4:]:
        assert trace.ttft_s >= first_half_decode_s * 0.9


def test_tpot_grows_with_running_batch():
    cfg = SimConfig(max_num_seqs=16, decode_base_ms=5.0, decode_per_seq_ms=5.0, **ZERO_PREFILL)
    alone = asyncio.run(_run_clients(cfg, clients=1, max_tokens=12))
    batch = asyncio.run(_run_clients(cfg, clients=8, max_tokens=12))
    gap_alone_s = alone[0].mean_gap_s
    gap_batch_s = sum(t.mean_gap_s for t in batch) / len(batch)
    assert 0.008 <= gap_alone_s <= 0.02  # 5 + 5 * 1 = 10 ms per step
    assert gap_batch_s >= 3.0 * gap_alone_s  # 5 + 5 * 8 = 45 ms per step


def test_prefill_cost_delays_first_token():
    cfg = SimConfig(max_num_seqs=4, prefill_base_ms=50.0, prefill_per_token_ms=0.0, decode_base_ms=1.0)
    trace = asyncio.run(_run_clients(cfg, clients=1, max_tokens=3))[0]
    assert trace.ttft_s >= 0.05
    assert trace.mean_gap_s < 0.03


def test_long_stream_has_no_accumulated_drift():
    cfg = SimConfig(max_num_seqs=4, decode_base_ms=2.0, decode_per_seq_ms=0.0, **ZERO_PREFILL)
    trace = asyncio.run(_run_clients(cfg, clients=1, max_tokens=300))[0]
    decode_s = trace.token_times_s[-1] - trace.token_times_s[0]
    expected_s = 299 * 0.002
    assert expected_s * 0.97 <= decode_s <= expected_s * 1.15


def test_health_reports_engine_counters():
    async def scenario() -> dict:
        server = await serve(SimConfig(decode_base_ms=1.0))
        try:
            async with aiohttp.ClientSession() as session:
                await _stream_once(session, server.url, 5)
                async with session.get(server.url + "/health") as resp:
                    assert resp.status == 200
                    return orjson.loads(await resp.read())
        finally:
            await server.close()

    health = asyncio.run(scenario())
    assert health["status"] == "ok"
    assert health["tokens_emitted"] == 5
    assert health["running"] == 0 and health["waiting"] == 0
