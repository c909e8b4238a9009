"""A stream's token frame (``clients/token_frame.py``): a read taken whole must fold into the state
exactly what the SSE decoder and the chat adapter would, event by event, or be left to them."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ais_bench.clients import openai_chat
from ais_bench.clients.response import ResponseState
from ais_bench.clients.sse import SSEDecoder
from ais_bench.clients.token_frame import TokenFrame
from tests.support.examples import examples

HEAD, TAIL = (
    '{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m",'
    '"choices":[{"index":0,"delta":{"content":"',
    '"},"logprobs":null,"finish_reason":null}]}',
)
FRAME = TokenFrame(HEAD, TAIL)
USAGE = '{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}'


def _body(events: list[str]) -> bytes:
    return "".join(f"data: {data}\n\n" for data in events).encode()


def _state_values(state: ResponseState) -> tuple[Any, ...]:
    return (state.text_parts, state.reasoning_parts, state.content_events, state.finish_reason,
            state.usage_input_tokens, state.usage_output_tokens)


def _event_by_event(body: bytes) -> tuple[int, tuple[Any, ...]] | None:
    """What the decoder and the adapter make of ``body`` (None: they raise, or it holds [DONE])."""
    state = ResponseState()
    state.token_frame = FRAME
    try:
        events = SSEDecoder().feed(b"\n\n" + body)  # the blank line: past the decoder's start
        if "[DONE]" in events:
            return None
        for data in events:
            openai_chat.parse_stream_event(data, state)
    except Exception:
        return None
    return len(events), _state_values(state)


def test_a_read_of_token_events_is_taken_in_one_go() -> None:
    state, points = ResponseState(), [0.5]
    assert FRAME.fold_read(_body([HEAD + " a" + TAIL, HEAD + "" + TAIL, HEAD + "日本" + TAIL]), state, points, 2.0) == 3
    assert state.text_parts == [" a", "日本"] and state.content_events == 2
    assert points == [0.5, 2.0, 2.0]  # one stamp per token event: the empty content is none


def test_a_read_of_one_token_event_adds_one_part_and_one_point() -> None:
    state, points = ResponseState(), []
    assert FRAME.fold_read(_body([HEAD + " fox" + TAIL]), state, points, 3.0) == 1
    assert state.text_parts == [" fox"] and state.content_events == 1 and points == [3.0]


def test_a_read_with_anything_else_is_left_to_the_decoder() -> None:
    for events in (
        [HEAD + " a" + TAIL, USAGE],
        [HEAD + " a" + TAIL, "[DONE]"],
        [HEAD + 'a"b' + TAIL],
        [HEAD + "a\\nb" + TAIL],
    ):
        state, points = ResponseState(), []
        assert FRAME.fold_read(_body(events), state, points, 1.0) is None, events
        assert _state_values(state) == _state_values(ResponseState()) and points == []
    ping = b"data: " + HEAD.encode() + b" a" + TAIL.encode() + b"\n\n: ping\n\n"
    assert FRAME.fold_read(ping, ResponseState(), [], 1.0) is None
    assert FRAME.fold_read(_body([HEAD + " a" + TAIL])[:-1], ResponseState(), [], 1.0) is None  # an unfinished event


_CONTENT = st.text(alphabet=st.sampled_from(["a", " ", '"', "\\", "\n", "\r", "\x01", "é", "日", "\u2028", ":"]), max_size=4)
_EVENT = st.one_of(
    _CONTENT.map(lambda text: HEAD + text + TAIL),
    st.sampled_from([USAGE, "[DONE]", HEAD[:-1] + TAIL, HEAD + TAIL[1:]]),
)
_EXTRA = st.sampled_from(["", "", "", ": ping\n\n", "\n", "data: x\n", "event: e\n"])


@settings(max_examples=examples(500), deadline=None)
@given(st.lists(st.tuples(_EVENT, _EXTRA), min_size=1, max_size=5))
def test_a_read_taken_whole_folds_what_the_decoder_and_the_adapter_would(parts: list[tuple[str, str]]) -> None:
    body = "".join(f"data: {data}\n\n{extra}" for data, extra in parts).encode()
    state, points = ResponseState(), []
    taken = FRAME.fold_read(body, state, points, 1.0)
    if taken is None:
        assert _state_values(state) == _state_values(ResponseState()) and points == []
    else:
        assert (taken, _state_values(state)) == _event_by_event(body)
        assert points == [1.0] * state.content_events


def test_the_decoder_says_when_a_read_holds_only_whole_events() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: " + USAGE.encode() + b"\n\n")  # past the start of the body
    body = _body([HEAD + " x" + TAIL, HEAD + " y" + TAIL])
    assert decoder.holds_whole_events(body)
    assert not decoder.holds_whole_events(body[:10]) or FRAME.fold_read(body[:10], ResponseState(), [], 1.0) is None
    partial = SSEDecoder()
    partial.feed(b"data: " + USAGE.encode() + b"\n\ndata: {")
    assert not partial.holds_whole_events(body)  # an event is half read
