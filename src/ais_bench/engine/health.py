"""Client self-check: did the client, rather than the server, shape the numbers?

Loop lag: every ``interval_s`` the monitor sleeps and measures two delays, and records their sum:
the **timer overshoot** (how late the sleep woke, beyond the loops' 1 ms timer granularity: a loop
blocked in a callback while the timer was due wakes late by the rest of the block) and the
**ready-queue delay** (it schedules a callback with ``call_soon`` and measures how long it takes to
run and resume the monitor: the same path a socket read takes before its bytes are stamped). The
queue delay alone reads 0 when the block ended just before the timer's callback ran. Lags go into a
fixed-size histogram (10 µs bins up to 1 s), so a 24-hour run costs the
same memory as a 10-second one. The main process merges the workers' histograms.

Schedule lag: for paced runs, each record's actual send (``start_s``) minus its planned send
(``scheduled_s``). ``build_self_check`` turns both (and the workers' CPU use) into the report the
summary shows, with warnings when the client may have delayed its own stamps or sends.

Clocks: a run whose workers ran on other machines (Ray) passes each load node's clock offset to the
driver (``RunOutcome.clock_offsets``, estimated by ``distributed/clock.py``); the self-check reports
them and warns when a node's offset is known less well than 1 % of the run's median E2EL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ais_bench.records.store import error_kind_code

if TYPE_CHECKING:
    from ais_bench.records.record import RequestRecord

#: Loop lag p99 above which stamps may be late by a noticeable share of an ITL (seconds).
LOOP_LAG_P99_WARN_S = 1e-3
#: Schedule lag p99 above which the client did not keep the request_rate schedule (seconds).
SCHEDULE_LAG_P99_WARN_S = 10e-3
#: Share of one core (CPU seconds / wall seconds) above which a worker process counts as saturated.
CPU_BUSY_WARN_SHARE = 0.9
#: Share of the run's median E2EL above which a node's clock-offset uncertainty is warned about: its
#: requests' places on the timeline may then be off by a visible part of a request.
CLOCK_UNCERTAINTY_WARN_SHARE = 0.01
#: Shortest load (wall seconds of a worker) whose CPU share is warned about: over a few milliseconds
#: the share says little (start-up work and clock granularity dominate).
CPU_WARN_MIN_WALL_S = 1.0

#: asyncio's epoll timeout and uvloop's timers have 1 ms resolution: an idle loop may wake this late.
TIMER_GRANULARITY_S = 1e-3

BIN_S = 10e-6
BINS = 100_000  # 10 µs x 100k = 1 s; larger lags land in the last bin
SAMPLE_INTERVAL_S = 0.01


class LagHistogram:
    """Counts of lags in ``BIN_S`` bins; ``percentile`` returns the upper edge of the bin (s)."""

    def __init__(self, counts: np.ndarray | None = None) -> None:
        self.counts = counts if counts is not None else np.zeros(BINS, dtype=np.int64)

    def add(self, lag_s: float) -> None:
        index = int(lag_s / BIN_S)
        self.counts[index if index < BINS else BINS - 1] += 1

    def merge(self, other: LagHistogram) -> None:
        self.counts += other.counts

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def percentile(self, q: float) -> float:
        total = self.total
        if total == 0:
            return 0.0
        rank = int(np.ceil(q / 100 * total))
        index = int(np.searchsorted(np.cumsum(self.counts), max(rank, 1)))
        return (index + 1) * BIN_S

    def max(self) -> float:
        nonzero = np.flatnonzero(self.counts)
        return float((nonzero[-1] + 1) * BIN_S) if len(nonzero) else 0.0

    def to_sparse(self) -> dict[int, int]:
        """Compact form to send between processes."""
        nonzero = np.flatnonzero(self.counts)
        return {int(i): int(self.counts[i]) for i in nonzero}

    @classmethod
    def from_sparse(cls, sparse: dict[int, int]) -> LagHistogram:
        hist = cls()
        for index, count in sparse.items():
            hist.counts[index] = count
        return hist


async def monitor_loop_lag(hist: LagHistogram, interval_s: float = SAMPLE_INTERVAL_S) -> None:
    """Sample the loop's lag (timer overshoot + ready-queue delay) into ``hist`` until cancelled."""
    loop = asyncio.get_running_loop()
    while True:
        due_s = perf_counter() + interval_s
        await asyncio.sleep(interval_s)
        overshoot_s = perf_counter() - due_s
        waiter = loop.create_future()
        scheduled = perf_counter()
        loop.call_soon(_wake, waiter)
        await waiter
        hist.add(loop_lag_sample_s(overshoot_s, perf_counter() - scheduled))


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():  # the monitor may have been cancelled between the call_soon and now
        waiter.set_result(None)


