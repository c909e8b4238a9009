"""Synthetic datasets: seeded rows, no files needed. Two types (AISBench ``synthetic_config["Type"]``).

``string``: each row's prompt is the letter ``A`` repeated input-length times, space separated (``"A A A"``),
and its ``max_out_len`` is the sampled output length (overriding the model's). Lengths are drawn
from one ``numpy.random.Generator`` seeded with ``seed`` (all input lengths first, then all output
lengths), so the same seed gives the same rows. Distributions (AISBench ``StringConfig``):

* ``uniform``: integers in ``[MinValue, MaxValue]`` inclusive (MinValue == MaxValue: fixed length);
* ``gaussian``: ``normal(Mean, sqrt(Var))`` clipped to ``[MinValue, MaxValue]``, truncated to int;
* ``zipf``: ``zipf(Alpha)`` clipped to ``[MinValue, MaxValue]``.

``tokenid``: each row's prompt is ``TokenIdConfig.RequestSize`` random token ids of the model's
tokenizer (special tokens excluded; see ``token_text``) decoded to text; the first
``TokenIdConfig.PrefixLen`` of them are one random prefix shared by every row (prefix-cache tests).
Rows ask for the model's ``max_out_len`` (use ``ignore_eos=True`` for fixed outputs). The prefix is
drawn first, then each row's remaining ids, all from one generator seeded with ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ais_bench.datasets.item import RequestItem
from ais_bench.datasets.token_text import random_token_ids, require_tokenizer, token_text

if TYPE_CHECKING:
    from ais_bench.tokens import TextTokenizer

METHODS = ("uniform", "gaussian", "zipf")
MAX_LENGTH = 2**20
MAX_REQUEST_COUNT = 2**20


@dataclass(frozen=True)
class LengthDistribution:
    """How one length (in tokens) is sampled; ``mean``/``var`` for gaussian, ``alpha`` for zipf."""

    method: str
    min_value: int
    max_value: int
    mean: float | None = None
    var: float | None = None
    alpha: float | None = None

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        values: np.ndarray
        if self.method == "uniform":
            values = rng.integers(self.min_value, self.max_value, size=n, endpoint=True)
        elif self.method == "gaussian" and self.mean is not None and self.var is not None:
            values = rng.normal(self.mean, np.sqrt(self.var), size=n)
        elif self.method == "zipf" and self.alpha is not None:
            values = rng.zipf(self.alpha, size=n)
        else:
            raise ValueError(f"length distribution {self.method!r} without its parameters")
        return np.clip(values, self.min_value, self.max_value).astype(np.int64)


@dataclass(frozen=True)
class TokenIdSpec:
    """``request_size`` tokens per prompt, of which the first ``prefix_len`` are shared by all rows."""

    request_size: int
    prefix_len: int = 0


@dataclass(frozen=True)
class SyntheticSpec:
    """``request_count`` rows; ``seed`` None = a fresh random draw each run. ``string`` type:
    ``input_len``/``output_len``; ``tokenid`` type: ``token_id``."""

    request_count: int
    input_len: LengthDistribution | None = None
    output_len: LengthDistribution | None = None
    seed: int | None = None
    token_id: TokenIdSpec | None = None

    @property
    def kind(self) -> str:
        return "tokenid" if self.token_id is not None else "string"


def sample_lengths(spec: SyntheticSpec) -> tuple[np.ndarray, np.ndarray]:
    """(input lengths, output lengths), one per row, in tokens (``string`` type)."""
    assert spec.input_len is not None and spec.output_len is not None
    rng = np.random.default_rng(spec.seed)
    inputs = spec.input_len.sample(rng, spec.request_count)
    outputs = spec.output_len.sample(rng, spec.request_count)
    return inputs, outputs


def load_synthetic_items(
    spec: SyntheticSpec, abbr: str, selection: slice, tokenizer: TextTokenizer | None = None
) -> list[RequestItem]:
    """Request items for the selected rows (rows are generated in full first, so selection never
    changes the values of a row)."""
    if spec.token_id is not None:
        return _token_id_items(spec, abbr, selection, require_tokenizer(tokenizer, abbr, "synthetic tokenid"))
    inputs, outputs = sample_lengths(spec)
    rows = list(zip(inputs.tolist(), outputs.tolist(), strict=True))[selection]
    return [
        RequestItem(index=i, prompt=" ".join(["A"] * n_in), data_abbr=abbr, max_out_len=n_out)
        for i, (n_in, n_out) in enumerate(rows)
    ]


def _token_id_items(spec: SyntheticSpec, abbr: str, selection: slice, tokenizer: TextTokenizer) -> list[RequestItem]:
    assert spec.token_id is not None
    rng = np.random.default_rng(spec.seed)
    prefix = random_token_ids(tokenizer, rng, spec.token_id.prefix_len)
    rest = spec.token_id.request_size - spec.token_id.prefix_len
    chosen = range(spec.request_count)[selection]
    wanted = set(chosen)
    texts: dict[int, str] = {}
    for row in range(spec.request_count):  # draw every row so a row's text never depends on selection
        ids = random_token_ids(tokenizer, rng, rest)
        if row in wanted:
            texts[row] = token_text(tokenizer, np.concatenate([prefix, ids]))
    return [RequestItem(index=i, prompt=texts[row], data_abbr=abbr) for i, row in enumerate(chosen)]
