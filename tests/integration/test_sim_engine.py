"""The sim's serving model seen from real HTTP clients: slots, queueing, batch-dependent TPOT, drift."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import numpy as np
import orjson

from ais_bench.sim import SimConfig, serve
from ais_bench.sim.engine import MAX_CATCH_UP_S

ZERO_PREFILL = {"prefill_base_ms": 0.0, "prefill_per_token_ms": 0.0}


async def _stream_once(session: aiohttp.ClientSession, url: str, max_tokens: int) -> float:
    """One streaming request; returns the client's time to its first token event."""
    body = {"prompt": "hello", "max_tokens": max_tokens, "ignore_eos": True, "stream": True}
    sent_s = time.perf_counter()
    first_s = None
    async with session.post(url + "/v1/completions", json=body) as resp:
        assert resp.status == 200
        async for line in resp.content:
            if first_s is None and line.startswith(b"data: {"):
                first_s = time.perf_counter()
    assert first_s is not None
    return first_s - sent_s


async def _run_clients(cfg: SimConfig, clients: int, max_tokens: int) -> list[float]:
    server = await serve(cfg)
    try:
        async with aiohttp.ClientSession() as session:
            jobs = [_stream_once(session, server.url, max_tokens) for _ in range(clients)]
            return list(await asyncio.gather(*jobs))
    finally:
        await server.close()


def _token_write_times(tmp_path: Path, clients: int, max_tokens: int, **cfg: float) -> list[list[float]]:
    """Run ``clients`` concurrent streams against the sim in ground-truth mode and return, per request,
    when the server wrote each token event (perf_counter, taken just before the write; [DONE] left
    out). The engine writes the tokens of one step in one pass, after sleeping to the step's absolute
    deadline (never before it), so these times order the steps exactly whatever the machine's load;
    a late step only moves the times later (or, behind by less than ``MAX_CATCH_UP_S``, makes the
    next steps catch up)."""
    truth = tmp_path / "truth.jsonl"
    asyncio.run(_run_clients(SimConfig(record_truth_path=str(truth), **cfg), clients, max_tokens))
    entries = [orjson.loads(line) for line in truth.read_bytes().splitlines()]
    assert len(entries) == clients
    times = [entry["event_times_s"][:-1] for entry in entries]
    assert all(len(t) == max_tokens for t in times)
    return times


def _decode_lower_bound_s(tokens: int, step_s: float) -> float:
    """The least time from a stream's first token write to its last: ``tokens - 1`` steps of
    ``step_s`` minus what a catch-up may save (a late first step: at most ``MAX_CATCH_UP_S`` plus one
    step; behind by more, the schedule restarts instead)."""
    return (tokens - 1) * step_s - MAX_CATCH_UP_S - step_s


def test_at_most_max_num_seqs_decode_at_once_and_queued_wait(tmp_path: Path):
    times = _token_write_times(tmp_path, 8, 20, max_num_seqs=4, decode_base_ms=10.0, decode_per_seq_ms=0.0,
                               **ZERO_PREFILL)
    # A sequence holds its slot from its first token's step to its last token's step.
    firsts = sorted(t[0] for t in times)
    for first in firsts:
        assert sum(1 for t in times if t[0] <= first <= t[-1]) <= 4
    # The later four waited in the queue: the k-th first token (k >= 5) comes after at least k - 4
    # sequences wrote their last token (freed their slot).
    for k in range(4, 8):
        assert sum(1 for t in times if t[-1] < firsts[k]) >= k - 3
    # ... and decoding took its 19 steps of 10 ms (the first four's)
    assert min(t[-1] - t[0] for t in times) >= _decode_lower_bound_s(20, 0.010)


def test_tpot_grows_with_running_batch(tmp_path: Path):
    # 5 ms + 5 ms per running sequence per step: alone 10 ms, with 8 running 45 ms.
    cfg = {"max_num_seqs": 16, "decode_base_ms": 5.0, "decode_per_seq_ms": 5.0, **ZERO_PREFILL}
    alone = _token_write_times(tmp_path / "alone", 1, 12, **cfg)
    batch = _token_write_times(tmp_path / "batch", 8, 12, **cfg)
    assert alone[0][-1] - alone[0][0] >= _decode_lower_bound_s(12, 0.010)
    # A step never ends before its cost: with 8 running, 11 gaps take at least the 45 ms steps' share,
    # over 3 x the 10 ms of a sequence alone (a cost that ignored the batch gives 10 ms on an idle
    # machine; a loaded one can only make the batch look slower, never the alone run faster).
    for t in batch:
        assert (t[-1] - t[0]) / 11 >= 3 * 0.010
        assert t[-1] - t[0] >= _decode_lower_bound_s(12, 0.045)


def test_prefill_cost_delays_first_token(tmp_path: Path):
    cfg = SimConfig(max_num_seqs=4, prefill_base_ms=50.0, prefill_per_token_ms=0.0, decode_base_ms=1.0)
    [ttft_s] = asyncio.run(_run_clients(cfg, clients=1, max_tokens=3))
    assert ttft_s >= 0.05  # the first step after an idle engine sleeps its whole cost
    times = _token_write_times(tmp_path, 1, 3, max_num_seqs=4, prefill_base_ms=50.0, prefill_per_token_ms=0.0,
                               decode_base_ms=1.0)
    # Prefill is paid once, in the admission step: the 2 decode steps cost 1 ms each. A prefill
    # charged on every step would make them >= 51 ms each; 45 ms leaves a loaded machine its delays.
    assert (times[0][-1] - times[0][0]) / 2 < 0.045


def test_long_stream_has_no_accumulated_drift(tmp_path: Path):
    [times] = _token_write_times(tmp_path, 1, 300, max_num_seqs=4, decode_base_ms=2.0, decode_per_seq_ms=0.0,
                                 **ZERO_PREFILL)
    decode_s = times[-1] - times[0]
    assert decode_s >= _decode_lower_bound_s(300, 0.002)
    # Steps run to absolute deadlines: a step that overshot its deadline is followed by a shorter one.
    # A schedule that drifts (each step sleeps its cost from when the last ended) never makes a gap
    # shorter than the cost, however idle or busy the machine.
    assert min(np.diff(times)) < 0.002


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
