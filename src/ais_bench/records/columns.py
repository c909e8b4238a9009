"""A run's records as columns (numpy), read in bulk from the worker files, ordered by request id.

This is what the summary, the details files and recalculation work from: one array per field and
every time point in one flat float64 array (request i owns ``time_points_s[offsets[i]:offsets[i+1]]``),
so 1M requests x 128 points never become 128M Python floats. Clock: ``time.perf_counter()`` seconds.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ais_bench.records.record import RECORD_FORMAT, RequestRecord, RequestTable
from ais_bench.records.store import (
    RECORDS_DIRNAME,
    ROW_DTYPE,
    error_kind_code,
    error_kind_name,
    finish_reason_code,
    finish_reason_name,
    is_legacy,
    iter_legacy_records,
    iter_text_lines,
    read_worker_rows,
    record_files,
    worker_record_format,
)
from ais_bench.records.table import TokenCounts

#: Rows gathered per step when reordering time points (bounds the index temporaries).
_GATHER_ROWS = 1 << 16


@dataclass
class RecordColumns:
    """Every request of one (model, dataset) run, row i = i-th smallest request id.

    ``rows``: structured array of ``ROW_DTYPE`` (``tp_offset`` is rewritten to ``offsets[:-1]``).
    ``offsets`` / ``time_points_s``: the flattened time points (see module doc).
    ``error_messages``: row -> (error kind, message) of the failed rows.
    ``source``: where the columns were read from (``records`` or ``details.h5``).
    ``run_facts``: facts the live run recorded beside the requests (from ``details.h5``), else empty.
    ``record_format``: the oldest ``RECORD_FORMAT`` among the files read (1: every SSE event was a
    time point, see ``records.record.RECORD_FORMAT``).
    """

    data_abbr: str
    rows: np.ndarray
    offsets: np.ndarray
    time_points_s: np.ndarray
    error_messages: dict[int, tuple[str | None, str | None]] = field(default_factory=dict)
    source: str = "records"
    run_facts: dict[str, Any] = field(default_factory=dict)
    record_format: int = RECORD_FORMAT

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    def column(self, name: str) -> np.ndarray:
        return self.rows[name]


def read_record_columns(perf_dir: Path, data_abbr: str) -> RecordColumns:
    """Read every worker file of ``data_abbr`` (killed runs included) into ``RecordColumns``."""
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    messages: list[dict[int, tuple[str | None, str | None]]] = []
    formats = [RECORD_FORMAT]
    for path in record_files(perf_dir, data_abbr):
        formats.append(worker_record_format(path))
        if is_legacy(path):
            rows, points, failed_text = _legacy_rows(path)
        else:
            rows, points = read_worker_rows(path)
            failed_text = _failed_texts(path, rows)
        parts.append((rows, points))
        messages.append(failed_text)
    columns = _merge(data_abbr, parts, messages)
    columns.record_format = min(formats)
    facts_path = run_facts_path(perf_dir, data_abbr)
    if facts_path.is_file():
        columns.run_facts = orjson.loads(facts_path.read_bytes())
    return columns


def run_facts_path(perf_dir: Path, data_abbr: str) -> Path:
    """``records/<ds>.run_facts.json``: facts of the live run (client self-check) kept beside the
    worker files, so a recalculation from the worker files alone reproduces the json too."""
    return perf_dir / RECORDS_DIRNAME / f"{data_abbr}.run_facts.json"


def write_run_facts(perf_dir: Path, data_abbr: str, facts: dict[str, Any]) -> None:
    path = run_facts_path(perf_dir, data_abbr)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(facts, option=orjson.OPT_INDENT_2))


def _failed_texts(path: Path, rows: np.ndarray) -> dict[int, tuple[str | None, str | None]]:
    """(error kind, message) of the failed rows of one worker, keyed by row position in the worker."""
    failed = np.flatnonzero(rows["success"] == 0)
    if failed.shape[0] == 0:
        return {}
    wanted = set(failed.tolist())
    last = int(failed[-1])
    found: dict[int, tuple[str | None, str | None]] = {}
    for k, line in enumerate(iter_text_lines(path)):
        if k in wanted:
            text = orjson.loads(line)
            found[k] = (text.get("error_kind"), text.get("error_message"))
        if k >= last:
            break
    return found


def _legacy_rows(path: Path) -> tuple[np.ndarray, np.ndarray, dict[int, tuple[str | None, str | None]]]:
    records = list(iter_legacy_records(path))
    rows = np.zeros(len(records), dtype=ROW_DTYPE)
    chunks: list[list[float]] = []
    messages: dict[int, tuple[str | None, str | None]] = {}
    offset = 0
    for k, rec in enumerate(records):
        count = len(rec.time_points_s)
        rows[k] = (
            rec.request_id, rec.data_index, rec.start_s, rec.end_s,
            np.nan if rec.scheduled_s is None else rec.scheduled_s,
            np.nan if rec.slot_wait_s is None else rec.slot_wait_s, offset, count, rec.worker_id,
            -1 if rec.usage_input_tokens is None else rec.usage_input_tokens,
            -1 if rec.usage_output_tokens is None else rec.usage_output_tokens,
            rec.content_events, rec.attempts, -1 if rec.http_status is None else rec.http_status,
            rec.success, error_kind_code(rec.error_kind), finish_reason_code(rec.finish_reason),
        )
        chunks.append(rec.time_points_s)
        offset += count
        if not rec.success:
            messages[k] = (rec.error_kind, rec.error_message)
    points = np.fromiter((t for tp in chunks for t in tp), dtype=np.float64, count=offset)
    return rows, points, messages


def _merge(
    data_abbr: str, parts: list[tuple[np.ndarray, np.ndarray]], messages: list[dict[int, tuple[str | None, str | None]]]
) -> RecordColumns:
    """Concatenate the workers' rows, sort by request id, gather the points into that order."""
    if not parts:
        return RecordColumns(data_abbr, np.zeros(0, ROW_DTYPE), np.zeros(1, np.int64), np.zeros(0, np.float64))
    bases = np.cumsum([0] + [p.shape[0] for _, p in parts])
    rows = np.concatenate([r for r, _ in parts])
    global_start = np.concatenate([r["tp_offset"] + base for (r, _), base in zip(parts, bases[:-1], strict=True)])
    points = parts[0][1] if len(parts) == 1 else np.concatenate([p for _, p in parts])
    row_bases = np.cumsum([0] + [r.shape[0] for r, _ in parts])
    order = np.argsort(rows["request_id"], kind="stable")
    rows = rows[order]
    starts = global_start[order]
    lengths = rows["tp_count"].astype(np.int64)
    offsets = np.zeros(rows.shape[0] + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    time_points = gather_segments(points, starts, lengths, offsets)
    rows["tp_offset"] = offsets[:-1]
    position = np.empty_like(order)
    position[order] = np.arange(order.shape[0])
    errors: dict[int, tuple[str | None, str | None]] = {}
    for worker_messages, base in zip(messages, row_bases[:-1], strict=True):
        for k, value in worker_messages.items():
            errors[int(position[base + k])] = value
    return RecordColumns(data_abbr, rows, offsets, time_points, errors)


def gather_segments(points: np.ndarray, starts: np.ndarray, lengths: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Concatenate ``points[starts[i]:starts[i]+lengths[i]]`` for every i (chunked, bounded temporaries)."""
    total = int(offsets[-1])
    if np.array_equal(starts, offsets[:-1]) and points.shape[0] == total:
        return points  # already in order (e.g. a single worker that finished requests in id order)
    out = np.empty(total, dtype=np.float64)
    for lo in range(0, starts.shape[0], _GATHER_ROWS):
        hi = min(lo + _GATHER_ROWS, starts.shape[0])
        a, b = int(offsets[lo]), int(offsets[hi])
        if a == b:
            continue
        index = np.repeat(starts[lo:hi] - offsets[lo:hi], lengths[lo:hi]) + np.arange(a, b)
        out[a:b] = points[index]
    return out


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Creating a million small objects is ~3x faster without the cyclic GC running in between."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def light_records(columns: RecordColumns) -> list[RequestRecord]:
    """One ``RequestRecord`` per row **without time points or texts**: input of the token counting
    (``resolve_token_counts``) and of ``failure_reasons``; cheap enough for 1M requests (~1 s)."""
    rows = columns.rows
    abbr = columns.data_abbr
    usage_in = rows["usage_input_tokens"].tolist()
    usage_out = rows["usage_output_tokens"].tolist()
    http = rows["http_status"].tolist()
    kinds = rows["error_kind"].tolist()
    messages = columns.error_messages
    with _gc_paused():
        records = [
            RequestRecord(rid, idx, abbr, wid, bool(ok), start, end, [],
                          ui if ui >= 0 else None, uo if uo >= 0 else None, ev, "", "", attempts)
            for rid, idx, wid, ok, start, end, ui, uo, ev, attempts in zip(
                rows["request_id"].tolist(), rows["data_index"].tolist(), rows["worker_id"].tolist(),
                rows["success"].tolist(), rows["start_s"].tolist(), rows["end_s"].tolist(),
                usage_in, usage_out, rows["content_events"].tolist(), rows["attempts"].tolist(), strict=True,
            )
        ]
    for i in np.flatnonzero(rows["success"] == 0).tolist():
        rec = records[i]
        kind, message = messages.get(i, (None, None))
        rec.error_kind = kind if kind is not None else error_kind_name(kinds[i])
        rec.error_message = message
    for i in np.flatnonzero(rows["http_status"] >= 0).tolist():
        records[i].http_status = http[i]
    reasons = rows["finish_reason"].tolist()
    for i in np.flatnonzero(rows["finish_reason"]).tolist():
        records[i].finish_reason = finish_reason_name(reasons[i])
    return records


def table_from_columns(columns: RecordColumns, counts: TokenCounts) -> RequestTable:
    """The metrics' input: start/end/success per row, final token counts, the flat time points."""
    rows = columns.rows
    return RequestTable(
        start_s=rows["start_s"].astype(np.float64),
        end_s=rows["end_s"].astype(np.float64),
        success=rows["success"].astype(bool),
        input_tokens=np.asarray(counts.input_tokens, dtype=np.int64),
        output_tokens=np.asarray(counts.output_tokens, dtype=np.int64),
        offsets=columns.offsets,
        time_points_s=columns.time_points_s,
        slot_wait_s=rows["slot_wait_s"].astype(np.float64),
    )


def load_texts(perf_dir: Path, data_abbr: str) -> dict[int, tuple[str, str]]:
    """request id -> (output text, reasoning text), from every worker's text file (slow: opt-in)."""
    texts: dict[int, tuple[str, str]] = {}
    for path in record_files(perf_dir, data_abbr):
        for line in iter_text_lines(path):
            try:
                item = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            texts[int(item["request_id"])] = (item.get("output_text") or "", item.get("reasoning_text") or "")
    return texts
