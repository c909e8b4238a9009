"""Run folders for record tests: ``RequestRecord`` objects written through the real record writer
and read back as the columns the summary uses."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from ais_bench.records.columns import RecordColumns, read_record_columns
from ais_bench.records.record import RequestRecord
from ais_bench.records.store import RecordWriter, worker_record_path


def write_records(perf_dir: Path, records: Sequence[RequestRecord], data_abbr: str = "ds") -> None:
    """Each record to the worker files of its ``worker_id``."""
    writers: dict[int, RecordWriter] = {}
    for record in records:
        if record.worker_id not in writers:
            writers[record.worker_id] = RecordWriter(worker_record_path(perf_dir, data_abbr, record.worker_id))
        writers[record.worker_id].append(record)
    for writer in writers.values():
        writer.close()


def columns_of(records: Sequence[RequestRecord], data_abbr: str = "ds") -> RecordColumns:
    """The columns of ``records`` after a round trip through the worker files (a temporary folder)."""
    with tempfile.TemporaryDirectory(prefix="ais_bench_records_") as folder:
        write_records(Path(folder), records, data_abbr)
        return read_record_columns(Path(folder), data_abbr)
