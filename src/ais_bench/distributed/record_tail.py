"""A worker's record files read as they grow, batch by batch, so a Ray actor can send the driver
every record it has committed to its node's disk (``records/store.py``: points, then text lines,
then the rows, which are the commit marks)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ais_bench.records.store import ROW_DTYPE, ROWS_HEADER, worker_file_set


@dataclass(frozen=True)
class RecordBatch:
    """Records as their files hold them: ``rows`` (``ROW_DTYPE``; ``tp_offset`` counts from the
    start of the worker's points file), their time points (``points_s``, float64, the first row's
    first) and their text lines (``text``: one JSON line each, newline-terminated)."""

    rows: np.ndarray
    points_s: np.ndarray
    text: bytes

    def __len__(self) -> int:
        return len(self.rows)


def empty_batch() -> RecordBatch:
    return RecordBatch(np.zeros(0, dtype=ROW_DTYPE), np.zeros(0, dtype="<f8"), b"")


class RecordTail:
    """Reads the rows committed since the last ``read`` and the points and text lines they own."""

    def __init__(self, text_path: Path) -> None:
        self._rows_path, self._points_path, self._text_path = worker_file_set(text_path)
        self._rows_at = len(ROWS_HEADER)
        self._points_at = 0  # in bytes
        self._text_at = 0

    def read(self) -> RecordBatch:
        rows = self._new_rows()
        if len(rows) == 0:
            return empty_batch()
        points_end = int(rows["tp_offset"][-1] + rows["tp_count"][-1]) * 8
        points = _read_range(self._points_path, self._points_at, points_end)
        text = self._text_lines(len(rows))
        self._rows_at += len(rows) * ROW_DTYPE.itemsize
        self._points_at = points_end
        return RecordBatch(rows, np.frombuffer(points, dtype="<f8"), text)

    def _new_rows(self) -> np.ndarray:
        if not self._rows_path.exists():
            return np.zeros(0, dtype=ROW_DTYPE)
        with self._rows_path.open("rb") as handle:
            handle.seek(self._rows_at)
            data = handle.read()
        whole = len(data) - len(data) % ROW_DTYPE.itemsize  # a row being written is not committed yet
        rows: np.ndarray = np.frombuffer(data[:whole], dtype=ROW_DTYPE).copy()
        return rows

    def _text_lines(self, count: int) -> bytes:
        with self._text_path.open("rb") as handle:
            handle.seek(self._text_at)
            data = handle.read()
        end = 0
        for _ in range(count):
            end = data.index(b"\n", end) + 1
        self._text_at += end
        return data[:end]


def _read_range(path: Path, start: int, end: int) -> bytes:
    with path.open("rb") as handle:
        handle.seek(start)
        return handle.read(end - start)
