"""The stream's body sink (``engine/stream.py``): however a stream's bytes are cut into reads, the
sink folds into the attempt what the SSE decoder and the adapter make of it event by event, and
gives each token event the stamp of the read that completed it (the frame path, the run of token
events a read starts with, and the first read's event-by-event parse included)."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ais_bench.clients import openai_chat
from ais_bench.clients.backends import OPENAI_CHAT, backend_for
from ais_bench.clients.errors import ResponseError
from ais_bench.clients.http1 import Exchange
from ais_bench.clients.response import ResponseState
from ais_bench.clients.sse import SSEDecoder
from ais_bench.engine.attempt import Attempt
from ais_bench.engine.stream import event_sink
from tests.support.examples import examples


def _chunk(choice: str) -> str:
    return '{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[' + choice + "]}"


ROLE = _chunk('{"index":0,"delta":{"role":"assistant"},"logprobs":null,"finish_reason":null}')
FINISH = _chunk('{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}')
USAGE = '{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}'


def _token(text: str) -> str:
    content = json.dumps(text, ensure_ascii=False)
    return _chunk('{"index":0,"delta":{"content":' + content + '},"logprobs":null,"finish_reason":null}')


class _Stamps:
    """What the sink reads of its transport: kernel stamping and the stamp of the current read."""

    kernel = True
    read_s = 0.0


_CONTENT = st.text(alphabet=st.sampled_from(["a", " ", "é", "日", '"', "\\", "\n", "\x01"]), max_size=3)
_EVENT = st.one_of(_CONTENT.map(_token), _CONTENT.map(_token), st.sampled_from([FINISH, USAGE, ": ping"]))


def _stream(middle: list[str]) -> bytes:
    lines = [f"data: {ROLE}\n\n"] + [f"{e}\n\n" if e.startswith(":") else f"data: {e}\n\n" for e in middle]
    return ("".join(lines) + "data: [DONE]\n\n").encode()


def _reference(reads: list[bytes]) -> tuple[Any, ...]:
    """The decoder and the adapter, event by event; each token event stamped with its read's index."""
    decoder, state, points, events = SSEDecoder(), ResponseState(), [0.0], 0
    try:
        for index, read in enumerate(reads):
            batch = decoder.feed(read)
            ended = "[DONE]" in batch
            batch = batch[: batch.index("[DONE]")] if ended else batch
            events += len(batch)
            for data in batch:
                before = state.content_events
                openai_chat.parse_stream_event(data, state)
                points += [float(index + 1)] * (state.content_events - before)
            if ended:
                state.ended = True
                break
    except ResponseError as exc:
        return ("failed", type(exc).__name__, state.text_parts, points)
    return (state.text_parts, state.reasoning_parts, state.content_events, state.finish_reason,
            state.usage_output_tokens, state.ended, events, points)


def _through_the_sink(reads: list[bytes]) -> tuple[Any, ...]:
    loop = asyncio.new_event_loop()
    try:
        attempt, exchange, stamps = Attempt([0.0], ResponseState()), Exchange(loop, None, None), _Stamps()
        sink = event_sink(SSEDecoder(), backend_for(OPENAI_CHAT), attempt, exchange, stamps)  # type: ignore[arg-type]
        exchange.sink = sink
        for index, read in enumerate(reads):
            if exchange.sink is None or exchange.error is not None:  # [DONE] finished the exchange, or it failed
                break
            stamps.read_s = float(index + 1)
            exchange.sink(read)
        state = attempt.state
        if exchange.error is not None:
            return ("failed", type(exchange.error).__name__, state.text_parts, attempt.points)
        return (state.text_parts, state.reasoning_parts, state.content_events, state.finish_reason,
                state.usage_output_tokens, state.ended, attempt.events, attempt.points)
    finally:
        loop.close()


def _cut(body: bytes, cuts: list[int]) -> list[bytes]:
    edges = sorted({min(c, len(body)) for c in cuts} | {0, len(body)})
    return [body[a:b] for a, b in itertools.pairwise(edges) if b > a]


@settings(max_examples=examples(400), deadline=None)
@given(st.lists(_EVENT, max_size=12), st.lists(st.integers(min_value=0, max_value=4000), max_size=8))
def test_any_cut_of_a_stream_into_reads_folds_what_the_event_by_event_path_does(middle: list[str], cuts: list[int]) -> None:
    reads = _cut(_stream(middle), cuts)
    assert _through_the_sink(reads) == _reference(reads)


def test_a_read_of_role_tokens_finish_usage_and_done_at_once() -> None:
    body = _stream([_token("a"), _token(" b"), _token(""), _token(" c"), FINISH, USAGE])
    result = _through_the_sink([body])
    assert result == _reference([body])
    assert result[0] == ["a", " b", " c"] and result[-1] == [0.0, 1.0, 1.0, 1.0]
