"""A run's life: how it starts (its folder), stops (signals, Ctrl-C) and is recalculated afterwards."""

from __future__ import annotations

import socket
from pathlib import Path

from ais_bench.cli.main import main
from tests.support.configs import write_model_config, write_synthetic_dataset


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
