"""``--ray``: a load spread over a local two-node Ray cluster (``tests/support/ray_cluster.py``, every
process on 127.0.0.1) against the simulator and a scripted server.

Needs the ``[distributed]`` extra (``make distributed``): skipped without Ray, an error under CI=true
(CI installs it). The cluster starts once for the module (about 10 s on two busy cores).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp import web

from ais_bench.cli.main import main
from ais_bench.distributed.gather import NODE_LOST
from ais_bench.records.record import RequestRecord
from ais_bench.records.store import read_records
from tests.support.configs import (
    only_run_dir,
    write_global_consts,
    write_model_config,
    write_sim_model_config,
    write_synthetic_dataset,
)
from tests.support.fixed_server import FixedServer
from tests.support.processes import stop_process
from tests.support.ray_cluster import LOOPBACK_ENV

REPO = Path(__file__).resolve().parents[2]
HAVE_RAY = importlib.util.find_spec("ray") is not None
pytestmark = pytest.mark.skipif(
    not HAVE_RAY and os.environ.get("CI") != "true", reason="Ray is not installed (make distributed)"
)
#: The environment of the processes that talk to the cluster (a crash in Ray's native code prints
#: the Python stack).
RAY_ENV = {**os.environ, **LOOPBACK_ENV, "PYTHONFAULTHANDLER": "1"}
#: A bound on anything the tests wait for; only a hang comes near it.
PATIENCE_S = 180.0


class RayCluster:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.ray_cluster"], cwd=REPO, env=RAY_ENV,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, "the Ray test cluster did not start"
        self.address: str = json.loads(line)["address"]

    def kill_second_node(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("kill\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "killed"

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            stop_process(self.proc)


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[RayCluster]:
    if not HAVE_RAY:
        pytest.fail("CI=true but Ray is not installed: .ci/run must run `make distributed`")
    cluster = RayCluster()
    try:
        yield cluster
    finally:
        cluster.stop()


def _ais_bench(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The CLI in a process of its own (a Ray driver leaves threads behind in its process)."""
    script = Path(sys.executable).with_name("ais_bench")
    return subprocess.run(
        [str(script), *args], cwd=cwd, env=RAY_ENV, capture_output=True, text=True,
        timeout=PATIENCE_S,
    )


def _by_request(records: list[RequestRecord]) -> dict[int, RequestRecord]:
    return {record.request_id: record for record in records}


def _max_concurrency(records: list[RequestRecord]) -> int:
    """Most requests open at once, from their send and end stamps (ends before starts at a tie)."""
    events = sorted([(r.start_s, 1) for r in records] + [(r.end_s, -1) for r in records], key=lambda e: (e[0], e[1]))
    return int(np.max(np.cumsum([delta for _, delta in events])))


def _setup_sim(tmp_path: Path, count: int) -> Path:
    cfg = tmp_path / "cfg"
    # output_len_dist="max": every request generates exactly max_out_len tokens, in any run
    write_sim_model_config(cfg, "sim", {"output_len_dist": "max", "max_num_seqs": 8}, abbr="sim", batch_size=6,
                           max_out_len=12)
    write_synthetic_dataset(cfg, "tiny", count, input_len=16, output_len=12)
    return cfg


