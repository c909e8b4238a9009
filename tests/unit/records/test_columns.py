from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ais_bench.records.columns import gather_segments, read_record_columns
from ais_bench.records.details import read_details_jsonl, write_details_jsonl
from ais_bench.records.details_h5 import RunAttributes, read_details_h5, read_h5_attributes, write_details_h5
from ais_bench.records.record import RequestRecord, RequestTable
from ais_bench.records.store import RecordWriter, read_records, worker_record_path
from ais_bench.records.table import resolve_token_counts, table_from_columns
from ais_bench.records.token_counts import TokenizerCounts


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
    rows = columns.rows
    assert rows["request_id"].tolist() == [r.request_id for r in records]
    assert rows["data_index"].tolist() == [r.data_index for r in records]
    assert rows["attempts"].tolist() == [r.attempts for r in records]
    assert [None if u < 0 else u for u in rows["usage_input_tokens"].tolist()] == [r.usage_input_tokens for r in records]
    assert [None if s < 0 else s for s in rows["http_status"].tolist()] == [r.http_status for r in records]
    assert columns.failures() == {
        i: (r.error_kind, r.error_message) for i, r in enumerate(records) if not r.success
    }
    counts = resolve_token_counts(columns)
    expected = RequestTable.from_columns(
        [r.time_points_s for r in records], [r.success for r in records], counts.input_tokens.tolist(),
        counts.output_tokens.tolist(), [r.start_s for r in records], [r.end_s for r in records],
    )
    table = table_from_columns(columns, counts)
    for name in ("start_s", "end_s", "success", "input_tokens", "output_tokens", "offsets", "time_points_s"):
        np.testing.assert_array_equal(getattr(table, name), getattr(expected, name), err_msg=name)
    # usage when > 0, else the token events (output) and 0 (input)
    assert counts.output_tokens.tolist() == [r.usage_output_tokens or r.content_events for r in records]
    assert counts.input_tokens.tolist() == [r.usage_input_tokens or 0 for r in records]


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
    n = len(columns)
    columns.tokenizer = TokenizerCounts("/models/tok", np.arange(n) + 100, np.where(np.arange(n) % 2, 7, -1), ["w"])
    counts = resolve_token_counts(columns)
    failures = columns.failures()
    h5_path = write_details_h5(
        tmp_path / "ds_details.h5", columns, counts, failures,
        RunAttributes("m", "ds", True, 4, "models = []\n", {"self_check": {"p99_ms": 0.1}}),
    )
    details = read_details_jsonl(write_details_jsonl(tmp_path / "ds_details.jsonl", columns, counts, failures))
    back = read_details_h5(h5_path)
    for name in columns.rows.dtype.names:
        np.testing.assert_array_equal(back.rows[name], columns.rows[name], err_msg=name)
    np.testing.assert_array_equal(back.time_points_s, columns.time_points_s)
    assert back.error_messages == columns.error_messages and back.failures() == failures
    assert back.run_facts == {"self_check": {"p99_ms": 0.1}} and columns.run_facts == {}
    assert back.tokenizer is not None and back.tokenizer.path == "/models/tok" and back.tokenizer.warnings == ["w"]
    np.testing.assert_array_equal(back.tokenizer.input_tokens, columns.tokenizer.input_tokens)
    np.testing.assert_array_equal(back.tokenizer.output_tokens, columns.tokenizer.output_tokens)
    again = resolve_token_counts(back)  # the recalculation's counts from the h5 alone
    for name in ("input_tokens", "output_tokens", "input_source", "output_source"):
        np.testing.assert_array_equal(getattr(again, name), getattr(counts, name), err_msg=name)
    assert again.warnings == counts.warnings
    attrs = read_h5_attributes(h5_path)
    assert attrs["clock"] == "time.perf_counter" and attrs["config"] == "models = []\n"
    assert attrs["tool_version"] and attrs["batch_size"] == 4 and attrs["requests"] == len(columns)
    assert [d["id"] for d in details] == columns.rows["request_id"].tolist()
    assert [d["events"] for d in details] == np.maximum(np.diff(columns.offsets) - 1, 0).tolist()
    assert [d["output_tokens"] for d in details] == counts.output_tokens.tolist()
    assert [d["output_tokens_source"] for d in details] == counts.output_source.tolist()
    assert [d["error"] for d in details] == [failures.get(i, (None, None))[1] for i in range(n)]
    statuses = [None if s < 0 else s for s in columns.rows["http_status"].tolist()]
    assert [d["http_status"] for d in details] == statuses
