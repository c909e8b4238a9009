"""The simulator's GET /metrics: vLLM's names, counting what it served (checked against usage)."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from ais_bench.server_metrics.exposition import parse_exposition
from ais_bench.sim import SimConfig, serve

FAST = {"prefill_base_ms": 0.0, "prefill_per_token_ms": 0.0, "decode_base_ms": 0.5, "decode_per_seq_ms": 0.0}


async def _serve_then_scrape(bodies: list[dict]) -> tuple[list[dict], str, str]:
    server = await serve(SimConfig(**FAST, seed=3))
    try:
        async with aiohttp.ClientSession() as session:
            usages = []
            for body in bodies:
                async with session.post(server.url + "/v1/completions", data=json.dumps(body).encode()) as resp:
                    usages.append(json.loads(await resp.read())["usage"])
            async with session.get(server.url + "/metrics") as resp:
                return usages, resp.headers["Content-Type"], await resp.text()
    finally:
        await server.close()


def test_metrics_count_the_served_tokens_with_vllm_names() -> None:
    bodies = [{"prompt": "Once upon a time " * (i + 1), "max_tokens": 5 + i} for i in range(4)]
    usages, content_type, text = asyncio.run(_serve_then_scrape(bodies))
    assert content_type.startswith("text/plain")
    values = {(name, labels): value for name, labels, value in parse_exposition(text)}
    labels = 'engine="0",model_name="sim-model"'
    assert values[("vllm:generation_tokens_total", labels)] == sum(u["completion_tokens"] for u in usages)
    assert values[("vllm:prompt_tokens_total", labels)] == sum(u["prompt_tokens"] for u in usages)
    assert values[("vllm:num_requests_running", labels)] == 0
    assert values[("vllm:num_requests_waiting", labels)] == 0
    assert values[("vllm:kv_cache_usage_perc", labels)] == 0
    assert values[("vllm:time_to_first_token_seconds_count", labels)] == len(bodies)
    inf = values[("vllm:time_to_first_token_seconds_bucket", 'engine="0",le="+Inf",model_name="sim-model"')]
    assert inf == len(bodies)
