"""One worker process: an asyncio loop (uvloop when available) running ``slots`` lanes.

A lane is a closed loop: claim the next request id from the global counter, wait for its planned
send time (if the load is paced), send it, write its record, repeat. So at most ``slots`` requests
are in flight in this worker and at most ``batch_size`` across all workers; a paced request claimed
after its planned time waited that long for a slot (``slot_wait_s``). In pressure mode a lane is a
*client*: lanes are added on the client schedule and each sends back-to-back until the deadline.
An open-loop plan (a timestamp replay) has no lanes: one dispatcher per worker claims the next
request, waits for its time and starts it without waiting for earlier ones to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import sys
import time
import traceback
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from time import perf_counter

from ais_bench.clients.backends import BACKENDS, BackendSpec
from ais_bench.clients.client import open_client
from ais_bench.clients.http1 import ConnectionPool
from ais_bench.clients.loop import run_worker_loop
from ais_bench.clients.response import ResponseState
from ais_bench.clients.transport import kernel_stamps_enabled
from ais_bench.engine.attempt import Attempt
from ais_bench.engine.health import LagHistogram, monitor_loop_lag
from ais_bench.engine.live import LiveTally
from ais_bench.engine.messages import (
    ClientHealth,
    LiveCounts,
    OutputFailure,
    WorkerCrash,
    WorkerReady,
    WorkerStarted,
    WorkerWarning,
)
from ais_bench.engine.plan import RunPlan
from ais_bench.engine.request import send_request
from ais_bench.engine.request_record import build_record
from ais_bench.engine.shared import CLIENTS, COUNTER_FIELDS, FAILED, FINISHED, IN_FLIGHT, SENT, SharedState
from ais_bench.engine.warmup import WarmupResult, run_warmup, warm_up_rows
from ais_bench.records.store import RecordWriter, worker_record_path
from ais_bench.safe_text import Redactor, secrets_of

#: Seconds in-flight requests may still finish after a stop (Ctrl-C) before they are cancelled.
STOP_GRACE_S = 5.0


@dataclass
class WorkerContext:
    plan: RunPlan
    shared: SharedState
    worker_id: int
    slots: int
    spec: BackendSpec
    session: ConnectionPool
    writer: RecordWriter
    bodies: list[bytes]
    #: The live figures of the records written since the last ``LiveCounts`` message.
    tally: LiveTally
    #: The first error writing records (disk full, ...): sending stopped then.
    output_error: OSError | None = None
    #: Requests in flight: request id -> (the lane's task, the request's attempts so far).
    in_flight: dict[int, tuple[asyncio.Task[None], list[Attempt]]] = field(default_factory=dict)
    #: Set by the stall watchdog: why the in-flight requests were failed; the lanes stop sending.
    stall_reason: str | None = None
    #: Requests the stall watchdog cancelled (recorded as failed with ``stall_reason``).
    stalled: set[int] = field(default_factory=set)

    def count(self, field: int, delta: int = 1) -> None:
        self.shared.counters[self.worker_id * COUNTER_FIELDS + field] += delta

    @property
    def sending(self) -> bool:
        return not self.shared.stop.is_set() and self.stall_reason is None


#: The signals that stop a run: the main process's (it stops the workers); a worker ignores them.
STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})


def worker_main(plan: RunPlan, shared: SharedState, worker_id: int, slots: int) -> None:
    """Entry point of a worker process (``--debug`` uses ``run_in_process`` instead). Ctrl-C and
    SIGTERM sent to the whole process group are for the main process, which stops the workers."""
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, signal.SIG_IGN)
    try:
        run_worker_loop(_run(plan, shared, worker_id, slots, tune_gc=True))
    except BaseException:  # reported to the main process, which decides how to exit
        shared.messages.put(WorkerCrash(worker_id, traceback.format_exc()))
        raise SystemExit(1) from None


#: Called with the worker's context once its load is about to start (a Ray actor watches the
#: requests in flight through it, ``distributed/node.py``).
ContextWatch = Callable[["WorkerContext"], None]


def run_in_process(
    plan: RunPlan, shared: SharedState, worker_id: int, slots: int, watch: ContextWatch | None = None
) -> None:
    """The worker in a thread of this process, in its own event loop: ``--debug``'s single worker,
    and each Ray actor's worker (``distributed/node.py``)."""
    try:
        run_worker_loop(_run(plan, shared, worker_id, slots, watch=watch))
    except BaseException:
        shared.messages.put(WorkerCrash(worker_id, traceback.format_exc()))


