"""How worker processes start: forked from a main process that runs no other thread (they inherit
its modules and the plan), spawned otherwise; a run completes either way."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ais_bench.clients.backends import OPENAI_CHAT, backend_for
from ais_bench.datasets.item import RequestItem
from ais_bench.engine.plan import RunPlan
from ais_bench.engine.preflight import encode_bodies
from ais_bench.engine.runner import _stop_signals_deferred, run_benchmark, worker_start_method
from ais_bench.records.store import read_records
from ais_bench.sim import SimConfig, start_sim_process

FAST = {"prefill_base_ms": 0.0, "prefill_per_token_ms": 0.0, "decode_per_seq_ms": 0.0, "decode_base_ms": 0.0}
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers are forked on Linux only")


@contextmanager
def _another_thread() -> Iterator[None]:
    release = threading.Event()
    thread = threading.Thread(target=release.wait, daemon=True)
    thread.start()
    try:
        yield
    finally:
        release.set()
        thread.join()


@linux_only
def test_workers_are_forked_only_while_the_main_process_runs_no_other_thread() -> None:
    assert threading.active_count() == 1  # the test process itself
    assert worker_start_method() == "fork"
    with _another_thread():
        assert worker_start_method() == "spawn"
    assert worker_start_method() == "fork"


def _plan(url: str, record_dir: Path) -> RunPlan:
    spec = backend_for(OPENAI_CHAT)
    items = [RequestItem(index=i, prompt=f"hi {i}", data_abbr="ds") for i in range(12)]
    bodies = encode_bodies(spec, items, model="sim-model", stream=True, max_out_len=5, generation_kwargs={"ignore_eos": True})
    return RunPlan(
        backend=OPENAI_CHAT, url=url + "/v1/chat/completions", headers={}, stream=True, items=items, bodies=bodies,
        batch_size=4, workers=2, record_dir=record_dir, data_abbr="ds",
    )


@pytest.mark.processes
@pytest.mark.parametrize("other_thread", [False, True], ids=["forked", "spawned"])
def test_a_run_completes_with_forked_and_with_spawned_workers(tmp_path: Path, other_thread: bool) -> None:
    with start_sim_process(SimConfig(max_num_seqs=4, **FAST)) as sim:
        plan = _plan(sim.url, tmp_path)
        if other_thread:
            with _another_thread():
                outcome = run_benchmark(plan)
        else:
            outcome = run_benchmark(plan)
    records = read_records(tmp_path, "ds")
    assert outcome.totals.finished == 12 and set(outcome.worker_cpu_s) == {0, 1}
    assert sorted(r.request_id for r in records) == list(range(12))
    assert all(r.success and len(r.time_points_s) == 6 for r in records)


class _Stopped(Exception):
    pass


def _raise_stopped(signum: int, frame: object) -> None:
    raise _Stopped()


def test_a_stop_signal_that_arrives_while_workers_are_forked_is_handled_after_the_forks() -> None:
    previous = signal.signal(signal.SIGTERM, _raise_stopped)
    handled_inside = True
    try:
        with pytest.raises(_Stopped), _stop_signals_deferred(True):
            signal.raise_signal(signal.SIGTERM)  # as from a terminal, during a fork
            handled_inside = False  # reached: the handler runs once the block ends
        assert not handled_inside
        assert signal.getsignal(signal.SIGTERM) is _raise_stopped  # the handler is back
    finally:
        signal.signal(signal.SIGTERM, previous)
