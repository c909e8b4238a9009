"""Test tiers: a test that starts processes (the CLI's worker processes, the simulator's child
process, a Python or openssl subprocess, a fork) carries the ``processes`` marker, and ``make test-fast``
runs the rest (``-m "not processes"``). Every end-to-end test starts processes; so do the
integration modules named below. A single test elsewhere is marked where it is defined.

``make test-fast`` also loads the hypothesis profile ``fast`` registered here (``--hypothesis-profile=fast``):
every property test tries a quarter of the examples it tries in ``make test`` (tests/support/examples.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

TESTS = Path(__file__).resolve().parent

# No deadline: a test that happens to run beside a busy process must not fail for being slow.
settings.register_profile("fast", max_examples=25, deadline=None)

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
    "test_warm_up.py",
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
