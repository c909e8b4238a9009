"""Run one dataset's load: start the workers, release them together, watch them, stop them.

The main process never sends benchmark requests itself (except in ``--debug``, where the single
worker runs in a thread of the main process). It owns the progress display and Ctrl-C: the first
Ctrl-C asks the workers to stop sending and to let in-flight requests finish (up to a few
seconds); a second one terminates them.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ais_bench.engine.health import LagHistogram, NodeClockOffset
from ais_bench.engine.live import LiveFigures
from ais_bench.engine.messages import WorkerMessages, WorkerReady
from ais_bench.engine.plan import RunPlan
from ais_bench.engine.shared import LoadTotals, SharedState
from ais_bench.engine.warmup import WarmupResult
from ais_bench.engine.worker import STOP_SIGNALS, run_in_process, worker_main
from ais_bench.errors import AisBenchError, stop_signal_of
from ais_bench.load.schedule import split_concurrency

#: Delay between "all workers ready" and the first planned send, so every worker sees it in time.
START_DELAY_S = 0.05
#: Seconds to wait for worker processes to load and open their client before giving up (their
#: warm-up requests then take what they take: REQUEST_TIME_OUT bounds each).
READY_TIMEOUT_S = 120.0
#: Called about four times a second while the load runs, and once after it, with the shared counters,
#: the seconds since the first planned send and the workers' live figures (``engine/live.py``).
ProgressCallback = Callable[[LoadTotals, float, LiveFigures], None]
#: Called with the workers' warm-up, all done, before the load starts; it may raise to stop the run.
BeforeLoadCallback = Callable[[WarmupResult], None]


@dataclass
class RunOutcome:
    """What happened: totals from the shared counters, the time span, warnings, interruption."""

    totals: LoadTotals
    started_at_s: float
    elapsed_s: float
    interrupted: bool = False
    #: The signal that interrupted the run (``SIGINT``: Ctrl-C, or ``SIGTERM``), None when not interrupted.
    stop_signal: str | None = None
    warnings: list[str] = field(default_factory=list)
    record_dir: Path | None = None
    loop_lag: LagHistogram = field(default_factory=LagHistogram)
    #: Per worker: (CPU seconds of its event loop's thread, wall seconds) from the go signal to its
    #: last request.
    #: CPU close to wall means the worker was saturated (see ``engine.health.build_self_check``).
    worker_cpu_s: dict[int, tuple[float, float]] = field(default_factory=dict)
    #: How the workers stamped events: ``kernel`` (receive stamps of the kernel), ``loop`` (when the
    #: event loop read the bytes), or ``mixed``; see ``clients/transport.py``.
    stamping: str = "loop"
    #: Why records could not be written (disk full, ...) and sending stopped; None when all went well.
    output_error: str | None = None
    #: Finished requests whose records could not be written (kept in memory until the end, then lost).
    records_unwritten: int = 0
    #: The workers' live figures (``engine/live.py``), complete once the run has ended.
    live: LiveFigures = field(default_factory=lambda: LiveFigures(workers=1))
    #: A run across machines: each load node's id and its clock offset to this process's clock
    #: (``distributed.clock.ClockOffset``), reported by the self-check; empty for a run on this host.
    clock_offsets: Sequence[tuple[str, NodeClockOffset]] = ()

    @classmethod
    def of_run(
        cls,
        messages: WorkerMessages,
        totals: LoadTotals,
        start_at_s: float,
        stop_signal: str | None,
        record_dir: Path | None,
        *,
        more_warnings: Sequence[str] = (),
        output_error: str | None = None,
        records_unwritten: int = 0,
        clock_offsets: Sequence[tuple[str, NodeClockOffset]] = (),
    ) -> RunOutcome:
        """The outcome of a load that started at ``start_at_s`` and ended now, from the workers'
        messages; the keywords add what only some runners know (the Ray driver's own warnings,
        write failures and clock offsets)."""
        failures = messages.output_failures
        return cls(
            totals=totals,
            started_at_s=start_at_s,
            elapsed_s=time.perf_counter() - start_at_s,
            interrupted=stop_signal is not None,
            stop_signal=stop_signal,
            warnings=messages.warnings + list(more_warnings),
            record_dir=record_dir,
            loop_lag=messages.loop_lag,
            worker_cpu_s=dict(sorted(messages.worker_cpu_s.items())),
            stamping=messages.stamping_mode,
            output_error=output_error or (failures[0].reason if failures else None),
            records_unwritten=records_unwritten + sum(failure.unwritten for failure in failures),
            live=messages.live,
            clock_offsets=clock_offsets,
        )


#: What runs one worker: a process, or a thread of this process (``--debug``).
Runner = threading.Thread | multiprocessing.process.BaseProcess

class WorkerCrashed(AisBenchError):
    code = "AIS-WORKER"


def worker_start_method() -> str:
    """How worker processes start: ``fork`` on Linux when this process runs no other thread, else
    ``spawn``. A forked worker inherits the imported modules and the plan instead of importing and
    unpickling them again (about 0.3 CPU-s per worker, most of a short run's fixed cost), and needs
    no resource-tracker process. Another thread (a test's server, say) could hold a lock at the
    moment of the fork that the child would then wait for forever; other platforms' system
    libraries are not safe to fork (macOS)."""
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        return "fork"
    return "spawn"


def run_benchmark(
    plan: RunPlan, progress: ProgressCallback | None = None, before_load: BeforeLoadCallback | None = None
) -> RunOutcome:
    """Start the workers, let each send its share of the warm-up (``engine/warmup.py``), hand the
    warm-up's result to ``before_load`` (an exception it raises stops the workers before anything is
    measured), then send the plan's load and return once every worker has finished (or was
    stopped). The run's clock starts after the warm-up: the first planned send is ``started_at_s``."""
    start_method = worker_start_method()
    ctx = multiprocessing.get_context("fork") if start_method == "fork" else multiprocessing.get_context("spawn")
    slots = split_concurrency(plan.batch_size, plan.workers)
    shared = SharedState.create(ctx, plan.workers)
    if plan.debug:
        runners: list[Runner] = [threading.Thread(target=run_in_process, args=(plan, shared, 0, slots[0]), daemon=True)]
    else:
        runners = [
            ctx.Process(target=worker_main, args=(plan, shared, i, slots[i]), name=f"ais_bench-worker{i}", daemon=True)
            for i in range(plan.workers)
        ]
    try:
        forking = start_method == "fork" and not plan.debug
        with _stop_signals_deferred(forking), _frozen_while_forking(forking):
            for runner in runners:
                runner.start()
        warm_up = _wait_until_ready(shared, runners)
        if before_load is not None:
            before_load(warm_up)
    except BaseException:  # a worker failed to start, the warm-up failed, or Ctrl-C/SIGTERM: nothing measured
        shared.stop.set()
        _terminate(runners)  # the workers ignore SIGTERM, so the interpreter's exit could not stop them
        raise
    start_at_s = time.perf_counter() + START_DELAY_S
    shared.start_at_s.value = start_at_s
    shared.go.set()
    messages = WorkerMessages(live=LiveFigures(plan.workers, start_at_s=start_at_s))
    stop_signal = _watch(shared, runners, start_at_s, progress, messages)
    # a worker process flushes its messages before it exits; a --debug worker thread's last messages
    # (its loop lag and CPU use) may still be in the queue's feeder thread: wait for them
    messages.drain(shared, final_from=len(runners) if plan.debug else 0)
    if messages.crashes:
        crashes = messages.crashes
        raise WorkerCrashed(
            f"{len(crashes)} worker(s) crashed; first error: {crashes[0].strip().splitlines()[-1]}",
            hint="rerun with --debug to see the traceback",
        )
    return RunOutcome.of_run(messages, shared.totals(), start_at_s, stop_signal, plan.record_dir)


