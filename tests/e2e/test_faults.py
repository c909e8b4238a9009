"""The fault matrix: misbehaving servers end with a clear message and every result kept."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from ais_bench.cli.main import EXIT_PARTIAL, main
from tests.support.configs import (
    only_run_dir,
    write_global_consts,
    write_sim_model_config,
    write_synthetic_dataset,
)

FAST_SIM = {"prefill_base_ms": 1.0, "prefill_per_token_ms": 0.0, "decode_base_ms": 2.0, "decode_per_seq_ms": 0.0}


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, consts: dict | None = None, *extra: str) -> int:
    if consts:
        monkeypatch.setenv("AIS_BENCH_GLOBAL_CONSTS", str(write_global_consts(tmp_path / "consts.py", **consts)))
    return main([
        "--models", "sim", "--datasets", "tiny", "--mode", "perf", "--num-warmups", "0",
        "--config-dir", str(tmp_path / "cfg"), "--work-dir", str(tmp_path / "out"), *extra,
    ])


def _details(tmp_path: Path) -> list[dict]:
    perf = only_run_dir(tmp_path / "out") / "performances" / "sim"
    return [orjson.loads(line) for line in (perf / "tiny_details.jsonl").read_bytes().splitlines()]


def _common(tmp_path: Path) -> dict:
    perf = only_run_dir(tmp_path / "out") / "performances" / "sim"
    return json.loads((perf / "tiny.json").read_text())


def test_http_errors_counted_with_status_and_server_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for status in (500, 429, 503):
        run_dir = tmp_path / str(status)
        write_sim_model_config(run_dir / "cfg", "sim", {**FAST_SIM, "fail_rate": 0.5, "fail_status": status, "seed": 3},
                               abbr="sim", batch_size=4, retry=2)
        write_synthetic_dataset(run_dir / "cfg", "tiny", 30)
        assert _run(run_dir, monkeypatch) == EXIT_PARTIAL
        details = _details(run_dir)
        failed = [d for d in details if not d["success"]]
        assert 5 <= len(failed) <= 25
        assert all(d["http_status"] == status and d["error_kind"] == "http_status" for d in failed)
        assert all(d["attempts"] == 1 for d in failed)  # HTTP errors are not retried
        assert all(f"HTTP {status}" in d["error"] for d in failed)
        common = _common(run_dir)
        assert common["Failed Requests"]["total"] == len(failed)
        assert common["_ais_bench"]["failed_reasons"][0]["count"] == len(failed)
        err = capsys.readouterr().err
        assert "Failed reason" in err and f"HTTP {status}" in err


def test_connection_reset_is_retried_and_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_sim_model_config(tmp_path / "cfg", "sim", {**FAST_SIM, "reset_rate": 0.4, "seed": 1},
                           abbr="sim", batch_size=4, retry=1, max_out_len=20)
    write_synthetic_dataset(tmp_path / "cfg", "tiny", 40, output_len=20)
    code = _run(tmp_path, monkeypatch)
    details = _details(tmp_path)
    assert len(details) == 40
    assert any(d["success"] and d["attempts"] == 2 for d in details)  # a reset, then a good retry
    failed = [d for d in details if not d["success"]]
    assert code == (EXIT_PARTIAL if failed else 0)
    for d in failed:
        assert d["attempts"] == 2 and d["error_kind"] == "protocol"
        assert "stream ended early after" in d["error"]


def test_malformed_event_fails_only_that_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_sim_model_config(tmp_path / "cfg", "sim", {**FAST_SIM, "malformed_rate": 0.3, "seed": 2},
                           abbr="sim", batch_size=4)
    write_synthetic_dataset(tmp_path / "cfg", "tiny", 30)
    assert _run(tmp_path, monkeypatch) == EXIT_PARTIAL
    details = _details(tmp_path)
    failed = [d for d in details if not d["success"]]
    assert 2 <= len(failed) <= 20 and len(details) - len(failed) >= 10
    for d in failed:
        assert d["error_kind"] == "decode"
        assert "byte" in d["error"] and "near:" in d["error"]


def test_stall_beyond_request_timeout_is_a_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_sim_model_config(tmp_path / "cfg", "sim", {**FAST_SIM, "stall_rate": 0.3, "stall_s": 3.0, "seed": 5},
                           abbr="sim", batch_size=8, retry=0)
    write_synthetic_dataset(tmp_path / "cfg", "tiny", 16)
    assert _run(tmp_path, monkeypatch, {"REQUEST_TIME_OUT": 1}) == EXIT_PARTIAL
    failed = [d for d in _details(tmp_path) if not d["success"]]
    assert failed
    assert all(d["error_kind"] == "read_timeout" and "REQUEST_TIME_OUT" in d["error"] for d in failed)


def test_request_time_out_zero_means_no_limit_in_warm_up_and_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``REQUEST_TIME_OUT = 0`` is what AISBench's aiohttp makes of it, no limit, for the warm-up
    and the load alike (the load used to time every request out at once)."""
    write_sim_model_config(tmp_path / "cfg", "sim", {**FAST_SIM, "stall_rate": 0.5, "stall_s": 0.2, "seed": 5},
                           abbr="sim", batch_size=4, retry=0)
    write_synthetic_dataset(tmp_path / "cfg", "tiny", 8)
    assert _run(tmp_path, monkeypatch, {"REQUEST_TIME_OUT": 0}, "--num-warmups", "1") == 0
    assert all(d["success"] for d in _details(tmp_path))


