"""A Hugging Face tokenizer loaded offline from a model folder (the model config's ``path``).

The folder holds ``tokenizer.json`` (read with the ``tokenizers`` package, no ``transformers``) and,
optionally, ``tokenizer_config.json`` (special tokens and the ``chat_template``) or a
``chat_template.jinja`` file. ``path`` may also name the ``tokenizer.json`` file itself.

Counting rules (DESIGN decision 4, behaviour spec §3):

* a string prompt is encoded with the tokenizer's special tokens added (BOS where the tokenizer adds
  one), as servers encode a completions prompt;
* a chat prompt (list of messages) is rendered with the chat template (``add_generation_prompt=True``)
  and the rendered text encoded *without* adding special tokens again (the template writes them), as
  ``apply_chat_template(tokenize=True)`` and vLLM do. Without a template, or when the template refuses
  the messages, the message contents joined by newlines are encoded with special tokens (AISBench's
  fallback) and a warning says so;
* generated text is encoded without special tokens; reasoning, when present, counts as
  ``reasoning + "</think>" + content`` (AISBench's rule).

Texts are encoded in batches (``encode_batch_fast``: Rust threads, no offsets), so a million outputs
take seconds to minutes rather than hours.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ais_bench.errors import ConfigError
from ais_bench.tokens.chat_template import ChatTemplateError, compile_chat_template, render_chat

if TYPE_CHECKING:
    import tokenizers

#: Texts encoded per ``encode_batch_fast`` call (bounds memory for very large runs).
BATCH_TEXTS = 8192
#: Joined between reasoning and content when counting output tokens (AISBench).
THINK_END = "</think>"
#: A "plain word" token: one leading space and lower-case letters (byte-level BPE spelling).
_PLAIN_WORD = re.compile(r"^ [a-z]{2,}$")

Prompt = str | list[dict[str, Any]]


class TextTokenizer:
    """Counts tokens with one tokenizer; see the module docstring for the rules."""

    def __init__(self, path: Path, tokenizer: tokenizers.Tokenizer, config: dict[str, Any], chat_template: str | None) -> None:
        self.path = path
        self._tok = tokenizer
        self._tok.no_truncation()
        self._tok.no_padding()
        self.special_tokens = _special_tokens(config)
        self.chat_template_source = chat_template
        self._template = compile_chat_template(chat_template) if chat_template else None
        self.warnings: list[str] = []

    # -- encoding ------------------------------------------------------------------------------
    def encode(self, text: str, *, add_special_tokens: bool = False) -> list[int]:
        return list(self._tok.encode(text, add_special_tokens=add_special_tokens).ids)

    def decode(self, ids: Sequence[int]) -> str:
        return self._tok.decode(list(ids), skip_special_tokens=False)

    def count_texts(self, texts: Sequence[str], *, add_special_tokens: bool = False) -> np.ndarray:
        """Token count of each text (int64 array), encoded in batches."""
        out = np.zeros(len(texts), dtype=np.int64)
        encode_batch = getattr(self._tok, "encode_batch_fast", self._tok.encode_batch)
        for lo in range(0, len(texts), BATCH_TEXTS):
            chunk = list(texts[lo : lo + BATCH_TEXTS])
            encodings = encode_batch(chunk, add_special_tokens=add_special_tokens)
            out[lo : lo + len(chunk)] = [len(e.ids) for e in encodings]
        return out

    # -- prompts and outputs -------------------------------------------------------------------
    def render_chat(self, messages: list[dict[str, Any]]) -> str:
        """The chat prompt as the server's template renders it; ``ChatTemplateError`` if it cannot."""
        if self._template is None:
            raise ChatTemplateError("the tokenizer has no chat_template")
        return render_chat(self._template, messages, self.special_tokens)

    def count_prompts(self, prompts: Sequence[Prompt]) -> np.ndarray:
        """Input tokens of each prompt (string or chat messages), by the rules above."""
        plain: list[str] = []
        plain_at: list[int] = []
        rendered: list[str] = []
        rendered_at: list[int] = []
        fallbacks = 0
        for i, prompt in enumerate(prompts):
            if isinstance(prompt, str):
                plain.append(prompt)
                plain_at.append(i)
                continue
            try:
                rendered.append(self.render_chat(prompt))
                rendered_at.append(i)
            except ChatTemplateError:
                fallbacks += 1
                plain.append("\n".join(str(m.get("content", "")) for m in prompt))
                plain_at.append(i)
        counts = np.zeros(len(prompts), dtype=np.int64)
        if plain:
            counts[plain_at] = self.count_texts(plain, add_special_tokens=True)
        if rendered:
            counts[rendered_at] = self.count_texts(rendered, add_special_tokens=False)
        if fallbacks and self._template is None:
            self._warn(f"the tokenizer at {self.path} has no chat_template: chat prompts were counted as "
                       "their message contents joined by newlines")
        elif fallbacks:
            self._warn(f"the chat_template of {self.path} refused {fallbacks} chat prompt(s): they were "
                       "counted as their message contents joined by newlines")
        return counts

    def count_outputs(self, texts: Sequence[str], reasoning: Sequence[str]) -> np.ndarray:
        """Output tokens of each response: ``reasoning + "</think>" + text`` when reasoning exists."""
        joined = [f"{r}{THINK_END}{t}" if r else t for t, r in zip(texts, reasoning, strict=True)]
        return self.count_texts(joined, add_special_tokens=False)

    # -- generation of synthetic prompts -------------------------------------------------------
    @functools.cached_property
    def special_ids(self) -> frozenset[int]:
        decoder = self._tok.get_added_tokens_decoder()
        return frozenset(i for i, tok in decoder.items() if tok.special)

    @functools.cached_property
    def word_pool(self) -> np.ndarray:
        """Token ids safe for generated prompts: plain words (``" word"``) that encode back to
        themselves, so a run of them re-tokenizes to exactly the same ids. Byte-level BPE tokenizers
        (GPT-2, Llama 3, Qwen, SmolLM) have thousands; for others the pool is every non-special id
        (lengths are then approximate, as in AISBench)."""
        size = self._tok.get_vocab_size(with_added_tokens=True)
        ids = [i for i in range(size) if i not in self.special_ids]
        texts = self._tok.decode_batch([[i] for i in ids], skip_special_tokens=False)
        candidates = [(i, t) for i, t in zip(ids, texts, strict=True) if _PLAIN_WORD.match(t)]
        if candidates:
            encodings = self._tok.encode_batch([t for _, t in candidates], add_special_tokens=False)
            pool = [i for (i, _), enc in zip(candidates, encodings, strict=True) if enc.ids == [i]]
            if len(pool) >= 100:
                return np.asarray(pool, dtype=np.int64)
        return np.asarray(ids, dtype=np.int64)

    def _warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)


