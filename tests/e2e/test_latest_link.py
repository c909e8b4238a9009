"""``<work_dir>/latest`` names the newest run that sent requests: a run moves it; ``--search``, a run
stopped before sending (config error, unreachable server) and a recalculation leave it; a bare
``--reuse`` recalculates the run it names."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from ais_bench.cli.main import main
from tests.support.configs import only_run_dir, write_model_config, write_synthetic_dataset
from tests.support.fixed_server import FixedServer, FixedTiming


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _args(tmp_path: Path, model: str, *extra: str) -> list[str]:
    return [
        "--models", model, "--datasets", "tiny", "--num-warmups", "0",
        "--config-dir", str(tmp_path / "cfg"), "--work-dir", str(tmp_path / "out"), *extra,
    ]


def test_latest_follows_runs_that_sent_requests_only(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_synthetic_dataset(tmp_path / "cfg", "tiny", 3)
    write_model_config(tmp_path / "cfg", "nobody", _free_port())
    with FixedServer(FixedTiming(ttft_s=0.01, itl_s=0.005, output_tokens=3)) as server:
        write_model_config(tmp_path / "cfg", "test_model", server.port)
        assert main(_args(tmp_path, "test_model", "--mode", "perf")) == 0
    run_dir = only_run_dir(out)
    assert (out / "latest").is_symlink() and os.readlink(out / "latest") == run_dir.name
    assert (out / "latest" / "performances" / "test-model" / "tiny.json").is_file()

    assert main(_args(tmp_path, "test_model", "--search")) == 0
    assert main(_args(tmp_path, "nobody", "--mode", "perf")) == 2  # unreachable: nothing sent
    assert main(_args(tmp_path, "no_such_model", "--mode", "perf")) == 2  # config error
    assert only_run_dir(out) == run_dir and os.readlink(out / "latest") == run_dir.name

    csv_path = run_dir / "performances" / "test-model" / "tiny.csv"
    csv_path.unlink()
    assert main(_args(tmp_path, "test_model", "--mode", "perf_viz", "--reuse")) == 0  # bare: the linked run
    assert csv_path.is_file()
    assert sorted(p.name for p in out.iterdir()) == sorted([run_dir.name, "latest"])
