"""Run one plan's load on a Ray cluster (``--ray``): the driver's side.

The driver connects to the cluster, places one actor per worker on the nodes (round robin, each
pinned to its node), estimates each node's clock offset (``distributed/clock.py``), lets the workers
warm up, releases them together at one start time converted to each node's clock, then polls them
about four times a second: their counters and live figures feed the live view as a local run's
do, and their committed records are written into the run folder (``distributed/gather.py``), so
everything after the load (results, reports, recalculation) reads an ordinary run folder.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import logging
import os
import signal
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

from ais_bench.distributed.clock import ClockOffset, combine, estimate_offset, ping_samples
from ais_bench.distributed.gather import LostRequest, RecordMirror
from ais_bench.distributed.node import LoadNode, NodeReport
from ais_bench.distributed.target import RayTarget, import_ray
from ais_bench.engine.live import LiveFigures
from ais_bench.engine.messages import LiveCounts, WorkerMessages, WorkerReady
from ais_bench.engine.plan import RunPlan
from ais_bench.engine.runner import (
    READY_TIMEOUT_S,
    BeforeLoadCallback,
    ProgressCallback,
    RunOutcome,
    WorkerCrashed,
)
from ais_bench.engine.shared import COUNTER_FIELDS, FAILED, FINISHED, IN_FLIGHT, LoadTotals
from ais_bench.engine.warmup import WarmupResult
from ais_bench.errors import AisBenchError, ConfigError, stop_signal_of
from ais_bench.load.schedule import split_concurrency
from ais_bench.records.store import worker_record_path

log = logging.getLogger("ais_bench")

#: Delay between the go calls and the first planned send: every node gets its go in time.
RAY_START_DELAY_S = 0.5
#: Seconds between two polls of the workers.
POLL_INTERVAL_S = 0.25
#: Seconds a poll may take before it is tried again at the next round (a node Ray cannot reach).
POLL_TIMEOUT_S = 10.0
#: Seconds to wait for the head's port to accept a connection before calling Ray.
CONNECT_TIMEOUT_S = 5.0
#: Clock pings per worker before and after the load (the one with the shortest round trip counts).
PINGS = 16


class LoadNodesLost(AisBenchError, code="AIS-RAY-NODES-LOST"):
    """Every load node of a Ray run was lost before its load ended."""


@dataclass(frozen=True)
class Placement:
    """Where worker ``worker`` runs: Ray's node id and the node's address."""

    worker: int
    node_id: str
    node_ip: str


@dataclass
class _Worker:
    placement: Placement
    actor: Any
    mirror: RecordMirror
    offset: ClockOffset
    counters: list[int] = field(default_factory=lambda: [0] * COUNTER_FIELDS)
    in_flight: dict[int, float | None] = field(default_factory=dict)
    done: bool = False
    lost: bool = False


def run_on_ray(
    plan: RunPlan, target: RayTarget, progress: ProgressCallback | None = None,
    before_load: BeforeLoadCallback | None = None,
) -> RunOutcome:
    """``engine.runner.run_benchmark``'s counterpart on a Ray cluster (same callbacks, same outcome)."""
    ray = import_ray()
    connected_here = _connect(ray, target)
    try:
        return _Driver(ray, plan, target).run(progress, before_load)
    except BaseException as exc:
        traceback.clear_frames(exc.__traceback__)  # its frames would keep Ray handles past the shutdown
        raise
    finally:
        # An actor handle or object ref freed after ray.shutdown() calls into the stopped core worker
        # and crashes the process (seen as a segfault while the results were written): free them first.
        gc.collect()
        if connected_here:
            ray.shutdown()


def _connect(ray: ModuleType, target: RayTarget) -> bool:
    """Connect to the cluster; False when this process was connected already (a test, a notebook)."""
    if ray.is_initialized():
        return False
    address = target.resolved_address
    _check_listening(address)
    try:
        with _stop_handlers_kept():
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"cannot connect to the Ray cluster at {address!r}: {first_line}",
            hint="start one (`ray start --head`, then `ray start --address HEAD:6379` on the other machines) "
            "or pass --ray HOST:PORT",
        ) from None
    return True


