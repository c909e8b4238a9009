"""A run's records as columns (numpy), read in bulk from the worker files, ordered by request id.

This is what the summary, the details files and recalculation work from: one array per field and
every time point in one flat float64 array (request i owns ``time_points_s[offsets[i]:offsets[i+1]]``),
so 1M requests x 128 points never become 128M Python floats. Clock: ``time.perf_counter()`` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ais_bench.records.record import RECORD_FORMAT
from ais_bench.records.store import (
    RECORDS_DIRNAME,
    ROW_DTYPE,
    error_kind_name,
    iter_text_lines,
    read_worker_rows,
    record_files,
    worker_record_format,
)
from ais_bench.records.token_counts import TokenizerCounts, read_token_counts

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
    ``tokenizer``: what the model's tokenizer counted, per row (``records.token_counts``); None when
    the run had no tokenizer.
    """

    data_abbr: str
    rows: np.ndarray
    offsets: np.ndarray
    time_points_s: np.ndarray
    error_messages: dict[int, tuple[str | None, str | None]] = field(default_factory=dict)
    source: str = "records"
    run_facts: dict[str, Any] = field(default_factory=dict)
    record_format: int = RECORD_FORMAT
    tokenizer: TokenizerCounts | None = None

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    def column(self, name: str) -> np.ndarray:
        return self.rows[name]

    def failures(self) -> dict[int, tuple[str | None, str | None]]:
        """row -> (error kind, error message) of every failed row, in row order (the kind from the
        row's code when the text file has none)."""
        kinds = self.rows["error_kind"]
        found: dict[int, tuple[str | None, str | None]] = {}
        for row in np.flatnonzero(self.rows["success"] == 0).tolist():
            kind, message = self.error_messages.get(row, (None, None))
            found[row] = (kind if kind is not None else error_kind_name(int(kinds[row])), message)
        return found


def read_record_columns(perf_dir: Path, data_abbr: str) -> RecordColumns:
    """Read every worker file of ``data_abbr`` (killed runs included) into ``RecordColumns``."""
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    messages: list[dict[int, tuple[str | None, str | None]]] = []
    formats = [RECORD_FORMAT]
    for path in record_files(perf_dir, data_abbr):
        formats.append(worker_record_format(path))
        rows, points = read_worker_rows(path)
        parts.append((rows, points))
        messages.append(_failed_texts(path, rows))
    columns = _merge(data_abbr, parts, messages)
    columns.record_format = min(formats)
    facts_path = run_facts_path(perf_dir, data_abbr)
    if facts_path.is_file():
        columns.run_facts = orjson.loads(facts_path.read_bytes())
    stored = read_token_counts(perf_dir, data_abbr)
    if stored is not None:
        columns.tokenizer = stored.per_request(columns.rows["data_index"], columns.rows["request_id"])
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
