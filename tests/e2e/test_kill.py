"""A benchmark killed with SIGKILL keeps every finished request, and recalculation works on it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson

from ais_bench.cli.main import main
from ais_bench.records.store import record_files, worker_file_set
from tests.support.configs import only_run_dir, write_model_config, write_synthetic_dataset
from tests.support.fixed_server import FixedServer, FixedTiming

REPO_ROOT = Path(__file__).resolve().parents[2]


class TimedServer(FixedServer):
    """FixedServer that also notes when (perf_counter s) it finished sending each response."""

    def __init__(self, timing: FixedTiming) -> None:
        super().__init__(timing)
        self.done_s: list[float] = []

    async def _stream(self, request, body, chat):  # type: ignore[no-untyped-def]
        response = await super()._stream(request, body, chat)
        self.done_s.append(time.perf_counter())
        return response


def _wait_for_rows(perf: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        files = record_files(perf, "tiny") if perf.is_dir() else []
        if files and any(worker_file_set(p)[0].exists() and worker_file_set(p)[0].stat().st_size for p in files):
            return
        time.sleep(0.05)
    raise AssertionError("the benchmark wrote no record within the time limit")


def _start_benchmark(tmp_path: Path, port: int, rows: int) -> subprocess.Popen[bytes]:
    """The CLI in its own process group (2 workers, batch_size 4) against the test server on ``port``."""
    consts = tmp_path / "consts.py"
    consts.write_text("WORKERS_NUM = 2\n")
    write_model_config(tmp_path / "cfg", "test_model", port, batch_size=4)
    write_synthetic_dataset(tmp_path / "cfg", "tiny", rows)
    env = {**os.environ, "AIS_BENCH_GLOBAL_CONSTS": str(consts)}
    return subprocess.Popen(
        [sys.executable, "-m", "ais_bench.cli.main", "--models", "test_model", "--datasets", "tiny",
         "--mode", "perf", "--num-warmups", "0", "--config-dir", str(tmp_path / "cfg"),
         "--work-dir", str(tmp_path / "out")],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )


def test_sigkill_mid_run_loses_nothing_finished_a_second_before(tmp_path: Path) -> None:
    timing = FixedTiming(ttft_s=0.01, itl_s=0.003, output_tokens=5)
    with TimedServer(timing) as server:
        proc = _start_benchmark(tmp_path, server.port, rows=100_000)
        try:
            deadline = time.monotonic() + 60
            while not (tmp_path / "out").is_dir() or not any((tmp_path / "out").iterdir()):
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.05)
            perf = only_run_dir(tmp_path / "out") / "performances" / "test-model"
            _wait_for_rows(perf, 60)
            time.sleep(2.5)
            kill_s = time.perf_counter()
            os.killpg(proc.pid, signal.SIGKILL)  # the main process and its workers, no clean-up at all
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        time.sleep(0.2)
        server_done_s = list(server.done_s)
        server_seen = len(server.log.bodies)
    assert not (perf / "tiny.json").exists()  # the run never got to its summary
    finished_before = sum(1 for t in server_done_s if t < kill_s - 1.0)
    assert finished_before > 50

    assert main([
        "--models", "test_model", "--datasets", "tiny", "--mode", "perf_viz", "--reuse",
        "--config-dir", str(tmp_path / "cfg"), "--work-dir", str(tmp_path / "out"),
    ]) == 3  # a killed run is a partial result, as its perf run would have said
    extra = json.loads((perf / "tiny.json").read_text())["_ais_bench"]
    assert extra["run_state"] == "killed"
    assert extra["warnings"][0].startswith("this run was killed before it finished")
    details = [orjson.loads(line) for line in (perf / "tiny_details.jsonl").read_bytes().splitlines()]
    assert (perf / "tiny_details.h5").is_file()
    successes = [d for d in details if d["success"]]
    # Every request the server had finished more than 1 s before the kill reached the client within
    # milliseconds, so its record (end stamped at the client) must be on disk.
    assert sum(1 for d in successes if d["end_s"] < kill_s - 1.0 + 0.1) >= finished_before
    assert len(details) <= server_seen
    assert len({d["id"] for d in details}) == len(details)
    common = json.loads((perf / "tiny.json").read_text())
    assert common["Success Requests"]["total"] == len(successes) >= finished_before


def test_workers_stop_when_only_the_main_process_is_killed(tmp_path: Path) -> None:
    with FixedServer(FixedTiming(ttft_s=0.005, itl_s=0.002, output_tokens=3)) as server:
        proc = _start_benchmark(tmp_path, server.port, rows=50_000)
        try:
            deadline = time.monotonic() + 60
            while len(server.log.bodies) < 20:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.05)
            os.kill(proc.pid, signal.SIGKILL)  # only the main process: the workers are orphaned
            proc.wait(10)
            time.sleep(1.5)  # workers notice within 50 ms and let in-flight requests finish
            seen_after_stop = len(server.log.bodies)
            time.sleep(1.0)
            assert len(server.log.bodies) == seen_after_stop  # nobody is sending any more
        finally:
            with contextlib.suppress(ProcessLookupError):  # normally the whole group is gone already
                os.killpg(proc.pid, signal.SIGKILL)
