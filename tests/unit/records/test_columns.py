from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ais_bench.records.columns import gather_segments, light_records, read_record_columns, table_from_columns
from ais_bench.records.details import read_details_jsonl, write_details_jsonl
from ais_bench.records.details_h5 import RunAttributes, read_details_h5, read_h5_attributes, write_details_h5
from ais_bench.records.record import RequestRecord
from ais_bench.records.store import RecordWriter, read_records, worker_record_path
from ais_bench.records.table import build_table, resolve_token_counts


def _write_run(tmp_path: Path, n: int = 40, workers: int = 3, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    writers = [RecordWriter(worker_record_path(tmp_path, "ds", w), max_buffered=4) for w in range(workers)]
    for request_id in rng.permutation(n).tolist():
        w = request_id % workers
        count = int(rng.integers(0, 6))
        start = float(request_id) + rng.random()
        points = [start + 0.01 * k for k in range(count)]
        ok = count >= 2 and request_id % 7 != 3
        writers[w].append(RequestRecord(
            request_id=request_id, data_index=request_id % 5, data_abbr="ds", worker_id=w, success=ok,
            start_s=start, end_s=points[-1] if points else start + 0.5, time_points_s=points,
            usage_input_tokens=10 + request_id if request_id % 4 else None, usage_output_tokens=count or None,
            content_events=max(count - 1, 0), attempts=1 + request_id % 2,
            error_kind=None if ok else ("http_status" if request_id % 2 else "read_timeout"),
            error_message=None if ok else f"failure {request_id}", http_status=None if ok else 500,
        ))
    for writer in writers:
        writer.close()


def test_columns_match_the_records(tmp_path: Path) -> None:
    _write_run(tmp_path)
    records = read_records(tmp_path, "ds")
    columns = read_record_columns(tmp_path, "ds")
    assert columns.rows["request_id"].tolist() == [r.request_id for r in records]
    light = light_records(columns)
    for full, small in zip(records, light, strict=True):
        assert small.time_points_s == []
        small.time_points_s = full.time_points_s
        small.output_text, small.reasoning_text = full.output_text, full.reasoning_text
        assert small == full
    counts = resolve_token_counts(records)
    expected = build_table(records, counts)
    table = table_from_columns(columns, resolve_token_counts(light))
    for name in ("start_s", "end_s", "success", "input_tokens", "output_tokens", "offsets", "time_points_s"):
        np.testing.assert_array_equal(getattr(table, name), getattr(expected, name), err_msg=name)


def test_gather_segments_reorders_points() -> None:
    points = np.arange(10, dtype=np.float64)
    starts = np.array([6, 0, 3])
    lengths = np.array([4, 3, 0])
    offsets = np.array([0, 4, 7, 7])
    assert gather_segments(points, starts, lengths, offsets).tolist() == [6, 7, 8, 9, 0, 1, 2]


@pytest.mark.parametrize("workers", [1, 3])
def test_h5_and_jsonl_agree_with_the_records(tmp_path: Path, workers: int) -> None:
    _write_run(tmp_path, workers=workers)
    columns = read_record_columns(tmp_path, "ds")
    light = light_records(columns)
    counts = resolve_token_counts(light)
    h5_path = write_details_h5(
        tmp_path / "ds_details.h5", columns, light, counts, RunAttributes("m", "ds", True, 4, "models = []\n", {"self_check": {"p99_ms": 0.1}})
    )
    details = read_details_jsonl(write_details_jsonl(tmp_path / "ds_details.jsonl", columns, light, counts))
    back = read_details_h5(h5_path)
    for name in columns.rows.dtype.names:
        np.testing.assert_array_equal(back.rows[name], columns.rows[name], err_msg=name)
    np.testing.assert_array_equal(back.time_points_s, columns.time_points_s)
    assert back.error_messages == columns.error_messages
    assert back.run_facts == {"self_check": {"p99_ms": 0.1}} and columns.run_facts == {}
    assert light_records(back) == light
    attrs = read_h5_attributes(h5_path)
    assert attrs["clock"] == "time.perf_counter" and attrs["config"] == "models = []\n"
    assert attrs["tool_version"] and attrs["batch_size"] == 4 and attrs["requests"] == len(columns)
    assert [d["id"] for d in details] == columns.rows["request_id"].tolist()
    assert [d["events"] for d in details] == np.maximum(np.diff(columns.offsets) - 1, 0).tolist()
    assert [d["output_tokens"] for d in details] == counts.output_tokens
    assert [d["error"] for d in details] == [r.error_message for r in light]
    assert [d["http_status"] for d in details] == [r.http_status for r in light]
