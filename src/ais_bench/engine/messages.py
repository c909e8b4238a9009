"""What worker processes tell the main process (through ``SharedState.messages``), and the collector.

Each message is a small picklable dataclass carrying the id of the worker that sent it. The main
process drains them while the workers run (``WorkerMessages.drain``), so a full pipe never blocks a
worker's exit.
"""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ais_bench.engine.health import LagHistogram
from ais_bench.engine.live import LiveFigures, SparseTally
from ais_bench.engine.warmup import WarmupResult

if TYPE_CHECKING:
    from ais_bench.engine.shared import SharedState

#: How long a --debug run waits for its worker thread's last messages after the thread ended.
FINAL_MESSAGES_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class FromWorker:
    """A message from worker ``worker`` (its index); each kind below adds what it tells."""

    worker: int


@dataclass(frozen=True)
class WorkerWarning(FromWorker):
    """A sentence for the user (the stall watchdog fired, pressure time ended early, ...)."""

    text: str


@dataclass(frozen=True)
class WorkerCrash(FromWorker):
    """A worker ended with an exception; ``traceback`` is its formatted traceback."""

    traceback: str


@dataclass(frozen=True)
class ClientHealth(FromWorker):
    """What the self-check (``engine/health.py``) needs of the worker, sent once its load ended: how
    it stamped events (``stamping``: ``kernel``, the kernel's receive stamps, or ``loop``), its
    event-loop lag histogram in sparse form (``LagHistogram.to_sparse``), the CPU seconds of its
    loop's thread and the wall seconds from the go signal to its last request."""

    stamping: str
    lag_counts: dict[int, int]
    cpu_s: float
    wall_s: float


@dataclass(frozen=True)
class OutputFailure(FromWorker):
    """Records could not be written (disk full, ...): ``reason``, and ``unwritten`` finished
    requests whose records were lost."""

    reason: str
    unwritten: int


@dataclass(frozen=True)
class LiveCounts(FromWorker):
    """What the records the worker wrote since its last ``LiveCounts`` add up to (``engine/live.py``):
    bounded in size however long the run (fixed histograms, a few end-time buckets)."""

    tally: SparseTally


@dataclass(frozen=True)
class WorkerStarted(FromWorker):
    """The worker has started and opened its client; its warm-up comes next (``SharedState.ready``)."""


@dataclass(frozen=True)
class WorkerReady(FromWorker):
    """The worker has sent its share of the warm-up (``warm_up``) and waits for the go signal
    (``SharedState.ready``)."""

    warm_up: WarmupResult


WorkerMessage = WorkerWarning | WorkerCrash | ClientHealth | OutputFailure | LiveCounts


@dataclass
class WorkerMessages:
    """What the workers reported: warnings, crash tracebacks, the merged event-loop lag histogram,
    CPU use per worker, stamping modes, record-writing failures and the live figures."""

    warnings: list[str] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)
    loop_lag: LagHistogram = field(default_factory=LagHistogram)
    worker_cpu_s: dict[int, tuple[float, float]] = field(default_factory=dict)
    stamping: set[str] = field(default_factory=set)
    output_failures: list[OutputFailure] = field(default_factory=list)
    live: LiveFigures = field(default_factory=lambda: LiveFigures(workers=1))

    def drain(self, shared: SharedState, final_from: int = 0) -> WorkerMessages:
        """Take every message queued; with ``final_from`` > 0, wait (at most ``FINAL_MESSAGES_TIMEOUT_S``)
        until that many workers sent their ``ClientHealth`` (or a crash)."""
        deadline_s = time.monotonic() + FINAL_MESSAGES_TIMEOUT_S
        while True:
            waiting_s = deadline_s - time.monotonic()
            try:
                if len(self.worker_cpu_s) + len(self.crashes) < final_from and waiting_s > 0:
                    message = shared.messages.get(timeout=waiting_s)
                else:
                    message = shared.messages.get_nowait()
            except queue.Empty:
                return self
            self.add(message)

    def add(self, message: WorkerMessage) -> None:
        if isinstance(message, LiveCounts):
            self.live.add(message.worker, message.tally)
        elif isinstance(message, ClientHealth):
            self.stamping.add(message.stamping)
            self.loop_lag.merge(LagHistogram.from_sparse(message.lag_counts))
            self.worker_cpu_s[message.worker] = (message.cpu_s, message.wall_s)
        elif isinstance(message, OutputFailure):
            self.output_failures.append(message)
        elif isinstance(message, WorkerCrash):
            self.crashes.append(message.traceback)
        elif isinstance(message, WorkerWarning):
            self.warnings.append(message.text)
        else:
            raise TypeError(f"unknown worker message {message!r}")

    @property
    def stamping_mode(self) -> str:
        """``kernel`` or ``loop`` when every worker said the same, ``mixed`` otherwise (``loop``
        when none said)."""
        if len(self.stamping) == 1:
            return next(iter(self.stamping))
        return "mixed" if self.stamping else "loop"
