from __future__ import annotations

import numpy as np
import pytest

from ais_bench.benchmark.datasets import SyntheticDataset
from ais_bench.config.datasets import build_datasets
from ais_bench.datasets import load_items
from ais_bench.datasets.selection import parse_test_range
from ais_bench.datasets.synthetic import Gaussian, LengthDistribution, StringSpec, Zipf


def cfg(seed=0, count=50, test_range=None, inp=(8, 8), out=(32, 96)):
    entry = {
        "abbr": "syn",
        "type": SyntheticDataset,
        "config": {
            "Type": "string",
            "RequestCount": count,
            "StringConfig": {
                "Input": {"Method": "uniform", "Params": {"MinValue": inp[0], "MaxValue": inp[1]}},
                "Output": {"Method": "uniform", "Params": {"MinValue": out[0], "MaxValue": out[1]}},
            },
        },
        "seed": seed,
    }
    if test_range:
        entry["reader_cfg"] = {"test_range": test_range}
    return build_datasets([entry], "d.py")[0]


def test_prompt_and_lengths():
    items = load_items(cfg(), None)
    assert len(items) == 50
    assert items[0].prompt == "A A A A A A A A"
    assert all(32 <= i.max_out_len <= 96 and isinstance(i.max_out_len, int) for i in items)
    assert [i.index for i in items] == list(range(50))


def test_seeded_reproducible():
    a = [(i.prompt, i.max_out_len) for i in load_items(cfg(seed=5, inp=(1, 100)), None)]
    b = [(i.prompt, i.max_out_len) for i in load_items(cfg(seed=5, inp=(1, 100)), None)]
    c = [(i.prompt, i.max_out_len) for i in load_items(cfg(seed=6, inp=(1, 100)), None)]
    assert a == b and a != c


def test_selection_does_not_change_rows():
    full = load_items(cfg(seed=3), None)
    first = load_items(cfg(seed=3), 10)
    ranged = load_items(cfg(seed=3, test_range="[5:15]"), 2)
    assert [i.max_out_len for i in first] == [i.max_out_len for i in full[:10]]
    assert [i.max_out_len for i in ranged] == [i.max_out_len for i in full[5:15]]
    assert ranged.warnings and "ignored" in ranged.warnings[0]


def test_uniform_covers_both_ends():
    spec = StringSpec(LengthDistribution(1, 3), LengthDistribution(5, 5))
    inputs, outputs = spec.sample(2000, seed=0)
    assert set(inputs.tolist()) == {1, 2, 3} and set(outputs.tolist()) == {5}


def test_gaussian_and_zipf_clipped():
    spec = StringSpec(LengthDistribution(10, 20, Gaussian(mean=15, var=100)), LengthDistribution(2, 50, Zipf(1.5)))
    inputs, outputs = spec.sample(500, seed=1)
    assert inputs.min() >= 10 and inputs.max() <= 20 and outputs.min() >= 2 and outputs.max() <= 50
    assert inputs.dtype == np.int64


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[0:8]", slice(0, 8)),
        ("[:5]", slice(None, 5)),
        ("[2:]", slice(2, None)),
        (" [1:9:2] ", slice(1, 9, 2)),
    ],
)
def test_parse_test_range(text, expected):
    assert parse_test_range(text) == expected


@pytest.mark.parametrize("text", ["0:8", "[a:b]", "[1:2:0]", "[5]"])
def test_parse_test_range_rejects(text):
    with pytest.raises(ValueError):
        parse_test_range(text)
