"""Crash-safe record store: each worker appends finished records to its own JSON Lines file.

A line is written for every finished request (success or failure) and the file is flushed to the
OS at least every ``flush_interval_s`` seconds, so a killed run keeps everything received up to
about one second before the kill. A torn last line (the process died mid-write) is skipped when
reading back. Memory stays bounded: records are not kept after they are written.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import orjson

from ais_bench.records.record import RequestRecord

RECORDS_DIRNAME = "records"


def worker_record_path(perf_dir: Path, data_abbr: str, worker_id: int) -> Path:
    """``performances/<model_abbr>/records/<ds>.worker<i>.jsonl``."""
    return perf_dir / RECORDS_DIRNAME / f"{data_abbr}.worker{worker_id}.jsonl"


class RecordWriter:
    """Append-only writer of one worker's records; flushes at least every ``flush_interval_s``."""

    def __init__(self, path: Path, flush_interval_s: float = 1.0, max_buffered: int = 256) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = path.open("ab")
        self._buffer: list[bytes] = []
        self._flush_interval_s = flush_interval_s
        self._max_buffered = max_buffered
        self._last_flush_s = time.perf_counter()
        self.written = 0

    def append(self, record: RequestRecord) -> None:
        self._buffer.append(orjson.dumps(record.to_json_dict(), option=orjson.OPT_SERIALIZE_NUMPY))
        self.written += 1
        if len(self._buffer) >= self._max_buffered or self.flush_due():
            self.flush()

    def flush_due(self) -> bool:
        return bool(self._buffer) and time.perf_counter() - self._last_flush_s >= self._flush_interval_s

    def flush(self) -> None:
        if self._buffer:
            self._file.write(b"\n".join(self._buffer) + b"\n")
            self._buffer.clear()
        self._file.flush()
        self._last_flush_s = time.perf_counter()

    def close(self) -> None:
        if not self._file.closed:
            self.flush()
            self._file.close()

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_records(path: Path) -> Iterator[RequestRecord]:
    """Records of one worker file; a torn (incomplete) last line is skipped."""
    with path.open("rb") as handle:
        for line in handle:
            if not line.endswith(b"\n"):
                break
            try:
                yield RequestRecord.from_json_dict(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue


def record_files(perf_dir: Path, data_abbr: str) -> list[Path]:
    return sorted((perf_dir / RECORDS_DIRNAME).glob(f"{data_abbr}.worker*.jsonl"))


def read_records(perf_dir: Path, data_abbr: str) -> list[RequestRecord]:
    """Every record of a dataset's run, from all worker files, ordered by request id."""
    records = [rec for path in record_files(perf_dir, data_abbr) for rec in iter_records(path)]
    records.sort(key=lambda rec: rec.request_id)
    return records
