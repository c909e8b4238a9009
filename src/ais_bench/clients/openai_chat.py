"""Adapter for the OpenAI chat API (``POST v1/chat/completions``), as served by vLLM and SGLang.

Pure functions: build the JSON body of one request, and fold a streamed event or a whole body into a
``ResponseState``. No I/O, no clocks.
"""

from __future__ import annotations

import re
from typing import Any

from ais_bench.clients.body import BodyOptions, finish_openai_body
from ais_bench.clients.response import (
    ResponseState,
    check_single_choice,
    check_text,
    fold_usage,
    load_json_object,
    shape_error,
)
from ais_bench.clients.token_frame import TokenFrame
from ais_bench.datasets.item import Prompt, RequestItem
from ais_bench.errors import DatasetError


def build_body(item: RequestItem, options: BodyOptions) -> dict[str, Any]:
    """The request body: ``{stream, messages}``, completed by :func:`finish_openai_body`."""
    body: dict[str, Any] = {"stream": options.stream, "messages": build_messages(item.prompt, item.index)}
    return finish_openai_body(body, item, options)


def build_messages(prompt: Prompt, index: int = -1) -> list[dict[str, Any]]:
    """Chat messages for a prompt: a string becomes one ``user`` message; a list of OpenAI messages
    is sent as it is (AISBench template roles were translated when the dataset config was loaded).
    ``index`` (the dataset row) only serves error messages.
    """
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    if not isinstance(prompt, list):
        raise DatasetError(f"row {index}: a prompt must be a string or a list of messages")
    messages: list[dict[str, Any]] = []
    for message in prompt:
        if not isinstance(message, dict):
            raise DatasetError(f"row {index}: a chat message must be an object, got {message!r:.80}")
        messages.append(message)
    return messages


def parse_stream_event(data: str, state: ResponseState) -> None:
    """Fold one SSE event's data (a ``chat.completion.chunk``) into ``state``.

    Appends the choice's ``delta.content`` and ``delta.reasoning_content`` (or ``delta.reasoning``);
    any non-null ``usage`` sets the usage counts (vLLM sends it in a final chunk with
    ``choices: []``); a non-null ``finish_reason`` is kept. Raises ``DecodeError`` (not JSON, wrong
    shape) or ``ServerStreamError`` (an error object).
    """
    text = plain_token_text(data, state)
    if text is not None:  # what the full parse would do with this chunk, at a fraction of its cost
        if text:
            state.text_parts.append(text)
            state.content_events += 1
        return
    _parse_chunk(data, state)


#: A JSON string without escapes (its text is the characters between the quotes) and a JSON integer.
_PLAIN_STRING = r'"[^"\\\x00-\x1f]*"'
_INTEGER = r"(?:0|[1-9][0-9]*)"
#: The chunk of one generated piece of text as vLLM, SGLang and OpenAI write it (compact JSON, their
#: key order): one choice, index 0, a delta with nothing but ``content``, no finish reason, no usage.
_PLAIN_TOKEN_CHUNK = re.compile(
    r'\{"id":' + _PLAIN_STRING + r',"object":"chat\.completion\.chunk","created":' + _INTEGER
    + r',"model":' + _PLAIN_STRING + r'(?:,"system_fingerprint":(?:' + _PLAIN_STRING + r'|null))?'
    + r',"choices":\[\{"index":0,"delta":\{"content":"([^"\\\x00-\x1f]*)"\},"logprobs":null,'
    + r'"finish_reason":null(?:,"(?:stop_reason|matched_stop)":null)?\}\](?:,"usage":null)?\}'
)


def plain_token_text(data: str, state: ResponseState | None = None) -> str | None:
    """The ``delta.content`` of a chunk that carries nothing else (the shape of almost every event
    of a stream), found without parsing the JSON; None for any other chunk (the full parse then
    decides). A match is valid JSON with exactly the fields the pattern names, so the full parse
    could only append the same text; a content with escapes (``\\n``, ``\\"``) is left to it.

    With ``state``, the text around the content of the stream's first such chunk becomes
    ``state.token_frame`` (``clients/token_frame.py``), which recognises the later ones without
    the pattern."""
    frame = state.token_frame if state is not None else None
    if frame is not None:
        text = frame.content(data)
        if text is not None:
            return text
    match = _PLAIN_TOKEN_CHUNK.fullmatch(data)
    if match is None:
        return None
    if state is not None:
        state.token_frame = TokenFrame(data[: match.start(1)], data[match.end(1) :])
    return match.group(1)


def _parse_chunk(data: str, state: ResponseState) -> None:
    """:func:`parse_stream_event` for any chunk: the JSON parsed, every field looked at."""
    obj = load_json_object(data, "event")
    try:
        choices = obj.get("choices")
        if choices:
            _fold_choices(choices, "delta", state, data)
        fold_usage(obj, state)
    except (AttributeError, TypeError) as exc:
        raise shape_error("event", data, exc) from None


def parse_full_body(body: bytes, state: ResponseState) -> None:
    """Fold a non-streaming ``chat.completion`` body into ``state``: every choice's
    ``message.content`` and reasoning, ``usage``, ``finish_reason``. ``content_events`` becomes 1
    when any text or reasoning came back.
    """
    obj = load_json_object(body, "response body")
    try:
        choices = obj.get("choices")
        if not choices:
            raise TypeError("no choices")
        _fold_choices(choices, "message", state, body)
        fold_usage(obj, state)
    except (AttributeError, TypeError) as exc:
        raise shape_error("response body", body, exc) from None


def _fold_choices(choices: list[Any], part: str, state: ResponseState, raw: str | bytes) -> None:
    """Append the choice's ``<part>.content`` and reasoning (``reasoning_content`` or
    ``reasoning``), keep a non-null ``finish_reason``; one content event when any text came.
    A choice with an index other than 0 (``n > 1``) is a ``DecodeError``."""
    carried = False
    for position, choice in enumerate(choices):
        check_single_choice(choice.get("index"), raw, position)
        piece = choice.get(part)
        if piece:
            content = piece.get("content")
            if content:
                state.text_parts.append(check_text(content, f"{part}.content"))
                carried = True
            reasoning = piece.get("reasoning_content") or piece.get("reasoning")
            if reasoning:
                state.reasoning_parts.append(check_text(reasoning, f"{part}.reasoning_content"))
                carried = True
        finish_reason = choice.get("finish_reason")
        if finish_reason is not None:
            state.finish_reason = check_text(finish_reason, "finish_reason")
    if carried:
        state.content_events += 1

