"""openai_chat adapter: request bodies and vLLM-style responses."""

from __future__ import annotations

import orjson
import pytest

from ais_bench.clients import openai_chat
from ais_bench.clients.body import BodyOptions
from ais_bench.clients.errors import DecodeError, ServerStreamError
from ais_bench.clients.response import ResponseState
from ais_bench.datasets.item import RequestItem
from ais_bench.errors import DatasetError


def body_for(item: RequestItem, stream: bool = True, **kwargs: object) -> dict:
    return openai_chat.build_body(item, BodyOptions("m", stream, 512, dict(kwargs)))


# --- build_body -------------------------------------------------------------------------------------


def test_streaming_body() -> None:
    body = body_for(RequestItem(0, "hi", "ds"), temperature=0.5)
    assert body == {
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
        "stream_options": {"include_usage": True},
        "temperature": 0.5,
        "max_tokens": 512,
        "model": "m",
    }


def test_include_usage_only_when_streaming() -> None:
    body = body_for(RequestItem(0, "hi", "ds"), stream=False)
    assert body["stream"] is False
    assert "stream_options" not in body


def test_max_tokens_from_item_else_model() -> None:
    assert body_for(RequestItem(0, "hi", "ds", max_out_len=7))["max_tokens"] == 7
    assert body_for(RequestItem(0, "hi", "ds", max_out_len=None))["max_tokens"] == 512
    assert body_for(RequestItem(0, "hi", "ds", max_out_len=0))["max_tokens"] == 0


def test_generation_kwargs_win_except_max_tokens_and_model() -> None:
    body = body_for(
        RequestItem(0, "hi", "ds", max_out_len=9),
        stream_options={"include_usage": False},
        max_tokens=1,
        model="other",
        ignore_eos=True,
    )
    assert body["stream_options"] == {"include_usage": False}
    assert body["ignore_eos"] is True
    assert body["max_tokens"] == 9
    assert body["model"] == "m"


def test_generation_kwargs_not_mutated() -> None:
    kwargs = {"temperature": 0.0}
    openai_chat.build_body(RequestItem(0, "hi", "ds"), BodyOptions("m", True, 5, kwargs))
    assert kwargs == {"temperature": 0.0}


def test_messages_are_sent_as_given() -> None:
    """AISBench template roles (HUMAN, BOT, ...) are translated when the dataset config is loaded
    (``config/datasets.py``); the adapter sends OpenAI messages as they are."""
    prompt = [
        {"role": "system", "content": "be brief"},
        {"role": "tool", "content": "42", "tool_call_id": "t1"},
        {"role": "OTHER", "content": "x"},
    ]
    assert openai_chat.build_messages(prompt) == prompt


def test_openai_messages_pass_through() -> None:
    prompt = [{"role": "system", "content": "s"}, {"role": "user", "content": "u", "name": "n"}]
    assert body_for(RequestItem(0, prompt, "ds"))["messages"] == prompt


def test_bad_prompt_is_a_dataset_error() -> None:
    with pytest.raises(DatasetError, match="row 3"):
        body_for(RequestItem(3, ["not a dict"], "ds"))  # type: ignore[list-item]


def test_body_serialises() -> None:
    assert orjson.loads(orjson.dumps(body_for(RequestItem(0, "hé", "ds")))) == body_for(
        RequestItem(0, "hé", "ds")
    )


# --- parse_stream_event -----------------------------------------------------------------------------

VLLM_CHAT_STREAM = [
    '{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m",'
    '"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}',
    '{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m",'
    '"choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}]}',
    '{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m",'
    '"choices":[{"index":0,"delta":{"content":" world"},"logprobs":null,"finish_reason":null}]}',
    '{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m",'
    '"choices":[{"index":0,"delta":{"content":""},"logprobs":null,"finish_reason":"length",'
    '"stop_reason":null}]}',
    '{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],'
    '"usage":{"prompt_tokens":12,"total_tokens":14,"completion_tokens":2}}',
]


def test_vllm_chat_stream() -> None:
    state = ResponseState()
    for event in VLLM_CHAT_STREAM:
        openai_chat.parse_stream_event(event, state)
    assert state.text == "Hello world"
    assert state.reasoning == ""
    assert state.content_events == 2
    assert state.finish_reason == "length"
    assert (state.usage_input_tokens, state.usage_output_tokens) == (12, 2)


def test_no_usage_leaves_none() -> None:
    state = ResponseState()
    for event in VLLM_CHAT_STREAM[:-1]:
        openai_chat.parse_stream_event(event, state)
    assert state.usage_input_tokens is None
    assert state.usage_output_tokens is None


def test_continuous_usage_last_wins() -> None:
    state = ResponseState()
    openai_chat.parse_stream_event(
        '{"choices":[{"delta":{"content":"a"}}],"usage":{"prompt_tokens":3,"completion_tokens":1}}', state
    )
    openai_chat.parse_stream_event(
        '{"choices":[{"delta":{"content":"b"}}],"usage":{"prompt_tokens":3,"completion_tokens":2}}', state
    )
    openai_chat.parse_stream_event('{"choices":[],"usage":null}', state)
    assert (state.usage_input_tokens, state.usage_output_tokens) == (3, 2)


