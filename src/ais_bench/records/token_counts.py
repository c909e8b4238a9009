"""What the model's tokenizer counted for a run, stored with the run so a recalculation needs no
tokenizer and no dataset.

``records/<ds>.tokens.npz`` (numpy ``savez``, no pickled objects; written to ``.tmp`` and renamed),
present when the model config's ``path`` names a tokenizer:

- ``tokenizer_path``: 0-d str, the tokenizer folder (named in the mismatch warning);
- ``prompt_tokens``: int64 by data index, each dataset row's prompt as sent (chat messages rendered
  with the chat template), counted **before sending**;
- ``output_request_id`` / ``output_tokens``: int64, the generated text (reasoning included) of the
  requests the tokenizer counted **after the run** (those without the server's usage, plus the
  sample checked against usage, see ``records.table``); absent when the run was killed first;
- ``warnings``: str array, the tokenizer's own warnings (e.g. chat prompts without a template).

``<ds>_details.h5`` holds the same counts per request (``tokenizer_input_tokens``,
``tokenizer_output_tokens``, -1 = not counted; attributes ``tokenizer_path``, ``tokenizer_warnings``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ais_bench.records.store import RECORDS_DIRNAME

if TYPE_CHECKING:
    from ais_bench.tokens import TextTokenizer

#: Value of a request the tokenizer did not count.
NOT_COUNTED = -1


@dataclass
class TokenizerCounts:
    """The tokenizer's counts per request of a run (row order of its ``RecordColumns``).

    ``input_tokens`` / ``output_tokens``: int64 (n,), ``NOT_COUNTED`` where it did not count.
    ``path``: the tokenizer's folder. ``warnings``: its own warnings about the counting.
    """

    path: str
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    warnings: list[str] = field(default_factory=list)

    def take(self, index: np.ndarray) -> TokenizerCounts:
        return TokenizerCounts(self.path, self.input_tokens[index], self.output_tokens[index], list(self.warnings))


@dataclass
class StoredTokenCounts:
    """The content of ``records/<ds>.tokens.npz`` (see the module docstring)."""

    tokenizer_path: str
    prompt_tokens: np.ndarray
    output_request_id: np.ndarray | None = None
    output_tokens: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)

    def per_request(self, data_index: np.ndarray, request_id: np.ndarray) -> TokenizerCounts:
        """The counts of each request (``request_id`` sorted ascending, as ``RecordColumns`` rows are)."""
        prompts = self.prompt_tokens
        known = (data_index >= 0) & (data_index < prompts.shape[0])
        inputs = np.full(data_index.shape[0], NOT_COUNTED, dtype=np.int64)
        inputs[known] = prompts[data_index[known]]
        outputs = np.full(request_id.shape[0], NOT_COUNTED, dtype=np.int64)
        if self.output_request_id is not None and self.output_tokens is not None and request_id.shape[0]:
            at = np.clip(np.searchsorted(request_id, self.output_request_id), 0, request_id.shape[0] - 1)
            found = request_id[at] == self.output_request_id
            outputs[at[found]] = self.output_tokens[found]
        return TokenizerCounts(self.tokenizer_path, inputs, outputs, list(self.warnings))


def token_counts_path(perf_dir: Path, data_abbr: str) -> Path:
    """``performances/<model_abbr>/records/<ds>.tokens.npz``."""
    return perf_dir / RECORDS_DIRNAME / f"{data_abbr}.tokens.npz"


def write_token_counts(perf_dir: Path, data_abbr: str, stored: StoredTokenCounts) -> Path:
    path = token_counts_path(perf_dir, data_abbr)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {
        "tokenizer_path": np.array(stored.tokenizer_path),
        "prompt_tokens": np.asarray(stored.prompt_tokens, dtype=np.int64),
        "warnings": np.array(stored.warnings, dtype=str),
    }
    if stored.output_request_id is not None and stored.output_tokens is not None:
        arrays["output_request_id"] = np.asarray(stored.output_request_id, dtype=np.int64)
        arrays["output_tokens"] = np.asarray(stored.output_tokens, dtype=np.int64)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as handle:
        np.savez(handle, **arrays)
    os.replace(tmp, path)
    return path


def read_token_counts(perf_dir: Path, data_abbr: str) -> StoredTokenCounts | None:
    """The stored counts, None when the run had no tokenizer (or predates this file)."""
    path = token_counts_path(perf_dir, data_abbr)
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as data:
        has_outputs = "output_request_id" in data.files
        return StoredTokenCounts(
            tokenizer_path=str(data["tokenizer_path"]),
            prompt_tokens=data["prompt_tokens"],
            output_request_id=data["output_request_id"] if has_outputs else None,
            output_tokens=data["output_tokens"] if has_outputs else None,
            warnings=[str(w) for w in data["warnings"].tolist()],
        )


def store_prompt_token_counts(
    perf_dir: Path, data_abbr: str, tokenizer: TextTokenizer, prompts: Sequence[Any]
) -> StoredTokenCounts:
    """Count every dataset row's prompt as sent (by data index) and store it, before sending."""
    stored = StoredTokenCounts(str(tokenizer.path), tokenizer.count_prompts(list(prompts)))
    stored.warnings = list(tokenizer.warnings)
    write_token_counts(perf_dir, data_abbr, stored)
    return stored
