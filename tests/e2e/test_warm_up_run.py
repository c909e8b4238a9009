"""A warm-up that fails in the worker processes stops the run as the main-process warm-up did: one
line saying how many warm-up requests went where and the first failure, exit 2, nothing of the load
sent, no run folder left."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.configs import write_global_consts, write_model_config, write_synthetic_dataset
from tests.support.scripted_server import ScriptedConnection, ScriptedRequest, ScriptedServer, http_response


async def _not_found(conn: ScriptedConnection, request: ScriptedRequest) -> bool:
    await conn.write(http_response(404, b'{"error": {"message": "no such route"}}'))
    return True


def test_a_failed_warm_up_spread_over_two_workers_stops_the_run_with_one_line(tmp_path: Path) -> None:
    consts = write_global_consts(tmp_path / "consts.py", WORKERS_NUM=2)
    with ScriptedServer(_not_found) as server:
        write_model_config(tmp_path / "configs", "m", server.port, batch_size=4)
        write_synthetic_dataset(tmp_path / "configs", "tiny", 6)
        result = subprocess.run(
            [sys.executable, "-m", "ais_bench.cli.main", "--models", "m", "--datasets", "tiny", "--num-warmups", "3"],
            cwd=tmp_path, capture_output=True, text=True, timeout=180,
            env={**os.environ, "AIS_BENCH_GLOBAL_CONSTS": str(consts)},
        )
        posts = [r for r in server.snapshot().requests if r.method == "POST"]
    assert result.returncode == 2, result.stderr
    assert len(posts) == 3  # the warm-up's, 2 from worker 0 and 1 from worker 1; nothing of the load
    assert "Warm-up: 3 sent, 0 succeeded (excluded from results)" in result.stderr
    expected = (
        f"[AIS-UNREACHABLE] all 3 warm-up request(s) to {server.base_url}v1/chat/completions failed: HTTP 404"
    )
    error_lines = [line for line in result.stderr.splitlines() if "[AIS-" in line]
    assert len(error_lines) == 1 and expected in error_lines[0], result.stderr
    assert "no such route" in error_lines[0]
    assert "-- the server has no /v1/chat/completions: --url (or url, host_ip/host_port) must be the root" in error_lines[0]
    assert "--num-warmups 0" not in error_lines[0]  # skipping the warm-up would only make every request fail
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "outputs" / "default").exists() or not any((tmp_path / "outputs" / "default").iterdir())
