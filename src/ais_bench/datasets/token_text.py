"""Prompt text built from token ids, so a prompt has a chosen length in the model's tokens.

Ids are drawn from the tokenizer's ``word_pool`` (plain-word tokens that re-tokenize to themselves,
so the decoded text encodes back to exactly the same number of tokens; see
``ais_bench.tokens.TextTokenizer.word_pool``), never from special tokens. Draws come from a
``numpy.random.Generator`` passed in, so a seed reproduces the prompts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ais_bench.errors import DatasetError

if TYPE_CHECKING:
    from ais_bench.tokens import TextTokenizer


def require_tokenizer(tokenizer: TextTokenizer | None, abbr: str, what: str) -> TextTokenizer:
    """The tokenizer, or a ``DatasetError`` saying that this dataset needs one."""
    if tokenizer is None:
        raise DatasetError(
            f"dataset '{abbr}' ({what}) needs the served model's tokenizer",
            hint="set path= in the model config to the model folder holding tokenizer.json; "
            "see docs/troubleshooting.md#tokenizer-path",
        )
    return tokenizer


def random_token_ids(tokenizer: TextTokenizer, rng: np.random.Generator, n_tokens: int) -> np.ndarray:
    """``n_tokens`` ids drawn uniformly (with replacement) from the tokenizer's word pool."""
    return rng.choice(tokenizer.word_pool, size=n_tokens)


def token_text(tokenizer: TextTokenizer, ids: np.ndarray | list[int]) -> str:
    """The text of ``ids`` (decoded with special tokens kept, as AISBench does)."""
    return tokenizer.decode(np.asarray(ids).tolist())
