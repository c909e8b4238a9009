"""Worker messages: picklable dataclasses the main process collects into one ``WorkerMessages``."""

from __future__ import annotations

import multiprocessing
import pickle

import numpy as np
import pytest

from ais_bench.engine.health import LagHistogram
from ais_bench.engine.live import LiveFigures, LiveTally
from ais_bench.engine.messages import (
    ClientHealth,
    LiveCounts,
    OutputFailure,
    WorkerCrash,
    WorkerMessages,
    WorkerWarning,
)
from ais_bench.engine.shared import LoadTotals, SharedState


def _lag(*bins: int) -> dict[int, int]:
    hist = LagHistogram()
    for index in bins:
        hist.counts[index] += 1
    return hist.to_sparse()


def test_every_message_kind_lands_in_its_field():
    messages = WorkerMessages()
    for message in (
        ClientHealth(1, "kernel", _lag(2), 0.5, 2.0), ClientHealth(0, "kernel", _lag(1, 2), 0.25, 2.0),
        WorkerWarning(1, "stalled"), WorkerCrash(0, "Traceback ..."),
        OutputFailure(0, "No space left on device", 3), OutputFailure(1, "No space left on device", 2),
    ):
        messages.add(pickle.loads(pickle.dumps(message)))  # they cross a process boundary
    assert messages.stamping_mode == "kernel"
    assert messages.loop_lag.total == 3 and messages.loop_lag.counts[2] == 2
    assert messages.worker_cpu_s == {1: (0.5, 2.0), 0: (0.25, 2.0)}
    assert messages.warnings == ["stalled"] and messages.crashes == ["Traceback ..."]
    assert [failure.unwritten for failure in messages.output_failures] == [3, 2]


def test_live_counts_of_every_worker_are_merged_into_the_live_figures():
    messages = WorkerMessages(live=LiveFigures(workers=2, start_at_s=0.0))
    for worker, ttft_s in ((0, 0.04), (1, 0.06)):
        tally = LiveTally(stream=True)
        tally.ttft.add(np.array([ttft_s]))
        tally.requests_by_bucket[0] = 1
        messages.add(pickle.loads(pickle.dumps(LiveCounts(worker, tally.take(complete_until_s=0.6)))))
    assert messages.live.ttft.total == 2 and (messages.live.ttft.min_s, messages.live.ttft.max_s) == (0.04, 0.06)
    rates = messages.live.rates()
    assert rates is not None and rates.requests_per_s == 4.0  # 2 requests in the first 0.5 s


def test_stamping_mode_is_mixed_when_workers_differ_and_loop_when_none_said():
    assert WorkerMessages().stamping_mode == "loop"
    messages = WorkerMessages()
    messages.add(ClientHealth(0, "kernel", {}, 0.25, 1.0))
    messages.add(ClientHealth(1, "loop", {}, 0.25, 1.0))
    assert messages.stamping_mode == "mixed"


def test_a_tagged_tuple_is_refused():
    with pytest.raises(TypeError, match="unknown worker message"):
        WorkerMessages().add(("warning", 0, "text"))  # type: ignore[arg-type]


def test_drain_takes_what_the_queue_holds():
    shared = SharedState.create(multiprocessing.get_context("spawn"), workers=1)
    shared.messages.put(WorkerWarning(0, "first"))
    shared.messages.put(ClientHealth(0, "loop", _lag(3), 1.0, 4.0))
    messages = WorkerMessages().drain(shared, final_from=1)  # waits for the worker's last message
    assert messages.warnings == ["first"] and messages.worker_cpu_s == {0: (1.0, 4.0)}


def test_totals_sum_every_worker_counter():
    shared = SharedState.create(multiprocessing.get_context("spawn"), workers=2)
    shared.counters[:] = [5, 4, 1, 1, 0, 3, 3, 0, 0, 0]  # per worker: sent, finished, failed, in flight, clients
    assert shared.totals() == LoadTotals(sent=8, finished=7, failed=1, in_flight=1, clients=0)
    assert shared.totals().succeeded == 6
