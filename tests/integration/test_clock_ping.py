"""The NTP-style offset estimate against a real second process: a child that answers each ping with
its ``perf_counter()``. Both read the same clock (CLOCK_MONOTONIC of this host), so the true offset
is 0 and must lie within the reported uncertainty, however the scheduler delayed either side."""

from __future__ import annotations

import multiprocessing
import time
from multiprocessing.connection import Connection

from ais_bench.distributed.clock import combine, estimate_offset, ping_samples


def _answer_pings(conn: Connection) -> None:
    """Reply to each message with this process's clock, until the message is None."""
    while conn.recv() is not None:
        conn.send(time.perf_counter())


def test_a_second_process_on_this_host_has_offset_zero_within_the_uncertainty():
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    child = context.Process(target=_answer_pings, args=(theirs,), daemon=True)
    child.start()
    try:
        def ping() -> float:
            ours.send(True)
            node_s: float = ours.recv()
            return node_s

        before = estimate_offset(ping_samples(ping, 50))
        after = estimate_offset(ping_samples(ping, 50))
    finally:
        ours.send(None)
        child.join(timeout=30)
        if child.is_alive():
            child.kill()
    for estimate in (before, after, combine(before, after)):
        assert abs(estimate.offset_s) <= estimate.uncertainty_s, estimate
        assert estimate.round_trip_min_s <= estimate.round_trip_max_s
    assert before.samples == after.samples == 50
    assert combine(before, after).samples == 100
