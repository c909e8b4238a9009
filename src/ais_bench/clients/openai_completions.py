"""Adapter for the OpenAI completions API (``POST v1/completions``), as served by vLLM and SGLang.

Pure functions, as in ``openai_chat``; a chat prompt is sent flattened to one string.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ais_bench.clients.body import BodyOptions, finish_openai_body
from ais_bench.clients.response import (
    check_single_choice,
    check_text,
    fold_usage,
    load_json_object,
    shape_error,
)
from ais_bench.datasets.item import Prompt, RequestItem
from ais_bench.errors import DatasetError

if TYPE_CHECKING:
    from ais_bench.clients.response import ResponseState

#: Separator placed between message contents when a chat prompt is sent to the completions API.
MESSAGE_SEPARATOR = "\n"


def build_body(item: RequestItem, options: BodyOptions) -> dict[str, Any]:
    """The request body: ``{prompt, stream}``, completed by :func:`finish_openai_body`."""
    body: dict[str, Any] = {"prompt": build_prompt(item.prompt, item.index), "stream": options.stream}
    return finish_openai_body(body, item, options)


def build_prompt(prompt: Prompt, index: int = -1) -> str:
    """The prompt string. A chat prompt (list of messages) is flattened without any chat template:
    the messages' ``content`` strings, in order, joined with
    ``MESSAGE_SEPARATOR``; roles are dropped. ``index`` (the dataset row) only serves error messages.
    """
    if isinstance(prompt, str):
        return prompt
    parts: list[str] = []
    for message in prompt if isinstance(prompt, list) else [prompt]:
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, str):
            raise DatasetError(
                f"row {index}: the completions API needs text; cannot flatten message {message!r:.80}"
            )
        parts.append(content)
    return MESSAGE_SEPARATOR.join(parts)


def parse_stream_event(data: str, state: ResponseState) -> None:
    """Fold one SSE event's data (a ``text_completion`` chunk) into ``state``: ``choices[0].text``
    appended, non-null ``usage`` and ``finish_reason`` kept. Raises ``DecodeError`` or
    ``ServerStreamError``.
    """
    obj = load_json_object(data, "event")
    try:
        choices = obj.get("choices")
        for position, choice in enumerate(choices or ()):
            check_single_choice(choice.get("index"), data, position)
            _fold_choice(choice, state)
        fold_usage(obj, state)
    except (AttributeError, TypeError, KeyError) as exc:
        raise shape_error("event", data, exc) from None


def parse_full_body(body: bytes, state: ResponseState) -> None:
    """Fold a non-streaming ``text_completion`` body into ``state``: ``choices[0].text``, ``usage``,
    ``finish_reason``. ``content_events`` becomes 1 when text came back.
    """
    obj = load_json_object(body, "response body")
    try:
        choices = obj.get("choices")
        if not choices:
            raise TypeError("no choices")
        for position, choice in enumerate(choices):
            check_single_choice(choice.get("index"), body, position)
            _fold_choice(choice, state)
        fold_usage(obj, state)
    except (AttributeError, TypeError, KeyError) as exc:
        raise shape_error("response body", body, exc) from None


def _fold_choice(choice: dict[str, Any], state: ResponseState) -> None:
    """Append ``choices[0].text`` (one content event when non-empty), keep a non-null finish_reason."""
    text = choice.get("text")
    if text:
        state.text_parts.append(check_text(text, "choices[0].text"))
        state.content_events += 1
    finish_reason = choice.get("finish_reason")
    if finish_reason is not None:
        state.finish_reason = check_text(finish_reason, "finish_reason")

