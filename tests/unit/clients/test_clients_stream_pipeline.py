"""Decoder and adapter together, as the engine uses them: reads -> events -> ResponseState."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from ais_bench.clients import openai_chat
from ais_bench.clients.response import ResponseState
from ais_bench.clients.sse import SSEDecoder
from tests.support.examples import examples

STREAM = (
    b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n'
    b'data: {"choices":[{"index":0,"delta":{"reasoning_content":"Let me think"}}]}\n\n'
    b'data: {"choices":[{"index":0,"delta":{"content":"Bonjour \xc3\xa0 vous"}}]}\n\n'
    b'data: {"choices":[{"index":0,"delta":{"content":"!"},"finish_reason":"stop"}]}\n\n'
    b'data: {"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13}}\n\n'
    b"data: [DONE]\n\n"
)


def run(reads: list[bytes]) -> tuple[ResponseState, int]:
    decoder = SSEDecoder()
    state = ResponseState()
    events = 0
    for read in reads:
        for data in decoder.feed(read):
            if data == "[DONE]":
                return state, events
            events += 1
            openai_chat.parse_stream_event(data, state)
    raise AssertionError("no [DONE]")


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.integers(0, len(STREAM)), max_size=12))
def test_any_reads_give_the_same_state(cuts: list[int]) -> None:
    bounds = [0, *sorted(cuts), len(STREAM)]
    state, events = run([STREAM[a:b] for a, b in itertools.pairwise(bounds)])
    assert events == 5  # the role-only chunk and the usage-only chunk count as events
    assert state.text == "Bonjour à vous!"
    assert state.reasoning == "Let me think"
    assert state.content_events == 3
    assert state.finish_reason == "stop"
    assert (state.usage_input_tokens, state.usage_output_tokens) == (9, 4)
