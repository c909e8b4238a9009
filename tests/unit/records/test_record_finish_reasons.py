"""Finish reasons through the record files: worker rows and text lines, the columns, the mix and
the early-stop warning."""

from __future__ import annotations

from pathlib import Path

from ais_bench.records.columns import read_record_columns
from ais_bench.records.record import RequestRecord
from ais_bench.records.store import RecordWriter, finish_reason_name, read_records, worker_record_path
from ais_bench.records.table import early_stop_warning, finish_reason_mix
from tests.support.records import columns_of


def _record(request_id: int, reason: str | None) -> RequestRecord:
    return RequestRecord(
        request_id=request_id, data_index=request_id, data_abbr="ds", worker_id=0, success=True,
        start_s=1.0, end_s=2.0, time_points_s=[1.0, 1.5], content_events=1, finish_reason=reason,
    )


def test_finish_reasons_round_trip_through_the_worker_files(tmp_path: Path) -> None:
    reasons = ["stop", "length", None, "eos_token", "abort", "something_new"]
    with RecordWriter(worker_record_path(tmp_path, "ds", 0)) as writer:
        for k, reason in enumerate(reasons):
            writer.append(_record(k, reason))
    assert [r.finish_reason for r in read_records(tmp_path, "ds")] == reasons  # full records: the text
    codes = read_record_columns(tmp_path, "ds").rows["finish_reason"].tolist()  # the row codes
    assert [finish_reason_name(c) for c in codes] == ["stop", "length", None, "eos_token", "abort", "other"]


def test_the_mix_counts_each_reason_most_frequent_first() -> None:
    reasons = ["stop", "length", "stop", None, "abort", "stop", "new_reason", "another"]
    columns = columns_of([_record(k, r) for k, r in enumerate(reasons)])
    assert list(finish_reason_mix(columns).items()) == [
        ("stop", 3), ("other", 2), ("abort", 1), ("length", 1), ("none", 1),
    ]


def test_a_run_meant_to_reach_max_out_len_that_mostly_stopped_early_is_warned_about() -> None:
    assert early_stop_warning({"stop": 6, "length": 4}, ignore_eos=True)[0].startswith(
        "6 of 10 requests stopped before max_out_len"
    )
    assert early_stop_warning({"eos_token": 3, "length": 7}, ignore_eos=True) == []  # mostly reached it
    assert early_stop_warning({"stop": 9, "length": 1}, ignore_eos=False) == []  # stopping was allowed
    assert early_stop_warning({"none": 5}, ignore_eos=True) == []  # no reasons sent: nothing to say
