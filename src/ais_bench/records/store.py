"""Crash-safe record store: each worker appends its finished requests to its own three files.

Per worker ``i`` and dataset ``<ds>``, in ``performances/<model_abbr>/records/``:

- ``<ds>.worker<i>.points``: every time point of every request, raw little-endian float64,
  appended request after request (request k owns ``tp_count`` values from ``tp_offset``);
- ``<ds>.worker<i>.jsonl``: one JSON line per request with its text fields (``request_id``,
  ``error_kind``, ``error_message``, ``output_text``, ``reasoning_text``), in the same order;
- ``<ds>.worker<i>.rows``: one fixed-size binary row per request (``ROW_DTYPE``: ids, times, token
  usage, status, where its time points are), in the same order. **A row is the commit mark.**

Buffers are written in that order (points, then text, then rows) and flushed to the OS at least
every ``flush_interval_s`` seconds, so a SIGKILL keeps everything finished up to about a second
before, and every complete row has its points and text on disk. A torn tail (the process died
mid-write) is ignored when reading back. Memory stays bounded: nothing is kept after a flush.
Binary rows and points are read back with numpy in bulk (1M requests x 128 points in about a
second), which JSON text could not do (orjson needs ~5 s just for 1M short lines).
"""

from __future__ import annotations

import errno
import os
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import orjson

from ais_bench.errors import RecordFormatError
from ais_bench.records.record import ERROR_KINDS, FINISH_REASONS, RECORD_FORMAT, RequestRecord
from ais_bench.safe_text import Redactor, utf8_text

RECORDS_DIRNAME = "records"

#: One request per row; little-endian, packed (99 bytes). Missing values: usage -1, http_status -1,
#: scheduled_s and slot_wait_s NaN, error_kind 0 (codes: 1 + index in ``ERROR_KINDS``; 255 = a kind not listed there,
#: whose name is in the text line), finish_reason 0 (codes: 1 + index in ``FINISH_REASONS``;
#: 255 = another reason, whose name is in the text line).
ROW_DTYPE = np.dtype([
    ("request_id", "<i8"),
    ("data_index", "<i8"),
    ("start_s", "<f8"),
    ("end_s", "<f8"),
    ("scheduled_s", "<f8"),
    ("slot_wait_s", "<f8"),
    ("tp_offset", "<i8"),
    ("tp_count", "<i4"),
    ("worker_id", "<i4"),
    ("usage_input_tokens", "<i8"),
    ("usage_output_tokens", "<i8"),
    ("content_events", "<i8"),
    ("attempts", "<i4"),
    ("http_status", "<i4"),
    ("success", "u1"),
    ("error_kind", "u1"),
    ("finish_reason", "u1"),
])
_ROW_STRUCT = struct.Struct("<qqddddqiiqqqiiBBB")
assert _ROW_STRUCT.size == ROW_DTYPE.itemsize
#: A rows file starts with these 7 bytes and the record format (one byte); files of record format 1
#: have no header and rows of ``ROW_DTYPE_V1``.
ROWS_MAGIC = b"AISROWS"
ROWS_HEADER = ROWS_MAGIC + bytes([RECORD_FORMAT])
#: The rows of record format 1 (90 bytes): no ``slot_wait_s``, no ``finish_reason``.
ROW_DTYPE_V1 = np.dtype([(name, ROW_DTYPE[name]) for name in ROW_DTYPE.names or ()
                         if name not in ("slot_wait_s", "finish_reason")])
OTHER_ERROR_CODE = 255


