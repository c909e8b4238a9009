"""The client self-check: loop-lag histogram, schedule lag, CPU share and the warnings they raise."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

import numpy as np

from ais_bench.engine.health import (
    LagHistogram,
    build_self_check,
    loop_lag_sample_s,
    monitor_loop_lag,
    schedule_lags_s,
)
from ais_bench.records.record import RequestRecord


@dataclass
class FakeOutcome:
    loop_lag: LagHistogram = field(default_factory=LagHistogram)
    worker_cpu_s: dict[int, tuple[float, float]] = field(default_factory=dict)
    stamping: str = "loop"
    clock_offsets: tuple = ()


def _record(
    request_id: int, scheduled_s: float | None, start_s: float, attempts: int = 1, slot_wait_s: float | None = None
) -> RequestRecord:
    return RequestRecord(
        request_id=request_id, data_index=request_id, data_abbr="ds", worker_id=0, success=True,
        start_s=start_s, end_s=start_s + 1.0, time_points_s=[start_s, start_s + 1.0],
        scheduled_s=scheduled_s, attempts=attempts, slot_wait_s=slot_wait_s,
    )


def _histogram(lags_s: list[float]) -> LagHistogram:
    hist = LagHistogram()
    for lag in lags_s:
        hist.add(lag)
    return hist


def test_histogram_percentiles_are_upper_bin_edges_and_merge_adds():
    hist = _histogram([5e-6] * 98 + [0.00215, 2.0])
    assert hist.total == 100
    assert np.isclose(hist.percentile(50), 10e-6)
    assert 0.00215 <= hist.percentile(99) <= 0.00216 + 1e-9  # the upper edge of its 10 µs bin
    assert np.isclose(hist.max(), 1.0)  # over 1 s lands in the last bin
    merged = LagHistogram.from_sparse(hist.to_sparse())
    merged.merge(hist)
    assert merged.total == 200


def test_quiet_run_has_no_warning():
    outcome = FakeOutcome(_histogram([20e-6] * 1000), {0: (1.0, 10.0)})
    records = [_record(i, 100.0 + i, 100.0 + i + 0.0005) for i in range(50)]
    check = build_self_check(outcome, records)
    assert check.warnings == ()
    assert check.to_json_dict()["loop_lag"]["samples"] == 1000
    assert check.to_json_dict()["loop_lag"]["p99_ms"] == 0.03
    assert check.to_json_dict()["schedule_lag"]["samples"] == 50
    assert check.to_json_dict()["schedule_lag"]["p50_ms"] == 0.5
    assert check.to_json_dict()["client_cpu"] == {"0": 0.1}


def test_loop_lag_over_1ms_warns_with_the_remedy():
    outcome = FakeOutcome(_histogram([20e-6] * 90 + [5e-3] * 10), {0: (1.0, 10.0), 1: (1.0, 10.0)})
    check = build_self_check(outcome, [])
    assert len(check.warnings) == 1
    warning = check.warnings[0]
    assert "event-loop lag p99" in warning and "WORKERS_NUM" in warning and "2 worker" in warning
    assert "concurrency" in warning
    assert "stamped events late" in warning and check.stamping == "loop"


def test_loop_lag_with_kernel_stamps_warns_about_late_sends_and_shared_stamps_not_late_stamps():
    outcome = FakeOutcome(_histogram([20e-6] * 90 + [5e-3] * 10), {0: (1.0, 10.0)}, stamping="kernel")
    check = build_self_check(outcome, [])
    assert check.stamping == "kernel"
    (warning,) = check.warnings
    assert "kernel's arrival stamps" in warning and "gone out late" in warning and "share one stamp" in warning
    assert "stamped events late" not in warning and "WORKERS_NUM" in warning


def test_schedule_lag_over_10ms_warns():
    records = [_record(i, 10.0 + i, 10.0 + i + (0.05 if i % 10 == 0 else 0.001)) for i in range(100)]
    check = build_self_check(FakeOutcome(), records)
    assert check.to_json_dict()["schedule_lag"]["max_ms"] == 50.0
    assert any("schedule lag p99" in w and "request_rate" in w for w in check.warnings)


def test_schedule_lag_names_the_concurrency_cap_when_requests_waited_for_a_slot():
    records = [_record(i, 10.0 + i, 10.0 + i + 0.2, slot_wait_s=0.199) for i in range(20)]
    check = build_self_check(FakeOutcome(), records)
    (warning,) = check.warnings
    assert "the concurrency cap" in warning and "raise batch_size" in warning
    assert "lower" not in warning and "WORKERS_NUM" not in warning
    assert check.to_json_dict()["slot_wait"]["waited"] == 20 and check.to_json_dict()["slot_wait"]["max_ms"] == 199.0


def test_schedule_lag_names_the_client_loop_when_it_was_busy_and_slots_were_free():
    records = [_record(i, 10.0 + i, 10.0 + i + 0.2, slot_wait_s=0.0) for i in range(20)]
    outcome = FakeOutcome(_histogram([5e-3] * 100))
    warning = next(w for w in build_self_check(outcome, records).warnings if "sent late" in w)
    assert "the client's event loop" in warning and "WORKERS_NUM" in warning
    assert "concurrency cap" not in warning and "the server" not in warning


def test_schedule_lag_names_the_server_when_slots_were_free_and_the_client_idle():
    records = [_record(i, 10.0 + i, 10.0 + i + 0.2) for i in range(20)]  # open loop: no slots
    records[0].error_kind = "connect"
    (warning,) = build_self_check(FakeOutcome(), records).warnings
    assert "the server" in warning and "1 request(s) could not connect" in warning
    assert "WORKERS_NUM" not in warning and "batch_size" not in warning


def test_schedule_lag_counts_retried_requests_from_their_first_send_and_ignores_unpaced_ones():
    records = [_record(0, None, 5.0), _record(1, 1.0, 1.003, attempts=2), _record(2, 1.0, 1.002)]
    assert np.allclose(schedule_lags_s(records), [0.003, 0.002])
    assert build_self_check(FakeOutcome(), [_record(0, None, 5.0)]).schedule_lag.samples == 0


def test_schedule_lag_from_columns():
    class Columns:
        def __init__(self) -> None:
            self.data = {
                "scheduled_s": np.array([1.0, np.nan, 2.0]),
                "start_s": np.array([1.5, 3.0, 2.25]),
                "slot_wait_s": np.array([0.5, np.nan, 0.0]),
                "error_kind": np.array([0, 0, 0]),
            }

        def column(self, name: str) -> np.ndarray:
            return self.data[name]

    assert np.allclose(schedule_lags_s(Columns()), [0.5, 0.25])


def test_cpu_share_of_a_tiny_load_is_reported_but_not_warned_about():
    """Over 10 ms of load the share means little (139 % was seen with process CPU time)."""
    check = build_self_check(FakeOutcome(worker_cpu_s={0: (0.0139, 0.01)}), [])
    assert check.to_json_dict()["client_cpu"] == {"0": 1.39}
    assert check.warnings == ()


def test_saturated_worker_cpu_warns():
    check = build_self_check(FakeOutcome(worker_cpu_s={0: (9.7, 10.0), 1: (2.0, 10.0)}), [])
    assert check.to_json_dict()["client_cpu"] == {"0": 0.97, "1": 0.2}
    assert any("worker 0: 97%" in w for w in check.warnings)


def test_a_blocked_event_loop_is_seen_by_the_monitor_and_warned_about():
    async def run() -> LagHistogram:
        loop = asyncio.get_running_loop()
        hist = LagHistogram()
        monitor = asyncio.create_task(monitor_loop_lag(hist, interval_s=0.001))
        give_up_s = time.perf_counter() + 60.0  # only against a hang; a busy machine just takes longer

        def hog() -> None:  # a hot path that blocks every loop iteration for 3 ms, until 10 samples
            time.sleep(0.003)
            if hist.total < 10 and time.perf_counter() < give_up_s:
                loop.call_soon(hog)

        loop.call_soon(hog)
        while hist.total < 10 and time.perf_counter() < give_up_s:
            await asyncio.sleep(0.01)
        monitor.cancel()
        return hist

    hist = asyncio.run(run())
    assert hist.total >= 10
    check = build_self_check(FakeOutcome(hist), [])
    assert check.to_json_dict()["loop_lag"]["p99_ms"] >= 2.0
    assert any("event-loop lag" in w for w in check.warnings)


def test_a_loop_blocked_while_the_timer_is_due_cannot_read_zero():
    # The loop is blocked for 150 ms right after the monitor starts a 100 ms sleep: its timer is due
    # in the middle of the block, so it wakes >= 50 ms late; the ready queue is empty by then, so the
    # call_soon delay alone (the old measure) reads ~0. The overshoot is counted.
    async def run() -> LagHistogram:
        hist = LagHistogram()
        monitor = asyncio.create_task(monitor_loop_lag(hist, interval_s=0.1))
        await asyncio.sleep(0)  # the monitor computes its due time and starts sleeping
        time.sleep(0.15)  # a callback that blocks the loop
        while hist.total == 0:
            await asyncio.sleep(0.005)
        monitor.cancel()
        return hist

    hist = asyncio.run(run())
    assert hist.max() >= 0.049 - 0.001  # 50 ms late, less the 1 ms timer granularity


def test_lag_sample_counts_overshoot_beyond_the_timer_granularity():
    assert loop_lag_sample_s(0.0005, 0.00002) == 0.00002  # an idle loop: within the 1 ms granularity
    assert loop_lag_sample_s(0.004, 0.0) == 0.003  # woke 4 ms late: 3 ms beyond the granularity
    assert loop_lag_sample_s(-0.0008, 0.0001) == 0.0001  # uvloop timers may fire early


def test_self_check_warning_shows_p99_and_max_with_the_same_precision():
    check = build_self_check(FakeOutcome(_histogram([0.0015] * 99 + [0.0251])), [])
    assert "lag p99 1.51 ms (max 25.11 ms)" in check.warnings[0]


def test_self_check_json_keeps_the_field_order_units_and_rounding_of_the_json():
    outcome = FakeOutcome(_histogram([20e-6] * 10), {1: (0.5, 2.0), 0: (1.0, 3.0)}, stamping="kernel")
    records = [_record(0, 1.0, 1.0002, slot_wait_s=0.0), _record(1, 2.0, 2.0301, slot_wait_s=0.03)]
    check = build_self_check(outcome, records)
    assert json.dumps(check.to_json_dict()) == json.dumps({
        "stamping": "kernel",
        "loop_lag": {"samples": 10, "p50_ms": 0.03, "p99_ms": 0.03, "max_ms": 0.03},
        "schedule_lag": {"samples": 2, "p50_ms": 15.15, "p99_ms": 29.801, "max_ms": 30.1},
        "slot_wait": {"samples": 2, "p50_ms": 15.0, "p99_ms": 29.7, "max_ms": 30.0, "waited": 1, "mean_ms": 15.0},
        "client_cpu": {"1": 0.25, "0": 0.333},
    })
    assert check.slot_wait.waited == 1 and check.client_cpu == {1: 0.25, 0: 1 / 3}


def test_the_lag_monitor_cancelled_while_its_probe_is_queued_logs_no_error():
    """Cancelled between scheduling its probe and the probe's turn (a worker stopping), the monitor
    must not leave a callback that fails on the cancelled future (it printed a traceback on SIGTERM)."""
    from ais_bench.engine.health import LagHistogram, monitor_loop_lag

    async def run() -> list[dict]:
        loop = asyncio.get_running_loop()
        errors: list[dict] = []
        loop.set_exception_handler(lambda _loop, context: errors.append(context))
        task: asyncio.Task[None] | None = None
        schedule = loop.call_soon

        def call_soon_then_cancel(callback, *args, **kwargs):  # type: ignore[no-untyped-def]
            handle = schedule(callback, *args, **kwargs)
            probe = getattr(callback, "__name__", "") in ("set_result", "_wake")
            if probe and task is not None and asyncio.current_task() is task:
                task.cancel()  # the monitor's call_soon of its probe: cancel the monitor right there
            return handle

        loop.call_soon = call_soon_then_cancel  # type: ignore[method-assign]
        task = asyncio.create_task(monitor_loop_lag(LagHistogram(), interval_s=0.0))
        await asyncio.gather(task, return_exceptions=True)
        for _ in range(3):
            await asyncio.sleep(0)
        loop.call_soon = schedule  # type: ignore[method-assign]
        return errors

    assert asyncio.run(run()) == []
