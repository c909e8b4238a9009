"""Each Ray worker's share of a plan, fixed by the driver before the load: no counter is shared
between machines.

A local run's workers claim request ids from one counter in shared memory (``engine/shared.py``);
across machines every claim would be a network round trip. Instead the ids are dealt out in a fixed
pattern that follows the ``batch_size`` split (``load.schedule.split_concurrency``): id ``r`` belongs
to worker ``(r % batch_size) % workers``, so a worker with ``q + 1`` of the slots sends ``q + 1`` of
every ``batch_size`` requests. Send offsets stay global (request ``r`` goes at its planned time,
whichever worker sends it), and pressure-mode client ``c`` is worker ``c % workers``'s by the same rule.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Any

from ais_bench.engine.shared import COUNTER_FIELDS, SharedState


def owner_of(request_id: int, batch_size: int, workers: int) -> int:
    """The worker that sends request (or pressure client) ``request_id``."""
    return (request_id % batch_size) % workers


class OwnedIds:
    """The ids worker ``worker`` owns, in increasing order (``take`` returns the next one)."""

    def __init__(self, worker: int, workers: int, batch_size: int) -> None:
        if not 0 <= worker < workers <= batch_size:
            raise ValueError(f"worker {worker} of {workers} with batch_size {batch_size}")
        self._offsets = [slot for slot in range(batch_size) if slot % workers == worker]
        self._batch_size = batch_size
        self._taken = 0

    def take(self) -> int:
        cycle, position = divmod(self._taken, len(self._offsets))
        self._taken += 1
        return cycle * self._batch_size + self._offsets[position]


@dataclass
class Seconds:
    """A float with ``.value``, as the worker reads ``SharedState.start_at_s``."""

    value: float = 0.0


@dataclass(frozen=True)
class ThreadPrimitives:
    """A Ray worker's ``SharedState`` fields: thread events and queues (the worker runs in a thread
    of the actor, which answers the driver's calls from others) and counters that hand out the
    worker's own ids (``OwnedIds``)."""

    worker: int
    workers: int
    batch_size: int

    def counter(self) -> OwnedIds:
        return OwnedIds(self.worker, self.workers, self.batch_size)

    def seconds(self) -> Seconds:
        return Seconds()

    def counters(self, size: int) -> list[int]:
        return [0] * size

    def event(self) -> threading.Event:
        return threading.Event()

    def queue(self) -> queue.Queue[Any]:
        return queue.Queue()


class NodeShared(SharedState):
    """``SharedState`` for one worker running in a Ray actor: the same fields, made of
    ``ThreadPrimitives``; claims come from the worker's own ids (``OwnedIds``)."""

    @classmethod
    def for_worker(cls, worker: int, workers: int, batch_size: int) -> NodeShared:
        return cls.made_of(ThreadPrimitives(worker, workers, batch_size), workers)

    def claim(self, counter: Any) -> int:
        """The worker's next id (only the worker's event loop claims: no lock)."""
        return int(counter.take())

    def worker_counters(self, worker: int) -> list[int]:
        """This worker's counters (``engine/shared.py``'s slots: sent, finished, failed, in flight, clients)."""
        base = worker * COUNTER_FIELDS
        return list(self.counters[base:base + COUNTER_FIELDS])