class _NameCodes:
    """Names kept as one byte in a row: 0 is None, 1.. the known names in order, ``OTHER_ERROR_CODE``
    any other name (read back as ``"other"``)."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self._names = names
        self._codes = {name: i + 1 for i, name in enumerate(names)}

    def code(self, name: str | None) -> int:
        return 0 if name is None else self._codes.get(name, OTHER_ERROR_CODE)

    def name(self, code: int) -> str | None:
        if code == 0:
            return None
        return self._names[code - 1] if code <= len(self._names) else "other"


_ERROR_KINDS = _NameCodes(ERROR_KINDS)
_FINISH_REASONS = _NameCodes(FINISH_REASONS)
error_kind_code = _ERROR_KINDS.code
error_kind_name = _ERROR_KINDS.name
finish_reason_code = _FINISH_REASONS.code
finish_reason_name = _FINISH_REASONS.name


def worker_record_path(perf_dir: Path, data_abbr: str, worker_id: int) -> Path:
    """``performances/<model_abbr>/records/<ds>.worker<i>.jsonl`` (the text file of a worker)."""
    return perf_dir / RECORDS_DIRNAME / f"{data_abbr}.worker{worker_id}.jsonl"


def worker_file_set(text_path: Path) -> tuple[Path, Path, Path]:
    """(rows, points, text) paths of the worker whose text file is ``text_path``."""
    base = text_path.name.removesuffix(".jsonl")
    return text_path.with_name(base + ".rows"), text_path.with_name(base + ".points"), text_path


#: Called with each batch of records a flush wrote: their rows (``ROW_DTYPE``) and time points
#: (float64; the first row's points start at index 0).
WrittenCallback = Callable[[np.ndarray, np.ndarray], None]


class RecordWriter:
    """Append-only writer of one worker's records; flushes at least every ``flush_interval_s``.
    ``on_written`` sees every batch once it is on disk (the live view's figures, ``engine/live.py``)."""

    def __init__(
        self,
        path: Path,
        flush_interval_s: float = 1.0,
        max_buffered: int = 256,
        redactor: Redactor | None = None,
        on_written: WrittenCallback | None = None,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._redactor = redactor if redactor else None
        rows_path, points_path, _ = worker_file_set(path)
        # Opened in commit order, unbuffered (each flush is one write per file, and a failed write
        # leaves nothing behind in a Python buffer); appending after an earlier writer keeps the
        # offsets right.
        self._points = points_path.open("ab", buffering=0)
        self._text = path.open("ab", buffering=0)
        self._rows = rows_path.open("ab", buffering=0)
        self._committed_sizes = [handle.seek(0, os.SEEK_END) for handle in self._files]
        self._points_written = self._committed_sizes[0] // 8
        #: The error of the last flush (disk full, ...), None when it succeeded. The records it could
        #: not write stay buffered (``buffered``) and go out with the next flush that succeeds.
        self.error: OSError | None = None
        self._broken = False  # a failed write could not be cut back: no further write is safe
        self._point_chunks: list[bytes] = []
        self._text_lines: list[bytes] = []
        self._row_chunks: list[bytes] = []
        self._flush_interval_s = flush_interval_s
        self._max_buffered = max_buffered
        self._last_flush_s = time.perf_counter()
        self._on_written = on_written
        self.written = 0
        #: Every record appended before this perf_counter time is on disk.
        self.written_until_s = self._last_flush_s

    def append(self, record: RequestRecord) -> None:
        points = record.time_points_s
        count = len(points)
        self._point_chunks.append(struct.pack(f"<{count}d", *points))
        self._text_lines.append(self._text_line(record))
        self._row_chunks.append(_ROW_STRUCT.pack(
            record.request_id, record.data_index, record.start_s, record.end_s,
            np.nan if record.scheduled_s is None else record.scheduled_s,
            np.nan if record.slot_wait_s is None else record.slot_wait_s,
            self._points_written, count, record.worker_id,
            _or_minus_one(record.usage_input_tokens), _or_minus_one(record.usage_output_tokens),
            record.content_events, record.attempts, _or_minus_one(record.http_status),
            1 if record.success else 0, error_kind_code(record.error_kind),
            finish_reason_code(record.finish_reason),
        ))
        self._points_written += count
        self.written += 1
        full = len(self._row_chunks) >= self._max_buffered and self.error is None
        if full or self.flush_due():
            self.flush()

    @property
    def _files(self) -> tuple[BinaryIO, BinaryIO, BinaryIO]:
        return self._points, self._text, self._rows  # the commit order

    @property
    def buffered(self) -> int:
        """Records appended but not on disk yet."""
        return len(self._row_chunks)

    def _text_line(self, record: RequestRecord) -> bytes:
        """The record's text fields as one JSON line, secrets redacted. A text JSON cannot hold (a
        lone surrogate) is stored with that character escaped (``\\ud800``) instead of failing."""
        fields = {
            "request_id": record.request_id,
            "error_kind": record.error_kind,
            "error_message": record.error_message,
            "output_text": record.output_text,
            "reasoning_text": record.reasoning_text,
            "finish_reason": record.finish_reason,
        }
        if self._redactor is not None:
            for name in ("error_message", "output_text", "reasoning_text"):
                text = fields[name]
                if isinstance(text, str) and text:
                    fields[name] = self._redactor.redact(text)
        try:
            return orjson.dumps(fields)
        except TypeError:
            return orjson.dumps({k: utf8_text(v) if isinstance(v, str) else v for k, v in fields.items()})

    def flush_due(self) -> bool:
        return bool(self._row_chunks) and time.perf_counter() - self._last_flush_s >= self._flush_interval_s

    def flush(self) -> None:
        """Write points, then text lines, then rows (the commit marks), each handed to the OS.

        When a write fails (disk full, quota, I/O error) every file is cut back to its last
        committed size, so what is on disk stays a valid record set, the records stay buffered for
        a later flush, and ``error`` says why; nothing raises."""
        self._last_flush_s = time.perf_counter()
        if not self._row_chunks or self._broken:
            return
        header = ROWS_HEADER if self._committed_sizes[2] == 0 else b""
        rows = b"".join(self._row_chunks)
        pieces = (b"".join(self._point_chunks), b"\n".join(self._text_lines) + b"\n", header + rows)
        try:
            for handle, data in zip(self._files, pieces, strict=True):
                _write_all(handle, data)
        except OSError as exc:
            self.error = exc
            self._roll_back()
            return
        self.error = None
        self.written_until_s = self._last_flush_s
        self._committed_sizes = [size + len(data) for size, data in zip(self._committed_sizes, pieces, strict=True)]
        self._point_chunks.clear()
        self._text_lines.clear()
        self._row_chunks.clear()
        if self._on_written is not None:
            self._on_written(np.frombuffer(rows, dtype=ROW_DTYPE), np.frombuffer(pieces[0], dtype="<f8"))

    def _roll_back(self) -> None:
        """Cut every file back to what the last successful flush left (frees the space it took)."""
        for handle, size in zip(self._files, self._committed_sizes, strict=True):
            try:
                os.ftruncate(handle.fileno(), size)
            except OSError:
                self._broken = True

    def close(self) -> None:
        """Flush (``error`` and ``buffered`` then tell whether records could not be written) and close."""
        if not self._rows.closed:
            self.flush()
            for handle in self._files:
                handle.close()

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _write_all(handle: BinaryIO, data: bytes) -> None:
    """Write every byte (an unbuffered write may take only part of them)."""
    view = memoryview(data)
    while view:
        written = handle.write(view)
        if not written:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[written:]


def _or_minus_one(value: int | None) -> int:
    return -1 if value is None else int(value)


def record_files(perf_dir: Path, data_abbr: str) -> list[Path]:
    """The text files (``.jsonl``) of every worker of a dataset, sorted by name."""
    return sorted((perf_dir / RECORDS_DIRNAME).glob(f"{data_abbr}.worker*.jsonl"))


def worker_record_format(text_path: Path) -> int:
    """The record format of one worker's files (1 for a rows file without header).

    Raises ``RecordFormatError`` for files written by a newer ais_bench, and for a text file without
    its rows file (written before binary rows existed; no longer read)."""
    rows_path = worker_file_set(text_path)[0]
    if not rows_path.exists():
        raise RecordFormatError(
            f"{text_path} has no rows file ({rows_path.name}): it was written by an ais_bench older than "
            "record format 1, which this one no longer reads",
            hint="recalculate it with the ais_bench version that ran it",
        )
    with rows_path.open("rb") as handle:
        head = handle.read(len(ROWS_HEADER))
    if not head.startswith(ROWS_MAGIC) or len(head) < len(ROWS_HEADER):
        return 1
    version = head[-1]
    if version > RECORD_FORMAT:
        raise RecordFormatError(
            f"{rows_path} was written by a newer ais_bench (record format {version}; this one reads up to "
            f"{RECORD_FORMAT})", hint="recalculate it with the ais_bench version that ran it",
        )
    return version


def read_worker_rows(text_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(rows, points) of one worker: complete rows whose points are all on disk (torn tails dropped).

    Rows of record format 1 are converted to ``ROW_DTYPE`` (no slot wait, no finish reason)."""
    rows_path, points_path, _ = worker_file_set(text_path)
    if worker_record_format(text_path) == 1:
        rows = _rows_of_format_1(rows_path)
    else:
        row_count = (rows_path.stat().st_size - len(ROWS_HEADER)) // ROW_DTYPE.itemsize
        rows = np.fromfile(rows_path, dtype=ROW_DTYPE, count=max(row_count, 0), offset=len(ROWS_HEADER))
    points = np.fromfile(points_path, dtype="<f8", count=points_path.stat().st_size // 8)
    complete = rows["tp_offset"] + rows["tp_count"] <= points.shape[0]
    if not complete.all():
        rows = rows[complete]
    return rows, points


def _rows_of_format_1(rows_path: Path) -> np.ndarray:
    old = np.fromfile(rows_path, dtype=ROW_DTYPE_V1, count=rows_path.stat().st_size // ROW_DTYPE_V1.itemsize)
    rows = np.zeros(old.shape[0], dtype=ROW_DTYPE)
    for name in ROW_DTYPE_V1.names or ():
        rows[name] = old[name]
    rows["slot_wait_s"] = np.nan
    return rows


def iter_text_lines(text_path: Path) -> Iterator[bytes]:
    """The complete lines of a worker's text file (a torn last line is skipped)."""
    with text_path.open("rb") as handle:
        for line in handle:
            if not line.endswith(b"\n"):
                return
            yield line


def iter_records(path: Path) -> Iterator[RequestRecord]:
    """Every complete record of one worker (text file ``path``), time points and texts included."""
    rows, points = read_worker_rows(path)
    lines = iter_text_lines(path)
    data_abbr = path.name.rsplit(".worker", 1)[0]
    for row in rows:
        text = orjson.loads(next(lines))
        offset, count = int(row["tp_offset"]), int(row["tp_count"])
        yield RequestRecord(
            request_id=int(row["request_id"]),
            data_index=int(row["data_index"]),
            data_abbr=data_abbr,
            worker_id=int(row["worker_id"]),
            success=bool(row["success"]),
            start_s=float(row["start_s"]),
            end_s=float(row["end_s"]),
            time_points_s=points[offset : offset + count].tolist(),
            usage_input_tokens=_none_if_negative(row["usage_input_tokens"]),
            usage_output_tokens=_none_if_negative(row["usage_output_tokens"]),
            content_events=int(row["content_events"]),
            output_text=text["output_text"],
            reasoning_text=text["reasoning_text"],
            attempts=int(row["attempts"]),
            error_kind=text["error_kind"],
            error_message=text["error_message"],
            http_status=_none_if_negative(row["http_status"]),
            scheduled_s=None if np.isnan(row["scheduled_s"]) else float(row["scheduled_s"]),
            slot_wait_s=None if np.isnan(row["slot_wait_s"]) else float(row["slot_wait_s"]),
            finish_reason=text.get("finish_reason"),
        )


def _none_if_negative(value: np.integer) -> int | None:
    return None if value < 0 else int(value)


def read_records(perf_dir: Path, data_abbr: str) -> list[RequestRecord]:
    """Every record of a dataset's run, from all worker files, ordered by request id.

    Builds one Python object per request with its time points: for tests, benchmarks of the client and
    small runs; the summary and recalculation read columns instead (``ais_bench.records.columns``).
    """
    records = [rec for path in record_files(perf_dir, data_abbr) for rec in iter_records(path)]
    records.sort(key=lambda rec: rec.request_id)
    return records
