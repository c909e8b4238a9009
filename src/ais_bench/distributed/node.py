"""One load worker on a Ray node: the local worker loop (``engine/worker.py``) in a thread of a Ray
actor, and what the driver asks of it. Plain Python (no Ray import): the driver wraps it with
``ray.remote`` (``distributed/driver.py``), and tests can drive it in one process.

The worker writes its crash-safe record files on the node as a local worker does, under
``local_dir`` (``performances/<abbr>/records/`` there); ``poll`` reads what it has committed since
the last call (``RecordTail``) and hands it to the driver with the worker's counters, messages and
the requests in flight, which the driver fails as "load node lost" if the node goes away.
"""

from __future__ import annotations

import queue
import tempfile
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from time import perf_counter
from typing import Any

from ais_bench.distributed.record_tail import RecordBatch, RecordTail
from ais_bench.distributed.share import NodeShared
from ais_bench.engine.plan import RunPlan
from ais_bench.engine.worker import WorkerContext, run_in_process
from ais_bench.records.store import worker_record_path


@dataclass(frozen=True)
class NodeReport:
    """What one poll of a worker returns. ``ready``: its ``WorkerStarted``/``WorkerReady`` messages;
    ``messages``: the others (``engine/messages.py``); ``counters``: its sent, finished, failed, in
    flight and clients counts; ``records``: the records committed since the last poll; ``in_flight``:
    request id -> its send stamp (None before its first byte went out); ``now_s``: the node's clock
    at the poll; ``done``: the worker has ended and ``records`` holds its last ones. Stamps are the
    node's ``perf_counter`` seconds."""

    worker: int
    ready: list[Any]
    messages: list[Any]
    counters: list[int]
    records: RecordBatch
    in_flight: dict[int, float | None] = field(default_factory=dict)
    now_s: float = 0.0
    done: bool = False


class LoadNode:
    """Worker ``worker_id`` of ``plan`` with ``slots`` of its ``batch_size``; its records go under
    ``node_record_dir(run_name)`` on this node."""

    def __init__(self, plan: RunPlan, worker_id: int, slots: int, run_name: str) -> None:
        self.plan = replace(plan, record_dir=node_record_dir(run_name), debug=False)
        self.worker_id = worker_id
        self.slots = slots
        self.shared = NodeShared.for_worker(worker_id, plan.workers, plan.batch_size)
        self._tail = RecordTail(worker_record_path(self.plan.record_dir, plan.data_abbr, worker_id))
        self._context: WorkerContext | None = None
        self._thread = threading.Thread(target=self._run, name=f"ais_bench-worker{worker_id}", daemon=True)

    def clock(self) -> float:
        """This node's ``perf_counter`` (the driver's clock pings, ``distributed/clock.py``)."""
        return perf_counter()

    def start(self) -> None:
        """Start the worker: it opens its client, sends its share of the warm-up and waits for ``go``."""
        self._thread.start()

    def go(self, start_at_s: float) -> None:
        """Start the load; ``start_at_s``: the first planned send on this node's clock."""
        self.shared.start_at_s.value = start_at_s
        self.shared.go.set()

    def stop(self) -> None:
        """Stop sending; requests in flight may finish (``engine.worker.STOP_GRACE_S``)."""
        self.shared.stop.set()

    def poll(self) -> NodeReport:
        ended = self._thread.ident is not None and not self._thread.is_alive()  # before reading: nothing after it
        now_s = perf_counter()
        in_flight = self._in_flight()
        return NodeReport(
            self.worker_id, _drain(self.shared.ready), _drain(self.shared.messages),
            self.shared.worker_counters(self.worker_id), self._tail.read(), in_flight, now_s, ended,
        )

    def _run(self) -> None:
        run_in_process(self.plan, self.shared, self.worker_id, self.slots, watch=self._watch)

    def _watch(self, context: WorkerContext) -> None:
        self._context = context

    def _in_flight(self) -> dict[int, float | None]:
        context = self._context
        if context is None:
            return {}
        requests = list(context.in_flight.items())  # one C-level copy: the worker's thread may change it
        return {request_id: _send_stamp(attempts) for request_id, (_, attempts) in requests}


def node_record_dir(run_name: str) -> Path:
    """Where a node keeps its workers' own record files: ``<temp dir>/ais_bench-ray/<run name>``."""
    return Path(tempfile.gettempdir()) / "ais_bench-ray" / run_name


def _send_stamp(attempts: list[Any]) -> float | None:
    if attempts and attempts[0].points:
        return float(attempts[0].points[0])
    return None


def _drain(messages: queue.Queue[Any]) -> list[Any]:
    taken = []
    while True:
        try:
            taken.append(messages.get_nowait())
        except queue.Empty:
            return taken
