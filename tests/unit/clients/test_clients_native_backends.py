"""TGI, Triton and MindIE adapters: endpoints, bodies, stream and body parsing."""

from __future__ import annotations

import json
import uuid

import pytest

from ais_bench.clients import mindie, tgi, triton
from ais_bench.clients.backends import BACKENDS, MINDIE, OPENAI_CHAT, TGI, TRITON, backend_for
from ais_bench.clients.body import BodyOptions
from ais_bench.clients.errors import DecodeError, ServerStreamError
from ais_bench.clients.response import ResponseState
from ais_bench.datasets.item import RequestItem

CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}]


@pytest.mark.parametrize(
    ("name", "plain", "streamed", "default_stream", "adapter", "needs_model"),
    [
        (TGI, "generate", "generate_stream", False, tgi, False),
        (TRITON, "v2/models/llm/generate", "v2/models/llm/generate_stream", False, triton, True),
        (MINDIE, "infer", "infer", True, mindie, False),
    ],
)
def test_specs(name, plain, streamed, default_stream, adapter, needs_model) -> None:
    spec = backend_for(name)
    assert spec.name == name and spec is BACKENDS[name]
    assert spec.url_path(stream=False, model_name="llm") == plain
    assert spec.url_path(stream=True, model_name="llm") == streamed
    assert (spec.default_stream, spec.needs_model_name) == (default_stream, needs_model)
    assert spec.build_body is adapter.build_body
    assert spec.parse_stream_event is adapter.parse_stream_event
    assert spec.parse_full_body is adapter.parse_full_body
    item = RequestItem(0, CHAT, "d")
    assert spec.sent_prompt(item) == "Be brief.\nHi?"  # text APIs get the flattened prompt


def test_model_name_is_quoted_and_chat_prompt_kept() -> None:
    assert BACKENDS[TRITON].url_path(stream=True, model_name="a/b c") == "v2/models/a%2Fb%20c/generate_stream"
    assert BACKENDS[OPENAI_CHAT].sent_prompt(RequestItem(0, "q", "d")) == [{"role": "user", "content": "q"}]


KWARGS = {"temperature": 0.5, "max_new_tokens": 1}


def options(stream: bool) -> BodyOptions:
    return BodyOptions("ignored", stream, 64, KWARGS)


def test_tgi_body() -> None:
    body = tgi.build_body(RequestItem(0, "Hello", "d", max_out_len=9), options(True))
    assert body == {"inputs": "Hello", "parameters": {"temperature": 0.5, "max_new_tokens": 9}}
    body = tgi.build_body(RequestItem(0, CHAT, "d"), options(False))
    assert body == {"inputs": "Be brief.\nHi?", "parameters": {"temperature": 0.5, "max_new_tokens": 64}}


@pytest.mark.parametrize("stream", [True, False])
def test_triton_body_has_what_the_llm_backends_read(stream: bool) -> None:
    """TensorRT-LLM's ensemble needs the ``max_tokens`` input and streams on ``stream``;
    vllm_backend streams on ``stream``, reads max_tokens as a parameter, prepends the prompt unless
    ``exclude_input_in_output``, and sends its counts when asked (``return_*``)."""
    body = triton.build_body(RequestItem(0, "Hello", "d", max_out_len=7), options(stream))
    assert uuid.UUID(body.pop("id")).version == 4
    assert body == {
        "text_input": "Hello", "max_tokens": 7, "stream": stream, "exclude_input_in_output": True,
        "return_num_input_tokens": True, "return_num_output_tokens": True, "return_finish_reason": True,
        "parameters": {"temperature": 0.5, "max_new_tokens": 1},  # generation_kwargs as given
    }
    body = triton.build_body(RequestItem(0, "Hello", "d"), options(True))
    other = triton.build_body(RequestItem(0, "Hello", "d"), options(True))
    assert other["id"] != body["id"]


@pytest.mark.parametrize("stream", [True, False])
def test_mindie_body(stream: bool) -> None:
    body = mindie.build_body(RequestItem(0, "Hello", "d", max_out_len=3), options(stream))
    assert body == {"inputs": "Hello", "stream": stream, "parameters": {"temperature": 0.5, "max_new_tokens": 3}}


def _tgi_event(text: str, *, special: bool = False, generated: str | None = None, details=None) -> str:
    return json.dumps({"index": 1, "token": {"id": 5, "text": text, "logprob": -0.1, "special": special},
                       "generated_text": generated, "details": details})


def test_tgi_stream_assembles_text_and_takes_final_generated_text() -> None:
    state = ResponseState()
    for event in (_tgi_event("Hel"), _tgi_event("lo"), _tgi_event(" world")):
        tgi.parse_stream_event(event, state)
    assert state.text == "Hello world" and state.content_events == 3
    final = _tgi_event("</s>", special=True, generated="Hello world!",
                       details={"finish_reason": "eos_token", "generated_tokens": 4, "seed": None})
    assert not state.ended
    tgi.parse_stream_event(final, state)
    # the end-of-sequence step is a generated token too: 4 token events, as the server counts
    assert state.text == "Hello world!" and state.content_events == 4 and state.ended
    assert state.finish_reason == "eos_token" and state.usage_output_tokens == 4
    assert state.usage_input_tokens is None


def test_mindie_stream_events() -> None:
    state = ResponseState()
    mindie.parse_stream_event('{"prefill_time": 45.5, "decode_time": null, "token": {"id": 626, "text": "am"}}', state)
    mindie.parse_stream_event('{"prefill_time": null, "decode_time": 12.0, "token": {"id": 1, "text": " I"}}', state)
    assert state.text == "am I" and state.content_events == 2 and state.usage_output_tokens is None


def test_tgi_full_bodies() -> None:
    state = ResponseState()
    tgi.parse_full_body(b'{"generated_text": "Hi there", "details": {"generated_tokens": 2}}', state)
    assert state.text == "Hi there" and state.content_events == 1 and state.usage_output_tokens == 2
    state = ResponseState()
    tgi.parse_full_body(b'[{"generated_text": "list form"}]', state)
    assert state.text == "list form"
    with pytest.raises(DecodeError, match="unexpected shape"):
        tgi.parse_full_body(b'{"text": "x"}', ResponseState())


def test_triton_stream_and_body() -> None:
    state = ResponseState()
    for piece in ("Hel", "", "lo"):
        triton.parse_stream_event(json.dumps({"model_name": "m", "text_output": piece}), state)
    assert state.text == "Hello" and state.content_events == 3  # every generation step is a token event
    state = ResponseState()
    triton.parse_full_body(b'{"model_name": "m", "model_version": "1", "text_output": "done"}', state)
    assert state.text == "done" and state.content_events == 1
    with pytest.raises(DecodeError):
        triton.parse_full_body(b'{"outputs": []}', ResponseState())


@pytest.mark.parametrize("adapter", [tgi, triton, mindie])
def test_errors(adapter) -> None:
    with pytest.raises(ServerStreamError, match="Input validation error"):
        adapter.parse_stream_event('{"error": "Input validation error: max_new_tokens", "error_type": "validation"}',
                                   ResponseState())
    with pytest.raises(DecodeError, match="not valid JSON"):
        adapter.parse_stream_event("{oops", ResponseState())
    with pytest.raises(DecodeError, match="unexpected shape"):
        adapter.parse_stream_event('{"token": 3, "text_output": 5}', ResponseState())
