"""openai_completions adapter: request bodies and vLLM-style responses."""

from __future__ import annotations

import pytest

from ais_bench.clients import openai_completions
from ais_bench.clients.body import BodyOptions
from ais_bench.clients.errors import DecodeError, ServerStreamError
from ais_bench.clients.response import ResponseState
from ais_bench.datasets.item import RequestItem
from ais_bench.errors import DatasetError


def body_for(item: RequestItem, stream: bool = True, **kwargs: object) -> dict:
    return openai_completions.build_body(item, BodyOptions("m", stream, 512, dict(kwargs)))


def test_streaming_body() -> None:
    assert body_for(RequestItem(0, "Once upon", "ds"), top_k=5) == {
        "prompt": "Once upon",
        "stream": True,
        "stream_options": {"include_usage": True},
        "top_k": 5,
        "max_tokens": 512,
        "model": "m",
    }


def test_non_streaming_body_has_no_stream_options() -> None:
    body = body_for(RequestItem(0, "p", "ds"), stream=False)
    assert body["stream"] is False
    assert "stream_options" not in body


def test_max_tokens_and_model_always_set_last() -> None:
    body = body_for(RequestItem(0, "p", "ds", max_out_len=3), max_tokens=100, model="x", seed=1)
    assert (body["max_tokens"], body["model"], body["seed"]) == (3, "m", 1)
    assert body_for(RequestItem(0, "p", "ds"))["max_tokens"] == 512


def test_generation_kwargs_win_on_conflict() -> None:
    body = body_for(RequestItem(0, "p", "ds"), stream_options={"include_usage": False}, prompt="override")
    assert body["stream_options"] == {"include_usage": False}
    assert body["prompt"] == "override"


def test_chat_prompt_is_flattened() -> None:
    prompt = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    assert body_for(RequestItem(0, prompt, "ds"))["prompt"] == "be brief\nhi"


def test_unflattenable_prompt_is_dataset_error() -> None:
    with pytest.raises(DatasetError, match="row 4"):
        body_for(RequestItem(4, [{"role": "user", "content": [{"type": "image_url"}]}], "ds"))  # type: ignore[list-item]


VLLM_COMPLETION_STREAM = [
    '{"id":"cmpl-1","object":"text_completion","created":1,"model":"m",'
    '"choices":[{"index":0,"text":" there","logprobs":null,"finish_reason":null,"stop_reason":null}]}',
    '{"id":"cmpl-1","object":"text_completion","created":1,"model":"m",'
    '"choices":[{"index":0,"text":" was","logprobs":null,"finish_reason":"length","stop_reason":null}]}',
    '{"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[],'
    '"usage":{"prompt_tokens":2,"total_tokens":4,"completion_tokens":2}}',
]


def test_vllm_completion_stream() -> None:
    state = ResponseState()
    for event in VLLM_COMPLETION_STREAM:
        openai_completions.parse_stream_event(event, state)
    assert state.text == " there was"
    assert state.content_events == 2
    assert state.finish_reason == "length"
    assert (state.usage_input_tokens, state.usage_output_tokens) == (2, 2)


def test_a_second_choice_fails_with_the_n_reason() -> None:
    with pytest.raises(DecodeError, match=r"n > 1"):
        openai_completions.parse_stream_event('{"choices":[{"text":"a"},{"text":"b"}]}', ResponseState())
    with pytest.raises(DecodeError, match=r"n > 1"):
        openai_completions.parse_full_body(b'{"choices":[{"index":0,"text":"a"},{"index":1,"text":"b"}]}', ResponseState())


def test_empty_text_is_not_a_content_event() -> None:
    state = ResponseState()
    openai_completions.parse_stream_event('{"choices":[{"text":""}]}', state)
    assert state.content_events == 0


@pytest.mark.parametrize("event", ["{", '{"choices": {"0": 1}}', '{"choices": [{"text": 1}]}', "[]"])
def test_bad_events_are_decode_errors(event: str) -> None:
    with pytest.raises(DecodeError) as info:
        openai_completions.parse_stream_event(event, ResponseState())
    assert info.value.snippet == event


def test_error_object() -> None:
    with pytest.raises(ServerStreamError) as info:
        openai_completions.parse_stream_event(
            '{"error": {"message": "too long", "code": 400}}', ResponseState()
        )
    assert info.value.server_message == "too long"
    assert info.value.error_code == 400
    assert info.value.error_type is None


def test_full_body() -> None:
    state = ResponseState()
    openai_completions.parse_full_body(
        b'{"id":"cmpl-2","object":"text_completion","choices":[{"index":0,"text":"abc",'
        b'"finish_reason":"stop"}],"usage":{"prompt_tokens":4,"completion_tokens":1,"total_tokens":5}}',
        state,
    )
    assert state.text == "abc"
    assert state.content_events == 1
    assert state.finish_reason == "stop"
    assert (state.usage_input_tokens, state.usage_output_tokens) == (4, 1)


@pytest.mark.parametrize(
    "body", [b"", b"{}", b'{"choices": []}', b'{"choices": [{"text": null}], "usage": 1}']
)
def test_full_body_errors(body: bytes) -> None:
    with pytest.raises(DecodeError):
        openai_completions.parse_full_body(body, ResponseState())
