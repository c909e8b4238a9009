"""Adapter for Hugging Face Text Generation Inference (``POST generate`` / ``POST generate_stream``).

Body: ``{"inputs": <prompt string>, "parameters": {**generation_kwargs, "max_new_tokens": n}}``.
A chat prompt is flattened to text as for the completions API (no chat template).

Responses:

* ``generate``: ``{"generated_text": "...", "details": {...}}`` (or a one-element list of that);
* ``generate_stream``: one SSE event per token,
  ``data:{"index":1,"token":{"id":..,"text":" Hi","special":false},"generated_text":null,"details":null}``;
  the last event also carries the whole ``generated_text`` and, when ``details`` was asked, the
  ``details`` (``finish_reason``, ``generated_tokens``, ``seed``, ``input_length``). There is no
  ``[DONE]``: that final event is the end marker; a stream that ends without it was cut.

Text: token texts are appended (special tokens skipped); a non-null ``generated_text`` replaces them
(AISBench keeps only ``generated_text``). Tokens: every token event counts (the end-of-sequence step
too). TGI sends no ``usage``; ``details.generated_tokens`` / ``details.input_length``
(``generation_kwargs=dict(details=True)``, as the built-in configs set) are the server's counts,
preferred over the tokenizer (model ``path``) and the event count. Errors arrive as
``{"error": "...", "error_type": "..."}`` (source: huggingface/text-generation-inference
``router/src/server.rs`` and ``router/src/lib.rs``: ``StreamResponse``, ``StreamDetails``).
"""

from __future__ import annotations

from typing import Any

from ais_bench.clients.body import BodyOptions
from ais_bench.clients.openai_completions import build_prompt
from ais_bench.clients.response import ResponseState, check_text, load_json_object, shape_error
from ais_bench.datasets.item import RequestItem


def build_body(item: RequestItem, options: BodyOptions) -> dict[str, Any]:
    """``{inputs, parameters}``; ``parameters`` = ``generation_kwargs`` + ``max_new_tokens`` (the
    item's ``max_out_len``, else the model's). ``model`` and ``stream`` are not in the body: the
    endpoint says whether to stream."""
    return {"inputs": build_prompt(item.prompt, item.index), "parameters": options.parameters(item)}


def parse_stream_event(data: str, state: ResponseState) -> None:
    """Fold one token event (TGI / MindIE ``infer`` stream) into ``state``.

    Every event with a ``token`` stands for one generated token, the final end-of-sequence step
    included (its text is empty, special or null), so each one is a token event; special tokens add
    no text. The final event (non-null ``generated_text``) ends the stream: its text replaces the
    pieces, its ``details`` give the finish reason and the server's token counts.
    """
    obj = load_json_object(data, "event")
    try:
        token = obj.get("token")
        if token is not None:
            text = token.get("text")
            if text and not token.get("special"):
                state.text_parts.append(check_text(text, "token.text"))
            state.content_events += 1
        generated = obj.get("generated_text")
        if generated is not None:
            state.text_parts[:] = [check_text(generated, "generated_text")]
            state.ended = True
            if token is None and generated and not state.content_events:
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
    """``details.finish_reason``, ``details.generated_tokens`` (the output count) and
    ``details.input_length`` (the prompt count, TGI 2.x streams) when the server sent them."""
    if not details:
        return
    finish_reason = details.get("finish_reason")
    if finish_reason is not None:
        state.finish_reason = check_text(finish_reason, "details.finish_reason")
    generated_tokens = details.get("generated_tokens")
    if type(generated_tokens) is int and generated_tokens > 0:
        state.usage_output_tokens = generated_tokens
    input_length = details.get("input_length")
    if type(input_length) is int and input_length > 0:
        state.usage_input_tokens = input_length