def _tune_gc() -> None:
    """Keep full GC collections short: everything that exists before the load (the plan's items and
    bodies, modules, the session) is moved out of the collected generations, so a collection during
    the load only walks objects created since. (Parsed events are freed by reference counting and
    hardly ever trigger a collection.)"""
    gc.collect()
    gc.freeze()


async def _run(
    plan: RunPlan, shared: SharedState, worker_id: int, slots: int, tune_gc: bool = False,
    watch: ContextWatch | None = None,
) -> None:
    spec = BACKENDS[plan.backend]
    bodies = plan.bodies
    path = worker_record_path(plan.record_dir, plan.data_abbr, worker_id)
    kernel_stamps = kernel_stamps_enabled()
    async with _http_client(plan, kernel_stamps) as session:
        shared.ready.put(WorkerStarted(worker_id))
        warm_up = await _warm_up(plan, session, spec, worker_id, slots)
        redactor = Redactor(secrets_of(plan.url, plan.headers))
        tally = LiveTally(plan.stream)
        with RecordWriter(path, redactor=redactor, on_written=tally.add_written) as writer:
            ctx = WorkerContext(plan, shared, worker_id, slots, spec, session, writer, bodies, tally)
            if watch is not None:
                watch(ctx)
            if tune_gc:
                _tune_gc()
            shared.ready.put(WorkerReady(worker_id, warm_up))
            if not await _wait_for_go(shared):
                return  # stopped before the start (a failed warm-up, Ctrl-C): nothing to send
            tally.start_at_s = shared.start_at_s.value
            session.keep_idle(False)
            flusher = asyncio.create_task(_flush_periodically(ctx))
            lag = LagHistogram()
            monitor = asyncio.create_task(monitor_loop_lag(lag))
            watchdog = asyncio.create_task(_watch_for_stall(ctx, plan.stall_limit_s))
            cpu0_s, wall0_s = time.thread_time(), perf_counter()  # the loop's thread: what saturates
            try:
                await _run_lanes(ctx)
            finally:
                flusher.cancel()
                monitor.cancel()
                watchdog.cancel()
                health = ClientHealth(
                    worker_id, "kernel" if kernel_stamps else "loop", lag.to_sparse(),
                    time.thread_time() - cpu0_s, perf_counter() - wall0_s,
                )
                writer.flush()
                _send_live_counts(ctx)
                shared.messages.put(health)
        error = ctx.output_error or writer.error  # the writer is closed: its last flush has been tried
        if error is not None:
            lost = writer.buffered if writer.error is not None else 0
            shared.messages.put(OutputFailure(worker_id, _os_error_text(error), lost))


@contextlib.asynccontextmanager
async def _http_client(plan: RunPlan, kernel_stamps: bool) -> AsyncIterator[ConnectionPool]:
    """The worker's HTTP client (``clients/client.py``), kernel-stamped when ``kernel_stamps``."""
    async with open_client(
        plan.url, plan.headers, plan.request_timeout_s, kernel_stamps=kernel_stamps, tls=plan.tls
    ) as client:
        yield client


async def _warm_up(plan: RunPlan, pool: ConnectionPool, spec: BackendSpec, worker_id: int, slots: int) -> WarmupResult:
    """This worker's share of the warm-up (``engine/warmup.py``), at most ``slots`` at once; the
    connections it opens stay open for the lanes until the load starts."""
    pool.keep_idle(True)
    rows = warm_up_rows(plan.num_warmups, plan.workers, worker_id, len(plan.bodies))
    if not rows:
        return WarmupResult()
    return await run_warmup(
        pool, spec, plan.url, [plan.bodies[row] for row in rows], concurrency=slots, stream=plan.stream,
        max_chunk_bytes=plan.max_chunk_bytes,
    )


