"""A run's life: how it starts (its folder), stops (signals, Ctrl-C) and is recalculated afterwards."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import orjson
import pytest

from ais_bench.cli.main import main
from tests.support.configs import only_run_dir, write_model_config, write_synthetic_dataset
from tests.support.fixed_server import FixedServer, FixedTiming


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _perf_args(tmp_path: Path, *extra: str) -> list[str]:
    return [
        "--models", "test_model", "--datasets", "tiny", "--mode", "perf", "--num-warmups", "0",
        "--config-dir", str(tmp_path / "cfg"), "--work-dir", str(tmp_path / "out"), *extra,
    ]


def test_a_run_failing_before_it_sends_leaves_no_folder_for_a_bare_reuse(tmp_path: Path) -> None:
    write_model_config(tmp_path / "cfg", "test_model", _free_port())
    write_synthetic_dataset(tmp_path / "cfg", "tiny", 2)
    assert main(_perf_args(tmp_path)) == 2  # nobody listens on the port: AIS-UNREACHABLE
    assert not any((tmp_path / "out").iterdir())


def _write_trace(path: Path, rows: int, gap_ms: int) -> Path:
    lines = [json.dumps({"prompt": f"question {i}", "timestamp": 1000 + i * gap_ms}) for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _replay(tmp_path: Path, server: FixedServer, **model_fields: object) -> tuple[int, list[dict]]:
    write_model_config(tmp_path / "cfg", "test_model", server.port, batch_size=1, use_timestamp=True, **model_fields)
    trace = _write_trace(tmp_path / "trace.jsonl", rows=8, gap_ms=20)
    code = main([
        "--models", "test_model", "--custom-dataset-path", str(trace), "--mode", "perf", "--num-warmups", "0",
        "--config-dir", str(tmp_path / "cfg"), "--work-dir", str(tmp_path / "out"),
    ])
    perf = only_run_dir(tmp_path / "out") / "performances" / "test-model"
    details = [orjson.loads(line) for line in (perf / "trace_details.jsonl").read_bytes().splitlines()]
    return code, details


def test_a_timestamp_replay_is_open_loop_whatever_batch_size_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 8 requests 20 ms apart, each held 300 ms by the server, batch_size=1: sent at their timestamps.
    with FixedServer(FixedTiming(ttft_s=0.3, itl_s=0.01, output_tokens=3)) as server:
        code, details = _replay(tmp_path, server)
        peak = server.log.max_in_flight
    assert code == 0
    assert peak >= 3  # a batch_size cap would keep it at 1
    assert all(d["start_s"] - d["scheduled_s"] < 0.25 for d in details)  # capped: the last is ~2 s late
    assert all(d["slot_wait_s"] is None for d in details)
    err = capsys.readouterr().err
    assert "open loop (batch_size=1 does not cap a timestamp replay" in err
    assert "on the dataset's timestamps (8 sends over 0.14 s, mean 50 req/s)" in err


def test_a_capped_timestamp_replay_reports_the_wait_for_a_slot_and_names_the_cap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FixedServer(FixedTiming(ttft_s=0.3, itl_s=0.01, output_tokens=3)) as server:
        code, details = _replay(tmp_path, server, timestamp_batch_cap=True)
        peak = server.log.max_in_flight
    assert code == 0 and peak == 1
    # Request k is due 20 ms after request k-1, which holds the only slot for at least 300 ms.
    waits = [d["slot_wait_s"] for d in sorted(details, key=lambda d: d["id"])]
    assert waits[0] is not None and all(w >= 0.25 for w in waits[1:])
    perf = only_run_dir(tmp_path / "out") / "performances" / "test-model"
    check = json.loads((perf / "trace.json").read_text())["_ais_bench"]["client_self_check"]
    assert check["slot_wait"]["waited"] == 7 and check["slot_wait"]["samples"] == 8
    out, err = capsys.readouterr()
    assert "7 of 8 paced requests waited for a free batch_size slot" in err
    warning = next(line for line in (out + err).splitlines() if "sent late" in line)
    assert "the concurrency cap" in warning and "raise batch_size" in warning and "lower" not in warning
