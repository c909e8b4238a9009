"""Synthetic string dataset: seeded input/output lengths, no files needed.

Each row's prompt is the letter ``A`` repeated input-length times, space separated (``"A A A"``),
and its ``max_out_len`` is the sampled output length (overriding the model's). Lengths are drawn
from one ``numpy.random.Generator`` seeded with ``seed`` (all input lengths first, then all output
lengths), so the same seed gives the same rows. Distributions (AISBench ``StringConfig``):

* ``uniform``: integers in ``[MinValue, MaxValue]`` inclusive (MinValue == MaxValue: fixed length);
* ``gaussian``: ``normal(Mean, sqrt(Var))`` clipped to ``[MinValue, MaxValue]``, truncated to int;
* ``zipf``: ``zipf(Alpha)`` clipped to ``[MinValue, MaxValue]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ais_bench.datasets.item import RequestItem

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
        if self.method == "uniform":
            values = rng.integers(self.min_value, self.max_value, size=n, endpoint=True)
        elif self.method == "gaussian":
            values = rng.normal(self.mean, np.sqrt(self.var), size=n)
        else:
            values = rng.zipf(self.alpha, size=n)
        return np.clip(values, self.min_value, self.max_value).astype(np.int64)


@dataclass(frozen=True)
class SyntheticSpec:
    """``request_count`` rows; ``seed`` None = a fresh random draw each run."""

    request_count: int
    input_len: LengthDistribution
    output_len: LengthDistribution
    seed: int | None = None


def sample_lengths(spec: SyntheticSpec) -> tuple[np.ndarray, np.ndarray]:
    """(input lengths, output lengths), one per row, in tokens."""
    rng = np.random.default_rng(spec.seed)
    inputs = spec.input_len.sample(rng, spec.request_count)
    outputs = spec.output_len.sample(rng, spec.request_count)
    return inputs, outputs


def load_synthetic_items(spec: SyntheticSpec, abbr: str, selection: slice) -> list[RequestItem]:
    """Request items for the selected rows (rows are generated in full first, so selection never
    changes the values of a row)."""
    inputs, outputs = sample_lengths(spec)
    rows = list(zip(inputs.tolist(), outputs.tolist(), strict=True))[selection]
    return [
        RequestItem(index=i, prompt=" ".join(["A"] * n_in), data_abbr=abbr, max_out_len=n_out)
        for i, (n_in, n_out) in enumerate(rows)
    ]