async def _wait_for_go(shared: SharedState) -> bool:
    """Wait for the go signal; False when the run is stopped before it."""
    while not shared.go.is_set():
        if shared.stop.is_set():
            return False
        await asyncio.sleep(0.002)
    return True


async def _flush_periodically(ctx: WorkerContext) -> None:
    while True:
        await asyncio.sleep(0.5)
        if ctx.writer.flush_due():
            ctx.writer.flush()
            _check_output(ctx)
        _send_live_counts(ctx)


def _send_live_counts(ctx: WorkerContext) -> None:
    """Send the live figures of the records written since the last call, with the time until
    which every finished request is in them (now when nothing waits to be written)."""
    writer = ctx.writer
    complete_until_s = perf_counter() if writer.buffered == 0 else writer.written_until_s
    ctx.shared.messages.put(LiveCounts(ctx.worker_id, ctx.tally.take(complete_until_s)))


def _check_output(ctx: WorkerContext) -> None:
    """A record write failed (disk full, ...): stop sending, in every worker. What finishes still
    goes to the writer's buffer, and out with its last flush if space came back."""
    error = ctx.writer.error
    if error is not None and ctx.output_error is None:
        ctx.output_error = error
        ctx.shared.stop.set()


def _os_error_text(error: OSError) -> str:
    return error.strerror or str(error) or type(error).__name__


async def _run_lanes(ctx: WorkerContext) -> None:
    if ctx.plan.pressure:
        lanes = _add_pressure_clients(ctx)
    elif ctx.plan.open_loop:
        lanes = _dispatch_open_loop(ctx)
    else:
        lanes = _normal_lanes(ctx)
    lanes_done = asyncio.create_task(lanes)
    stop_watch = asyncio.create_task(_watch_stop(ctx.shared))
    await asyncio.wait({lanes_done, stop_watch}, return_when=asyncio.FIRST_COMPLETED)
    if not lanes_done.done():
        try:
            await asyncio.wait_for(asyncio.shield(lanes_done), STOP_GRACE_S)
        except asyncio.TimeoutError:
            lanes_done.cancel()
            await asyncio.gather(lanes_done, return_exceptions=True)
    stop_watch.cancel()
    if lanes_done.done() and not lanes_done.cancelled() and lanes_done.exception():
        raise lanes_done.exception()  # type: ignore[misc]


async def _watch_stop(shared: SharedState) -> None:
    """Return once a stop is asked for, or once the main process is gone (killed): a worker whose
    parent died stops sending instead of loading the server on its own."""
    parent_pid = os.getppid()
    while not shared.stop.is_set():
        if os.getppid() != parent_pid:
            shared.stop.set()
            return
        await asyncio.sleep(0.05)


async def _watch_for_stall(ctx: WorkerContext, limit_s: float | None) -> None:
    """The stall watchdog: when requests are in flight and none of them has made progress (an
    event, an attempt, a finished request) for ``limit_s`` seconds, fail them with a reason and stop
    this worker's sending, so no run can hang on a server that stopped answering."""
    if limit_s is None:
        return
    check_s = min(max(limit_s / 10, 0.05), 5.0)
    watch = StallWatch(limit_s, _progress_mark(ctx), perf_counter())
    while True:
        await asyncio.sleep(check_s)
        if watch.stalled(_progress_mark(ctx), bool(ctx.in_flight), perf_counter()):
            _fail_stalled_requests(ctx, limit_s)
            return


class StallWatch:
    """The stall watchdog's decision: stalled once requests have been in flight without progress
    (the same progress mark) for ``limit_s`` seconds. Time with nothing in flight does not count."""

    def __init__(self, limit_s: float, mark: tuple[int, int], now_s: float) -> None:
        self.limit_s = limit_s
        self._last_mark = mark
        self._last_change_s = now_s

    def stalled(self, mark: tuple[int, int], busy: bool, now_s: float) -> bool:
        if mark != self._last_mark or not busy:
            self._last_mark, self._last_change_s = mark, now_s
            return False
        return now_s - self._last_change_s >= self.limit_s


