"""The chat adapter's fast path (``plain_token_text``): it must recognise the token chunks real servers
write and change nothing: for every chunk, ``parse_stream_event`` leaves the same state, or raises the
same error, as the full JSON parse (``_parse_chunk``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ais_bench.clients import openai_chat
from ais_bench.clients.response import ResponseState
from ais_bench.clients.sse import SSEDecoder
from ais_bench.sim.responses import RequestInfo, token_event
from tests.support.examples import examples

EXCHANGES = Path(__file__).parents[2] / "conformance" / "exchanges"

VLLM_TOKEN = (
    '{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m",'
    '"choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}]}'
)
SGLANG_TOKEN = (
    '{"id":"0a1b","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,'
    '"delta":{"content":" there"},"logprobs":null,"finish_reason":null,"matched_stop":null}],"usage":null}'
)
OPENAI_TOKEN = (
    '{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1718000000,"model":"gpt-4o",'
    '"system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":"Hi"},"logprobs":null,'
    '"finish_reason":null}]}'
)


def _outcome(parse: Any, events: list[str]) -> tuple[Any, ...]:
    """The state after ``events`` (or the error that stopped them), as comparable values."""
    state = ResponseState()
    error = None
    try:
        for data in events:
            parse(data, state)
    except Exception as exc:  # compared, not raised
        error = (type(exc).__name__, str(exc), getattr(exc, "snippet", None))
    return (
        state.text_parts, state.reasoning_parts, state.content_events, state.finish_reason,
        state.usage_input_tokens, state.usage_output_tokens, error,
    )


def _assert_same_as_full_parse(events: list[str]) -> None:
    assert _outcome(openai_chat.parse_stream_event, events) == _outcome(openai_chat._parse_chunk, events)


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (VLLM_TOKEN, "Hello"),
        (SGLANG_TOKEN, " there"),
        (OPENAI_TOKEN, "Hi"),
        (VLLM_TOKEN.replace('"Hello"', '""'), ""),
        (VLLM_TOKEN.replace('"finish_reason":null}', '"finish_reason":null,"stop_reason":null}'), "Hello"),
    ],
)
def test_the_token_chunks_of_real_servers_take_the_fast_path(data: str, text: str) -> None:
    assert openai_chat.plain_token_text(data) == text
    _assert_same_as_full_parse([data])


def test_the_simulators_token_chunks_take_the_fast_path() -> None:
    info = RequestInfo("chat", "chatcmpl-7", 1700000000, "sim-model", 3, include_usage=True)
    data = token_event(info, " word", None)[len(b"data: ") : -2].decode()
    assert openai_chat.plain_token_text(data) == " word"


@pytest.mark.parametrize(
    "data",
    [
        VLLM_TOKEN.replace('"delta":{', '"delta":{"role":"assistant",'),  # a role chunk
        VLLM_TOKEN.replace('"finish_reason":null', '"finish_reason":"stop"'),
        VLLM_TOKEN.replace('"index":0', '"index":1'),  # n > 1: the full parse fails it
        VLLM_TOKEN.replace('"Hello"', '"line\\nbreak"'),  # escapes: the full parse decodes them
        VLLM_TOKEN.replace('"Hello"', '"tab\there"'),  # a raw control character: not JSON
        VLLM_TOKEN.replace('"created":1', '"created":01'),  # not JSON
        VLLM_TOKEN.replace('"model":"m"', '"model": "m"'),  # spaces: not the compact shape
        VLLM_TOKEN.replace('"model":"m"', '"model":"m","error":{"message":"boom"}'),
        VLLM_TOKEN.replace('"object":"chat.completion.chunk"', '"object":"error"'),
        VLLM_TOKEN[:-1] + ',"usage":{"prompt_tokens":9,"total_tokens":10,"completion_tokens":1}}',
        VLLM_TOKEN.replace('"delta":{"content":"Hello"}', '"delta":{"content":"Hello","reasoning_content":"x"}'),
        VLLM_TOKEN + " ",
        VLLM_TOKEN[:-1],  # cut: not JSON
    ],
)
def test_every_other_chunk_goes_to_the_full_parse(data: str) -> None:
    assert openai_chat.plain_token_text(data) is None
    _assert_same_as_full_parse([data])


def _chat_stream_events(path: Path) -> list[str]:
    exchange = json.loads(path.read_text())
    decoder = SSEDecoder()
    events = [data for chunk in exchange["response"]["chunks"] for data in decoder.feed(chunk.encode())]
    return [data for data in events if data != "[DONE]"]


CHAT_STREAMS = [
    pytest.param(path, id=path.stem)
    for path in sorted(EXCHANGES.glob("*.json"))
    if json.loads(path.read_text())["backend"].startswith("VLLMCustomAPIChat")
    and json.loads(path.read_text())["stream"]
]


@pytest.mark.parametrize("path", CHAT_STREAMS)
def test_the_conformance_chat_streams_parse_the_same_with_the_fast_path(path: Path) -> None:
    events = _chat_stream_events(path)
    _assert_same_as_full_parse(events)
    for count in range(len(events)):  # and every prefix of them (a stream can be cut anywhere)
        _assert_same_as_full_parse(events[:count])


def test_the_conformance_streams_of_vllm_and_sglang_use_the_fast_path() -> None:
    for name in ("vllm-chat-stream", "sglang-chat-stream"):
        events = _chat_stream_events(EXCHANGES / f"{name}.json")
        assert sum(openai_chat.plain_token_text(data) is not None for data in events) >= 3, name


_ABSENT = object()
_TEXT = st.text(alphabet=st.sampled_from(["a", " ", '"', "\\", "\n", "\x01", "é", "日", "}", ","]), max_size=6)
_VALUE = st.one_of(st.none(), st.integers(-2, 2), _TEXT, st.booleans())


def _fields(**strategies: Any) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts with these keys in this order (the servers' order); a key drawn as ``_ABSENT`` is left out."""
    return st.fixed_dictionaries(strategies).map(lambda d: {k: v for k, v in d.items() if v is not _ABSENT})


