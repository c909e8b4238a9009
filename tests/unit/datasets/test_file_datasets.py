"""ShareGPT, custom JSONL and trace datasets: rows, prompts, lengths, timestamps, and file errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ais_bench.benchmark.datasets import CustomDataset, MooncakeTraceDataset, ShareGPTDataset
from ais_bench.config import build_datasets
from ais_bench.datasets import load_items
from ais_bench.datasets.rows import read_rows
from ais_bench.errors import ConfigError, DatasetError
from ais_bench.tokens import load_tokenizer
from tests.support.paths import SMOLLM2_DIR, require

needs_smollm2 = require(SMOLLM2_DIR, "SmolLM2 tokenizer")


def _write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _cfg(entry: dict):
    return build_datasets([entry], "d.py")[0]


# -- the row reader --------------------------------------------------------------------------------
def test_rows_from_jsonl_and_json_array(tmp_path: Path) -> None:
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text('{"a": 1}\n\n{"a": 2}\n')
    assert list(read_rows(jsonl)) == [(1, {"a": 1}), (3, {"a": 2})]
    array = tmp_path / "b.json"
    array.write_text('[\n  {"a": 1},\n  {"a":\n 2}\n]\n')
    assert list(read_rows(array)) == [(2, {"a": 1}), (3, {"a": 2})]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1}\n{"a": \n', r"x:2: not valid JSON"),
        ('{"a": 1}\n[1]\n', r"x:2: expected a JSON object, got list"),
        ('[\n{"a": 1},\n{"a": 2\n]', r"x:4: not valid JSON"),
        ('[\n{"a": 1}\n{"a": 2}]', r"x:3: expected ',' or ']'"),
        ('[{"a": 1}  ', r"not closed"),
        ('[\n1]', r"x:2: expected a JSON object, got int"),
    ],
)
def test_malformed_files_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "x"
    path.write_text(text)
    with pytest.raises(DatasetError, match=message):
        list(read_rows(path))


# -- custom JSONL ----------------------------------------------------------------------------------
def test_custom_rows(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "c.jsonl", [
        {"prompt": "p1", "max_out_len": 5, "answer": "ignored"},
        {"question": "q2", "timestamp": 1500},
        {"messages": [{"role": "user", "content": "m3"}], "output_length": 7},
    ])
    items = load_items(_cfg({"abbr": "c", "type": CustomDataset, "path": str(path)}))
    assert [i.prompt for i in items] == ["p1", "q2", [{"role": "user", "content": "m3"}]]
    assert [i.max_out_len for i in items] == [5, None, 7]
    assert [i.timestamp_s for i in items] == [None, 1.5, None]
    assert [i.index for i in load_items(_cfg({"abbr": "c", "type": CustomDataset, "path": str(path)}), 2)] == [0, 1]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"answer": "x"}, r"c.jsonl:2: a row needs exactly one of 'prompt'.*found none"),
        ({"prompt": "a", "question": "b"}, r"found prompt and question"),
        ({"prompt": 3}, r"c.jsonl:2: field 'prompt' = 3 is not allowed: expected a non-empty string"),
        ({"prompt": "a", "max_out_len": 0}, r"field 'max_out_len' = 0 .* integer in \[1, 2147483647\]"),
        ({"prompt": "a", "timestamp": "soon"}, r"field 'timestamp' = \"soon\" .* milliseconds"),
        ({"messages": [{"role": "user"}]}, r"field 'messages\[0\]'"),
    ],
)
def test_custom_errors(tmp_path: Path, row: dict, message: str) -> None:
    path = _write_jsonl(tmp_path / "c.jsonl", [{"prompt": "ok"}, row])
    with pytest.raises(DatasetError, match=message):
        load_items(_cfg({"abbr": "c", "type": CustomDataset, "path": str(path)}))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="file not found") as info:
        load_items(_cfg({"abbr": "c", "type": CustomDataset, "path": str(tmp_path / "none.jsonl")}))
    assert info.value.hint
    with pytest.raises(DatasetError, match="ShareGPT dataset: file not found") as info:
        load_items(_cfg({"abbr": "s", "type": ShareGPTDataset, "path": str(tmp_path / "sg.json")}))
    assert "huggingface.co" in (info.value.hint or "")


# -- ShareGPT --------------------------------------------------------------------------------------
def _conv(i: int, *turns: tuple[str, str]) -> dict:
    return {"id": f"c{i}", "conversations": [{"from": f, "value": v} for f, v in turns]}


SHAREGPT = [
    _conv(0, ("human", "Q1"), ("gpt", " one two three"), ("human", "Q2"), ("gpt", " four five")),
    _conv(1, ("human", "lonely")),  # fewer than 2 turns: skipped
    _conv(2, ("gpt", "starts with the model"), ("human", "x")),  # skipped
    _conv(3, ("human", "a"), ("gpt", "b"), ("human", "odd")),  # odd: skipped
    _conv(4, ("human", "Q3"), ("gpt", " six")),
]


def _sharegpt(tmp_path: Path, **extra) -> object:
    path = tmp_path / "sg.json"
    path.write_text(json.dumps(SHAREGPT, indent=1))
    return _cfg({"abbr": "sg", "type": ShareGPTDataset, "path": str(path), **extra})


def test_sharegpt_every_turn_with_history(tmp_path: Path) -> None:
    items = load_items(_sharegpt(tmp_path))
    assert [i.prompt for i in items] == [
        [{"role": "user", "content": "Q1"}],
        [{"role": "user", "content": "Q1"}, {"role": "assistant", "content": " one two three"},
         {"role": "user", "content": "Q2"}],
        [{"role": "user", "content": "Q3"}],
    ]
    assert [i.max_out_len for i in items] == [None, None, None]
    assert [i.index for i in items] == [0, 1, 2]
    assert len(load_items(_sharegpt(tmp_path), num_prompts=1)) == 2  # selection counts conversations


@needs_smollm2
def test_sharegpt_lengths_from_tokenizer_and_last_mode(tmp_path: Path) -> None:
    infer_cfg = {"inferencer": {"infer_mode": "last"}}
    items = load_items(_sharegpt(tmp_path, infer_cfg=infer_cfg), tokenizer=load_tokenizer(SMOLLM2_DIR))
    assert [len(i.prompt) for i in items] == [3, 1]
    assert [i.max_out_len for i in items] == [2, 1]


def test_sharegpt_shuffle_is_seeded(tmp_path: Path) -> None:
    a = load_items(_sharegpt(tmp_path, disable_shuffle=False, seed=3))
    b = load_items(_sharegpt(tmp_path, disable_shuffle=False, seed=3))
    assert [i.prompt for i in a] == [i.prompt for i in b]


def test_sharegpt_malformed_turn(tmp_path: Path) -> None:
    path = tmp_path / "sg.json"
    path.write_text('[\n{"id": "a", "conversations": [{"from": "human", "value": "q"}, {"from": "gpt"}]}\n]')
    with pytest.raises(DatasetError, match=r"sg.json:2: field 'conversations\[1\]'"):
        load_items(_cfg({"abbr": "sg", "type": ShareGPTDataset, "path": str(path)}))


def test_sharegpt_bad_infer_mode() -> None:
    with pytest.raises(ConfigError, match="infer_mode = 'all' is not allowed"):
        _cfg({"abbr": "s", "type": ShareGPTDataset, "infer_cfg": {"inferencer": {"infer_mode": "all"}}})


# -- traces ----------------------------------------------------------------------------------------
def _trace(tmp_path: Path, rows: list, **extra) -> object:
    path = _write_jsonl(tmp_path / "trace.jsonl", rows)
    return _cfg({"abbr": "t", "type": MooncakeTraceDataset, "path": str(path), **extra})


def test_trace_input_text_and_schedule(tmp_path: Path) -> None:
    rows = [
        {"timestamp": 3000, "input_text": "late", "output_length": 4},
        {"timestamp": 1000, "input_text": "early"},
        {"input_text": "untimed"},
        {"timestamp": 2000.5, "input_text": "middle"},
    ]
    items = load_items(_trace(tmp_path, rows))
    assert [i.prompt for i in items] == ["untimed", "early", "middle", "late"]
    assert [i.timestamp_s for i in items] == [None, 1.0, 2.0005, 3.0]
    assert [i.max_out_len for i in items] == [None, None, None, 4]
    window = _trace(tmp_path, rows, fixed_schedule_auto_offset=True, fixed_schedule_start_offset=500,
                    fixed_schedule_end_offset=1500)
    assert [(i.prompt, i.timestamp_s) for i in load_items(window)] == [("untimed", None), ("middle", 1.0005)]


@needs_smollm2
def test_trace_prompts_from_hash_ids(tmp_path: Path) -> None:
    tok = load_tokenizer(SMOLLM2_DIR)
    rows = [
        {"timestamp": 0, "input_length": 600, "hash_ids": [7, 8], "output_length": 3},
        {"timestamp": 10, "input_length": 520, "hash_ids": [7, 9]},
        {"timestamp": 20, "input_length": 50},
    ]
    items = load_items(_trace(tmp_path, rows, block_size=512, random_seed=5), tokenizer=tok)
    ids = [tok.encode(i.prompt) for i in items]
    assert [len(x) for x in ids] == [600, 520, 50]
    assert ids[0][:512] == ids[1][:512]  # same hash id, same block (prefix-cache reuse)
    assert ids[0][512:520] != ids[1][512:520]
    again = load_items(_trace(tmp_path, rows, block_size=512, random_seed=5), tokenizer=tok)
    assert [i.prompt for i in again] == [i.prompt for i in items]


def test_trace_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"trace.jsonl:2: field 'input_length' = 1200 .* \[513, 1024\]"):
        load_items(_trace(tmp_path, [{"input_text": "ok"}, {"input_length": 1200, "hash_ids": [1, 2]}]))
    with pytest.raises(DatasetError, match=r"trace.jsonl:1: field 'input_length' is missing"):
        load_items(_trace(tmp_path, [{"timestamp": 1}]))
    with pytest.raises(DatasetError, match="needs the served model's tokenizer") as info:
        load_items(_trace(tmp_path, [{"input_length": 10}]))
    assert "path=" in (info.value.hint or "")
    with pytest.raises(ConfigError, match="fixed_schedule_end_offset = 5"):
        _trace(tmp_path, [], fixed_schedule_start_offset=10, fixed_schedule_end_offset=5)