def test_ray_perf_run_equals_local_run(tmp_path: Path, ray_cluster: RayCluster) -> None:
    count = 30
    cfg = _setup_sim(tmp_path, count)
    common = ["--models", "sim", "--datasets", "tiny", "--mode", "perf", "--config-dir", str(cfg), "--num-warmups", "2"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIS_BENCH_GLOBAL_CONSTS", str(write_global_consts(tmp_path / "consts.py", WORKERS_NUM=2)))
        assert main([*common, "--work-dir", str(tmp_path / "local")]) == 0
    done = _ais_bench([*common, "--work-dir", str(tmp_path / "ray"), "--ray", ray_cluster.address,
                       "--ray-workers-per-node", "1"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Ray: 2 load worker(s) on 2 node(s)" in done.stderr

    local, on_ray = (
        read_records(only_run_dir(tmp_path / name) / "performances" / "sim", "tiny") for name in ("local", "ray")
    )
    assert sorted(_by_request(on_ray)) == sorted(_by_request(local)) == list(range(count))
    assert all(record.success for record in on_ray)
    assert {record.worker_id for record in on_ray} == {0, 1}  # one worker on each node
    for request_id, record in _by_request(on_ray).items():
        expected = _by_request(local)[request_id]
        assert (record.data_index, record.usage_input_tokens, record.usage_output_tokens) == (
            expected.data_index, expected.usage_input_tokens, expected.usage_output_tokens,
        )
        assert record.usage_output_tokens == 12 and len(record.time_points_s) == 13
    assert _max_concurrency(on_ray) <= 6
    summaries = [
        json.loads((only_run_dir(tmp_path / name) / "performances" / "sim" / "tiny.json").read_text())
        for name in ("local", "ray")
    ]
    for key in ("Total Requests", "Success Requests", "Total Input Tokens", "Total Generated Tokens"):
        assert summaries[1][key]["total"] == summaries[0][key]["total"], key


def test_ray_pressure_run_holds_the_deadline_and_batch_size(tmp_path: Path, ray_cluster: RayCluster) -> None:
    cfg = _setup_sim(tmp_path, 10)
    done = _ais_bench([
        "--models", "sim", "--datasets", "tiny", "--mode", "perf", "--config-dir", str(cfg), "--num-warmups", "0",
        "--pressure", "--pressure-time", "2", "--work-dir", str(tmp_path / "ray"), "--ray", ray_cluster.address,
        "--ray-workers-per-node", "1",
    ], tmp_path)
    assert done.returncode == 0, done.stderr
    run_dir = only_run_dir(tmp_path / "ray") / "performances" / "sim"
    records = read_records(run_dir, "tiny")
    assert records and all(record.success for record in records)
    assert {record.worker_id for record in records} == {0, 1}
    assert len(_by_request(records)) == len(records)  # every request id once (ids dealt out, never claimed twice)
    assert _max_concurrency(records) <= 6
    summary = json.loads((run_dir / "tiny.json").read_text())
    assert summary["Total Requests"]["total"] == len(records)


def test_ray_request_rate_is_global_across_the_nodes(tmp_path: Path, ray_cluster: RayCluster) -> None:
    # 20 requests at 20 req/s, evenly spaced (burstiness 0): request r is planned 50 ms x r after the
    # start, whichever of the two workers (on two nodes) sends it; each worker's planned times are on
    # its node's clock, moved onto the driver's with the node's offset, so the planned times of all
    # records line up on one grid, and no request went out before its planned time.
    cfg = tmp_path / "cfg"
    write_sim_model_config(cfg, "sim", {"output_len_dist": "max"}, abbr="sim", batch_size=6, max_out_len=4,
                           request_rate=20, traffic_cfg={"burstiness": 0})
    write_synthetic_dataset(cfg, "tiny", 20, input_len=8, output_len=4)
    done = _ais_bench([
        "--models", "sim", "--datasets", "tiny", "--mode", "perf", "--config-dir", str(cfg), "--num-warmups", "0",
        "--work-dir", str(tmp_path / "ray"), "--ray", ray_cluster.address, "--ray-workers-per-node", "1",
    ], tmp_path)
    assert done.returncode == 0, done.stderr
    perf = only_run_dir(tmp_path / "ray") / "performances" / "sim"
    records = sorted(read_records(perf, "tiny"), key=lambda r: r.request_id)
    assert [r.request_id for r in records] == list(range(20))
    assert [r.worker_id for r in records] == [(i % 6) % 2 for i in range(20)]  # dealt by the batch_size split
    # Both nodes run on this machine, whose clock they share: each node's true offset is 0, and the
    # estimate must hold it within the uncertainty it reports (the self-check's clocks, by node).
    clocks = json.loads((perf / "tiny.json").read_text())["_ais_bench"]["client_self_check"]["clocks"]
    assert len(clocks) == 2
    for clock in clocks.values():
        assert abs(clock["offset_ms"]) <= clock["uncertainty_ms"] + 1e-4  # the json rounds to 0.1 µs
    # so the two nodes' planned times lie on one grid to within their two uncertainties
    tolerance_s = sum(clock["uncertainty_ms"] + 1e-4 for clock in clocks.values()) / 1000
    planned = np.array([r.scheduled_s for r in records])
    np.testing.assert_allclose(planned - planned[0], 0.05 * np.arange(20), rtol=0, atol=tolerance_s + 1e-9)
    assert all(r.start_s >= r.scheduled_s for r in records)


class HoldingServer(FixedServer):
    """Answers requests ``r0``..``r<fast - 1>`` (``X-Request-Id``; without it, the first ``fast`` to
    arrive) at once; any later one sends its first token and then holds until ``release`` is set."""

    def __init__(self, fast: int) -> None:
        super().__init__()
        self.fast = fast
        self.held = 0
        self.arrived = 0
        self.release = threading.Event()

    async def _stream(self, request: web.Request, body: dict[str, Any], chat: bool) -> web.StreamResponse:
        number = int(request.headers.get("X-Request-Id", f"r{self.arrived}").removeprefix("r"))
        self.arrived += 1
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(self._chunk(chat, None, role=True) + self._chunk(chat, " tok"))
        if number >= self.fast:
            self.held += 1
            while not self.release.is_set():
                await asyncio.sleep(0.02)
        await resp.write(self._chunk(chat, " tok") + b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp


def test_sigterm_stops_a_ray_run_summarises_it_and_exits_143(tmp_path: Path, ray_cluster: RayCluster) -> None:
    # Two workers with two slots each: the first four requests to arrive are answered at once, the
    # next four (one per lane) are held, so exactly eight are sent whatever the timing. SIGTERM then
    # stops the sending on both nodes; the held requests are cut after the stop grace (5 s) and kept
    # as failed records; the run is summarised and exits 143 as a local run does.
    cfg = tmp_path / "cfg"
    with HoldingServer(fast=4) as server:
        write_model_config(cfg, "held", server.port, batch_size=4, max_out_len=2)
        write_synthetic_dataset(cfg, "tiny", 40, input_len=8, output_len=2)
        proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("ais_bench")), "--models", "held", "--datasets", "tiny", "--mode",
             "perf", "--num-warmups", "0", "--config-dir", str(cfg), "--work-dir", str(tmp_path / "out"),
             "--ray", ray_cluster.address, "--ray-workers-per-node", "1"],
            cwd=tmp_path, env=RAY_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            _wait_for(lambda: server.held == 4 or proc.poll() is not None, "four requests held")
            assert proc.poll() is None, proc.communicate()[1]
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=PATIENCE_S)
        finally:
            if proc.poll() is None:
                stop_process(proc)  # type: ignore[arg-type]
            server.release.set()
    assert proc.returncode == 143, err
    perf = only_run_dir(tmp_path / "out") / "performances" / "held"
    records = read_records(perf, "tiny")
    assert len(records) == 8
    assert sum(record.success for record in records) == 4
    extra = json.loads((perf / "tiny.json").read_text())["_ais_bench"]
    assert extra["run_state"] == "interrupted" and extra["stop_signal"] == "SIGTERM"


#: The driver of the node-loss test: the public API, with X-Request-Id headers so the server can tell
#: requests apart; prints the run's totals as one JSON line.
HELD_DRIVER = """
import dataclasses, json, logging, sys
from pathlib import Path
from ais_bench import api

def main():
    logging.basicConfig(level=logging.INFO)
    port, address, run_dir = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    model = dict(type="VLLMCustomAPIChat", abbr="held", host_ip="127.0.0.1", host_port=port, model="m",
                 stream=True, batch_size=4, max_out_len=2)
    planned = api.plan_run(model, None, run_dir=run_dir, num_prompts=12, num_warmups=0,
                           overrides=dict(isl=8, osl=2), ray=address, ray_workers_per_node=1)
    planned = dataclasses.replace(planned, plan=dataclasses.replace(planned.plan, request_id_prefix="r"))
    result = api.run(planned, progress=False)
    print(json.dumps(dataclasses.asdict(result.totals)), flush=True)

if __name__ == "__main__":
    main()
"""


def _wait_for(condition: Any, what: str) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_losing_a_node_fails_only_its_requests_in_flight(tmp_path: Path, ray_cluster: RayCluster) -> None:
    # The module's last test: it kills the cluster's second node.
    # 12 requests, batch_size 4, one worker on each node with 2 slots: worker w owns the ids with
    # (id % 4) % 2 == w. Requests 0-3 are answered at once; 4-7 (each worker's next two) are held by
    # the server until the test has killed the second node: the worker there loses exactly its two
    # held requests, keeps its two finished ones and never sends its last two; the other worker
    # sends and finishes all six of its own.
    script = tmp_path / "driver.py"
    script.write_text(HELD_DRIVER)
    run_dir = tmp_path / "run"
    with HoldingServer(fast=4) as server:
        driver = subprocess.Popen(
            [sys.executable, str(script), str(server.port), ray_cluster.address, str(run_dir)], cwd=tmp_path,
            env=RAY_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            perf = run_dir / "performances" / "held"
            records_dir = perf / "records"

            def first_four_gathered() -> bool:
                assert driver.poll() is None, driver.communicate()[1]
                done = read_records(perf, "synthetic") if records_dir.exists() else []
                return server.held == 4 and len(done) == 4

            _wait_for(first_four_gathered, "requests 0-3 on the driver's disk and 4-7 held")
            ray_cluster.kill_second_node()
            server.release.set()
            out, err = driver.communicate(timeout=PATIENCE_S)
        finally:
            if driver.poll() is None:
                stop_process(driver)  # type: ignore[arg-type]
    assert driver.returncode == 0, err
    records = read_records(perf, "synthetic")
    failed = [record for record in records if not record.success]
    assert len(failed) == 2 and {record.error_message for record in failed} == {NODE_LOST}, (err, [(r.request_id, r.worker_id, r.success, r.error_message) for r in records])
    lost_worker = failed[0].worker_id
    kept = 1 - lost_worker
    ids_of = {worker: sorted(r.request_id for r in records if r.worker_id == worker) for worker in (0, 1)}
    assert ids_of[kept] == [i for i in range(12) if (i % 4) % 2 == kept]
    assert ids_of[lost_worker] == [lost_worker, lost_worker + 2, lost_worker + 4, lost_worker + 6]
    assert sorted(r.request_id for r in failed) == [lost_worker + 4, lost_worker + 6]
    assert all(r.success for r in records if r.request_id < 4)
    assert json.loads(out.strip().splitlines()[-1]) == {
        "sent": 10, "finished": 10, "failed": 2, "in_flight": 0, "clients": 0,
    }
    assert "load node 127.0.0.1 (worker" in err and "was lost" in err
    assert (perf / "synthetic.json").exists()
