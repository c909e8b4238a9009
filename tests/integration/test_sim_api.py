"""The sim's OpenAI-compatible surface: stream and full bodies, usage, validation, seeds, tokenizer."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from ais_bench.sim import SimConfig, serve
from tests.support.paths import SMOLLM2_DIR, require

FAST = {"prefill_base_ms": 0.0, "prefill_per_token_ms": 0.0, "decode_base_ms": 0.5, "decode_per_seq_ms": 0.0}
CHAT_BODY = {"messages": [{"role": "user", "content": "Say something."}]}
COMPLETION_BODY = {"prompt": "Once upon a time"}


async def _post(cfg: SimConfig, path: str, bodies: list[Any]) -> list[tuple[int, bytes]]:
    """POST each body in turn (sequentially, so seeded draws are in a fixed order)."""
    server = await serve(cfg)
    out = []
    try:
        async with aiohttp.ClientSession() as session:
            for body in bodies:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                async with session.post(server.url + path, data=data) as resp:
                    out.append((resp.status, await resp.read()))
    finally:
        await server.close()
    return out


def post(path: str, *bodies: Any, **cfg_fields: Any) -> list[tuple[int, bytes]]:
    return asyncio.run(_post(SimConfig(**{**FAST, **cfg_fields}), path, list(bodies)))


def sse_data(raw: bytes) -> list[str]:
    assert raw.endswith(b"\n\n")
    events = raw.decode().split("\n\n")[:-1]
    assert all(e.startswith("data: ") for e in events)
    return [e[len("data: ") :] for e in events]


def test_chat_stream_format_with_usage():
    body = {**CHAT_BODY, "stream": True, "max_tokens": 7, "ignore_eos": True}
    status, raw = post("/v1/chat/completions", {**body, "stream_options": {"include_usage": True}})[0]
    assert status == 200
    data = sse_data(raw)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    first, tokens, usage_chunk = chunks[0], chunks[1:-1], chunks[-1]
    for chunk in chunks:
        assert set(chunk) >= {"id", "object", "created", "model"}
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk["model"] == "sim-model"
        assert chunk["id"] == first["id"]
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert len(tokens) == 7
    assert all(t["choices"][0]["delta"]["content"] for t in tokens)
    assert [t["choices"][0]["finish_reason"] for t in tokens] == [None] * 6 + ["length"]
    assert all(c["usage"] is None for c in chunks[:-1])
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["completion_tokens"] == 7
    usage = usage_chunk["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_chat_stream_without_usage_has_no_usage_chunk():
    status, raw = post("/v1/chat/completions", {**CHAT_BODY, "stream": True, "max_tokens": 4})[0]
    assert status == 200
    chunks = [json.loads(d) for d in sse_data(raw)[:-1]]
    assert all("usage" not in c for c in chunks)
    assert all(c["choices"] for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")


def test_completions_stream_format():
    body = {**COMPLETION_BODY, "stream": True, "max_tokens": 5, "stream_options": {"include_usage": True}}
    status, raw = post("/v1/completions", {**body, "ignore_eos": True})[0]
    assert status == 200
    data = sse_data(raw)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert all(c["object"] == "text_completion" for c in chunks)
    tokens = chunks[:-1]
    assert len(tokens) == 5
    assert "".join(t["choices"][0]["text"] for t in tokens) == " the quick brown fox jumps"
    assert tokens[-1]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 5


def test_non_stream_bodies_have_usage():
    [(chat_status, chat_raw)] = post(
        "/v1/chat/completions", {**CHAT_BODY, "max_tokens": 6, "ignore_eos": True}
    )
    [(comp_status, comp_raw)] = post(
        "/v1/completions", {**COMPLETION_BODY, "max_tokens": 3, "ignore_eos": True}
    )
    chat, comp = json.loads(chat_raw), json.loads(comp_raw)
    assert chat_status == comp_status == 200
    assert chat["object"] == "chat.completion" and comp["object"] == "text_completion"
    assert chat["choices"][0]["message"]["role"] == "assistant"
    assert chat["choices"][0]["finish_reason"] == "length"
    assert comp["choices"][0]["text"] == " the quick brown"
    assert chat["usage"]["completion_tokens"] == 6 and comp["usage"]["completion_tokens"] == 3
    assert comp["usage"]["prompt_tokens"] == 4  # ceil(16 chars / 4)
    for body in (chat, comp):
        assert set(body) == {"id", "object", "created", "model", "choices", "usage"}
        assert (
            body["usage"]["total_tokens"]
            == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
        )


def _stream_lengths(seed: int, count: int) -> list[int]:
    body = {**COMPLETION_BODY, "stream": True, "max_tokens": 50}
    results = post("/v1/completions", *([body] * count), seed=seed)
    return [len(sse_data(raw)) - 1 for _, raw in results]


def test_seed_reproduces_output_lengths_and_usage_counts_content_chunks():
    first = _stream_lengths(seed=7, count=8)
    assert first == _stream_lengths(seed=7, count=8)
    assert first != _stream_lengths(seed=8, count=8)
    assert all(1 <= n <= 50 for n in first)
    assert len(set(first)) > 1
    body = {**COMPLETION_BODY, "max_tokens": 50}
    full = [
        json.loads(raw)["usage"]["completion_tokens"]
        for _, raw in post("/v1/completions", *[body] * 8, seed=7)
    ]
    assert full == first


def test_stop_finish_reason_when_shorter_than_max_tokens():
    body = {**COMPLETION_BODY, "max_tokens": 1000}
    finish = [json.loads(raw)["choices"][0] for _, raw in post("/v1/completions", *[body] * 3)]
    assert all(c["finish_reason"] == "stop" for c in finish)


@pytest.mark.parametrize(
    ("path", "raw", "fragment"),
    [
        ("/v1/chat/completions", b"{not json", "not valid JSON"),
        ("/v1/chat/completions", b'{"max_tokens": 3}', "'messages'"),
        ("/v1/completions", b'{"max_tokens": 3}', "'prompt'"),
        ("/v1/completions", b'{"prompt": "x", "max_tokens": 0}', "max_tokens"),
        ("/v1/completions", b'{"prompt": "x", "stream": "yes"}', "stream"),
        ("/v1/completions", b"[1, 2]", "JSON object"),
    ],
)
def test_bad_requests_get_openai_error_400(path: str, raw: bytes, fragment: str):
    [(status, body)] = post(path, raw)
    assert status == 400
    error = json.loads(body)["error"]
    assert fragment in error["message"]
    assert error["type"] == "invalid_request_error" and error["code"] == 400


def test_models_lists_configured_model():
    async def scenario() -> Any:
        server = await serve(SimConfig(model_name="my-model"))
        try:
            async with aiohttp.ClientSession() as session, session.get(server.url + "/v1/models") as resp:
                return json.loads(await resp.read())
        finally:
            await server.close()

    models = asyncio.run(scenario())
    assert models["object"] == "list"
    assert [m["id"] for m in models["data"]] == ["my-model"]
    assert models["data"][0]["object"] == "model"


@require(SMOLLM2_DIR / "tokenizer.json", "SmolLM2 tokenizer")
def test_prompt_tokens_match_hf_tokenizer():
    tokenizers = pytest.importorskip("tokenizers")
    tokenizer = tokenizers.Tokenizer.from_file(str(SMOLLM2_DIR / "tokenizer.json"))
    prompts = ["Hello, world!", "The quick brown fox jumps over the lazy dog. " * 20, "数字 123 ünïcödé"]
    bodies = [{"prompt": p, "max_tokens": 1} for p in prompts]
    results = post("/v1/completions", *bodies, tokenizer_path=str(SMOLLM2_DIR))
    counts = [json.loads(raw)["usage"]["prompt_tokens"] for _, raw in results]
    assert counts == [len(tokenizer.encode(p).ids) for p in prompts]
