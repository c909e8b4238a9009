"""Reading the served model's name from ``GET <base>/v1/models`` (the engine does the request)."""

from __future__ import annotations

import orjson

from ais_bench.clients.errors import ModelDiscoveryError, make_snippet

_HINT = "set model='<served model name>' in the model config"


def parse_models_list(body: bytes) -> str:
    """The ``id`` of the first entry of ``{"object": "list", "data": [{"id": ...}, ...]}``.

    Raises ``ModelDiscoveryError`` when the body is not that shape or the list is empty.
    """
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ModelDiscoveryError(f"the model list is not JSON: {make_snippet(body)}", hint=_HINT) from None
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
