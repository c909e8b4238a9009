"""Adapter for NVIDIA Triton's generate extension (TensorRT-LLM / vLLM backends):
``POST v2/models/{model_name}/generate`` and ``.../generate_stream``.

Body (what both LLM backends read; sources: triton-inference-server/server
``docs/protocol/extension_generate.md``, triton-inference-server/vllm_backend ``src/model.py`` and
``src/utils/request.py``, triton-inference-server/tensorrtllm_backend
``all_models/inflight_batcher_llm/ensemble/config.pbtxt``)::

    {"id": <uuid4>, "text_input": <prompt>, "max_tokens": n, "stream": <stream>,
     "exclude_input_in_output": true, "return_num_input_tokens": true,
     "return_num_output_tokens": true, "return_finish_reason": true,
     "parameters": {**generation_kwargs}}

Triton maps a top-level field to the model input of that name, and passes the others on as request
parameters. The TensorRT-LLM ensemble requires the ``max_tokens`` input and streams when its
``stream`` input is true; vllm_backend streams on its ``stream`` input, takes its sampling parameters
from the request parameters (``max_tokens`` arrives there, ``generation_kwargs`` too: every key must
be a vLLM ``SamplingParams`` field) and, without ``exclude_input_in_output``, prepends the prompt
to a non-streamed answer. The ``return_*`` inputs (vllm_backend r24.12+) add ``num_input_tokens``,
``num_output_tokens`` (per response) and ``finish_reason`` to the responses. AISBench's
``parameters.max_new_tokens`` is read by neither backend and is not sent. A chat prompt is
flattened to text as for the completions API. The body is built once per dataset row, so a row sent
again (pressure mode) reuses its ``id``.

Responses: ``{"model_name": ..., "model_version": ..., "text_output": "..."}`` (plus the outputs
asked for); streamed as SSE events of the same shape, each carrying the next piece of text
(appended, as AISBench does) and standing for one generation step, the final one (often with empty
text) included. An output tensor with several elements arrives as a JSON array: a one-element
``text_output`` array is read as its element; more elements (several sequences) fail the request
with that reason. There is no in-band end marker: the stream ends with the body (the chunked
encoding's last chunk). Token counts: ``num_output_tokens`` summed over the events and
``num_input_tokens`` when present, else the tokenizer (model ``path``), else the token events.
Errors arrive as ``{"error": "..."}``.
"""

from __future__ import annotations

import uuid
from typing import Any

from ais_bench.clients.body import BodyOptions
from ais_bench.clients.errors import DecodeError, make_snippet
from ais_bench.clients.openai_completions import build_prompt
from ais_bench.clients.response import ResponseState, check_text, load_json_object, shape_error
from ais_bench.datasets.item import RequestItem

ENDPOINT = "v2/models/{model_name}/generate"
STREAM_ENDPOINT = "v2/models/{model_name}/generate_stream"
#: Model index of Triton's model repository extension (``POST``; Triton has no ``/v1/models``).
MODELS_ENDPOINT = "v2/repository/index"

#: Inputs that ask vllm_backend for the server's own counts and finish reason.
_RETURN_INPUTS = ("return_num_input_tokens", "return_num_output_tokens", "return_finish_reason")


def build_body(item: RequestItem, options: BodyOptions) -> dict[str, Any]:
    """The body shown in the module docstring; ``max_tokens`` is the row's ``max_out_len``, else the
    model's."""
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "text_input": build_prompt(item.prompt, item.index),
        "max_tokens": options.max_tokens(item),
        "stream": options.stream,
        "exclude_input_in_output": True,
    }
    body.update(dict.fromkeys(_RETURN_INPUTS, True))
    body["parameters"] = dict(options.generation_kwargs)
    return body


def parse_stream_event(data: str, state: ResponseState) -> None:
    """Fold one streamed response: its ``text_output`` piece (a token event, empty or not), counts,
    finish reason."""
    obj = load_json_object(data, "event")
    try:
        if "text_output" in obj:
            state.text_parts.append(_single(obj["text_output"], "text_output", data))
            state.content_events += 1
        _fold_extras(obj, state, data)
    except (AttributeError, TypeError) as exc:
        raise shape_error("event", data, exc) from None


def parse_full_body(body: bytes, state: ResponseState) -> None:
    """The body's ``text_output``, counts and finish reason."""
    obj = load_json_object(body, "response body")
    try:
        if "text_output" not in obj:
            raise TypeError("no text_output")
        text = _single(obj["text_output"], "text_output", body)
        state.text_parts.append(text)
        if text:
            state.content_events += 1
        _fold_extras(obj, state, body)
    except (AttributeError, TypeError) as exc:
        raise shape_error("response body", body, exc) from None


def _fold_extras(obj: dict[str, Any], state: ResponseState, raw: str | bytes) -> None:
    """``num_output_tokens`` (added: vllm_backend sends the tokens of each response),
    ``num_input_tokens``, and a ``finish_reason`` other than vllm_backend's placeholder ``"None"``."""
    produced = obj.get("num_output_tokens")
    if produced is not None:
        count = _single(produced, "num_output_tokens", raw, int)
        state.usage_output_tokens = (state.usage_output_tokens or 0) + count
    prompt = obj.get("num_input_tokens")
    if prompt is not None:
        state.usage_input_tokens = _single(prompt, "num_input_tokens", raw, int)
    reason = obj.get("finish_reason")
    if reason is not None:
        reason = _single(reason, "finish_reason", raw)
        if reason and reason != "None":
            state.finish_reason = reason


def _single(value: Any, name: str, raw: str | bytes, kind: type = str) -> Any:
    """The one value of an output tensor: a scalar, or the element of a one-element array. An array
    of several elements (several sequences per request) is a ``DecodeError`` that says so."""
    if type(value) is list:
        if len(value) != 1:
            raise DecodeError(
                f"{name} holds {len(value)} sequences: ais_bench measures one sequence per request; "
                "ask the model for one (e.g. n=1, beam_width=1)",
                snippet=make_snippet(raw),
            )
        value = value[0]
    if kind is str:
        return check_text(value, name)
    if type(value) is not int or value < 0:
        raise TypeError(f"{name} is {value!r}, not a count")
    return value
