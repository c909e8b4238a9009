"""What the adapters extract from one response, and the JSON helpers they share.

Adapters fill a ``ResponseState`` event by event (streaming) or from the whole body; the engine turns
it into the request's record. Nothing here does I/O or looks at clocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from ais_bench.clients.errors import DecodeError, ServerStreamError, make_snippet

if TYPE_CHECKING:
    from ais_bench.clients.token_frame import TokenFrame


@dataclass(slots=True)
class ResponseState:
    """Accumulated result of one response.

    ``text_parts`` / ``reasoning_parts``: generated text and reasoning, one part per event (or one for
    a full body), in arrival order. ``usage_input_tokens`` / ``usage_output_tokens``: the server's
    ``usage.prompt_tokens`` / ``usage.completion_tokens`` (last ``usage`` seen wins), None when the
    server sent none. ``content_events``: token events, i.e. events that stand for generated tokens
    (OpenAI: a chunk with non-empty text or reasoning; TGI/MindIE: an event with a ``token``; Triton:
    an event with ``text_output``, empty or not); the engine stamps only these, and they are the
    fallback output-token count. ``finish_reason``: the last non-null ``finish_reason``.
    ``ended``: the stream carried its backend's end marker (``[DONE]``, TGI's/MindIE's final event
    with ``generated_text``, or, for Triton, the body's own end).
    """

    text_parts: list[str] = field(default_factory=list)
    reasoning_parts: list[str] = field(default_factory=list)
    usage_input_tokens: int | None = None
    usage_output_tokens: int | None = None
    content_events: int = 0
    finish_reason: str | None = None
    ended: bool = False
    #: The text around the content of the stream's plain token events, once one was seen
    #: (``clients/token_frame.py``; only the chat adapter learns one).
    token_frame: TokenFrame | None = None

    @property
    def text(self) -> str:
        """The generated text (reasoning excluded)."""
        return "".join(self.text_parts)

    @property
    def reasoning(self) -> str:
        """The generated reasoning (``reasoning_content`` / ``reasoning``), empty when none."""
        return "".join(self.reasoning_parts)


def load_json_object(raw: str | bytes, what: str) -> dict[str, Any]:
    """Parse ``raw`` as a JSON object; raise ``DecodeError`` or, for an error object, ``ServerStreamError``.

    ``what`` names the input in messages ("event", "response body").
    """
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"{what} is not valid JSON ({exc})", snippet=make_snippet(raw)) from None
    if type(obj) is not dict:
        raise DecodeError(
            f"{what} is JSON but not an object (got {type(obj).__name__})", snippet=make_snippet(raw)
        )
    if "error" in obj or obj.get("object") == "error":
        raise server_error(obj, raw)
    return obj


def server_error(obj: dict[str, Any], raw: str | bytes) -> ServerStreamError:
    """The error for ``{"error": {...}}`` (OpenAI, newer vLLM, SGLang) or ``{"object": "error", ...}``
    (older vLLM) or ``{"error": "text"}``.
    """
    err = obj.get("error")
    if err is None:
        err = obj
    if isinstance(err, dict):
        message = err.get("message")
        return ServerStreamError(
            str(message) if message is not None else orjson.dumps(err).decode(),
            error_type=err.get("type") if isinstance(err.get("type"), str) else None,
            error_code=err.get("code"),
            snippet=make_snippet(raw),
        )
    return ServerStreamError(str(err), error_type=None, error_code=None, snippet=make_snippet(raw))


def shape_error(what: str, raw: str | bytes, exc: Exception) -> DecodeError:
    """The error for JSON that parsed but is not shaped as the API says."""
    return DecodeError(f"{what} has an unexpected shape ({exc})", snippet=make_snippet(raw))


def fold_usage(obj: dict[str, Any], state: ResponseState) -> None:
    """Apply the ``usage`` of a response object or chunk when it is present and not null."""
    usage = obj.get("usage")
    if usage is not None:
        apply_usage(usage, state)


def apply_usage(usage: Any, state: ResponseState) -> None:
    """Copy ``usage.prompt_tokens`` / ``usage.completion_tokens`` into ``state`` (None values skipped).

    Raises ``TypeError`` for a usage that is not an object or counts that are not integers.
    """
    if type(usage) is not dict:
        raise TypeError(f"usage is {type(usage).__name__}, not an object")
    prompt = usage.get("prompt_tokens")
    if prompt is not None:
        state.usage_input_tokens = _count(prompt, "usage.prompt_tokens")
    completion = usage.get("completion_tokens")
    if completion is not None:
        state.usage_output_tokens = _count(completion, "usage.completion_tokens")


def check_single_choice(index: Any, raw: str | bytes, position: int = 0) -> None:
    """Raise ``DecodeError`` for a choice other than the first (its ``index``, or its ``position``
    in the list when it has none): ais_bench measures one sequence per request (a server answering
    ``n > 1`` interleaves several texts in one stream)."""
    if index is None:
        index = position
    if index != 0:
        raise DecodeError(
            f"choice {index!r} arrived: the server generates several sequences per request (n > 1), "
            "which ais_bench does not measure; set n=1 (or remove n/best_of from generation_kwargs)",
            snippet=make_snippet(raw),
        )


def _count(value: Any, name: str) -> int:
    if type(value) is not int or value < 0:
        raise TypeError(f"{name} is {value!r}, not a count")
    return value


def check_text(value: Any, name: str) -> str:
    """``value`` if it is a string, else ``TypeError`` (e.g. a list of content parts)."""
    if type(value) is not str:
        raise TypeError(f"{name} is {type(value).__name__}, not a string")
    return value