_DELTA = _fields(
    role=st.sampled_from([_ABSENT, _ABSENT, "assistant"]),
    content=st.one_of(_TEXT, _TEXT, _VALUE, st.just(_ABSENT)),
    reasoning_content=st.sampled_from([_ABSENT, _ABSENT, None, "why"]),
)
_CHOICE = _fields(
    index=st.sampled_from([0, 0, 0, 1, None, _ABSENT]),
    delta=_DELTA,
    logprobs=st.sampled_from([None, None, _ABSENT]),
    finish_reason=st.sampled_from([None, None, None, "stop", 3, _ABSENT]),
    stop_reason=st.sampled_from([_ABSENT, _ABSENT, None]),
    matched_stop=st.sampled_from([_ABSENT, _ABSENT, None, 2]),
)
_CHUNK = _fields(
    id=st.sampled_from(["chatcmpl-1", "chatcmpl-1", "a\\b", ""]),
    object=st.sampled_from(["chat.completion.chunk", "chat.completion.chunk", "error"]),
    created=st.sampled_from([0, 1, 1718000000, -1]),
    model=st.sampled_from(["m", "m", 'q"m']),
    system_fingerprint=st.sampled_from([_ABSENT, _ABSENT, None, "fp"]),
    choices=st.lists(_CHOICE, min_size=1, max_size=2) | st.just([]),
    usage=st.sampled_from([_ABSENT, None, None, {"prompt_tokens": 3, "completion_tokens": 1}]),
    error=st.sampled_from([_ABSENT, _ABSENT, _ABSENT, {"message": "boom"}, "boom"]),
)


@settings(max_examples=examples(300), deadline=None)
@given(_CHUNK)
def test_any_chunk_parses_the_same_with_the_fast_path(chunk: dict[str, Any]) -> None:
    _assert_same_as_full_parse([orjson.dumps(chunk).decode()])


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(_CHUNK, min_size=1, max_size=4))
def test_any_stream_of_chunks_parses_the_same_with_the_fast_path(chunks: list[dict[str, Any]]) -> None:
    _assert_same_as_full_parse([orjson.dumps(chunk).decode() for chunk in chunks])


def _vllm_frame() -> tuple[str, str]:
    head, _, tail = VLLM_TOKEN.partition("Hello")
    return head, tail


def test_a_streams_later_token_chunks_are_recognised_by_its_first_ones_frame() -> None:
    state = ResponseState()
    openai_chat.parse_stream_event(VLLM_TOKEN, state)
    assert state.token_frame is not None
    assert (state.token_frame.head, state.token_frame.tail) == _vllm_frame()
    head, tail = _vllm_frame()
    openai_chat.parse_stream_event(head + " world" + tail, state)
    assert state.text_parts == ["Hello", " world"] and state.content_events == 2


@settings(max_examples=examples(300), deadline=None)
@given(_TEXT)
def test_any_content_inside_a_learned_frame_parses_the_same_as_the_full_parse(content: str) -> None:
    head, tail = _vllm_frame()
    _assert_same_as_full_parse([VLLM_TOKEN, head + content + tail])


@pytest.mark.parametrize(
    "later",
    [
        _vllm_frame()[0] + _vllm_frame()[1][1:],  # head and tail overlapping on their shared quote
        _vllm_frame()[0] + 'a"b' + _vllm_frame()[1],  # a bare quote: not JSON
        _vllm_frame()[0] + "tab\there" + _vllm_frame()[1],  # a raw control character: not JSON
        _vllm_frame()[0] + "line\\nbreak" + _vllm_frame()[1],  # an escape: the full parse decodes it
        _vllm_frame()[0] + "\u2028" + _vllm_frame()[1],  # not printable, yet valid: the pattern takes it
        VLLM_TOKEN.replace('"created":1', '"created":2'),  # another frame: the pattern takes it
    ],
)
def test_a_chunk_that_only_resembles_the_frame_parses_the_same_as_the_full_parse(later: str) -> None:
    _assert_same_as_full_parse([VLLM_TOKEN, later])
