"""Each fault option of the sim produces its fault; ground-truth recording writes event times."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ais_bench.sim import SimConfig, serve

FAST = {"prefill_base_ms": 0.0, "prefill_per_token_ms": 0.0, "decode_base_ms": 1.0, "decode_per_seq_ms": 0.0}
STREAM_BODY = {"prompt": "hi", "max_tokens": 20, "ignore_eos": True, "stream": True}


async def _read_stream(cfg: SimConfig, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict:
    """Read one streaming response line by line; report status, data lines, stamps and any error."""
    server = await serve(cfg)
    out: dict[str, Any] = {"lines": [], "times_s": [], "error": None, "status": None, "body": b""}
    try:
        async with aiohttp.ClientSession() as session:
            try:
                async with session.post(server.url + "/v1/completions", json=body, headers=headers) as resp:
                    out["status"] = resp.status
                    if resp.status != 200:
                        out["body"] = await resp.read()
                        return out
                    async for line in resp.content:
                        if line.startswith(b"data: "):
                            out["times_s"].append(time.perf_counter())
                            out["lines"].append(line[len(b"data: ") :].strip())
            except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError) as exc:
                out["error"] = exc
    finally:
        await server.close()
    return out


def read_stream(body: dict[str, Any] = STREAM_BODY, **cfg_fields: Any) -> dict:
    return asyncio.run(_read_stream(SimConfig(**{**FAST, **cfg_fields}), body))


@pytest.mark.parametrize("fail_status", [500, 503, 429])
def test_fail_rate_answers_status_with_json_error(fail_status: int):
    out = read_stream(fail_rate=1.0, fail_status=fail_status)
    assert out["status"] == fail_status
    error = json.loads(out["body"])["error"]
    assert set(error) >= {"message", "type", "code"}
    assert error["code"] == fail_status


def test_reset_cuts_the_stream_before_done():
    out = read_stream(reset_rate=1.0)
    assert out["status"] == 200
    assert out["error"] is not None
    assert b"[DONE]" not in out["lines"]
    assert 1 <= len(out["lines"]) <= 20


def test_cut_ends_the_stream_cleanly_without_done():
    out = read_stream(cut_rate=1.0)
    assert out["status"] == 200
    assert out["error"] is None  # the chunked body ended properly: only the end marker is missing
    assert b"[DONE]" not in out["lines"]
    assert 1 <= len(out["lines"]) <= 20
    assert all(json.loads(line).get("usage") is None for line in out["lines"])


def test_stall_pauses_the_stream():
    out = read_stream(stall_rate=1.0, stall_s=0.4)
    assert out["error"] is None and out["lines"][-1] == b"[DONE]"
    times = out["times_s"]
    assert max(b - a for a, b in itertools.pairwise(times)) >= 0.4 * 0.95
    assert len(out["lines"]) == 21


def test_malformed_sends_one_invalid_json_event():
    out = read_stream(malformed_rate=1.0)
    bad = 0
    for line in out["lines"][:-1]:
        try:
            json.loads(line)
        except json.JSONDecodeError:
            bad += 1
    assert bad == 1
    assert out["lines"][-1] == b"[DONE]"


def test_non_stream_faults():
    async def scenario(**cfg_fields: Any) -> tuple[int | None, bytes | Exception]:
        server = await serve(SimConfig(**{**FAST, **cfg_fields}))
        try:
            async with aiohttp.ClientSession() as session:
                try:
                    body = {"prompt": "x", "max_tokens": 5, "ignore_eos": True}
                    async with session.post(server.url + "/v1/completions", json=body) as resp:
                        return resp.status, await resp.read()
                except aiohttp.ClientError as exc:
                    return None, exc
        finally:
            await server.close()

    status, raw = asyncio.run(scenario(malformed_rate=1.0))
    assert status == 200 and isinstance(raw, bytes)
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)
    status, exc = asyncio.run(scenario(reset_rate=1.0))
    assert status is None and isinstance(exc, aiohttp.ClientError)
    started_s = time.perf_counter()
    status, raw = asyncio.run(scenario(stall_rate=1.0, stall_s=0.3))
    assert status == 200 and time.perf_counter() - started_s >= 0.3


def test_fault_rates_are_shares_and_seeded():
    async def statuses(seed: int) -> list[int]:
        server = await serve(SimConfig(**FAST, fail_rate=0.5, seed=seed))
        try:
            async with aiohttp.ClientSession() as session:
                out = []
                for _ in range(40):
                    async with session.post(
                        server.url + "/v1/completions", json={"prompt": "x", "max_tokens": 1}
                    ) as r:
                        out.append(r.status)
                return out
        finally:
            await server.close()

    first = asyncio.run(statuses(3))
    assert first == asyncio.run(statuses(3))
    assert 8 <= first.count(500) <= 32


def test_truth_file_records_every_event(tmp_path: Path):
    truth_path = tmp_path / "truth.jsonl"
    cfg = SimConfig(**FAST, record_truth_path=str(truth_path))
    body = {**STREAM_BODY, "stream_options": {"include_usage": True}}
    out = asyncio.run(_read_stream(cfg, body, headers={"X-Request-Id": "req-42"}))
    [entry] = [json.loads(line) for line in truth_path.read_text().splitlines()]
    assert entry["request_id"] == "req-42"
    assert entry["status"] == 200 and entry["completion_tokens"] == 20
    assert len(entry["event_times_s"]) == len(out["lines"]) == 22
    assert entry["arrival_s"] <= entry["event_times_s"][0]
    assert all(
        server_s <= client_s
        for server_s, client_s in zip(entry["event_times_s"], out["times_s"], strict=True)
    )
