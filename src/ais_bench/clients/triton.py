"""Adapter for NVIDIA Triton's generate extension (TensorRT-LLM / vLLM backends):
``POST v2/models/{model_name}/generate`` and ``.../generate_stream``.

Body: ``{"id": <uuid4>, "text_input": <prompt string>, "parameters": {**generation_kwargs,
"max_new_tokens": n}}``; a chat prompt is flattened to text as for the completions API. The body is
built once per dataset row, so a row sent again (pressure mode) reuses its ``id``.

Responses: ``{"model_name": ..., "text_output": "..."}``; streamed as SSE events of the same shape,
each carrying the next piece of text (appended, as AISBench does). Triton sends no ``usage``: the
tokenizer (model ``path``) counts. Errors arrive as ``{"error": "..."}``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from ais_bench.clients.openai_completions import build_prompt
from ais_bench.clients.response import ResponseState, check_text, load_json_object, shape_error
from ais_bench.clients.tgi import generation_parameters
from ais_bench.datasets.item import RequestItem

ENDPOINT = "v2/models/{model_name}/generate"
STREAM_ENDPOINT = "v2/models/{model_name}/generate_stream"


def build_body(
    item: RequestItem,
    *,
    model: str,
    stream: bool,
    max_out_len: int,
    generation_kwargs: Mapping[str, Any],
) -> dict[str, Any]:
    """``{id, text_input, parameters}``; ``parameters`` = ``generation_kwargs`` + ``max_new_tokens``."""
    parameters = generation_parameters(item, max_out_len, generation_kwargs)
    return {"id": str(uuid.uuid4()), "text_input": build_prompt(item.prompt, item.index), "parameters": parameters}


def parse_stream_event(data: str, state: ResponseState) -> None:
    """Append the event's ``text_output``."""
    obj = load_json_object(data, "event")
    try:
        text = obj.get("text_output")
        if text:
            state.text_parts.append(check_text(text, "text_output"))
            state.content_events += 1
    except (AttributeError, TypeError) as exc:
        raise shape_error("event", data, exc) from None


def parse_full_body(body: bytes, state: ResponseState) -> None:
    """The body's ``text_output``."""
    obj = load_json_object(body, "response body")
    try:
        text = obj.get("text_output")
        if text is None:
            raise TypeError("no text_output")
        state.text_parts.append(check_text(text, "text_output"))
        if text:
            state.content_events += 1
    except (AttributeError, TypeError) as exc:
        raise shape_error("response body", body, exc) from None