@contextlib.contextmanager
def _stop_handlers_kept() -> Iterator[None]:
    """``ray.init`` makes SIGTERM exit the process at once; the run's own handler (stop sending,
    summarise what finished, exit 143) is put back after it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _check_listening(address: str) -> None:
    """Refuse at once a ``HOST:PORT`` (or ``auto``'s recorded head) that nothing listens on: Ray would
    retry connecting to it for minutes."""
    head = _head_address(address)
    if head is None:
        return
    host, _, port = head.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot connect to the Ray cluster at {address!r}: nothing answers at {head} ({exc})",
            hint="start one (`ray start --head`, then `ray start --address HEAD:6379` on the other machines) "
            "or pass --ray HOST:PORT",
        ) from None


def _head_address(address: str) -> str | None:
    """The head's ``HOST:PORT`` that ``address`` means, when it can be told without Ray: the address
    itself, or for ``auto`` the one Ray recorded for the cluster started on this machine (None for
    ``ray://`` and when ``auto`` finds no record: Ray then fails fast by itself)."""
    if address == "auto":
        recorded = Path(os.environ.get("RAY_TMPDIR", "/tmp")) / "ray" / "ray_current_cluster"
        text = recorded.read_text().strip() if recorded.is_file() else ""
        return text or None
    if "://" in address or ":" not in address:
        return None
    return address


def load_nodes(ray: ModuleType) -> list[tuple[str, str]]:
    """(node id, address) of every alive node with a CPU for a worker, in a stable order."""
    nodes = [
        (node["NodeID"], node["NodeManagerAddress"])
        for node in ray.nodes()
        if node.get("Alive") and node.get("Resources", {}).get("CPU", 0) >= 1
    ]
    if not nodes:
        raise ConfigError("the Ray cluster has no node with a free CPU for a load worker", hint="check `ray status`")
    return sorted(nodes, key=lambda node: (node[1], node[0]))


class _Driver:
    def __init__(self, ray: ModuleType, plan: RunPlan, target: RayTarget) -> None:
        self.ray = ray
        nodes = load_nodes(ray)
        self.plan = replace(plan, workers=target.worker_count(len(nodes), plan.batch_size), debug=False)
        self.placements = [
            Placement(worker, *nodes[worker % len(nodes)]) for worker in range(self.plan.workers)
        ]
        self.workers: list[_Worker] = []
        self.messages = WorkerMessages()
        self.warnings: list[str] = []
        #: Why the gathered records could not be written into the run folder (disk full, ...).
        self.output_error: str | None = None
        self.records_unwritten = 0
        log.info(
            "Ray: %d load worker(s) on %d node(s) (%s)", self.plan.workers, len(nodes),
            ", ".join(sorted({placement.node_ip for placement in self.placements})),
        )

    def run(self, progress: ProgressCallback | None, before_load: BeforeLoadCallback | None) -> RunOutcome:
        try:
            self._start_actors()
            warm_up = self._wait_until_ready()
            if before_load is not None:
                before_load(warm_up)
        except BaseException:
            self._kill_actors()
            self._close_mirrors()
            raise
        try:
            start_at_s = self._go()
            stop_signal = self._watch(start_at_s, progress)
            self._check_crashes()
            clocks = self._clocks_after()
        finally:
            self._kill_actors()
            self._close_mirrors()
        if all(worker.lost for worker in self.workers):
            raise self._all_lost()
        return self._outcome(start_at_s, stop_signal, clocks)

    def _start_actors(self) -> None:
        plan_ref = self.ray.put(self.plan)
        slots = split_concurrency(self.plan.batch_size, self.plan.workers)
        run_name = f"{self.plan.record_dir.parent.parent.name}-{uuid.uuid4().hex[:8]}"
        node_class = self.ray.remote(max_concurrency=4)(LoadNode)
        strategy = _node_affinity()
        actors = [
            node_class.options(num_cpus=1, scheduling_strategy=strategy(placement.node_id)).remote(
                plan_ref, placement.worker, slots[placement.worker], run_name,
            )
            for placement in self.placements
        ]
        try:  # the first call waits for the actor's process
            self.ray.get([actor.clock.remote() for actor in actors], timeout=READY_TIMEOUT_S)
        except self.ray.exceptions.GetTimeoutError:
            raise WorkerCrashed(
                f"the Ray load workers did not start within {READY_TIMEOUT_S:.0f} s",
                hint=f"each needs one CPU on its node: check `ray status` ({self.plan.workers} worker(s))",
            ) from None
        for placement, actor in zip(self.placements, actors, strict=True):
            offset = estimate_offset(ping_samples(self._pinger(actor), PINGS))
            path = worker_record_path(self.plan.record_dir, self.plan.data_abbr, placement.worker)
            self.workers.append(_Worker(placement, actor, RecordMirror(path, placement.worker, self.plan.data_abbr,
                                                                       offset.offset_s), offset))
        self.ray.get([worker.actor.start.remote() for worker in self.workers])

    def _pinger(self, actor: Any) -> Callable[[], float]:
        """One clock ping of ``actor``: its node's ``perf_counter``."""
        return lambda: float(self.ray.get(actor.clock.remote(), timeout=POLL_TIMEOUT_S))

    def _wait_until_ready(self) -> WarmupResult:
        deadline = time.monotonic() + READY_TIMEOUT_S
        warm_ups: dict[int, WarmupResult] = {}
        while len(warm_ups) < len(self.workers):
            for report in self._poll():
                for message in report.ready:
                    if isinstance(message, WorkerReady):
                        warm_ups[message.worker] = message.warm_up
            self._check_crashes()
            if any(worker.lost for worker in self.workers):
                raise WorkerCrashed("a Ray load node was lost while the workers started", hint="check `ray status`")
            if time.monotonic() > deadline:
                raise WorkerCrashed(f"Ray load workers not ready after {READY_TIMEOUT_S:.0f} s")
            time.sleep(0.05)
        total = WarmupResult()
        for worker in sorted(warm_ups):
            total = total.plus(warm_ups[worker])
        return total

    def _go(self) -> float:
        """Release every worker at one start time, each on its node's clock."""
        start_at_s = time.perf_counter() + RAY_START_DELAY_S
        self.messages.live = LiveFigures(self.plan.workers, start_at_s=start_at_s)
        self.ray.get([worker.actor.go.remote(start_at_s + worker.offset.offset_s) for worker in self.workers])
        return start_at_s

    def _watch(self, start_at_s: float, progress: ProgressCallback | None) -> str | None:
        """Poll until every worker is done or lost; Ctrl-C or SIGTERM stops sending, a second one
        ends the workers at once."""
        stop_signal: str | None = None
        while any(not worker.done and not worker.lost for worker in self.workers):
            try:
                self._poll()
                if progress is not None:
                    progress(self._totals(), time.perf_counter() - start_at_s, self.messages.live)
                time.sleep(POLL_INTERVAL_S)
            except KeyboardInterrupt as exc:
                if stop_signal is not None:
                    self._kill_actors()
                    break
                stop_signal = stop_signal_of(exc)
                for worker in self._running():
                    worker.actor.stop.remote()
        if progress is not None:
            progress(self._totals(), time.perf_counter() - start_at_s, self.messages.live)
        return stop_signal

    def _running(self) -> list[_Worker]:
        return [worker for worker in self.workers if not worker.done and not worker.lost]

    def _poll(self) -> list[NodeReport]:
        """One poll of every running worker; a worker whose node is gone is handled as lost."""
        running = self._running()
        refs = [worker.actor.poll.remote() for worker in running]
        reports = []
        exceptions = self.ray.exceptions
        for worker, ref in zip(running, refs, strict=True):
            try:
                report: NodeReport = self.ray.get(ref, timeout=POLL_TIMEOUT_S)
            except (exceptions.ActorUnavailableError, exceptions.GetTimeoutError):
                continue  # unreachable for now: Ray says when it is gone for good
            except exceptions.RayActorError:
                self._lose(worker)
                continue
            self._take(worker, report)
            reports.append(report)
        return reports

    def _take(self, worker: _Worker, report: NodeReport) -> None:
        try:
            if self.output_error is not None:  # after a failed write nothing more is appended (files stay consistent)
                raise OSError(self.output_error)
            worker.mirror.append(report.records)
        except OSError as exc:  # this machine's disk: stop sending everywhere, as a local run does
            if self.output_error is None:
                self.output_error = exc.strerror or str(exc)
                for running in self._running():
                    running.actor.stop.remote()
            self.records_unwritten += len(report.records)
        worker.counters = report.counters
        finished_now = {int(request_id) for request_id in report.records.rows["request_id"]}
        worker.in_flight = {rid: stamp for rid, stamp in report.in_flight.items() if rid not in finished_now}
        for message in report.messages:
            self.messages.add(_on_driver_clock(message, worker.offset.offset_s))
        worker.done = report.done

    def _lose(self, worker: _Worker) -> None:
        """The worker's node is gone: what it had in flight at its last poll fails as "load node lost"."""
        worker.lost = True
        total = len(self.plan.items)
        now_s = time.perf_counter()
        lost = [
            LostRequest(rid, self.plan.items[rid % total].index, now_s if stamp is None else stamp - worker.offset.offset_s)
            for rid, stamp in sorted(worker.in_flight.items())
        ]
        worker.mirror.fail_lost(lost)
        counters = worker.counters
        counters[FINISHED] += len(lost)
        counters[FAILED] += len(lost)
        counters[IN_FLIGHT] = 0
        remaining = len(self._running())
        self.warnings.append(
            f"load node {worker.placement.node_ip} (worker {worker.placement.worker}) was lost: its {len(lost)} "
            f"request(s) in flight are failed records ('load node lost'), the requests it had not sent were not "
            f"sent; the run went on with {remaining} worker(s)"
        )
        log.warning(self.warnings[-1])

    def _totals(self) -> LoadTotals:
        sums = [0] * COUNTER_FIELDS
        for worker in self.workers:
            for index, value in enumerate(worker.counters):
                sums[index] += value
        return LoadTotals(*sums)

    def _check_crashes(self) -> None:
        crashes = self.messages.crashes
        if crashes:
            raise WorkerCrashed(
                f"{len(crashes)} Ray load worker(s) crashed; first error: {crashes[0].strip().splitlines()[-1]}",
                hint="rerun with --debug on one machine to see the traceback",
            )

    def _clocks_after(self) -> dict[int, ClockOffset]:
        """Each worker's clock offset over the run (before and after combined; before only for a lost node)."""
        clocks = {}
        for worker in self.workers:
            if worker.lost:
                clocks[worker.placement.worker] = worker.offset
                continue
            try:
                after = estimate_offset(ping_samples(self._pinger(worker.actor), PINGS))
            except self.ray.exceptions.RayError:  # its node went away after its last records
                clocks[worker.placement.worker] = worker.offset
                continue
            clocks[worker.placement.worker] = combine(worker.offset, after, applied_s=worker.offset.offset_s)
        return clocks

    def _kill_actors(self) -> None:
        for worker in self.workers:
            self.ray.kill(worker.actor)

    def _close_mirrors(self) -> None:
        for worker in self.workers:
            worker.mirror.close()

    def _all_lost(self) -> LoadNodesLost:
        received = sum(len(worker.mirror.request_ids) for worker in self.workers)
        return LoadNodesLost(
            f"every Ray load node was lost before its load ended; the {received} records received are in "
            f"{self.plan.record_dir / 'records'}",
            hint="check the cluster (`ray status`) and rerun; --mode perf_viz --reuse summarises what was kept",
        )

    def _outcome(self, start_at_s: float, stop_signal: str | None, clocks: dict[int, ClockOffset]) -> RunOutcome:
        return RunOutcome.of_run(
            self.messages, self._totals(), start_at_s, stop_signal, self.plan.record_dir,
            more_warnings=self.warnings,
            output_error=self.output_error,
            records_unwritten=self.records_unwritten,
            clock_offsets=node_clock_offsets(self.placements, clocks),
        )


def node_clock_offsets(placements: list[Placement], clocks: dict[int, ClockOffset]) -> list[tuple[str, ClockOffset]]:
    """One clock offset per node for the self-check (``engine/health.py``), named ``<address>
    <node id prefix>``: the least well known of its workers'. Each worker's records were shifted by
    its own estimate, so only the widest uncertainty bounds the error of every record of the node."""
    worst: dict[str, ClockOffset] = {}
    for placement in placements:
        node = f"{placement.node_ip} {placement.node_id[:8]}"
        offset = clocks[placement.worker]
        if node not in worst or offset.uncertainty_s > worst[node].uncertainty_s:
            worst[node] = offset
    return sorted(worst.items())


def _on_driver_clock(message: Any, offset_s: float) -> Any:
    """A worker message with its node stamps moved onto the driver's clock."""
    if isinstance(message, LiveCounts):
        tally = replace(message.tally, complete_until_s=message.tally.complete_until_s - offset_s)
        return replace(message, tally=tally)
    return message


def _node_affinity() -> Callable[[str], Any]:
    """A worker pinned to its node (not moved elsewhere if the node dies: its requests are lost)."""
    strategies = importlib.import_module("ray.util.scheduling_strategies")
    return lambda node_id: strategies.NodeAffinitySchedulingStrategy(node_id=node_id, soft=False)
