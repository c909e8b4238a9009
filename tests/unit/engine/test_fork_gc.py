"""Workers are forked with the main process's objects frozen (``engine/runner.py``
``_frozen_while_forking``): a worker's first collection walks only what it made itself."""

from __future__ import annotations

import gc
import os
import sys

import pytest

from ais_bench.engine.runner import _frozen_while_forking


def _objects_a_fork_collects() -> int:
    """Objects the collector of a child forked now would walk (``gc.get_objects`` leaves the frozen
    ones out)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report and leave at once
        os.close(read_end)
        os.write(write_end, str(len(gc.get_objects())).encode())
        os._exit(0)
    os.close(write_end)
    try:
        return int(os.read(read_end, 64).decode())
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)


@pytest.mark.processes
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers are forked on Linux only")
def test_a_worker_forked_while_frozen_collects_only_its_own_objects() -> None:
    kept = [[index] for index in range(20_000)]  # the main process's objects (a plan's items, say)
    plain = _objects_a_fork_collects()
    with _frozen_while_forking(True):
        frozen = _objects_a_fork_collects()
    assert plain > len(kept)
    assert frozen < 1_000
    assert gc.get_freeze_count() == 0  # unfrozen again in this process


def test_nothing_is_frozen_when_the_workers_are_not_forked() -> None:
    with _frozen_while_forking(False):
        assert gc.get_freeze_count() == 0
