"""User mistakes end with one clear line, a non-zero exit and no traceback (unless --debug)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from tests.support.configs import write_model_config, write_synthetic_dataset


def _ais_bench(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ais_bench.cli.main", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_server_one_line_no_traceback(tmp_path: Path) -> None:
    port = _free_port()
    write_model_config(tmp_path / "configs", "dead", port)
    write_synthetic_dataset(tmp_path / "configs", "tiny", 2)
    result = _ais_bench("--models", "dead", "--datasets", "tiny", "--mode", "perf", cwd=tmp_path)
    assert result.returncode != 0
    assert f"cannot reach http://127.0.0.1:{port}/v1/chat/completions: connection refused" in result.stderr
    assert "Traceback" not in result.stderr
    debug = _ais_bench("--models", "dead", "--datasets", "tiny", "--mode", "perf", "--debug", cwd=tmp_path)
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_wrong_model_field_names_file_field_value(tmp_path: Path) -> None:
    write_model_config(tmp_path / "configs", "bad", 8080, batch_size=-3)
    result = _ais_bench("--models", "bad", "--datasets", "synthetic_demo", "--mode", "perf", cwd=tmp_path)
    assert result.returncode != 0
    error_lines = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(error_lines) == 1
    assert "bad.py" in error_lines[0] and "batch_size" in error_lines[0] and "-3" in error_lines[0]
    assert "Traceback" not in result.stderr


def test_unknown_config_name_lists_close_names(tmp_path: Path) -> None:
    result = _ais_bench("--models", "vllm_api_stream_chatt", "--datasets", "synthetic_demo", cwd=tmp_path)
    assert result.returncode != 0
    assert "vllm_api_stream_chat" in result.stderr and "Traceback" not in result.stderr


def test_pressure_time_out_of_range(tmp_path: Path) -> None:
    for value in ("0", "86401"):
        result = _ais_bench(
            "--models", "sim_api_stream_chat", "--datasets", "synthetic_demo", "--pressure", "--pressure-time", value,
            cwd=tmp_path,
        )
        assert result.returncode != 0
        assert "[1, 86400]" in result.stderr


def test_search_prints_table_and_runs_nothing(tmp_path: Path) -> None:
    result = _ais_bench(
        "--models", "vllm_api_stream_chat", "--datasets", "demo_gsm8k_gen_4_shot_cot_chat_prompt",
        "--summarizer", "stable_stage", "--mode", "perf", "--pressure", "--search", cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Task Type" in out and "Config File Path" in out
    assert "--models" in out and "vllm_api_stream_chat.py" in out
    assert "demo_gsm8k_gen_4_shot_cot_chat_prompt.py" in out and "stable_stage.py" in out
    assert not (tmp_path / "outputs").exists()


def test_output_folder_not_writable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    write_synthetic_dataset(tmp_path / "configs", "tiny", 2)
    result = _ais_bench(
        "--models", "sim_api_stream_chat", "--datasets", "tiny", "-w", str(blocker / "out"), cwd=tmp_path
    )
    assert result.returncode != 0
    assert "cannot write the output folder" in result.stderr and "Traceback" not in result.stderr
