from __future__ import annotations

import pytest

from ais_bench.config.loader import BUILTIN_CONFIG_DIR
from ais_bench.config.resolve import (
    SEARCH_HEADER,
    find_config_files,
    resolve_config_file,
    resolve_config_files,
    search_rows,
    split_name,
)
from ais_bench.errors import ConfigError


def test_builtin_names_resolve():
    r = resolve_config_files(
        ["vllm_api_stream_chat"],
        ["demo_gsm8k_gen_4_shot_cot_chat_prompt"],
        "stable_stage",
        config_dir="/nonexistent",
    )
    assert r.models[0].path == BUILTIN_CONFIG_DIR / "models/vllm_api/vllm_api_stream_chat.py"
    assert r.datasets[0].path.name == "demo_gsm8k_gen_4_shot_cot_chat_prompt.py"
    assert r.summarizer.path == BUILTIN_CONFIG_DIR / "summarizers/perf/stable_stage.py"
    assert r.warnings == []
    rows = search_rows(r)
    assert SEARCH_HEADER == ("Task Type", "Task Name", "Config File Path")
    assert [row[:2] for row in rows] == [
        ("--models", "vllm_api_stream_chat"),
        ("--datasets", "demo_gsm8k_gen_4_shot_cot_chat_prompt"),
        ("--summarizer", "stable_stage"),
    ]
    assert rows[0][2] == str(r.models[0].path)


def test_config_dir_searched_first(write, tmp_path):
    mine = write("models/vllm_api_stream_chat.py", "models = []\n")
    r = resolve_config_file("models", "vllm_api_stream_chat", tmp_path)
    assert r.path == mine.resolve()
    assert r.ambiguous and r.candidates[1] == BUILTIN_CONFIG_DIR / "models/vllm_api/vllm_api_stream_chat.py"


def test_dataset_collections_searched(write, tmp_path):
    mine = write("dataset_collections/sub/my_mix.py", "x_datasets = []\n")
    assert resolve_config_file("datasets", "my_mix", tmp_path).path == mine.resolve()


def test_case_insensitive_and_wildcards(tmp_path):
    assert resolve_config_file("models", "VLLM_API_Stream_Chat", tmp_path).path.stem == "vllm_api_stream_chat"
    files = find_config_files("models", "vllm_api_*", tmp_path)
    assert [f.stem for f in files] == sorted(f.stem for f in files)
    assert len(files) == 4


def test_ambiguous_warning_table_and_first_by_stem(tmp_path):
    r = resolve_config_files(["vllm_api_general*"], [], None, tmp_path)
    assert r.models[0].path.stem == "vllm_api_general"
    assert len(r.warnings) == 1
    assert "Ambiguous patterns" in r.warnings[0] and "Matched files" in r.warnings[0]
    assert "vllm_api_general_chat.py" in r.warnings[0]


def test_no_match_lists_close_names_and_search_hint(tmp_path):
    with pytest.raises(ConfigError) as info:
        resolve_config_file("models", "vllm_api_stream_chatt", tmp_path)
    assert "no models config named 'vllm_api_stream_chatt'" in info.value.message
    assert "vllm_api_stream_chat" in info.value.message.split("close names:")[1]
    assert "--search" in info.value.hint


def test_name_suffix_and_key():
    assert split_name("datasets", "demo_gsm8k/_mine") == ("demo_gsm8k", "_mine")
    assert split_name("datasets", "demo_gsm8k") == ("demo_gsm8k", "_datasets")
    assert split_name("summarizers", "stable_stage/other") == ("stable_stage", "other")
    assert split_name("summarizers", "stable_stage") == ("stable_stage", "summarizer")
    r = resolve_config_file("datasets", "synthetic_demo/_datasets", "/nonexistent")
    assert r.name == "synthetic_demo" and r.part == "_datasets"


def test_existing_file_path_used_as_is(write):
    path = write("elsewhere/my_model.py", "models = []\n")
    assert resolve_config_file("models", str(path)).path == path.resolve()
