"""Input token counting and the generated token text of the simulated server.

Input tokens (``prompt_tokens`` in ``usage``, and the prefill cost):
- with a tokenizer (``tokenizer_path``: a directory holding ``tokenizer.json`` or the file itself, loaded
  lazily with the ``tokenizers`` package): ``len(tokenizer.encode(text).ids)``, special tokens added
  as the tokenizer's post-processor does by default;
- without one, an approximation: ``max(words, ceil(len(text) / 4))`` -- four characters per token,
  but at least one token per whitespace-separated word (so the synthetic "A A A ..." prompts of
  N words count N tokens, as a real tokenizer would).
A completions ``prompt`` string is counted as is (a list of token ids counts its length). A chat request
counts ``sum(count(content) + CHAT_TOKENS_PER_MESSAGE)`` over its messages plus
``CHAT_TOKENS_PER_REPLY`` for the assistant turn the template opens, as chat templates add a few role
and separator tokens per message. Multi-part contents count their ``text`` parts.

Output tokens are words cycled from ``OUTPUT_WORDS``: token ``i`` of any response is
``OUTPUT_WORDS[i % len(OUTPUT_WORDS)]``, one word per SSE event.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ais_bench.errors import ConfigError

CHARS_PER_TOKEN = 4
CHAT_TOKENS_PER_MESSAGE = 4
CHAT_TOKENS_PER_REPLY = 3
OUTPUT_WORDS = (" the", " quick", " brown", " fox", " jumps", " over", " a", " lazy", " dog", ".")


def output_text(num_tokens: int) -> str:
    """The full text of a response of ``num_tokens`` tokens."""
    n = len(OUTPUT_WORDS)
    return "".join(OUTPUT_WORDS[i % n] for i in range(num_tokens))


def _approx_count(text: str) -> int:
    return max(len(text.split()), math.ceil(len(text) / CHARS_PER_TOKEN))


def load_tokenizer_counter(tokenizer_path: str) -> Callable[[str], int]:
    """Load a HF ``tokenizer.json`` and return ``text -> number of tokens``."""
    path = Path(tokenizer_path)
    file_path = path / "tokenizer.json" if path.is_dir() else path
    if not file_path.is_file():
        raise ConfigError(f"sim field 'tokenizer_path' = {tokenizer_path!r}: no tokenizer.json found there")
    try:
        import tokenizers
    except ImportError as exc:
        raise ConfigError(
            "sim field 'tokenizer_path' needs the 'tokenizers' package", hint="pip install tokenizers"
        ) from exc
    try:
        tokenizer = tokenizers.Tokenizer.from_file(str(file_path))
    except Exception as exc:  # the Rust side raises plain Exception subclasses
        raise ConfigError(f"sim field 'tokenizer_path' = {tokenizer_path!r}: cannot load ({exc})") from exc
    return lambda text: len(tokenizer.encode(text).ids)


class InputTokenCounter:
    """Counts the input tokens of a completions prompt or chat messages (see the module docstring)."""

    def __init__(self, tokenizer_path: str | None = None) -> None:
        self._count_text = load_tokenizer_counter(tokenizer_path) if tokenizer_path else _approx_count

    def count_prompt(self, prompt: str | list[int]) -> int:
        if isinstance(prompt, list):
            return len(prompt)
        return self._count_text(prompt)

    def count_messages(self, messages: list[dict[str, Any]]) -> int:
        total = CHAT_TOKENS_PER_REPLY
        for message in messages:
            total += CHAT_TOKENS_PER_MESSAGE + self._count_text(_message_text(message.get("content")))
        return total


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict)]
        return "".join(p for p in parts if isinstance(p, str))
    return ""