@pytest.mark.parametrize("key", ["reasoning_content", "reasoning"])
def test_reasoning_stream(key: str) -> None:
    state = ResponseState()
    openai_chat.parse_stream_event(f'{{"choices":[{{"delta":{{"{key}":"think"}}}}]}}', state)
    openai_chat.parse_stream_event(f'{{"choices":[{{"delta":{{"{key}":null,"content":"ok"}}}}]}}', state)
    assert state.reasoning == "think"
    assert state.text == "ok"
    assert state.content_events == 2


@pytest.mark.parametrize(
    "event",
    [
        '{"choices":[{"index":0,"delta":{"content":"a"}},{"index":1,"delta":{"content":"b"}}]}',
        '{"choices":[{"index":1,"delta":{"content":"b"}}]}',
        '{"choices":[{"delta":{"content":"a"}},{"delta":{"content":"b"}}]}',
    ],
)
def test_a_second_choice_fails_with_the_n_reason(event: str) -> None:
    """n > 1 interleaves several sequences in one stream: refused, never mixed into one count."""
    with pytest.raises(DecodeError, match=r"several sequences per request \(n > 1\).*set n=1"):
        openai_chat.parse_stream_event(event, ResponseState())


def test_malformed_json_is_decode_error_with_snippet() -> None:
    with pytest.raises(DecodeError) as info:
        openai_chat.parse_stream_event('{"choices": [', ResponseState())
    assert info.value.kind == "decode"
    assert info.value.snippet == '{"choices": ['
    assert "not valid JSON" in str(info.value)


@pytest.mark.parametrize(
    "event",
    [
        "[1, 2]",
        '"text"',
        '{"choices": {"delta": 1}}',
        '{"choices": [{"delta": "x"}]}',
        '{"choices": [{"delta": {"content": 5}}]}',
        '{"choices": [{"delta": {"content": ["part"]}}]}',
        '{"choices": [], "usage": {"prompt_tokens": "3"}}',
        '{"choices": [], "usage": [1]}',
    ],
)
def test_unexpected_shape_is_decode_error(event: str) -> None:
    with pytest.raises(DecodeError) as info:
        openai_chat.parse_stream_event(event, ResponseState())
    assert info.value.snippet == event


def test_long_snippet_is_cut() -> None:
    with pytest.raises(DecodeError) as info:
        openai_chat.parse_stream_event("x" * 1000, ResponseState())
    assert len(info.value.snippet) < 200


@pytest.mark.parametrize(
    "event",
    [
        '{"error": {"message": "boom", "type": "InternalServerError", "code": 500}}',
        '{"object": "error", "message": "boom", "type": "InternalServerError", "param": null, "code": 500}',
    ],
)
def test_error_object_in_stream(event: str) -> None:
    with pytest.raises(ServerStreamError) as info:
        openai_chat.parse_stream_event(event, ResponseState())
    err = info.value
    assert err.server_message == "boom"
    assert err.error_type == "InternalServerError"
    assert err.error_code == 500
    assert err.kind == "server_error"
    assert "boom" in str(err)


def test_error_string_in_stream() -> None:
    with pytest.raises(ServerStreamError, match="overloaded"):
        openai_chat.parse_stream_event('{"error": "overloaded"}', ResponseState())


# --- parse_full_body --------------------------------------------------------------------------------


def test_full_body() -> None:
    body = (
        b'{"id":"chatcmpl-2","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,'
        b'"message":{"role":"assistant","content":"Hi there","reasoning_content":"hmm","tool_calls":[]},'
        b'"logprobs":null,"finish_reason":"stop"}],'
        b'"usage":{"prompt_tokens":5,"total_tokens":8,"completion_tokens":3}}'
    )
    state = ResponseState()
    openai_chat.parse_full_body(body, state)
    assert state.text == "Hi there"
    assert state.reasoning == "hmm"
    assert state.finish_reason == "stop"
    assert state.content_events == 1
    assert (state.usage_input_tokens, state.usage_output_tokens) == (5, 3)


def test_full_body_null_content() -> None:
    state = ResponseState()
    openai_chat.parse_full_body(b'{"choices":[{"message":{"content":null},"finish_reason":"length"}]}', state)
    assert state.text == ""
    assert state.content_events == 0


@pytest.mark.parametrize("body", [b"not json", b'{"choices": []}', b'{"choices": [{"message": 3}]}'])
def test_full_body_errors(body: bytes) -> None:
    with pytest.raises(DecodeError) as info:
        openai_chat.parse_full_body(body, ResponseState())
    assert info.value.snippet == body.decode()


def test_full_body_error_object() -> None:
    with pytest.raises(ServerStreamError, match="bad model"):
        openai_chat.parse_full_body(b'{"error": {"message": "bad model"}}', ResponseState())