def test_line_longer_than_max_chunk_size_and_all_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_sim_model_config(tmp_path / "cfg", "sim", FAST_SIM, abbr="sim", batch_size=2)
    write_synthetic_dataset(tmp_path / "cfg", "tiny", 4)
    code = _run(tmp_path, monkeypatch, {"MAX_CHUNK_SIZE": 40})
    assert code != 0
    err = capsys.readouterr().err
    assert "All requests failed" in err or "all requests failed" in err.lower()
    assert "MAX_CHUNK_SIZE" in err
    details = _details(tmp_path)  # kept even though nothing succeeded
    assert len(details) == 4 and not any(d["success"] for d in details)
    assert (only_run_dir(tmp_path / "out") / "performances" / "sim" / "tiny_plot.html").is_file()


def _start_cli(tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ais_bench.cli.main", "--models", "sim", "--datasets", "tiny", "--num-warmups", "0",
         "--config-dir", str(tmp_path / "cfg"), "--work-dir", str(tmp_path / "out"), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )


def _wait_for_records(tmp_path: Path, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        files = list((tmp_path / "out").glob("*/performances/sim/records/*.jsonl"))
        if files and any(f.stat().st_size > 0 for f in files):
            return
        time.sleep(0.1)
    raise AssertionError("no records written")


def test_ctrl_c_stops_sending_and_summarises(tmp_path: Path) -> None:
    sim = {**FAST_SIM, "decode_base_ms": 20.0}
    write_sim_model_config(tmp_path / "cfg", "sim", sim, abbr="sim", batch_size=4, max_out_len=10)
    write_synthetic_dataset(tmp_path / "cfg", "tiny", 2000, output_len=10)
    proc = _start_cli(tmp_path)
    _wait_for_records(tmp_path)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert "Performance Results of task" in out and "Common Metric" in out
    details = [orjson.loads(line) for line in next((tmp_path / "out").glob("*/performances/sim/tiny_details.jsonl")).read_bytes().splitlines()]
    assert 4 <= len(details) < 2000


def test_server_stops_mid_run(tmp_path: Path) -> None:
    from ais_bench.sim import SimConfig, start_sim_process
    from tests.support.configs import write_model_config

    handle = start_sim_process(SimConfig(**{**FAST_SIM, "decode_base_ms": 10.0}))
    try:
        write_model_config(tmp_path / "cfg", "sim", handle.port, abbr="sim", batch_size=4, retry=1, max_out_len=10)
        write_synthetic_dataset(tmp_path / "cfg", "tiny", 3000, output_len=10)
        proc = _start_cli(tmp_path)
        _wait_for_records(tmp_path)
        time.sleep(0.5)
    finally:
        handle.stop()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == EXIT_PARTIAL, err
    assert "Traceback" not in err
    assert "Performance Results of task" in out
    perf = next((tmp_path / "out").glob("*/performances/sim"))
    details = [orjson.loads(line) for line in (perf / "tiny_details.jsonl").read_bytes().splitlines()]
    assert len(details) == 3000
    ok = [d for d in details if d["success"]]
    failed = [d for d in details if not d["success"]]
    assert ok and failed
    assert any("connection refused" in d["error"] for d in failed)
    assert os.path.exists(perf / "tiny.json")
