"""Test tiers: a test that starts processes (the CLI's worker processes, the simulator's child
process, a Python or openssl subprocess) carries the ``processes`` marker, and ``make test-fast``
runs the rest (``-m "not processes"``). Every end-to-end test starts processes; so do the
integration modules named below. A single test elsewhere is marked where it is defined."""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

#: Integration modules whose every test starts processes.
PROCESS_MODULES = frozenset({
    "test_backends_datasets.py",
    "test_backends_native.py",
    "test_clock_ping.py",
    "test_engine_timing.py",
    "test_kernel_stamps.py",
    "test_misbehaving_servers.py",
    "test_real_server.py",
    "test_scripted_server.py",
    "test_sim_process.py",
    "test_tls.py",
})


def _starts_processes(path: Path) -> bool:
    folder = path.parent
    return folder == TESTS / "e2e" or (folder == TESTS / "integration" and path.name in PROCESS_MODULES)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    missing = sorted(name for name in PROCESS_MODULES if not (TESTS / "integration" / name).exists())
    assert not missing, f"tests/conftest.py names integration modules that do not exist: {missing}"
    for item in items:
        if _starts_processes(Path(item.path)):
            item.add_marker(pytest.mark.processes)
