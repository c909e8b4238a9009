"""A recalculation needs only the run folder: the token counts (the tokenizer's too) are stored with
the run, so the dataset file may be gone and the model's ``path`` may point nowhere, and every
number and warning of the live run comes back."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ais_bench.cli.main import main
from tests.support.configs import only_run_dir, write_model_config
from tests.support.fixed_server import FixedServer, FixedTiming
from tests.support.paths import SMOLLM2_DIR, require

ROWS = 8
RESULTS = ("rows.csv", "rows.json", "rows_details.jsonl")


def _write_dataset(cfg: Path, rows_file: Path) -> None:
    rows_file.write_text("".join(json.dumps({"prompt": f"question number {i}"}) + "\n" for i in range(ROWS)))
    (cfg / "datasets").mkdir(parents=True, exist_ok=True)
    (cfg / "datasets" / "rows.py").write_text(
        "from ais_bench.benchmark.datasets import CustomDataset\n\n"
        f"rows_datasets = [dict(abbr='rows', type=CustomDataset, path={str(rows_file)!r})]\n"
    )


def _cli(base: Path, *extra: str) -> int:
    return main([
        "--models", "test_model", "--datasets", "rows", "--config-dir", str(base / "cfg"),
        "--work-dir", str(base / "out"), *extra,
    ])


def _warnings(printed: str) -> list[str]:
    return [line for line in printed.splitlines() if line.startswith("Warning:")]


@require(SMOLLM2_DIR, "SmolLM2 tokenizer")
@pytest.mark.parametrize("server_prompt_tokens", [0, 1])
def test_recalculation_without_dataset_file_and_tokenizer_reproduces_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], server_prompt_tokens: int
) -> None:
    """``server_prompt_tokens`` 0: the server sends no input count, the tokenizer's counts are used;
    1: the server's count is used and the tokenizer's differs by far more than 1 % (a warning)."""
    rows_file = tmp_path / "data" / "rows.jsonl"
    rows_file.parent.mkdir()
    _write_dataset(tmp_path / "cfg", rows_file)
    timing = FixedTiming(ttft_s=0.01, itl_s=0.002, output_tokens=6, prompt_tokens=server_prompt_tokens)
    with FixedServer(timing) as server:
        write_model_config(tmp_path / "cfg", "test_model", server.port, batch_size=2, path=str(SMOLLM2_DIR))
        assert _cli(tmp_path, "--mode", "perf", "--num-warmups", "0") == 0
    live_warnings = _warnings(capsys.readouterr().out)
    perf = only_run_dir(tmp_path / "out") / "performances" / "test-model"
    live = {name: (perf / name).read_bytes() for name in RESULTS}
    details = [json.loads(line) for line in live["rows_details.jsonl"].splitlines()]
    mismatch = [w for w in live_warnings if "input token counts: the tokenizer at" in w]
    if server_prompt_tokens:
        assert {d["input_tokens_source"] for d in details} == {"usage"} and len(mismatch) == 1
    else:
        assert {d["input_tokens_source"] for d in details} == {"tokenizer"} and not mismatch
        assert all(d["input_tokens"] > 5 for d in details)  # the chat-rendered prompt, not the server's 0

    shutil.rmtree(rows_file.parent)  # no dataset file
    write_model_config(tmp_path / "cfg", "test_model", 9, batch_size=2, path=str(tmp_path / "nowhere"))
    for source in ("details.h5", "worker files"):
        if source == "worker files":  # as after a killed summary: the details are rebuilt from the records
            for name in ("rows_details.h5", "rows_details.jsonl"):
                (perf / name).unlink()
        for name in ("rows.csv", "rows.json"):
            (perf / name).unlink()
        assert _cli(tmp_path, "--mode", "perf_viz", "--reuse") == 0, source
        assert {name: (perf / name).read_bytes() for name in RESULTS} == live, source
        assert _warnings(capsys.readouterr().out) == live_warnings, source
