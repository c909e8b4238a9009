"""Synthetic ``tokenid`` rows: exact lengths in the model's tokens, shared prefix, seeded."""

from __future__ import annotations

import pytest

from ais_bench.benchmark.datasets import SyntheticDataset
from ais_bench.config import build_datasets
from ais_bench.datasets import load_items
from ais_bench.errors import ConfigError, DatasetError
from ais_bench.tokens import load_tokenizer
from tests.support.paths import SMOLLM2_DIR, require

needs_smollm2 = require(SMOLLM2_DIR, "SmolLM2 tokenizer")


def _cfg(size: int = 40, prefix: int = 0, count: int = 5, seed: int | None = 1):
    config = {"Type": "tokenid", "RequestCount": count, "TokenIdConfig": {"RequestSize": size, "PrefixLen": prefix}}
    return build_datasets([{"abbr": "tid", "type": SyntheticDataset, "config": config, "seed": seed}], "d.py")[0]


@needs_smollm2
def test_lengths_prefix_and_seed() -> None:
    tok = load_tokenizer(SMOLLM2_DIR)
    items = load_items(_cfg(prefix=16), tokenizer=tok)
    ids = [tok.encode(i.prompt) for i in items]
    assert [len(x) for x in ids] == [40] * 5
    assert all(x[:16] == ids[0][:16] for x in ids) and len({tuple(x[16:]) for x in ids}) == 5
    assert all(i.max_out_len is None for i in items)  # the model's max_out_len
    again = load_items(_cfg(prefix=16), tokenizer=tok)
    assert [i.prompt for i in again] == [i.prompt for i in items]
    # a selection keeps each row's text
    assert [i.prompt for i in load_items(_cfg(prefix=16), 2, tokenizer=tok)] == [i.prompt for i in items[:2]]
    other = load_items(_cfg(prefix=16, seed=2), tokenizer=tok)
    assert other[0].prompt != items[0].prompt


def test_needs_tokenizer() -> None:
    with pytest.raises(DatasetError, match="needs the served model's tokenizer"):
        load_items(_cfg())


@pytest.mark.parametrize(("size", "prefix", "message"), [(0, 0, "RequestSize = 0"), (8, 9, "PrefixLen = 9")])
def test_bad_values(size: int, prefix: int, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _cfg(size=size, prefix=prefix)
