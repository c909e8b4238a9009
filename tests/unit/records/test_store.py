from __future__ import annotations

import errno
import math
from pathlib import Path

import numpy as np
import pytest

from ais_bench.errors import RecordFormatError
from ais_bench.records.record import RequestRecord
from ais_bench.records.store import (
    ROW_DTYPE,
    RecordWriter,
    read_records,
    worker_file_set,
    worker_record_path,
)
from tests.support.small_disk import fill, mounted_tmpfs


def _record(request_id: int, worker: int, **fields) -> RequestRecord:
    values = dict(
        request_id=request_id, data_index=request_id, data_abbr="ds", worker_id=worker, success=True,
        start_s=1.0 + request_id, end_s=2.0 + request_id, time_points_s=[1.0 + request_id, 1.5, 2.0 + request_id],
        usage_input_tokens=7, usage_output_tokens=3, content_events=2, output_text="out", reasoning_text="",
    )
    values.update(fields)
    return RequestRecord(**values)


def test_records_round_trip_across_workers(tmp_path: Path) -> None:
    for worker in (0, 1):
        with RecordWriter(worker_record_path(tmp_path, "ds", worker)) as writer:
            for request_id in range(worker, 10, 2):
                writer.append(_record(request_id, worker))
    records = read_records(tmp_path, "ds")
    assert [r.request_id for r in records] == list(range(10))
    assert records[3] == _record(3, 1)


def test_failures_and_missing_values_round_trip(tmp_path: Path) -> None:
    failed = _record(
        0, 0, success=False, time_points_s=[5.0], end_s=5.5, usage_input_tokens=None, usage_output_tokens=None,
        content_events=0, output_text="", attempts=3, error_kind="http_status", error_message="HTTP 503: busy",
        http_status=503,
    )
    odd = _record(1, 0, success=False, time_points_s=[], error_kind="brand_new_kind", error_message="x",
                  scheduled_s=0.25)
    with RecordWriter(worker_record_path(tmp_path, "ds", 0)) as writer:
        writer.append(failed)
        writer.append(odd)
    assert read_records(tmp_path, "ds") == [failed, odd]


def test_torn_tails_are_skipped(tmp_path: Path) -> None:
    path = worker_record_path(tmp_path, "ds", 0)
    with RecordWriter(path) as writer:
        writer.append(_record(0, 0))
        writer.append(_record(1, 0))
    rows_path, points_path, _ = worker_file_set(path)
    # Killed mid-write: half a text line, half a row, and a whole row whose points never made it.
    with path.open("ab") as handle:
        handle.write(b'{"request_id": 2, "error_ki')
    row = np.zeros(1, dtype=ROW_DTYPE)
    row["request_id"], row["tp_offset"], row["tp_count"] = 3, 6, 3
    with rows_path.open("ab") as handle:
        handle.write(row.tobytes())
        handle.write(row.tobytes()[:40])
    assert [r.request_id for r in read_records(tmp_path, "ds")] == [0, 1]
    assert points_path.stat().st_size == 6 * 8


def test_writer_flushes_within_interval_without_close(tmp_path: Path) -> None:
    path = worker_record_path(tmp_path, "ds", 0)
    writer = RecordWriter(path, flush_interval_s=0.0)
    writer.append(_record(0, 0))
    # flushed to the OS already: another reader sees it before close
    assert len(read_records(tmp_path, "ds")) == 1
    writer.close()


def test_reopened_writer_appends_with_right_offsets(tmp_path: Path) -> None:
    path = worker_record_path(tmp_path, "ds", 0)
    with RecordWriter(path) as writer:
        writer.append(_record(0, 0, time_points_s=[1.0, 2.0, 3.0, 4.0]))
    with RecordWriter(path) as writer:
        writer.append(_record(1, 0))
    records = read_records(tmp_path, "ds")
    assert records[1].time_points_s == [2.0, 1.5, 3.0]


def test_a_text_file_without_its_rows_file_is_refused_with_one_line(tmp_path: Path) -> None:
    """Worker files from before binary rows existed (whole records as JSON lines) are no longer read."""
    path = worker_record_path(tmp_path, "ds", 0)
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"request_id": 0, "success": true}\n')
    with pytest.raises(RecordFormatError, match="no rows file") as caught:
        read_records(tmp_path, "ds")
    assert "older than record format 1" in caught.value.message


def test_memory_is_not_kept_after_flush(tmp_path: Path) -> None:
    writer = RecordWriter(worker_record_path(tmp_path, "ds", 0), max_buffered=8)
    for i in range(100):
        writer.append(_record(i, 0))
    assert len(writer._row_chunks) < 8 and len(writer._point_chunks) < 8
    writer.close()
    assert not math.isnan(read_records(tmp_path, "ds")[99].start_s)


@pytest.mark.processes
def test_a_full_disk_keeps_the_files_consistent_and_the_records_buffered(tmp_path: Path) -> None:
    """A flush that fails (ENOSPC on a real, small tmpfs) cuts the files back to the last complete
    flush, keeps its records buffered and says why; once space is back they are written."""
    with mounted_tmpfs(tmp_path / "disk", "4m") as disk:
        path = worker_record_path(disk, "ds", 0)
        writer = RecordWriter(path, flush_interval_s=3600.0, max_buffered=10**6)
        for request_id in range(5):
            writer.append(_record(request_id, 0))
        writer.flush()
        assert writer.error is None and writer.buffered == 0
        sizes = [p.stat().st_size for p in worker_file_set(path)]
        filler = fill(disk)
        for request_id in range(5, 2000):
            writer.append(_record(request_id, 0, output_text="x" * 1000))
        writer.flush()
        assert writer.error is not None and writer.error.errno == errno.ENOSPC
        assert writer.buffered == 1995
        assert [p.stat().st_size for p in worker_file_set(path)] == sizes
        assert [r.request_id for r in read_records(disk, "ds")] == list(range(5))
        filler.unlink()
        writer.close()
        assert writer.error is None and writer.buffered == 0
        records = read_records(disk, "ds")
        assert [r.request_id for r in records] == list(range(2000))
        assert records[1999] == _record(1999, 0, output_text="x" * 1000)


def test_each_batch_written_is_seen_once_with_its_rows_and_points(tmp_path: Path) -> None:
    seen: list[tuple[list[int], list[float]]] = []

    def on_written(rows: np.ndarray, points: np.ndarray) -> None:
        seen.append((rows["request_id"].tolist(), points.tolist()))

    with RecordWriter(worker_record_path(tmp_path, "ds", 0), max_buffered=2, on_written=on_written) as writer:
        for request_id in range(3):
            writer.append(_record(request_id, 0))
        assert writer.buffered == 1  # the first two went out together (max_buffered)
    # the batch's own points, from index 0, in row order
    assert seen == [([0, 1], [1.0, 1.5, 2.0, 2.0, 1.5, 3.0]), ([2], [3.0, 1.5, 4.0])]
