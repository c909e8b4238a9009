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

MAX_LENGTH = 2**20
MAX_REQUEST_COUNT = 2**20


@dataclass(frozen=True)
class Gaussian:
    """``normal(mean, sqrt(var))``, in tokens."""

    mean: float
    var: float


@dataclass(frozen=True)
class Zipf:
    """``zipf(alpha)``, in tokens."""

    alpha: float


@dataclass(frozen=True)
class LengthDistribution:
    """How one length (in tokens) is sampled: integers in ``[min_value, max_value]``, uniform when
    ``shape`` is None, else drawn from it and clipped to that range."""

    min_value: int
    max_value: int
    shape: Gaussian | Zipf | None = None

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        values: np.ndarray
        if isinstance(self.shape, Gaussian):
            values = rng.normal(self.shape.mean, np.sqrt(self.shape.var), size=n)
        elif isinstance(self.shape, Zipf):
            values = rng.zipf(self.shape.alpha, size=n)
        else:
            values = rng.integers(self.min_value, self.max_value, size=n, endpoint=True)
        return np.clip(values, self.min_value, self.max_value).astype(np.int64)


@dataclass(frozen=True)
class StringSpec:
    """``string`` type: each row's input and output length, from these distributions."""

    input_len: LengthDistribution
    output_len: LengthDistribution

    def sample(self, request_count: int, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
        """(input lengths, output lengths), one per row, in tokens: all inputs first, then all outputs."""
        rng = np.random.default_rng(seed)
        inputs = self.input_len.sample(rng, request_count)
        outputs = self.output_len.sample(rng, request_count)
        return inputs, outputs


@dataclass(frozen=True)
class TokenIdSpec:
    """``tokenid`` type: ``request_size`` tokens per prompt, of which the first ``prefix_len`` are
    shared by all rows."""

    request_size: int
    prefix_len: int = 0


@dataclass(frozen=True)
class SyntheticSpec:
    """``request_count`` rows made as ``prompts`` says (its type: ``StringSpec`` or ``TokenIdSpec``);
    ``seed`` None = a fresh random draw each run."""

    request_count: int
    prompts: StringSpec | TokenIdSpec
    seed: int | None = None

    @property
    def kind(self) -> str:
        return "tokenid" if isinstance(self.prompts, TokenIdSpec) else "string"


def load_synthetic_items(
    spec: SyntheticSpec, abbr: str, selection: slice, tokenizer: TextTokenizer | None = None
) -> list[RequestItem]:
    """Request items for the selected rows (rows are generated in full first, so selection never
    changes the values of a row)."""
    if isinstance(spec.prompts, TokenIdSpec):
        tokenizer = require_tokenizer(tokenizer, abbr, "synthetic tokenid")
        return _token_id_items(spec, spec.prompts, abbr, selection, tokenizer)
    inputs, outputs = spec.prompts.sample(spec.request_count, spec.seed)
    rows = list(zip(inputs.tolist(), outputs.tolist(), strict=True))[selection]
    return [
        RequestItem(index=i, prompt=" ".join(["A"] * n_in), data_abbr=abbr, max_out_len=n_out)
        for i, (n_in, n_out) in enumerate(rows)
    ]


def _token_id_items(
    spec: SyntheticSpec, token_id: TokenIdSpec, abbr: str, selection: slice, tokenizer: TextTokenizer
) -> list[RequestItem]:
    rng = np.random.default_rng(spec.seed)
    prefix = random_token_ids(tokenizer, rng, token_id.prefix_len)
    rest = token_id.request_size - token_id.prefix_len
    chosen = range(spec.request_count)[selection]
    wanted = set(chosen)
    texts: dict[int, str] = {}
    for row in range(spec.request_count):  # draw every row so a row's text never depends on selection
        ids = random_token_ids(tokenizer, rng, rest)
        if row in wanted:
            texts[row] = token_text(tokenizer, np.concatenate([prefix, ids]))
    return [RequestItem(index=i, prompt=texts[row], data_abbr=abbr) for i, row in enumerate(chosen)]
