"""OpenAI response bodies and pre-serialised SSE event templates (vLLM/OpenAI field layout).

Per token the hot path never calls a JSON encoder: ``EventTemplates`` splices the JSON-encoded token
text between a request's pre-serialised prefix and suffix once per distinct word, and frames the
result for HTTP chunked transfer, so writing a token is one ``transport.write`` of ready bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ais_bench.sim.tokens import OUTPUT_WORDS, output_text

KIND_CHAT = "chat"
KIND_COMPLETIONS = "completions"
_PLACEHOLDER = "\x00TOKEN\x00"
_PLACEHOLDER_JSON = orjson.dumps(_PLACEHOLDER)
DONE_EVENT = b"data: [DONE]\n\n"


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """Identity and accounting of one request, shared by its events and bodies."""

    kind: str
    request_id: str
    created: int
    model: str
    prompt_tokens: int
    include_usage: bool = False


def frame_chunk(payload: bytes) -> bytes:
    """One HTTP/1.1 chunked-transfer chunk holding ``payload``."""
    return b"%x\r\n%b\r\n" % (len(payload), payload)


def sse_event(obj: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def _chunk_head(info: RequestInfo) -> dict[str, Any]:
    obj_type = "chat.completion.chunk" if info.kind == KIND_CHAT else "text_completion"
    return {"id": info.request_id, "object": obj_type, "created": info.created, "model": info.model}


def _token_choice(info: RequestInfo, text: str, finish_reason: str | None) -> dict[str, Any]:
    if info.kind == KIND_CHAT:
        return {"index": 0, "delta": {"content": text}, "logprobs": None, "finish_reason": finish_reason}
    return {"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason}


def _choice_event(info: RequestInfo, choice: dict[str, Any]) -> bytes:
    """A chunk with one choice; with ``include_usage`` it carries ``"usage": null`` as OpenAI's do."""
    obj = {**_chunk_head(info), "choices": [choice]}
    if info.include_usage:
        obj["usage"] = None
    return sse_event(obj)


def token_event(info: RequestInfo, text: str, finish_reason: str | None) -> bytes:
    return _choice_event(info, _token_choice(info, text, finish_reason))


def role_event(info: RequestInfo) -> bytes:
    delta = {"role": "assistant", "content": ""}
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}
    return _choice_event(info, choice)


def usage_dict(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def usage_event(info: RequestInfo, completion_tokens: int) -> bytes:
    return sse_event(
        {**_chunk_head(info), "choices": [], "usage": usage_dict(info.prompt_tokens, completion_tokens)}
    )


def malformed_event(info: RequestInfo) -> bytes:
    """An SSE event whose data is truncated JSON (fault injection)."""
    return b'data: {"id": "' + info.request_id.encode() + b'", "choices": [{"index": 0, \n\n'


class EventTemplates:
    """Framed token events of one request, one per distinct output word (index ``i % len``)."""

    __slots__ = ("framed",)

    def __init__(self, info: RequestInfo) -> None:
        template = token_event(info, _PLACEHOLDER, None)
        prefix, suffix = template.split(_PLACEHOLDER_JSON)
        self.framed = [frame_chunk(prefix + orjson.dumps(word) + suffix) for word in OUTPUT_WORDS]

    def token(self, index: int) -> bytes:
        return self.framed[index % len(self.framed)]


def last_token_event(info: RequestInfo, index: int, finish_reason: str) -> bytes:
    return token_event(info, OUTPUT_WORDS[index % len(OUTPUT_WORDS)], finish_reason)


def full_body(info: RequestInfo, completion_tokens: int, finish_reason: str) -> dict[str, Any]:
    """The non-streaming ``chat.completion`` / ``text_completion`` body."""
    text = output_text(completion_tokens)
    if info.kind == KIND_CHAT:
        obj_type = "chat.completion"
        choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": text}}
    else:
        obj_type = "text_completion"
        choice = {"index": 0, "text": text}
    choice.update(logprobs=None, finish_reason=finish_reason)
    return {
        "id": info.request_id,
        "object": obj_type,
        "created": info.created,
        "model": info.model,
        "choices": [choice],
        "usage": usage_dict(info.prompt_tokens, completion_tokens),
    }


def error_body(message: str, error_type: str, status: int) -> dict[str, Any]:
    """OpenAI-style error body: ``{"error": {"message", "type", "param", "code"}}``."""
    return {"error": {"message": message, "type": error_type, "param": None, "code": status}}