def _special_tokens(config: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in config.items():
        if not key.endswith("_token"):
            continue
        if isinstance(value, dict):
            value = value.get("content")
        if isinstance(value, str):
            out[key] = value
    return out


def _chat_template(folder: Path, config: dict[str, Any]) -> str | None:
    jinja_file = folder / "chat_template.jinja"
    if jinja_file.is_file():
        return jinja_file.read_text(encoding="utf-8")
    template = config.get("chat_template")
    if isinstance(template, list):  # [{"name": "default", "template": "..."}, ...]
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        template = named.get("default") or next(iter(named.values()), None)
    return template if isinstance(template, str) and template.strip() else None


def _tokenizer_files(path: str) -> tuple[Path, Path]:
    given = Path(path).expanduser()
    if given.is_file():
        return given, given.parent
    return given / "tokenizer.json", given


@functools.lru_cache(maxsize=8)
def _load(resolved: str) -> TextTokenizer:
    json_file, folder = _tokenizer_files(resolved)
    if not json_file.is_file():
        raise ConfigError(
            f"no tokenizer.json in {folder}",
            hint="set the model config's path to a Hugging Face model folder holding tokenizer.json "
            "(tokenizer_config.json for the chat template), or path='' for none; "
            "see docs/troubleshooting.md#tokenizer-path",
        )
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise ConfigError(
            f"the model config's path={resolved!r} needs the tokenizers package",
            hint="pip install 'ais_bench[tokenizer]'",
        ) from None
    try:
        tokenizer = Tokenizer.from_file(str(json_file))
    except Exception as exc:  # the Rust side raises plain Exception subclasses
        raise ConfigError(f"cannot load {json_file}: {exc}") from None
    config: dict[str, Any] = {}
    config_file = folder / "tokenizer_config.json"
    if config_file.is_file():
        try:
            config = json.loads(config_file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{config_file} is not valid JSON: {exc}") from None
        if not isinstance(config, dict):
            raise ConfigError(f"{config_file} is not a JSON object")
    return TextTokenizer(folder, tokenizer, config, _chat_template(folder, config))


def load_tokenizer(path: str | Path) -> TextTokenizer:
    """The tokenizer of a model folder (cached per folder). ``ConfigError`` when it cannot be loaded."""
    return _load(str(Path(path).expanduser().resolve()))