def _progress_mark(ctx: WorkerContext) -> tuple[int, int]:
    """Changes whenever a request of this worker makes progress."""
    finished = ctx.shared.counters[ctx.worker_id * COUNTER_FIELDS + FINISHED]
    steps = sum(len(started) + (len(started[-1].points) if started else 0) for _, started in ctx.in_flight.values())
    return finished, steps


def _fail_stalled_requests(ctx: WorkerContext, limit_s: float) -> None:
    count = len(ctx.in_flight)
    ctx.stall_reason = (
        f"no progress from the server for {limit_s:g} s with {count} request(s) in flight (stall watchdog; "
        "set REQUEST_TIME_OUT to limit each request instead)"
    )
    ctx.shared.messages.put(WorkerWarning(
        ctx.worker_id,
        f"the server made no progress for {limit_s:g} s: worker {ctx.worker_id} failed its {count} request(s) "
        "in flight and stopped sending; check the server (see docs/troubleshooting.md#failed-requests)",
    ))
    for request_id, (task, _) in list(ctx.in_flight.items()):
        ctx.stalled.add(request_id)
        task.cancel()


async def _normal_lanes(ctx: WorkerContext) -> None:
    await asyncio.gather(*(_normal_lane(ctx) for _ in range(ctx.slots)))


async def _normal_lane(ctx: WorkerContext) -> None:
    plan, shared = ctx.plan, ctx.shared
    total = len(plan.items)
    offsets = plan.send_offsets_s
    while ctx.sending:
        request_id = shared.claim(shared.next_request)
        if request_id >= total:
            return
        scheduled_s = slot_wait_s = None
        if offsets is not None:
            scheduled_s = shared.start_at_s.value + float(offsets[request_id])
            slot_wait_s = max(perf_counter() - scheduled_s, 0.0)  # the lane was busy until now
            await _sleep_until(scheduled_s)
            if not ctx.sending:
                return
        await _send_and_record(ctx, request_id, request_id, scheduled_s, slot_wait_s)


async def _dispatch_open_loop(ctx: WorkerContext) -> None:
    """Send every request at its planned time, however many are still in flight (no slots)."""
    plan, shared = ctx.plan, ctx.shared
    offsets = plan.send_offsets_s
    assert offsets is not None
    total = len(plan.items)
    in_flight: set[asyncio.Task[None]] = set()
    try:
        while ctx.sending:
            request_id = shared.claim(shared.next_request)
            if request_id >= total:
                break
            scheduled_s = shared.start_at_s.value + float(offsets[request_id])
            await _sleep_until(scheduled_s)
            if not ctx.sending:
                break
            task = asyncio.create_task(_send_and_record(ctx, request_id, request_id, scheduled_s))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
    except asyncio.CancelledError:  # the stop grace ran out: cut what is in flight, keep its records
        for task in in_flight:
            task.cancel()
        await asyncio.gather(*in_flight, return_exceptions=True)
        raise
    await asyncio.gather(*in_flight)  # a cancel here cancels every request of the gather too


async def _add_pressure_clients(ctx: WorkerContext) -> None:
    plan, shared = ctx.plan, ctx.shared
    assert plan.pressure_time_s is not None
    deadline_s = shared.start_at_s.value + plan.pressure_time_s
    offsets = plan.send_offsets_s
    clients: list[asyncio.Task[None]] = []
    while len(clients) < ctx.slots and ctx.sending:
        client_id = shared.claim(shared.next_client)
        if client_id >= plan.batch_size:
            break
        if offsets is not None:
            await _sleep_until(shared.start_at_s.value + float(offsets[client_id]))
        if perf_counter() >= deadline_s:
            shared.messages.put(WorkerWarning(
                ctx.worker_id,
                f"pressure time ended before all clients were added (worker {ctx.worker_id} had {len(clients)} "
                f"of {ctx.slots}); raise --pressure-time or request_rate",
            ))
            break
        clients.append(asyncio.create_task(_pressure_client(ctx, deadline_s)))
        ctx.count(CLIENTS)
        if offsets is None:
            await asyncio.sleep(0)
    await asyncio.gather(*clients)


