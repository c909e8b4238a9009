"""A run's life: how it starts (its folder), stops (signals, Ctrl-C) and is recalculated afterwards."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson
import pytest

from ais_bench.cli.main import main
from ais_bench.records.details_h5 import read_details_h5
from tests.support.configs import (
    only_run_dir,
    write_global_consts,
    write_model_config,
    write_synthetic_dataset,
)
from tests.support.fixed_server import FixedServer, FixedTiming
from tests.support.scripted_server import (
    Script,
    ScriptedConnection,
    ScriptedRequest,
    ScriptedServer,
    chat_events,
    chunk,
    sse_head,
    stream_chat,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


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
    # Capped at one in flight, request k would wait for the k before it (>= 0.3 s each): the last would
    # be >= 1.9 s late. Open loop sends each at its time; 1 s leaves a loaded machine its delays.
    assert all(d["start_s"] - d["scheduled_s"] < 1.0 for d in details)
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
    h5_waits = read_details_h5(perf / "trace_details.h5").rows["slot_wait_s"]
    assert np.allclose(h5_waits, waits)  # the same per request in the h5
    check = json.loads((perf / "trace.json").read_text())["_ais_bench"]["client_self_check"]
    assert check["slot_wait"]["waited"] == 7 and check["slot_wait"]["samples"] == 8
    # ... and a SlotWait row of the per-request table: its statistics over the 8 waits, in ms
    with (perf / "trace.csv").open() as handle:
        row = next(r for r in csv.DictReader(handle) if r["Performance Parameters"] == "SlotWait")
    assert int(row["N"]) == 8
    assert float(row["Max"].split()[0]) == pytest.approx(max(waits) * 1000, abs=0.1)
    assert float(row["Average"].split()[0]) == pytest.approx(float(np.mean(waits)) * 1000, abs=0.1)
    out, err = capsys.readouterr()
    assert "7 of 8 paced requests waited for a free batch_size slot" in err
    warning = next(line for line in (out + err).splitlines() if "sent late" in line)
    assert "the concurrency cap" in warning and "raise batch_size" in warning and "lower" not in warning


async def _stall(conn: ScriptedConnection, request: ScriptedRequest) -> bool:
    await asyncio.sleep(3600)  # accepted, never answered
    return False


async def _answer_quickly(conn: ScriptedConnection, request: ScriptedRequest) -> bool:
    await stream_chat(conn, ["a", "b", "c"], gap_s=0.002)
    return True


def _start_cli(tmp_path: Path, port: int, rows: int, batch_size: int) -> subprocess.Popen[str]:
    """The CLI in its own process group (2 workers) against a server of this test process."""
    consts = write_global_consts(tmp_path / "consts.py", WORKERS_NUM=2)
    write_model_config(tmp_path / "cfg", "test_model", port, batch_size=batch_size)
    write_synthetic_dataset(tmp_path / "cfg", "tiny", rows)
    return subprocess.Popen(
        [sys.executable, "-m", "ais_bench.cli.main", *_perf_args(tmp_path)],
        cwd=REPO_ROOT, env={**os.environ, "AIS_BENCH_GLOBAL_CONSTS": str(consts)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


def _wait_for(condition: Callable[[], bool], proc: subprocess.Popen[str], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "the run did not get there in time"
        time.sleep(0.05)


def _perf(tmp_path: Path) -> Path:
    return only_run_dir(tmp_path / "out") / "performances" / "test-model"


@pytest.mark.parametrize("to_group", [True, False], ids=["group (timeout, Ctrl-C)", "main process (docker, k8s)"])
def test_sigterm_summarises_what_finished_writes_every_file_and_exits_143(tmp_path: Path, to_group: bool) -> None:
    with ScriptedServer(_answer_quickly) as server:
        proc = _start_cli(tmp_path, server.port, rows=100_000, batch_size=4)
        try:
            _wait_for(lambda: len(server.snapshot().requests) >= 50, proc)
            if to_group:
                os.killpg(proc.pid, signal.SIGTERM)
            else:
                proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 143, err
    assert "Traceback" not in err and "leaked" not in err
    assert "[AIS-INTERRUPTED] run interrupted (SIGTERM)" in err
    assert "Performance Results of task" in out
    perf = _perf(tmp_path)
    for name in ("tiny.json", "tiny.csv", "tiny_details.jsonl", "tiny_details.h5", "tiny_plot.html"):
        assert (perf / name).is_file(), name
    extra = json.loads((perf / "tiny.json").read_text())["_ais_bench"]
    assert extra["run_state"] == "interrupted" and extra["stop_signal"] == "SIGTERM"
    details = (perf / "tiny_details.jsonl").read_bytes().splitlines()
    assert 50 <= len(details) < 100_000


def test_reuse_of_an_interrupted_run_says_so_and_exits_like_a_partial_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with ScriptedServer(_answer_quickly) as server:
        proc = _start_cli(tmp_path, server.port, rows=100_000, batch_size=2)
        try:
            _wait_for(lambda: len(server.snapshot().requests) >= 20, proc)
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130
    reuse = ["--models", "test_model", "--datasets", "tiny", "--mode", "perf_viz", "--reuse",
             "--config-dir", str(tmp_path / "cfg"), "--work-dir", str(tmp_path / "out")]
    capsys.readouterr()
    assert main(reuse) == 3
    out, _ = capsys.readouterr()
    assert "Warning: this run was interrupted (SIGINT)" in out
    extra = json.loads((_perf(tmp_path) / "tiny.json").read_text())["_ais_bench"]
    assert extra["run_state"] == "interrupted"
    assert sum(w.startswith("this run was interrupted") for w in extra["warnings"]) == 1
    assert main(reuse) == 3  # recalculating again keeps one warning, not two
    extra = json.loads((_perf(tmp_path) / "tiny.json").read_text())["_ais_bench"]
    assert sum(w.startswith("this run was interrupted") for w in extra["warnings"]) == 1


def test_ctrl_c_while_every_request_is_stalled_exits_130_with_a_summary(tmp_path: Path) -> None:
    with ScriptedServer(_stall) as server:
        proc = _start_cli(tmp_path, server.port, rows=6, batch_size=2)
        try:
            _wait_for(lambda: len(server.snapshot().requests) >= 2, proc)
            proc.send_signal(signal.SIGINT)
            _out, err = proc.communicate(timeout=60)  # the in-flight grace (5 s), then they are cut
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert "AIS-ALL-FAILED" not in err and "check the server address" not in err and "Traceback" not in err
    assert "No result tables for the interrupted run" in err
    assert "[AIS-INTERRUPTED] run interrupted (SIGINT): sending stopped; 0 of the 2 requests sent succeeded" in err
    details = [orjson.loads(line) for line in (_perf(tmp_path) / "tiny_details.jsonl").read_bytes().splitlines()]
    assert [d["error_kind"] for d in details] == ["cancelled", "cancelled"]


def _cut_after(seconds: float, which: Callable[[int], bool]) -> tuple[Script, list[float]]:
    """A script that cuts the stream of the requests ``which(n)`` selects (n counts from 0) after one
    event and ``seconds`` (a retryable failure), answers the others at once, and notes every arrival."""
    arrivals: list[float] = []

    async def script(conn: ScriptedConnection, request: ScriptedRequest) -> bool:
        arrivals.append(time.perf_counter())
        if not which(len(arrivals) - 1):
            return await _answer_quickly(conn, request)
        await conn.write(sse_head())
        await conn.write(chunk(chat_events(["a"])[0]))
        await asyncio.sleep(seconds)
        conn.abort()
        return False

    return script, arrivals


def test_a_retried_request_is_counted_shown_and_timed_from_its_first_attempt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script, _ = _cut_after(0.3, lambda n: n == 0)  # the first request's first attempt is cut after 0.3 s
    with ScriptedServer(script) as server:
        write_model_config(tmp_path / "cfg", "test_model", server.port, batch_size=1, retry=2)
        write_synthetic_dataset(tmp_path / "cfg", "tiny", 3)
        assert main(_perf_args(tmp_path)) == 0
    out = capsys.readouterr().out
    assert "Retries: 1 of 3 requests were retried (1 extra attempt); their E2EL and TTFT count from the first" in out
    perf = _perf(tmp_path)
    assert json.loads((perf / "tiny.json").read_text())["_ais_bench"]["retries"] == {
        "requests_retried": 1, "extra_attempts": 1,
    }
    details = {d["id"]: d for d in map(orjson.loads, (perf / "tiny_details.jsonl").read_bytes().splitlines())}
    assert details[0]["attempts"] == 2 and details[0]["success"]
    assert details[0]["end_s"] - details[0]["start_s"] >= 0.3  # the cut attempt's 0.3 s is waited time
    assert details[1]["end_s"] - details[1]["start_s"] < 0.3


def test_the_pressure_deadline_is_exact_even_for_retries(tmp_path: Path) -> None:
    # Every stream is cut after 1.05 s and retried: sends at 0 and 1.05 s (0.95 s before the 2 s
    # deadline, time enough for a loaded machine), then 2.1 s (each attempt is held >= 1.05 s by the
    # server) is always past it.
    script, arrivals = _cut_after(1.05, lambda n: True)
    with ScriptedServer(script) as server:
        write_model_config(tmp_path / "cfg", "test_model", server.port, batch_size=1, retry=5)
        write_synthetic_dataset(tmp_path / "cfg", "tiny", 3)
        main(_perf_args(tmp_path, "--pressure", "--pressure-time", "2"))
        time.sleep(0.2)  # anything still sent would have arrived by now
    assert len(arrivals) == 2
    assert arrivals[-1] - arrivals[0] < 2.0
    details = [orjson.loads(line) for line in (_perf(tmp_path) / "tiny_details.jsonl").read_bytes().splitlines()]
    assert [(d["attempts"], d["success"]) for d in details] == [(2, False)]
    assert details[0]["end_s"] - details[0]["start_s"] >= 2.1  # both attempts, from the first send


def test_sigterm_while_the_workers_start_stops_them_and_exits_143(tmp_path: Path) -> None:
    with ScriptedServer(_answer_quickly) as server:
        proc = _start_cli(tmp_path, server.port, rows=1000, batch_size=4)
        try:
            assert proc.stderr is not None
            for line in proc.stderr:  # the workers are being started once "Sending" is logged
                if "Sending 1000 requests" in line:
                    break
            os.killpg(proc.pid, signal.SIGTERM)
            _, err = proc.communicate(timeout=60)  # no worker left behind to wait for
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 143, err
    assert "Traceback" not in err and "leaked" not in err
