"""Timestamped request traces (Mooncake / AIPerf style JSON lines) to request items.

Row fields (as AISBench's ``MooncakeTraceDataset``):

* ``timestamp``: send time in milliseconds (optional; with ``use_timestamp=True`` in the model
  config the requests are sent on this schedule);
* the prompt: ``input_text`` (used as is), or ``input_length`` tokens generated with the model's
  tokenizer, optionally from ``hash_ids`` -- each hash id stands for one block of ``block_size``
  (512) tokens, the same id always giving the same tokens (prefix-cache reuse), the last block
  holding the remainder: ``0 < input_length - (len(hash_ids) - 1) * block_size <= block_size``;
* ``output_length``: optional, the request's ``max_out_len`` (else the model's).

Rows are sorted by timestamp (stable; rows without one first). ``fixed_schedule_auto_offset`` shifts
timestamps so the first is 0; ``fixed_schedule_start_offset`` / ``fixed_schedule_end_offset`` (ms,
-1 = no end) keep only rows inside the window (rows without a timestamp are kept). Generated tokens
come from a generator seeded with ``(seed, hash id)`` per block, or ``(seed, line number)`` for rows
without hash ids, so prompts are reproducible and independent of the selection.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ais_bench.datasets.item import MAX_OUT_TOKENS, RequestItem
from ais_bench.datasets.paths import resolve_data_path
from ais_bench.datasets.rows import (
    check_file,
    field_error,
    get_int,
    get_optional_int,
    get_str,
    get_timestamp_ms,
    read_rows,
)
from ais_bench.datasets.token_text import require_tokenizer, token_text

if TYPE_CHECKING:
    from ais_bench.tokens import TextTokenizer

DEFAULT_BLOCK_SIZE = 512


@dataclass(frozen=True)
class TraceOptions:
    """Dataset-config options of a trace (times in milliseconds)."""

    seed: int = 0
    block_size: int = DEFAULT_BLOCK_SIZE
    auto_offset: bool = False
    start_offset_ms: float = 0.0
    end_offset_ms: float = -1.0


@dataclass(frozen=True)
class TraceRow:
    line_no: int
    timestamp_ms: float | None
    input_text: str | None
    input_length: int | None
    hash_ids: tuple[int, ...]
    output_length: int | None


def read_trace(path: Path, block_size: int) -> list[TraceRow]:
    """Parse and validate every row."""
    rows = []
    for line_no, row in read_rows(path):
        input_text = get_str(path, line_no, row, "input_text", required=False)
        input_length = None
        hash_ids: tuple[int, ...] = ()
        if input_text is None:
            input_length = get_int(path, line_no, row, "input_length")
            hash_ids = _hash_ids(path, line_no, row, input_length, block_size)
        rows.append(
            TraceRow(
                line_no=line_no,
                timestamp_ms=get_timestamp_ms(path, line_no, row),
                input_text=input_text,
                input_length=input_length,
                hash_ids=hash_ids,
                output_length=get_optional_int(path, line_no, row, "output_length", maximum=MAX_OUT_TOKENS),
            )
        )
    return rows


def _hash_ids(path: Path, line_no: int, row: dict[str, Any], input_length: int, block_size: int) -> tuple[int, ...]:
    value = row.get("hash_ids")
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(h, int) and not isinstance(h, bool) and h >= 0 for h in value):
        raise field_error(path, line_no, "hash_ids", "a list of integers >= 0", row)
    if value:
        last = input_length - (len(value) - 1) * block_size
        if not 0 < last <= block_size:
            lo, hi = (len(value) - 1) * block_size + 1, len(value) * block_size
            raise field_error(
                path, line_no, "input_length",
                f"an integer in [{lo}, {hi}] for {len(value)} hash_ids of block_size {block_size}", row,
            )
    return tuple(value)


def select_window(rows: list[TraceRow], options: TraceOptions) -> list[TraceRow]:
    """Sort by timestamp, apply the auto offset and the [start, end] window (ms)."""
    rows = sorted(rows, key=lambda r: r.timestamp_ms if r.timestamp_ms is not None else 0.0)
    stamps = [r.timestamp_ms for r in rows if r.timestamp_ms is not None]
    shift = min(stamps) if options.auto_offset and stamps else 0.0
    out = []
    for row in rows:
        if row.timestamp_ms is not None:
            t = row.timestamp_ms - shift
            if t < options.start_offset_ms or (options.end_offset_ms >= 0 and t > options.end_offset_ms):
                continue
            row = TraceRow(row.line_no, t, row.input_text, row.input_length, row.hash_ids, row.output_length)
        out.append(row)
    return out


class _PromptBuilder:
    def __init__(self, tokenizer: TextTokenizer, options: TraceOptions) -> None:
        self.tokenizer = tokenizer
        self.options = options
        self.blocks: dict[int, np.ndarray] = {}

    def block(self, hash_id: int) -> np.ndarray:
        if hash_id not in self.blocks:
            rng = np.random.default_rng([self.options.seed, hash_id])
            self.blocks[hash_id] = rng.choice(self.tokenizer.word_pool, size=self.options.block_size)
        return self.blocks[hash_id]

    def text(self, row: TraceRow) -> str:
        assert row.input_length is not None
        if row.hash_ids:
            last = row.input_length - (len(row.hash_ids) - 1) * self.options.block_size
            parts = [self.block(h) for h in row.hash_ids[:-1]] + [self.block(row.hash_ids[-1])[:last]]
            ids = np.concatenate(parts)
        else:
            rng = np.random.default_rng([self.options.seed, 1 << 40, row.line_no])
            ids = rng.choice(self.tokenizer.word_pool, size=row.input_length)
        return token_text(self.tokenizer, ids)


def load_trace_items(
    path: str, abbr: str, selection: slice, options: TraceOptions, tokenizer: TextTokenizer | None = None
) -> list[RequestItem]:
    """Request items of the selected rows (after sorting and the time window)."""
    file = resolve_data_path(path, "")
    check_file(file, f"trace dataset '{abbr}'", hint="set path= in the dataset config to the trace JSONL file")
    rows = select_window(read_trace(file, options.block_size), options)[selection]
    builder = None
    items = []
    for i, row in enumerate(rows):
        if row.input_text is not None:
            prompt = row.input_text
        else:
            if builder is None:
                builder = _PromptBuilder(require_tokenizer(tokenizer, abbr, "trace rows with input_length"), options)
            prompt = builder.text(row)
        items.append(
            RequestItem(
                index=i, prompt=prompt, data_abbr=abbr, max_out_len=row.output_length,
                timestamp_s=None if row.timestamp_ms is None else row.timestamp_ms / 1000.0,
            )
        )
    return items
