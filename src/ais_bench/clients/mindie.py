"""Adapter for MindIE's native text/stream inference API (``POST infer``).

Body: ``{"inputs": <prompt string>, "stream": <stream>, "parameters": {**generation_kwargs,
"max_new_tokens": n}}``; a chat prompt is flattened to text as for the completions API. The backend
streams by default (``MindieStreamApi``); AISBench always writes ``stream: true`` -- we write the
configured mode so ``stream=False`` also works.

Responses have TGI's shape, so parsing is TGI's (``ais_bench.clients.tgi``): streamed events
``data: {"prefill_time": ..., "decode_time": ..., "token": {"id": .., "text": ".."}}`` with the whole
``generated_text`` (and ``details`` when asked) in the last one, whose ``token.text`` may be null
(the end-of-sequence step: still one generated token); that final event is the end marker. A full
body is ``{"generated_text": "...", "details": {"finish_reason": ..., "generated_tokens": n, ...}}``.
No ``usage``: ``details.generated_tokens`` (``generation_kwargs=dict(details=True)``, as the built-in
config sets) is the output count, else the tokenizer (model ``path``), else the token events.
Source: Ascend MindIE Service documentation, "TGI/MindIE text inference interface (``/infer``)".
"""

from __future__ import annotations

from typing import Any

from ais_bench.clients import tgi
from ais_bench.clients.body import BodyOptions
from ais_bench.clients.openai_completions import build_prompt
from ais_bench.datasets.item import RequestItem

parse_stream_event = tgi.parse_stream_event
parse_full_body = tgi.parse_full_body


def build_body(item: RequestItem, options: BodyOptions) -> dict[str, Any]:
    """``{inputs, stream, parameters}``; ``parameters`` = ``generation_kwargs`` + ``max_new_tokens``."""
    return {"inputs": build_prompt(item.prompt, item.index), "stream": options.stream, "parameters": options.parameters(item)}
