"""Adapter for Hugging Face Text Generation Inference (``POST generate`` / ``POST generate_stream``).

Body: ``{"inputs": <prompt string>, "parameters": {**generation_kwargs, "max_new_tokens": n}}``.
A chat prompt is flattened to text as for the completions API (no chat template).

Responses:

* ``generate``: ``{"generated_text": "...", "details": {...}}`` (or a one-element list of that);
* ``generate_stream``: one SSE event per token,
  ``data:{"index":1,"token":{"id":..,"text":" Hi","special":false},"generated_text":null,"details":null}``;
  the last event also carries the whole ``generated_text`` and, when ``details`` was asked, the
  ``details``. The stream ends when the connection closes (no ``[DONE]``).

Text: token texts are appended (special tokens skipped); a non-null ``generated_text`` replaces them
(AISBench keeps only ``generated_text``). TGI sends no ``usage``; when the server includes
``details.generated_tokens`` (``generation_kwargs=dict(details=True)``) it is taken as the server's
output count, otherwise the tokenizer (model ``path``) counts. Errors arrive as ``{"error": "...",
"error_type": "..."}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ais_bench.clients.openai_completions import build_prompt
from ais_bench.clients.response import ResponseState, check_text, load_json_object, shape_error
from ais_bench.datasets.item import RequestItem


def build_body(
    item: RequestItem,
    *,
    model: str,
    stream: bool,
    max_out_len: int,
    generation_kwargs: Mapping[str, Any],
) -> dict[str, Any]:
    """``{inputs, parameters}``; ``parameters`` = ``generation_kwargs`` + ``max_new_tokens`` (the
    item's ``max_out_len``, else the model's). ``model`` and ``stream`` are not in the body: the
    endpoint says whether to stream."""
    return {"inputs": build_prompt(item.prompt, item.index), "parameters": generation_parameters(item, max_out_len, generation_kwargs)}


def generation_parameters(
    item: RequestItem, max_out_len: int, generation_kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """``generation_kwargs`` plus ``max_new_tokens`` (the row's max_out_len, else the model's): the
    ``parameters`` object of the TGI, Triton and MindIE bodies."""
    parameters = dict(generation_kwargs)
    parameters["max_new_tokens"] = item.max_out_len if item.max_out_len is not None else max_out_len
    return parameters


def parse_stream_event(data: str, state: ResponseState) -> None:
    """Fold one token event (TGI / MindIE ``infer`` stream) into ``state``."""
    obj = load_json_object(data, "event")
    try:
        token = obj.get("token")
        if token:
            text = token.get("text")
            if text and not token.get("special"):
                state.text_parts.append(check_text(text, "token.text"))
                state.content_events += 1
        generated = obj.get("generated_text")
        if generated is not None:
            state.text_parts[:] = [check_text(generated, "generated_text")]
            if not token and generated:
                state.content_events += 1
        _details(obj.get("details"), state)
    except (AttributeError, TypeError) as exc:
        raise shape_error("event", data, exc) from None


def parse_full_body(body: bytes, state: ResponseState) -> None:
    """Fold a ``generate`` (or MindIE ``infer``) body into ``state``: ``generated_text``, ``details``."""
    obj = _first_object(body)
    try:
        generated = obj.get("generated_text")
        if generated is None:
            raise TypeError("no generated_text")
        state.text_parts.append(check_text(generated, "generated_text"))
        if generated:
            state.content_events += 1
        _details(obj.get("details"), state)
    except (AttributeError, TypeError) as exc:
        raise shape_error("response body", body, exc) from None


def _first_object(body: bytes) -> dict[str, Any]:
    stripped = body.lstrip()
    if stripped.startswith(b"["):  # TGI may answer with a one-element list
        import orjson

        try:
            items = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            items = None
        if isinstance(items, list) and items and isinstance(items[0], dict):
            return load_json_object(orjson.dumps(items[0]), "response body")
    return load_json_object(body, "response body")


def _details(details: Any, state: ResponseState) -> None:
    if not details:
        return
    finish_reason = details.get("finish_reason")
    if finish_reason is not None:
        state.finish_reason = check_text(finish_reason, "details.finish_reason")
    generated_tokens = details.get("generated_tokens")
    if type(generated_tokens) is int and generated_tokens > 0:
        state.usage_output_tokens = generated_tokens