async def _pressure_client(ctx: WorkerContext, deadline_s: float) -> None:
    """Send back to back until the deadline: no byte of any request or retry goes out after it
    (``send_request`` checks just before each write); a request started before it finishes."""
    shared = ctx.shared
    total = len(ctx.plan.items)
    while perf_counter() < deadline_s and ctx.sending:
        request_id = shared.claim(shared.next_request)
        await _send_and_record(ctx, request_id, request_id % total, None, send_by_s=deadline_s)


async def _send_and_record(
    ctx: WorkerContext,
    request_id: int,
    data_index: int,
    scheduled_s: float | None,
    slot_wait_s: float | None = None,
    send_by_s: float | None = None,
) -> None:
    """Send one request and write its record; ``send_by_s``: see ``engine.request.send_request`` (a
    request that was not sent at all leaves no record and is not counted as sent)."""
    plan = ctx.plan
    ctx.count(SENT)
    ctx.count(IN_FLIGHT)
    started: list[Attempt] = []
    prefix = plan.request_id_prefix
    headers = None if prefix is None else {"X-Request-Id": f"{prefix}{request_id}"}
    task = asyncio.current_task()
    assert task is not None
    ctx.in_flight[request_id] = (task, started)
    try:
        attempt, attempts = await send_request(
            ctx.session,
            ctx.spec,
            plan.url,
            ctx.bodies[data_index],
            plan.stream,
            plan.retry,
            plan.max_chunk_bytes,
            started,
            headers,
            send_by_s=send_by_s,
        )
    except asyncio.CancelledError:
        if request_id not in ctx.stalled:
            if started:
                _write_record(ctx, started[-1], len(started), request_id, data_index, (scheduled_s, slot_wait_s))
            raise
        ctx.stalled.discard(request_id)
        if sys.version_info >= (3, 11):  # Python 3.10 counts no cancellations (and has no uncancel)
            task.uncancel()  # the stall watchdog's cancel: the request fails, the lane goes on (and stops)
        attempt, attempts = _stalled_attempt(started, ctx.stall_reason or "stalled"), max(1, len(started))
    finally:
        del ctx.in_flight[request_id]
        ctx.count(IN_FLIGHT, -1)
    if attempts == 0:  # its send deadline passed before any byte went out
        ctx.count(SENT, -1)
        return
    _write_record(ctx, attempt, attempts, request_id, data_index, (scheduled_s, slot_wait_s))


def _stalled_attempt(started: list[Attempt], reason: str) -> Attempt:
    attempt = started[-1] if started else Attempt([perf_counter()], ResponseState())
    attempt.error_kind, attempt.error_message, attempt.retryable = "read_timeout", reason, False
    return attempt


def _write_record(
    ctx: WorkerContext,
    attempt: Attempt,
    attempts: int,
    request_id: int,
    data_index: int,
    schedule: tuple[float | None, float | None],
) -> None:
    """``schedule``: (planned send time, seconds waited for a slot), each None when not applicable."""
    item = ctx.plan.items[data_index]
    record = build_record(attempt, attempts, request_id, item.index, ctx.plan.data_abbr, ctx.worker_id)
    record.scheduled_s, record.slot_wait_s = schedule
    ctx.writer.append(record)
    _check_output(ctx)
    ctx.count(FINISHED)
    if not record.success:
        ctx.count(FAILED)


async def _sleep_until(when_s: float) -> None:
    """Sleep until ``when_s`` (perf_counter) and never return before it: uvloop's timers have 1 ms
    granularity and may fire early, so the last fraction is waited out in short yields."""
    while (delay := when_s - perf_counter()) > 0:
        await asyncio.sleep(delay - 0.001 if delay > 0.002 else 0)
