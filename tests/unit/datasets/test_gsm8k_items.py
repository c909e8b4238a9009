from __future__ import annotations

import json
from pathlib import Path

import pytest

from ais_bench.benchmark.datasets import GSM8KDataset
from ais_bench.config.datasets import load_datasets, validate_dataset
from ais_bench.config.resolve import resolve_config_file
from ais_bench.datasets import load_items, prompt_text
from ais_bench.datasets.gsm8k import four_shot_chat_template
from ais_bench.datasets.paths import DATA_ROOT_ENV, data_root, resolve_data_path
from ais_bench.errors import DatasetError
from tests.support.paths import SHARED_DATA as SHARED_ROOT
from tests.support.paths import require

needs_data = require(SHARED_ROOT / "gsm8k" / "test.jsonl", "shared GSM8K data")


@pytest.fixture
def shared_root(monkeypatch):
    monkeypatch.setenv(DATA_ROOT_ENV, str(SHARED_ROOT))


def builtin(name):
    return load_datasets(resolve_config_file("datasets", name, "/nonexistent").path)[0]


def first_question():
    with (SHARED_ROOT / "gsm8k/test.jsonl").open(encoding="utf-8") as f:
        return json.loads(f.readline())["question"]


@needs_data
def test_demo_gives_8_items_of_9_messages(shared_root):
    items = load_items(builtin("demo_gsm8k_gen_4_shot_cot_chat_prompt"), None)
    assert len(items) == 8 and items.warnings == []
    assert [i.index for i in items] == list(range(8))
    assert all(len(i.prompt) == 9 and i.data_abbr == "demo_gsm8k" and i.max_out_len is None for i in items)
    roles = [m["role"] for m in items[0].prompt]
    assert roles == ["user", "assistant"] * 4 + ["user"]
    assert (
        items[0].prompt[-1]["content"] == f"Question: {first_question()}\nLet's think step by step\nAnswer:"
    )
    assert items[0].prompt[0]["content"].startswith("Question: Angelo and Melanie want to plan")
    assert items[0].prompt[1]["content"].endswith("The answer is 4\n")
    assert items[0].prompt[:8] == list(four_shot_chat_template()[:8])


@needs_data
def test_num_prompts_ignored_with_test_range(shared_root):
    items = load_items(builtin("demo_gsm8k_gen_4_shot_cot_chat_prompt"), 3)
    assert len(items) == 8
    assert items.warnings == [
        "--num-prompts 3 ignored for dataset 'demo_gsm8k': its config sets test_range='[0:8]'"
    ]


@needs_data
def test_full_dataset_and_num_prompts(shared_root):
    cfg = builtin("gsm8k_gen_4_shot_cot_chat_prompt")
    assert len(load_items(cfg, None)) == 1319
    items = load_items(cfg, 5)
    assert len(items) == 5 and items.warnings == []
    assert len(load_items(cfg, 5000)) == 1319
    assert "only 1319 rows" in load_items(cfg, 5000).warnings[0]


@needs_data
def test_string_prompt_variant(shared_root):
    items = load_items(builtin("gsm8k_gen_0_shot_cot_str_perf"), 2)
    assert items[0].prompt.startswith(first_question() + "\nPlease reason step by step")
    chat = load_items(builtin("demo_gsm8k_gen_4_shot_cot_chat_prompt"), None)[0].prompt
    text = prompt_text(chat)
    assert text.startswith("Question: Angelo") and text.endswith(
        f"Question: {first_question()}\nLet's think step by step\nAnswer:"
    )
    assert text.count("Question: ") == 5


@needs_data
def test_default_template_and_absolute_path(tmp_path):
    cfg = validate_dataset({"abbr": "g", "type": GSM8KDataset, "path": str(SHARED_ROOT / "gsm8k")}, "d.py")
    items = load_items(cfg, 1)
    assert len(items[0].prompt) == 9


def test_missing_files_say_where(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path))
    with pytest.raises(DatasetError) as info:
        load_items(builtin("demo_gsm8k_gen_4_shot_cot_chat_prompt"), None)
    err = info.value
    assert (
        str(tmp_path / "gsm8k/test.jsonl") in err.message
        and str(tmp_path / "gsm8k/train.jsonl") in err.message
    )
    assert DATA_ROOT_ENV in err.hint and str(tmp_path / "gsm8k") in err.hint and "gsm8k.zip" in err.hint


def test_missing_train_only(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path))
    (tmp_path / "gsm8k").mkdir()
    (tmp_path / "gsm8k/test.jsonl").write_text('{"question": "q", "answer": "a"}\n')
    with pytest.raises(DatasetError) as info:
        load_items(builtin("gsm8k_gen_4_shot_cot_chat_prompt"), None)
    assert "train.jsonl" in info.value.message and "test.jsonl" not in info.value.message


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "test.jsonl:2: not valid JSON"),
        ('{"answer": "1"}', "test.jsonl:2: field 'question' is missing or not a string"),
        ('{"question": 5}', "test.jsonl:2: field 'question' is missing or not a string"),
        ("[1, 2]", "test.jsonl:2: expected a JSON object"),
    ],
)
def test_malformed_line(tmp_path, monkeypatch, line, message):
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path))
    folder = tmp_path / "gsm8k"
    folder.mkdir()
    (folder / "train.jsonl").write_text("")
    (folder / "test.jsonl").write_text('{"question": "q", "answer": "a"}\n' + line + "\n")
    with pytest.raises(DatasetError) as info:
        load_items(builtin("gsm8k_gen_4_shot_cot_chat_prompt"), None)
    assert message in info.value.message and str(folder / "test.jsonl") in info.value.message


def test_a_test_file_that_is_not_utf8_is_named_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path))
    folder = tmp_path / "gsm8k"
    folder.mkdir()
    (folder / "train.jsonl").write_text("")
    (folder / "test.jsonl").write_bytes(b'{"question": "q\xff", "answer": "a"}\n')
    with pytest.raises(DatasetError) as info:
        load_items(builtin("gsm8k_gen_4_shot_cot_chat_prompt"), None)
    assert info.value.message.startswith(f"{folder / 'test.jsonl'}: not UTF-8 text")


def test_data_root_and_paths(tmp_path, monkeypatch):
    monkeypatch.delenv(DATA_ROOT_ENV, raising=False)
    import ais_bench

    assert data_root() == Path(ais_bench.__file__).resolve().parent / "datasets"
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path))
    assert resolve_data_path("ais_bench/datasets/gsm8k", "x") == tmp_path / "gsm8k"
    assert resolve_data_path("other/gsm8k", "x") == tmp_path / "other/gsm8k"
    assert resolve_data_path("", "ais_bench/datasets/gsm8k") == tmp_path / "gsm8k"
    assert resolve_data_path("/abs/gsm8k", "x") == Path("/abs/gsm8k")
