"""A worker's record files read back batch by batch as they grow, and mirrored on the driver."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ais_bench.distributed.gather import NODE_LOST, LostRequest, RecordMirror
from ais_bench.distributed.record_tail import RecordTail
from ais_bench.records.record import RequestRecord
from ais_bench.records.store import RecordWriter, read_records, worker_record_path


def _record(request_id: int, start_s: float, points: int) -> RequestRecord:
    stamps = [start_s + 0.5 * k for k in range(points)]
    return RequestRecord(
        request_id, request_id, "ds", 0, success=True, start_s=start_s, end_s=stamps[-1], time_points_s=stamps,
        usage_output_tokens=points - 1, output_text=f"text {request_id}",
    )


def test_tail_reads_each_committed_record_once_and_only_committed_ones(tmp_path: Path) -> None:
    path = worker_record_path(tmp_path / "node", "ds", 0)
    tail = RecordTail(path)
    assert len(tail.read()) == 0  # nothing written yet: no file
    with RecordWriter(path) as writer:
        writer.append(_record(0, 100.0, 3))
        writer.append(_record(1, 101.0, 2))
        assert len(tail.read()) == 0  # buffered, not committed
        writer.flush()
        first = tail.read()
        writer.append(_record(2, 102.0, 4))
        writer.flush()
        with path.with_name("ds.worker0.rows").open("ab") as rows:
            rows.write(b"\x01" * 10)  # a row being written: not committed, not read
        second = tail.read()
    assert list(first.rows["request_id"]) == [0, 1] and list(second.rows["request_id"]) == [2]
    np.testing.assert_array_equal(first.points_s, [100.0, 100.5, 101.0, 101.0, 101.5])
    np.testing.assert_array_equal(second.points_s, [102.0, 102.5, 103.0, 103.5])
    assert first.text.count(b"\n") == 2 and b"text 2" in second.text


def test_mirror_writes_shifted_batches_and_lost_requests_as_failed(tmp_path: Path) -> None:
    node_path = worker_record_path(tmp_path / "node", "ds", 3)
    tail = RecordTail(node_path)
    mirror = RecordMirror(worker_record_path(tmp_path / "run", "ds", 3), 3, "ds", offset_s=1000.0)
    with RecordWriter(node_path) as writer:
        for request_id in range(2):
            writer.append(_record(request_id, 1100.0 + request_id, 3))
            writer.flush()
            mirror.append(tail.read())
    mirror.fail_lost([LostRequest(1, 1, 7.0), LostRequest(5, 2, 105.25)])  # 1 already arrived: not failed again
    records = {r.request_id: r for r in read_records(tmp_path / "run", "ds")}
    assert sorted(records) == [0, 1, 5]
    # the node's stamps minus its offset (node clock - driver clock = 1000 s); durations unchanged
    assert records[0].start_s == 100.0 and records[0].time_points_s == [100.0, 100.5, 101.0]
    assert records[1].end_s == 102.0 and records[1].output_text == "text 1" and records[1].success
    lost = records[5]
    assert (lost.success, lost.error_message, lost.data_index, lost.worker_id) == (False, NODE_LOST, 2, 3)
    assert lost.start_s == 105.25 and lost.end_s >= lost.start_s