def loop_lag_sample_s(overshoot_s: float, queue_delay_s: float) -> float:
    """One lag sample: the timer overshoot beyond ``TIMER_GRANULARITY_S`` plus the ready-queue delay."""
    return max(overshoot_s - TIMER_GRANULARITY_S, 0.0) + max(queue_delay_s, 0.0)


@dataclass(frozen=True)
class LagSummary:
    """Percentiles of one lag measure, in seconds."""

    samples: int
    p50_s: float
    p99_s: float
    max_s: float

    @classmethod
    def of_histogram(cls, hist: LagHistogram) -> LagSummary:
        return cls(hist.total, hist.percentile(50), hist.percentile(99), hist.max())

    @classmethod
    def of_values(cls, values: np.ndarray) -> LagSummary:
        if len(values) == 0:
            return cls(0, 0.0, 0.0, 0.0)
        p50, p99 = np.percentile(values, [50, 99])
        return cls(len(values), float(p50), float(p99), float(values.max()))

    def as_ms_dict(self) -> dict[str, float | int]:
        return {
            "samples": self.samples,
            "p50_ms": round(self.p50_s * 1000, 4),
            "p99_ms": round(self.p99_s * 1000, 4),
            "max_ms": round(self.max_s * 1000, 4),
        }


class NodeClockOffset(Protocol):
    """A load node's clock relative to the driver's (``distributed.clock.ClockOffset``): ``driver
    time = node time - offset_s``, true within ``± uncertainty_s``; ``drift_s``: the offset after
    the run minus before it; ``samples``: pings; ``round_trip_min_s``: the fastest ping."""

    @property
    def offset_s(self) -> float: ...
    @property
    def uncertainty_s(self) -> float: ...
    @property
    def drift_s(self) -> float: ...
    @property
    def samples(self) -> int: ...
    @property
    def round_trip_min_s(self) -> float: ...


class _OutcomeLike(Protocol):
    """What the self-check needs of ``engine.runner.RunOutcome``."""

    loop_lag: LagHistogram
    worker_cpu_s: dict[int, tuple[float, float]]
    stamping: str
    clock_offsets: Sequence[tuple[str, NodeClockOffset]]


@dataclass(frozen=True)
class SendTimes:
    """Per request: planned send, actual send (first attempt), seconds waited for a slot (NaN when
    no slot was involved) and whether it failed to connect."""

    scheduled_s: np.ndarray
    start_s: np.ndarray
    slot_wait_s: np.ndarray
    connect_failed: np.ndarray

    @classmethod
    def of(cls, records: Any) -> SendTimes:
        """``records``: a list of ``RequestRecord`` or columns with ``.column(name)`` (``RecordColumns``)."""
        if hasattr(records, "column"):
            kinds = np.asarray(records.column("error_kind"))
            return cls(
                np.asarray(records.column("scheduled_s"), dtype=np.float64),
                np.asarray(records.column("start_s"), dtype=np.float64),
                np.asarray(records.column("slot_wait_s"), dtype=np.float64),
                kinds == error_kind_code("connect"),
            )
        rows: list[RequestRecord] = list(records)
        return cls(
            np.array([np.nan if r.scheduled_s is None else r.scheduled_s for r in rows], dtype=np.float64),
            np.array([r.start_s for r in rows], dtype=np.float64),
            np.array([np.nan if r.slot_wait_s is None else r.slot_wait_s for r in rows], dtype=np.float64),
            np.array([r.error_kind == "connect" for r in rows], dtype=bool),
        )

    def paced(self) -> np.ndarray:
        paced: np.ndarray = ~np.isnan(self.scheduled_s) & ~np.isnan(self.start_s)
        return paced

    def lags_s(self) -> np.ndarray:
        """Actual minus planned send (s) of the paced requests."""
        paced = self.paced()
        lags: np.ndarray = self.start_s[paced] - self.scheduled_s[paced]
        return lags


def schedule_lags_s(records: Any) -> np.ndarray:
    """Actual minus planned send time (s) of every paced request (the send of its first attempt).

    ``records``: a list of ``RequestRecord`` or columns with ``.column(name)`` (``RecordColumns``).
    Requests without a plan (unpaced, pressure) are left out.
    """
    return SendTimes.of(records).lags_s()


@dataclass(frozen=True)
class SlotWaitSummary:
    """The paced requests' waits for a free ``batch_size`` slot: percentiles over those that used a
    slot, ``waited`` (how many found every slot busy at their planned time) and the mean wait (s)."""

    lag: LagSummary
    waited: int
    mean_s: float

    def as_ms_dict(self) -> dict[str, float | int]:
        return {**self.lag.as_ms_dict(), "waited": self.waited, "mean_ms": round(self.mean_s * 1000, 4)}


