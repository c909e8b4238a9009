"""Starting the sim in a child process (``start_sim_process``) and as the ``ais_bench_sim`` CLI."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.request

import pytest

from ais_bench.errors import ConfigError
from ais_bench.sim import SimConfig, start_sim_process


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def test_start_sim_process_serves_and_stops():
    handle = start_sim_process(SimConfig(model_name="proc-model", decode_base_ms=1.0))
    with handle:
        assert handle.is_alive()
        assert handle.base_url == f"http://127.0.0.1:{handle.port}/"
        assert _get_json(handle.base_url + "health")["status"] == "ok"
        assert _get_json(handle.base_url + "v1/models")["data"][0]["id"] == "proc-model"
        body = json.dumps({"prompt": "hello", "max_tokens": 4, "ignore_eos": True}).encode()
        request = urllib.request.Request(handle.base_url + "v1/completions", data=body, method="POST")
        with urllib.request.urlopen(request, timeout=5) as resp:
            assert json.loads(resp.read())["usage"]["completion_tokens"] == 4
    assert not handle.is_alive()
    handle.stop()  # idempotent


def test_start_sim_process_reports_config_errors():
    with pytest.raises(ConfigError, match="tokenizer_path"):
        start_sim_process(SimConfig(tokenizer_path="/nonexistent/tokenizer"))


def test_cli_serves_and_logs_its_url():
    cmd = [
        sys.executable,
        "-m",
        "ais_bench.sim.cli",
        "--port",
        "0",
        "--max-num-seqs",
        "3",
        "--model-name",
        "cli-m",
    ]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        match = re.fullmatch(r"serving on (http://127\.0\.0\.1:\d+)\n", line)
        assert match, line
        assert _get_json(match.group(1) + "/v1/models")["data"][0]["id"] == "cli-m"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_cli_rejects_bad_values_in_one_line():
    cmd = [sys.executable, "-m", "ais_bench.sim.cli", "--max-num-seqs", "0"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "max_num_seqs" in result.stderr and "AIS-CONFIG" in result.stderr


def test_cli_help_documents_units():
    result = subprocess.run(
        [sys.executable, "-m", "ais_bench.sim.cli", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    for flag in (
        "--decode-base-ms",
        "--prefill-per-token-ms",
        "--stall-s",
        "--fail-rate",
        "--tokenizer-path",
    ):
        assert flag in result.stdout
    assert "ms" in result.stdout
