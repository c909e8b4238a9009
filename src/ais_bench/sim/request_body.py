"""Validation of ``/v1/chat/completions`` and ``/v1/completions`` request bodies.

Only the fields the simulation uses are checked: ``messages`` (chat) or ``prompt`` (completions),
``stream``, ``max_tokens`` (``max_completion_tokens`` is accepted for chat), ``ignore_eos`` (vLLM
extension) and ``stream_options.include_usage``. Other fields are accepted and ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ais_bench.sim.responses import KIND_CHAT


class BadRequest(Exception):
    """The body is not a valid request; the message goes to the client with HTTP 400."""


@dataclass(frozen=True, slots=True)
class GenerateRequest:
    """The parts of a generation request the simulation acts on."""

    stream: bool
    max_tokens: int
    ignore_eos: bool
    include_usage: bool
    prompt: str | list[int] | None = None
    messages: list[dict[str, Any]] | None = None


def parse_generate_body(raw: bytes, kind: str, default_max_tokens: int) -> GenerateRequest:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    stream = _flag(body, "stream")
    return GenerateRequest(
        stream=stream,
        max_tokens=_max_tokens(body, kind, default_max_tokens),
        ignore_eos=_flag(body, "ignore_eos"),
        include_usage=stream and _include_usage(body),
        prompt=None if kind == KIND_CHAT else _prompt(body),
        messages=_messages(body) if kind == KIND_CHAT else None,
    )


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise BadRequest(f"'{name}' must be a boolean, got {value!r}")
    return value


def _max_tokens(body: dict[str, Any], kind: str, default_max_tokens: int) -> int:
    value = body.get("max_tokens")
    if value is None and kind == KIND_CHAT:
        value = body.get("max_completion_tokens")
    if value is None:
        return default_max_tokens
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadRequest(f"'max_tokens' must be an integer >= 1, got {value!r}")
    return value


def _include_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    if options is None:
        return False
    if not isinstance(options, dict):
        raise BadRequest("'stream_options' must be an object")
    value = options.get("include_usage", False)
    if not isinstance(value, bool):
        raise BadRequest(f"'stream_options.include_usage' must be a boolean, got {value!r}")
    return value


def _prompt(body: dict[str, Any]) -> str | list[int]:
    if "prompt" not in body:
        raise BadRequest("missing required field 'prompt'")
    prompt = body["prompt"]
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in prompt):
        return prompt
    raise BadRequest("'prompt' must be a string or a list of token ids")


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    if "messages" not in body:
        raise BadRequest("missing required field 'messages'")
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty list")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise BadRequest(f"'messages[{i}]' must be an object with a string 'role'")
    return messages