@dataclass(frozen=True)
class NodeClock:
    """One load node's clock in the self-check: its id and its offset to the driver's clock."""

    node: str
    offset: NodeClockOffset

    def as_ms_dict(self) -> dict[str, float | int]:
        offset = self.offset
        return {
            "offset_ms": round(offset.offset_s * 1000, 4),
            "uncertainty_ms": round(offset.uncertainty_s * 1000, 4),
            "drift_ms": round(offset.drift_s * 1000, 4),
            "samples": offset.samples,
            "round_trip_min_ms": round(offset.round_trip_min_s * 1000, 4),
        }


@dataclass(frozen=True)
class SelfCheck:
    """The client self-check of one run.

    ``stamping``: how events were stamped (``kernel``: the kernel's receive stamps; ``loop``: when
    the worker's event loop read the bytes; ``mixed``). ``loop_lag`` / ``schedule_lag``: percentiles
    (schedule lag has 0 samples when the load was not paced); ``slot_wait``: see ``SlotWaitSummary``;
    ``client_cpu``: per worker, CPU seconds of its event loop's thread divided by the wall seconds of
    its load (1.0 = one core fully busy). ``clocks``: per load node of a run across machines, its
    clock offset to the driver's (empty for a run on this host). ``warnings``: one sentence each,
    saying what may be wrong and what to change.
    """

    stamping: str
    loop_lag: LagSummary
    schedule_lag: LagSummary
    slot_wait: SlotWaitSummary
    client_cpu: dict[int, float]
    warnings: tuple[str, ...] = ()
    clocks: tuple[NodeClock, ...] = ()

    def to_json_dict(self) -> dict[str, Any]:
        """The json's ``client_self_check`` (without the warnings, which join the summary's):
        ``{stamping, loop_lag, schedule_lag, slot_wait, client_cpu}``, lags as ``{samples, p50_ms,
        p99_ms, max_ms}`` rounded to 0.1 µs, CPU shares to 3 decimals; a run with clock offsets adds
        ``clocks``: by node id, ``{offset_ms, uncertainty_ms, drift_ms, samples, round_trip_min_ms}``."""
        facts: dict[str, Any] = {
            "stamping": self.stamping,
            "loop_lag": self.loop_lag.as_ms_dict(),
            "schedule_lag": self.schedule_lag.as_ms_dict(),
            "slot_wait": self.slot_wait.as_ms_dict(),
            "client_cpu": {str(w): round(share, 3) for w, share in self.client_cpu.items()},
        }
        if self.clocks:
            facts["clocks"] = {clock.node: clock.as_ms_dict() for clock in self.clocks}
        return facts


def build_self_check(outcome: _OutcomeLike, records: Any) -> SelfCheck:
    """The client self-check of one run (see ``SelfCheck``) from the workers' loop lag, CPU use and
    stamping (``outcome``) and the records' planned and actual sends."""
    times = SendTimes.of(records)
    loop = LagSummary.of_histogram(outcome.loop_lag)
    schedule = LagSummary.of_values(times.lags_s())
    waits = times.slot_wait_s[~np.isnan(times.slot_wait_s)]
    busy = {w: (cpu / wall if wall > 0 else 0.0) for w, (cpu, wall) in outcome.worker_cpu_s.items()}
    saturated = sorted(
        w for w, share in busy.items()
        if share > CPU_BUSY_WARN_SHARE and outcome.worker_cpu_s[w][1] >= CPU_WARN_MIN_WALL_S
    )
    workers = max(len(busy), 1)
    remedy = (
        f"raise WORKERS_NUM (this run used {workers} worker process(es); at most one per free CPU "
        "core) or lower the concurrency (batch_size); see docs/troubleshooting.md#client-overload-warnings"
    )
    warnings: list[str] = []
    stamping = outcome.stamping
    if loop.p99_s > LOOP_LAG_P99_WARN_S:
        effect = (
            "events carry the kernel's arrival stamps, but requests may have gone out late and events of "
            "one stream that arrived within the lag share one stamp"
            if stamping == "kernel"
            else "the client may have stamped events late and shaped TTFT/ITL"
        )
        warnings.append(
            f"client event-loop lag p99 {loop.p99_s * 1000:.2f} ms (max {loop.max_s * 1000:.2f} ms) is over "
            f"{LOOP_LAG_P99_WARN_S * 1000:g} ms: {effect}; {remedy}"
        )
    if schedule.p99_s > SCHEDULE_LAG_P99_WARN_S:
        client_busy = loop.p99_s > LOOP_LAG_P99_WARN_S or bool(saturated)
        causes = _schedule_lag_causes(times, client_busy, workers)
        warnings.append(
            f"requests were sent late: schedule lag p99 {schedule.p99_s * 1000:.1f} ms (max "
            f"{schedule.max_s * 1000:.1f} ms) is over {SCHEDULE_LAG_P99_WARN_S * 1000:g} ms, so the load was lighter "
            f"than the schedule (request_rate, traffic_cfg or timestamps) asked; {causes}; "
            "see docs/troubleshooting.md#client-overload-warnings"
        )
    if saturated:
        shares = ", ".join(f"worker {w}: {busy[w]:.0%}" for w in saturated)
        warnings.append(
            f"client worker process(es) used almost a whole CPU core ({shares}): the client may have been "
            f"the bottleneck; {remedy}"
        )
    slot_wait = SlotWaitSummary(
        LagSummary.of_values(waits), int((waits > 0).sum()), float(waits.mean()) if len(waits) else 0.0
    )
    clocks = tuple(NodeClock(node, offset) for node, offset in outcome.clock_offsets)
    if clocks:
        warnings += clock_warnings(clocks, median_e2el_s(records))
    return SelfCheck(stamping, loop, schedule, slot_wait, busy, tuple(warnings), clocks)


