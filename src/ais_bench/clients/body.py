"""What every request body of one model shares, handed to each API adapter's ``build_body``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ais_bench.datasets.item import RequestItem


@dataclass(frozen=True)
class BodyOptions:
    """The served model name, streaming or not, the model's ``max_out_len`` (a row's own
    ``max_out_len`` wins) and the config's ``generation_kwargs``."""

    model: str
    stream: bool
    max_out_len: int
    generation_kwargs: Mapping[str, Any] = field(default_factory=dict)

    def max_tokens(self, item: RequestItem) -> int:
        """The row's ``max_out_len``, else the model's."""
        return item.max_out_len if item.max_out_len is not None else self.max_out_len

    def parameters(self, item: RequestItem) -> dict[str, Any]:
        """``generation_kwargs`` plus ``max_new_tokens``: the ``parameters`` object of the TGI and
        MindIE bodies."""
        return {**self.generation_kwargs, "max_new_tokens": self.max_tokens(item)}


def finish_openai_body(body: dict[str, Any], item: RequestItem, options: BodyOptions) -> dict[str, Any]:
    """Complete an OpenAI body (chat or completions) that holds its prompt and ``stream``:
    ``stream_options: {"include_usage": true}`` when streaming (so the server sends a final usage
    chunk), then ``generation_kwargs`` (which win on conflict), then ``max_tokens`` and ``model``
    (always set last)."""
    if options.stream:
        body["stream_options"] = {"include_usage": True}
    body.update(options.generation_kwargs)
    body["max_tokens"] = options.max_tokens(item)
    body["model"] = options.model
    return body