def _wait_until_ready(shared: SharedState, runners: list[Runner]) -> WarmupResult:
    """Wait until every worker has started (within ``READY_TIMEOUT_S``) and warmed up; returns their
    warm-ups added up (the first error of the lowest worker id first)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    started: set[int] = set()
    warm_ups: dict[int, WarmupResult] = {}
    while len(warm_ups) < len(runners):
        try:
            message = shared.ready.get(timeout=0.1)
            started.add(message.worker)
            if isinstance(message, WorkerReady):
                warm_ups[message.worker] = message.warm_up
        except queue.Empty:
            if not all(r.is_alive() for r in runners):
                crashes = WorkerMessages().drain(shared).crashes
                detail = crashes[0].strip().splitlines()[-1] if crashes else "no message"
                raise WorkerCrashed(f"a worker failed while starting: {detail}", hint="rerun with --debug") from None
            if len(started) < len(runners) and time.monotonic() > deadline:
                raise WorkerCrashed(f"workers not ready after {READY_TIMEOUT_S:.0f} s") from None
    total = WarmupResult()
    for worker in sorted(warm_ups):
        total = total.plus(warm_ups[worker])
    return total


def _watch(
    shared: SharedState,
    runners: list[Runner],
    start_at_s: float,
    progress: ProgressCallback | None,
    messages: WorkerMessages,
) -> str | None:
    """Wait for the workers; returns the name of the signal that interrupted the run, if one did.
    The first Ctrl-C or SIGTERM asks the workers to stop sending; a second one terminates them."""
    stop_signal: str | None = None
    while any(r.is_alive() for r in runners):
        messages.drain(shared)
        try:
            for runner in runners:
                runner.join(timeout=0.25)
                if progress is not None:
                    progress(shared.totals(), time.perf_counter() - start_at_s, messages.live)
                if runner.is_alive():
                    break
        except KeyboardInterrupt as exc:
            if stop_signal is not None:
                _terminate(runners)
                break
            stop_signal = stop_signal_of(exc)
            shared.stop.set()
    if progress is not None:
        messages.drain(shared)
        progress(shared.totals(), time.perf_counter() - start_at_s, messages.live)
    return stop_signal


def _terminate(runners: list[Runner]) -> None:
    """Kill the worker processes (they ignore SIGINT and SIGTERM, which are the main process's)."""
    started = [runner for runner in runners if runner.ident is not None]
    for runner in started:
        if isinstance(runner, multiprocessing.process.BaseProcess) and runner.is_alive():
            runner.kill()
    for runner in started:
        runner.join(timeout=5)


@contextlib.contextmanager
def _frozen_while_forking(forking: bool) -> Iterator[None]:
    """While worker processes are forked, this process's objects are frozen (``gc.freeze``): a
    forked worker inherits them frozen, so its first collection (``engine/worker.py`` ``_tune_gc``)
    walks only the objects it made itself instead of every module and the plan, and does not write
    to the pages it shares with this process (about 20 ms of CPU per worker, docs/performance.md).
    They are unfrozen here once the workers exist."""
    if not forking:
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@contextlib.contextmanager
def _stop_signals_deferred(defer: bool) -> Iterator[None]:
    """While worker processes are forked, SIGINT and SIGTERM are only noted; once the forks are done
    the previous handlers are back and the first noted signal is raised again for them. A stop
    handler that ran inside the fork's own callbacks would have its exception swallowed (the stop
    lost), and a new worker would run it before it ignores stop signals. (Blocking the signals would
    not do: Python runs its handlers in the main thread whichever thread the kernel picks, and the
    main process may have threads of its own in C libraries.)"""
    if not defer or threading.current_thread() is not threading.main_thread():
        yield
        return
    noted: list[int] = []
    previous = {
        stop_signal: signal.signal(stop_signal, lambda signum, _frame: noted.append(signum))
        for stop_signal in STOP_SIGNALS
        if signal.getsignal(stop_signal) is not None  # None: a handler not set from Python, left alone
    }
    try:
        yield
    finally:
        for stop_signal, handler in previous.items():
            signal.signal(stop_signal, handler)
        if noted:
            signal.raise_signal(noted[0])