def median_e2el_s(records: Any) -> float | None:
    """The median of ``end_s - start_s`` over the successful requests (s); None when none succeeded.

    ``records``: a list of ``RequestRecord`` or columns with ``.column(name)`` (``RecordColumns``)."""
    if hasattr(records, "column"):
        ok = np.asarray(records.column("success"), dtype=bool)
        e2el = (np.asarray(records.column("end_s"), dtype=np.float64) - np.asarray(records.column("start_s")))[ok]
    else:
        e2el = np.array([r.end_s - r.start_s for r in records if r.success], dtype=np.float64)
    return float(np.median(e2el)) if len(e2el) else None


def clock_warnings(clocks: Sequence[NodeClock], median_e2el: float | None) -> list[str]:
    """One warning per node whose clock offset is known less well than
    ``CLOCK_UNCERTAINTY_WARN_SHARE`` of the median E2EL (none when no request succeeded)."""
    if median_e2el is None:
        return []
    limit_s = CLOCK_UNCERTAINTY_WARN_SHARE * median_e2el
    return [
        f"the clock of load node {clock.node} is known only to ±{clock.offset.uncertainty_s * 1000:.3f} ms "
        f"(fastest ping {clock.offset.round_trip_min_s * 1000:.3f} ms, drift {clock.offset.drift_s * 1000:.3f} ms "
        f"over the run), over {CLOCK_UNCERTAINTY_WARN_SHARE:.0%} of the median E2EL ({median_e2el * 1000:.1f} ms): "
        "its requests may sit that far from their true place on the run's timeline (steady window, concurrency, "
        "throughput over time); their TTFT, ITL and E2EL are local differences and not affected; "
        "see docs/metrics.md#clocks-across-machines"
        for clock in clocks
        if clock.offset.uncertainty_s > limit_s
    ]


def _schedule_lag_causes(times: SendTimes, client_busy: bool, workers: int) -> str:
    """Why paced requests went out late, from the lag each one had: waiting for a slot (the
    ``batch_size`` cap), else the client's loop (when it was seen busy), else the server's accept."""
    lags = times.lags_s()
    waits = np.nan_to_num(times.slot_wait_s[times.paced()], nan=0.0)
    late = lags > SCHEDULE_LAG_P99_WARN_S
    causes: list[str] = []
    capped = late & (waits >= 0.5 * lags)
    if capped.any():
        causes.append(
            f"the concurrency cap: {int(capped.sum())} late request(s) found all batch_size slots busy at their "
            f"planned time and waited for one (longest wait {waits.max() * 1000:.1f} ms); raise batch_size "
            "(a timestamp replay is open loop unless timestamp_batch_cap=True)"
        )
    rest = late & ~capped
    if rest.any() and client_busy:
        causes.append(
            f"the client's event loop: {int(rest.sum())} request(s) were late with a free slot while the client "
            f"was busy; raise WORKERS_NUM (this run used {workers} worker process(es); at most one per free CPU core)"
        )
    elif rest.any():
        refused = int(times.connect_failed.sum())
        detail = f"{refused} request(s) could not connect" if refused else "connections were accepted slowly"
        causes.append(
            f"the server: {int(rest.sum())} request(s) were late with a free slot and an idle client ({detail}); "
            "check the server's connection limit and accept backlog"
        )
    return "; ".join(causes) if causes else "cause unclear (no request was late by itself)"
