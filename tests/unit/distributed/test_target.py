"""``--ray``'s target and worker count, and the one line when Ray is not installed."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from ais_bench.cli.main import main
from ais_bench.distributed.target import RayTarget, ray_target
from ais_bench.errors import ConfigError


def test_address_follows_rays_conventions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert RayTarget().resolved_address == "auto"
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.1:6379")
    assert RayTarget().resolved_address == "10.0.0.1:6379"
    assert RayTarget("ray://head:10001").resolved_address == "ray://head:10001"


def test_worker_count_per_node_or_workers_num_never_over_batch_size() -> None:
    assert RayTarget(workers_per_node=3).worker_count(nodes=2, batch_size=100) == 6
    assert RayTarget(workers_num=5).worker_count(nodes=2, batch_size=100) == 5
    assert RayTarget().worker_count(nodes=4, batch_size=100) == 4  # WORKERS_NUM 0: one per node
    assert RayTarget(workers_per_node=8).worker_count(nodes=2, batch_size=10) == 10


def test_ray_keyword_forms() -> None:
    assert ray_target(None, None, 0) is None
    assert ray_target(True, 2, 4) == RayTarget(None, 2, 4)
    assert ray_target("127.0.0.1:6379", None, 0) == RayTarget("127.0.0.1:6379", None, 0)
    with pytest.raises(ConfigError, match="without --ray"):
        ray_target(None, 2, 0)


def test_ray_without_ray_installed_is_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as when it is not installed
    code = main([
        "--url", "http://127.0.0.1:9", "--isl", "8", "--osl", "8", "--num-prompts", "2", "--mode", "perf",
        "--ray", "--work-dir", str(tmp_path / "out"),
    ])
    err = capsys.readouterr().err
    assert code == 2
    lines = [line for line in err.splitlines() if "AIS-" in line]
    assert lines == ["[AIS-CONFIG] --ray needs Ray, which is not installed"] or (
        len(lines) == 1 and "pip install 'ais_bench[distributed]'" in err
    )
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_ray_address_nothing_listens_on_is_one_line_at_once(tmp_path: Path) -> None:
    """Ray itself would retry for minutes; the driver looks at the port first."""
    from ais_bench.distributed.driver import _check_listening

    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens on it
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ConfigError, match=rf"cannot connect to the Ray cluster at '127.0.0.1:{port}': nothing answers"):
        _check_listening(f"127.0.0.1:{port}")
    _check_listening("ray://127.0.0.1:1")  # Ray's client: left to Ray
