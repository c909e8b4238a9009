from __future__ import annotations

from pathlib import Path

from ais_bench.records.record import RequestRecord
from ais_bench.records.store import RecordWriter, read_records, worker_record_path


def _record(request_id: int, worker: int) -> RequestRecord:
    return RequestRecord(
        request_id=request_id, data_index=request_id, data_abbr="ds", worker_id=worker, success=True,
        start_s=1.0 + request_id, end_s=2.0 + request_id, time_points_s=[1.0 + request_id, 1.5, 2.0 + request_id],
    )


def test_records_round_trip_across_workers(tmp_path: Path) -> None:
    for worker in (0, 1):
        with RecordWriter(worker_record_path(tmp_path, "ds", worker)) as writer:
            for request_id in range(worker, 10, 2):
                writer.append(_record(request_id, worker))
    records = read_records(tmp_path, "ds")
    assert [r.request_id for r in records] == list(range(10))
    assert records[3] == _record(3, 1)


def test_torn_last_line_is_skipped(tmp_path: Path) -> None:
    path = worker_record_path(tmp_path, "ds", 0)
    with RecordWriter(path) as writer:
        writer.append(_record(0, 0))
        writer.append(_record(1, 0))
    with path.open("ab") as handle:
        handle.write(b'{"request_id": 2, "data_ind')
    assert [r.request_id for r in read_records(tmp_path, "ds")] == [0, 1]


def test_writer_flushes_within_interval_without_close(tmp_path: Path) -> None:
    path = worker_record_path(tmp_path, "ds", 0)
    writer = RecordWriter(path, flush_interval_s=0.0)
    writer.append(_record(0, 0))
    # flushed to the OS already: another reader sees it before close
    assert len(read_records(tmp_path, "ds")) == 1
    writer.close()
