"""The self-check's clock entry per node of a Ray run: each worker's records carry the error of its
own offset estimate, so the node's entry must bound the worst of them."""

from __future__ import annotations

from ais_bench.distributed.clock import ClockOffset
from ais_bench.distributed.driver import Placement, node_clock_offsets


def _offset(offset_s: float, uncertainty_s: float) -> ClockOffset:
    return ClockOffset(offset_s, uncertainty_s, samples=16, round_trip_min_s=2 * uncertainty_s, round_trip_max_s=0.01)


def test_a_node_reports_its_least_well_known_worker_offset():
    placements = [
        Placement(0, "aaaaaaaa1111", "10.0.0.1"), Placement(1, "bbbbbbbb2222", "10.0.0.2"),
        Placement(2, "aaaaaaaa1111", "10.0.0.1"), Placement(3, "bbbbbbbb2222", "10.0.0.2"),
    ]
    clocks = {0: _offset(5.0, 0.0002), 1: _offset(-1.0, 0.003), 2: _offset(5.0001, 0.0009), 3: _offset(-1.0, 0.001)}
    assert node_clock_offsets(placements, clocks) == [
        ("10.0.0.1 aaaaaaaa", clocks[2]),  # worker 2's records may be off by 0.9 ms, worker 0's by 0.2 ms
        ("10.0.0.2 bbbbbbbb", clocks[1]),
    ]
