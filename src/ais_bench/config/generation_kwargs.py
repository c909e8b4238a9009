"""``generation_kwargs`` of a model config: JSON values that do not replace what the tool writes."""

from __future__ import annotations

import math
from typing import Any

from ais_bench.config.validation import NO_SURROGATE, check_dict, is_unicode_text, not_allowed, show
from ais_bench.errors import ConfigError

#: ``generation_kwargs`` keys that would replace what the tool itself puts in the request body.
RESERVED_GENERATION_KEYS = {
    "stream": "the streaming mode is the model config's stream= (or the backend class)",
    "messages": "the prompt comes from the dataset",
    "prompt": "the prompt comes from the dataset",
}


def check_generation_kwargs(source: str, where: str, value: Any) -> dict[str, Any]:
    """A dict of JSON values that does not replace the body fields the tool writes itself."""
    d = check_dict(source, where, value)
    for key, reason in RESERVED_GENERATION_KEYS.items():
        if key in d:
            raise ConfigError(
                f"{source}: {where}.{key} is not allowed in generation_kwargs: {reason}",
                hint=f"remove '{key}' from generation_kwargs",
            )
    for key in _SEQUENCE_COUNT_KEYS:
        count = d.get(key)
        if isinstance(count, int) and not isinstance(count, bool) and count > 1:
            raise ConfigError(
                f"{source}: {where}.{key}={count} asks for several sequences per request, which ais_bench "
                "does not measure (their tokens interleave in one stream and TPOT/ITL would be wrong)",
                hint=f"remove '{key}' from generation_kwargs (or set it to 1); to send each prompt several "
                "times, repeat the dataset rows",
            )
    _check_json(source, where, d)
    return dict(d)


#: ``generation_kwargs`` keys that ask the server for several sequences per request (OpenAI ``n``,
#: vLLM ``best_of``).
_SEQUENCE_COUNT_KEYS = ("n", "best_of")


def _check_json(source: str, where: str, value: Any, depth: int = 0) -> None:
    """Every value can be sent as JSON: str, bool, None, int (64-bit), finite float, list, dict."""
    expected = "JSON data: a string, bool, None, 64-bit integer, finite number, list or dict with string keys"
    if depth > 64:
        raise not_allowed(source, where, value, "at most 64 levels of nested lists and dicts")
    if isinstance(value, str) and not is_unicode_text(value):
        raise not_allowed(source, where, value, NO_SURROGATE)
    if value is None or isinstance(value, (str, bool)):
        return
    if isinstance(value, int):
        if not -(2**63) <= value < 2**64:
            raise not_allowed(source, where, value, expected)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise not_allowed(source, where, value, expected)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_json(source, f"{where}[{i}]", item, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or not is_unicode_text(key):
                raise not_allowed(source, f"{where} key {show(key)}", key, "string keys of Unicode text")
            _check_json(source, f"{where}.{key}", item, depth + 1)
    else:
        raise not_allowed(source, where, value, expected)
