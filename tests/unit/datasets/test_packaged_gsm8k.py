"""GSM8K ships inside the package (``ais_bench/datasets/gsm8k/``): the GSM8K configs run with no data
root set; ``AIS_BENCH_DATA_ROOT`` still wins when set."""

from __future__ import annotations

import json
from pathlib import Path

import ais_bench
from ais_bench.config.datasets import load_datasets
from ais_bench.config.resolve import resolve_config_file
from ais_bench.datasets import load_items
from ais_bench.datasets.gsm8k import FOUR_SHOT_EXAMPLES, gsm8k_files
from ais_bench.datasets.paths import DATA_ROOT_ENV
from tests.support.paths import GSM8K_DIR, require

PACKAGED = Path(ais_bench.__file__).resolve().parent / "datasets" / "gsm8k"

needs_shared = require(GSM8K_DIR / "train.jsonl", "shared GSM8K data")


def _builtin(name: str):
    return load_datasets(resolve_config_file("datasets", name, "/nonexistent").path)[0]


def _questions(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line)["question"] for line in f]


def test_without_a_data_root_the_packaged_files_are_used(monkeypatch):
    monkeypatch.delenv(DATA_ROOT_ENV, raising=False)
    assert gsm8k_files("") == (PACKAGED / "test.jsonl", PACKAGED / "train.jsonl")
    items = load_items(_builtin("demo_gsm8k_gen_4_shot_cot_chat_prompt"), None)
    assert len(items) == 8 and items.warnings == []
    first = _questions(PACKAGED / "test.jsonl")[0]
    assert items[0].prompt[-1]["content"] == f"Question: {first}\nLet's think step by step\nAnswer:"
    assert len(load_items(_builtin("gsm8k_gen_4_shot_cot_chat_prompt"), None)) == 1319


def test_the_data_root_overrides_the_packaged_files(tmp_path, monkeypatch):
    folder = tmp_path / "gsm8k"
    folder.mkdir()
    (folder / "test.jsonl").write_text('{"question": "own q1", "answer": "1"}\n{"question": "own q2", "answer": "2"}\n')
    (folder / "train.jsonl").write_text("")
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path))
    items = load_items(_builtin("gsm8k_gen_0_shot_cot_str_perf"), None)
    assert [item.prompt.split("\n")[0] for item in items] == ["own q1", "own q2"]


def test_the_license_lies_beside_the_data():
    text = (PACKAGED / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "Copyright (c) 2021 OpenAI" in text


def test_the_packaged_train_rows_are_the_four_shot_examples():
    # train.jsonl is not read by any loader (it must exist, as in AISBench); only the four rows the
    # 4-shot prompt is built from ship, so the package stays small.
    shipped = _questions(PACKAGED / "train.jsonl")
    assert sorted(shipped) == sorted(question for question, _ in FOUR_SHOT_EXAMPLES)


@needs_shared
def test_the_packaged_files_are_the_published_ones():
    assert (PACKAGED / "test.jsonl").read_bytes() == (GSM8K_DIR / "test.jsonl").read_bytes()
    published = (GSM8K_DIR / "train.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    shipped = (PACKAGED / "train.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    assert all(line in published for line in shipped)
    assert (PACKAGED / "LICENSE").read_bytes() == (GSM8K_DIR / "LICENSE").read_bytes()
