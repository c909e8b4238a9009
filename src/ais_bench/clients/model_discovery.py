"""Reading the served model's name from the server's model list (the engine does the request).

OpenAI-compatible servers answer ``GET <base>/v1/models``; Triton has no such endpoint and lists its
models with ``POST <base>/v2/repository/index`` (model repository extension, body ``{"ready": true}``).
"""

from __future__ import annotations

from typing import Any

import orjson

from ais_bench.clients.errors import ModelDiscoveryError, make_snippet

_HINT = "set model='<served model name>' in the model config"
_TRITON_HINT = "set model_name='<Triton model>' in the model config (e.g. 'ensemble' or 'vllm_model')"

#: Path of Triton's model index; it is asked with ``POST`` and this body.
TRITON_INDEX_ENDPOINT = "v2/repository/index"
TRITON_INDEX_BODY = b'{"ready": true}'


def parse_models_list(body: bytes) -> str:
    """The ``id`` of the first entry of ``{"object": "list", "data": [{"id": ...}, ...]}``.

    Raises ``ModelDiscoveryError`` when the body is not that shape or the list is empty.
    """
    obj = _json(body, _HINT)
    entries = obj.get("data") if isinstance(obj, dict) else None
    if not isinstance(entries, list):
        raise ModelDiscoveryError(f"the model list has no 'data' list: {make_snippet(body)}", hint=_HINT)
    if not entries:
        raise ModelDiscoveryError("the server lists no models", hint=_HINT)
    first = entries[0]
    model_id = first.get("id") if isinstance(first, dict) else None
    if not isinstance(model_id, str) or not model_id:
        raise ModelDiscoveryError(f"the first listed model has no 'id': {make_snippet(body)}", hint=_HINT)
    return model_id


def parse_triton_index(body: bytes) -> str:
    """The one ready model of Triton's index ``[{"name": ..., "version": ..., "state": "READY"}, ...]``.

    Several ready models (a TensorRT-LLM repository serves ``preprocessing``, ``tensorrt_llm``,
    ``postprocessing`` and ``ensemble``) cannot be told apart: ``ModelDiscoveryError`` names them.
    """
    entries = _json(body, _TRITON_HINT)
    if not isinstance(entries, list):
        raise ModelDiscoveryError(f"Triton's model index is not a list: {make_snippet(body)}", hint=_TRITON_HINT)
    ready: list[str] = sorted({
        entry["name"] for entry in entries
        if isinstance(entry, dict) and isinstance(entry.get("name"), str) and entry.get("state", "READY") == "READY"
    })
    if len(ready) == 1:
        return ready[0]
    if not ready:
        raise ModelDiscoveryError("Triton lists no ready model", hint=_TRITON_HINT)
    raise ModelDiscoveryError(
        f"Triton serves {len(ready)} models ({', '.join(ready)[:200]}); ais_bench cannot tell which one generates",
        hint=_TRITON_HINT,
    )


def _json(body: bytes, hint: str) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ModelDiscoveryError(f"the model list is not JSON: {make_snippet(body)}", hint=hint) from None
