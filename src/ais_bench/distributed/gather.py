"""The driver's side of a Ray run's records: each worker's batches written into the run folder's
``records/`` (the same three files a local worker writes, ``records/store.py``), their stamps moved
onto the driver's clock, and the requests a lost node had in flight written as failed records."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import BinaryIO

from ais_bench.distributed.clock import shift_batch
from ais_bench.distributed.record_tail import RecordBatch
from ais_bench.records.record import RequestRecord
from ais_bench.records.store import ROWS_HEADER, RecordWriter, worker_file_set

#: The error message of a request that was in flight on a node the run lost.
NODE_LOST = "load node lost"


@dataclass(frozen=True)
class LostRequest:
    """A request in flight on a lost node: its id, data index and send stamp (driver's clock)."""

    request_id: int
    data_index: int
    start_s: float


class RecordMirror:
    """Worker ``worker``'s record files in the run folder (``text_path`` names them), filled with the
    batches its node sends, each shifted by the node's clock offset (``offset_s``: node - driver).
    Written in the store's commit order: points, text lines, then the rows."""

    def __init__(self, text_path: Path, worker: int, data_abbr: str, offset_s: float) -> None:
        text_path.parent.mkdir(parents=True, exist_ok=True)
        self.text_path = text_path
        self.worker = worker
        self.data_abbr = data_abbr
        self.offset_s = offset_s
        rows_path, points_path, _ = worker_file_set(text_path)
        self._files: tuple[BinaryIO, ...] = tuple(
            path.open("ab", buffering=0) for path in (points_path, text_path, rows_path)
        )
        self.request_ids: set[int] = set()

    def append(self, batch: RecordBatch) -> None:
        """Write one batch (raises ``OSError`` when the disk refuses it)."""
        if len(batch) == 0:
            return
        rows, points_s = shift_batch(batch.rows, batch.points_s, self.offset_s)
        header = ROWS_HEADER if self._files[2].tell() == 0 else b""
        for handle, data in zip(self._files, (points_s.tobytes(), batch.text, header + rows.tobytes()), strict=True):
            _write_all(handle, data)
        self.request_ids.update(int(request_id) for request_id in batch.rows["request_id"])

    def fail_lost(self, lost: list[LostRequest]) -> None:
        """Write the requests a lost node had in flight as failed: sent at their send stamp, ended
        now, the error ``NODE_LOST``."""
        self.close()
        now_s = perf_counter()
        with RecordWriter(self.text_path) as writer:
            for request in lost:
                if request.request_id in self.request_ids:
                    continue
                writer.append(RequestRecord(
                    request.request_id, request.data_index, self.data_abbr, self.worker, success=False,
                    start_s=request.start_s, end_s=max(now_s, request.start_s), time_points_s=[request.start_s],
                    error_kind="cancelled", error_message=NODE_LOST,
                ))
                self.request_ids.add(request.request_id)

    def close(self) -> None:
        for handle in self._files:
            handle.close()


def _write_all(handle: BinaryIO, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(handle.fileno(), view)
        view = view[written:]
