"""State shared by the main process and the worker processes (multiprocessing primitives)."""

from __future__ import annotations

from dataclasses import dataclass
from multiprocessing.context import BaseContext
from typing import Any, Protocol, TypeVar

# Per-worker counter slots in ``SharedState.counters`` (the order of ``LoadTotals``' fields).
SENT, FINISHED, FAILED, IN_FLIGHT, CLIENTS = range(5)
COUNTER_FIELDS = 5


@dataclass(frozen=True)
class LoadTotals:
    """The workers' counters summed: requests sent, finished (succeeded or failed), failed, in
    flight now, and pressure-mode clients added. Field order is the counter slots' order."""

    sent: int = 0
    finished: int = 0
    failed: int = 0
    in_flight: int = 0
    clients: int = 0

    @property
    def succeeded(self) -> int:
        return self.finished - self.failed


class Primitives(Protocol):
    """What a ``SharedState``'s fields are made of, for one way of running the workers: processes
    (``ProcessPrimitives``) or a thread of a Ray actor (``distributed/share.py``)."""

    def counter(self) -> Any:
        """A source of ids, as ``SharedState.claim`` takes them."""

    def seconds(self) -> Any:
        """A float with ``.value``."""

    def counters(self, size: int) -> Any:
        """``size`` integers, zero at first."""

    def event(self) -> Any: ...

    def queue(self) -> Any: ...


@dataclass(frozen=True)
class ProcessPrimitives:
    """Shared-memory values, events and queues of the multiprocessing context ``ctx``."""

    ctx: BaseContext

    def counter(self) -> Any:
        return self.ctx.Value("q", 0)

    def seconds(self) -> Any:
        return self.ctx.Value("d", 0.0, lock=False)

    def counters(self, size: int) -> Any:
        return self.ctx.Array("q", size, lock=False)

    def event(self) -> Any:
        return self.ctx.Event()

    def queue(self) -> Any:
        return self.ctx.Queue()


_State = TypeVar("_State", bound="SharedState")


@dataclass
class SharedState:
    """Cross-process state. ``next_request`` hands out request ids (and dataset positions) in
    global order; ``next_client`` hands out pressure-mode client slots; ``start_at_s`` is the
    perf_counter time of the first planned send, set by the main process once every worker is ready.
    """

    next_request: Any
    next_client: Any
    start_at_s: Any
    counters: Any
    go: Any
    stop: Any
    ready: Any
    messages: Any
    workers: int

    @classmethod
    def create(cls, ctx: BaseContext, workers: int) -> SharedState:
        return cls.made_of(ProcessPrimitives(ctx), workers)

    @classmethod
    def made_of(cls: type[_State], make: Primitives, workers: int) -> _State:
        """The state of ``workers`` workers, each field made by ``make``."""
        return cls(
            next_request=make.counter(),
            next_client=make.counter(),
            start_at_s=make.seconds(),
            counters=make.counters(workers * COUNTER_FIELDS),
            go=make.event(),
            stop=make.event(),
            ready=make.queue(),
            messages=make.queue(),
            workers=workers,
        )

    def claim(self, counter: Any) -> int:
        """Take the next number from a shared counter."""
        with counter.get_lock():
            value = int(counter.value)
            counter.value = value + 1
        return value

    def totals(self) -> LoadTotals:
        sums = [0] * COUNTER_FIELDS
        counters = self.counters
        for worker in range(self.workers):
            base = worker * COUNTER_FIELDS
            for field_index in range(COUNTER_FIELDS):
                sums[field_index] += counters[base + field_index]
        return LoadTotals(*sums)
