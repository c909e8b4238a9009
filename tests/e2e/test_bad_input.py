"""Bad command lines and bad config files: one clear error line, a non-zero exit, no traceback.

(``--pressure-time 0`` / ``86401``, an unreachable server and an unwritable output folder are in
``test_cli_errors.py``.)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.configs import write_model_config, write_sim_model_config, write_synthetic_dataset

SIM = ("--models", "sim_api_stream_chat", "--datasets", "synthetic_demo")


def _ais_bench(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ais_bench.cli.main", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def _one_error_line(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """The run failed with exactly one error line holding every fragment, and no traceback."""
    assert result.returncode != 0, result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = [line for line in result.stderr.splitlines() if " ERROR " in line or "error:" in line]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.mark.parametrize(
    ("flag", "name", "close"),
    [
        ("--models", "vllm_api_stream_chta", "vllm_api_stream_chat"),
        ("--datasets", "synthetic_dmeo", "synthetic_demo"),
        ("--summarizer", "stable_stag", "stable_stage"),
    ],
)
def test_unknown_names_list_close_names(tmp_path: Path, flag: str, name: str, close: str) -> None:
    args = {"--models": "sim_api_stream_chat", "--datasets": "synthetic_demo", "--summarizer": "default_perf"}
    args[flag] = name
    result = _ais_bench(*(x for pair in args.items() for x in pair), cwd=tmp_path)
    line = _one_error_line(result, f"'{name}'", "close names:")
    assert close in line.split("close names:")[1]
    assert not (tmp_path / "outputs").exists()


def test_unknown_name_with_nothing_close_lists_available_names(tmp_path: Path) -> None:
    result = _ais_bench("--models", "zzzz", "--datasets", "synthetic_demo", cwd=tmp_path)
    _one_error_line(result, "'zzzz'", "available:", "sim_api_stream_chat")


def test_reuse_of_a_missing_run_folder(tmp_path: Path) -> None:
    result = _ais_bench(*SIM, "--mode", "perf_viz", "--reuse", "20000101_000000", cwd=tmp_path)
    _one_error_line(result, "20000101_000000", "does not exist")


def test_perf_viz_with_nothing_to_reuse(tmp_path: Path) -> None:
    result = _ais_bench(*SIM, "--mode", "perf_viz", cwd=tmp_path)
    _one_error_line(result, "no run folder to recalculate")
    bare = _ais_bench(*SIM, "--reuse", cwd=tmp_path)
    _one_error_line(bare, "no run folder")


def test_positional_config_file_missing(tmp_path: Path) -> None:
    result = _ais_bench("no_such_config.py", cwd=tmp_path)
    _one_error_line(result, "no_such_config.py", "does not exist")


def test_positional_config_file_without_models(tmp_path: Path) -> None:
    (tmp_path / "run.py").write_text("datasets = []\n")
    result = _ais_bench("run.py", cwd=tmp_path)
    _one_error_line(result, "run.py", "'models'")


def test_positional_config_file_with_syntax_error_or_exception(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("models = [dict(\n")
    _one_error_line(_ais_bench("broken.py", cwd=tmp_path), "broken.py:1", "syntax error")
    (tmp_path / "raises.py").write_text("x = 1\nraise SystemExit('multi\\nline')\n")
    _one_error_line(_ais_bench("raises.py", cwd=tmp_path), "raises.py:2", "SystemExit", "multi\\nline")


@pytest.mark.parametrize(
    ("flag", "value", "allowed"), [("--num-prompts", "0", ">= 1"), ("--num-warmups", "-1", ">= 0")]
)
def test_out_of_range_counts(tmp_path: Path, flag: str, value: str, allowed: str) -> None:
    # One error line naming the argument, the value and the range; no usage block.
    result = _ais_bench(*SIM, flag, value, cwd=tmp_path)
    _one_error_line(result, flag, value, allowed)
    assert "usage:" not in result.stderr
    assert not (tmp_path / "outputs").exists()


@pytest.mark.parametrize(
    ("fields", "fragments"),
    [
        ({"batch_size": 0}, ["models[0].batch_size = 0", "(0, 100000]"]),
        ({"batch_sise": 4}, ["models[0].batch_sise is not a known field", "did you mean 'batch_size'"]),
        ({"request_rate": 100000}, ["models[0].request_rate = 100000", "[0, 64000]"]),
        ({"max_out_len": 10**30}, ["models[0].max_out_len", "[1, 2147483647]"]),
        ({"generation_kwargs": [1]}, ["models[0].generation_kwargs = [1]", "a dict"]),
        ({"generation_kwargs": {"stream": False}}, ["models[0].generation_kwargs.stream is not allowed"]),
        ({"generation_kwargs": {"messages": []}}, ["generation_kwargs.messages is not allowed", "dataset"]),
        ({"generation_kwargs": {"top_k": {1, 2}}}, ["generation_kwargs.top_k = {1, 2}", "JSON"]),
        ({"traffic_cfg": {"burstines": 2}}, ["traffic_cfg.burstines is not a known field", "'burstiness'"]),
        ({"url": "http://[::1"}, ["models[0].url = 'http://[::1'", "http(s) URL"]),
        ({"abbr": "../escape"}, ["models[0].abbr = '../escape'", "folder name"]),
        ({"model": "m\ud800"}, ["models[0].model = 'm\\ud800'", "no lone surrogate"]),
        ({"generation_kwargs": {"stop": ["x\udfff"]}}, ["generation_kwargs.stop[0]", "no lone surrogate"]),
        ({"generation_kwargs": {"st\udfff": 1}}, ["generation_kwargs key 'st\\udfff'", "Unicode text"]),
    ],
)
def test_bad_model_fields_name_file_field_value(tmp_path: Path, fields: dict, fragments: list[str]) -> None:
    write_model_config(tmp_path / "configs", "bad", 8080, **fields)
    result = _ais_bench("--models", "bad", "--datasets", "synthetic_demo", cwd=tmp_path)
    _one_error_line(result, "bad.py", *fragments)
    assert not (tmp_path / "outputs").exists()


def test_bad_simulator_field_found_before_the_run(tmp_path: Path) -> None:
    write_sim_model_config(tmp_path / "configs", "sim", {"max_num_seq": 4})
    result = _ais_bench("--models", "sim", "--datasets", "synthetic_demo", cwd=tmp_path)
    _one_error_line(result, "sim.py", "models[0].simulator", "'max_num_seq'", "did you mean 'max_num_seqs'")
    assert not (tmp_path / "outputs").exists()
    write_sim_model_config(tmp_path / "configs", "sim", {"fail_rate": 2})
    result = _ais_bench("--models", "sim", "--datasets", "synthetic_demo", cwd=tmp_path)
    _one_error_line(result, "sim.py", "models[0].simulator", "'fail_rate' = 2", "[0, 1]")


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        (
            "tiny_datasets = [dict(abbr='t', type=SyntheticDataset, config=dict(Type='string', RequestCount=2, "
            "StringConfig=dict(Input=dict(Method='uniform', Params=dict(MinValue=1, MaxValeu=2)), "
            "Output=dict(Method='uniform', Params=dict(MinValue=1, MaxValue=2)))))]",
            ["tiny_datasets[0].config.StringConfig.Input.Params.MaxValeu", "did you mean 'MaxValue'"],
        ),
        (
            "tiny_datasets = [dict(abbr='t', type=SyntheticDataset, config=dict(Type='tokenid', RequestCount=0))]",
            ["tiny_datasets[0].config.RequestCount = 0", "[1, 1048576]"],
        ),
        (
            "tiny_datasets = [dict(abbr='t', type=MooncakeTraceDataset, path='t.jsonl', block_size='512')]",
            ["tiny_datasets[0].block_size = '512'", "an integer"],
        ),
        (
            "tiny_datasets = [dict(abbr='t', type=GSM8KDataset, reader_cfg=dict(test_range=8))]",
            ["tiny_datasets[0].reader_cfg.test_range = 8", "'[0:8]'"],
        ),
        ("tiny_datasets = []", ["tiny_datasets holds no dataset"]),
        ("tiny_datasets = [dict(type=GSM8KDataset)]", ["tiny_datasets[0].abbr is missing"]),
    ],
)
def test_bad_dataset_fields_name_file_field_value(tmp_path: Path, body: str, fragments: list[str]) -> None:
    folder = tmp_path / "configs" / "datasets"
    folder.mkdir(parents=True)
    header = "from ais_bench.benchmark.datasets import GSM8KDataset, MooncakeTraceDataset, SyntheticDataset\n"
    (folder / "tiny.py").write_text(header + body + "\n")
    result = _ais_bench("--models", "sim_api_stream_chat", "--datasets", "tiny", cwd=tmp_path)
    _one_error_line(result, "tiny.py", *fragments)


def test_bad_summarizer_calculator(tmp_path: Path) -> None:
    folder = tmp_path / "configs" / "summarizers"
    folder.mkdir(parents=True)
    (folder / "mine.py").write_text(
        "summarizer = dict(attr='performance', type='DefaultPerfSummarizer',\n"
        "                  calculator=dict(type='StablePerfMetricCalculator', stat_list=['Average']))\n"
    )
    write_synthetic_dataset(tmp_path / "configs", "tiny", 2)
    result = _ais_bench("--models", "sim_api_stream_chat", "--datasets", "tiny", "--summarizer", "mine", cwd=tmp_path)
    _one_error_line(result, "mine.py", "summarizer.calculator.stat_list", "did you mean 'stats_list'")


@pytest.mark.parametrize(
    ("row", "fragments"),
    [
        ('{"prompt": "hi", "max_out_len": 1000000000000000000000000000000}',
         ["rows.jsonl:1: field 'max_out_len'", "[1, 2147483647]"]),
        ('{"prompt": "hi", "output_length": 2147483648}', ["field 'output_length'", "[1, 2147483647]"]),
        ('{"prompt": "h\\ud800i"}', ["rows.jsonl:1: field 'prompt' holds a lone surrogate"]),
        ('{"messages": [{"role": "user", "content": "\\udc00"}]}',
         ["field 'messages[0].content' holds a lone surrogate"]),
        ('[{"prompt": "ok"},\n {"prompt": "\\ud83d"}]', ["rows.jsonl:2: field 'prompt' holds a lone surrogate"]),
    ],
)
def test_dataset_rows_that_pass_the_parser_but_cannot_be_sent(tmp_path: Path, row: str, fragments: list[str]) -> None:
    """Values a JSON parser accepts but no request can carry: one error line naming file, line and field."""
    (tmp_path / "rows.jsonl").write_text(row + "\n")
    write_model_config(tmp_path / "configs", "m", 8080)
    result = _ais_bench("--models", "m", "--custom-dataset-path", "rows.jsonl", cwd=tmp_path)
    _one_error_line(result, "AIS-DATASET", *fragments)
