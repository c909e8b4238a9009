"""The per-request details file written after a run: ``<ds>_details.jsonl`` (schema: docs/outputs.md).

One JSON object per request, ordered by request id: ``id`` (request id, unique in the run),
``data_index`` (row of the dataset), ``data_abbr``, ``success``, ``error_kind``, ``error`` (message),
``http_status``, ``start_s``/``end_s`` (perf_counter seconds), ``scheduled_s`` (planned send time or
null), ``slot_wait_s`` (seconds a paced request waited for a free ``batch_size`` slot, or null),
``events`` (number of time points minus the send), ``input_tokens``/``output_tokens`` and their
``*_source``, ``finish_reason`` (the server's, null when it sent none), ``attempts``, ``worker``; with
``--dump-text`` also ``input`` (the prompt string or chat
messages), ``output`` and ``reasoning`` (generated text). Time points are in ``<ds>_details.h5``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ais_bench.records.columns import RecordColumns
from ais_bench.records.record import RequestRecord
from ais_bench.records.table import TokenCounts
from ais_bench.safe_text import utf8_text


@dataclass(frozen=True)
class DetailTexts:
    """``--dump-text``: the prompt of each dataset row as sent (indexed by data index), and
    (output, reasoning) by request id."""

    prompts: Sequence[Any]
    outputs: Mapping[int, tuple[str, str]]


def write_details_jsonl(
    path: Path,
    columns: RecordColumns,
    records: list[RequestRecord],
    counts: TokenCounts,
    texts: DetailTexts | None = None,
) -> Path:
    """Write the file atomically (a temporary file renamed into place) and return its path.

    ``records`` are the light records of ``columns`` (same order) holding the error fields.
    """
    rows = columns.rows
    events = np.maximum(np.diff(columns.offsets) - 1, 0).tolist()
    scheduled = [None if math.isnan(s) else s for s in rows["scheduled_s"].tolist()]
    slot_wait = [None if math.isnan(s) else s for s in rows["slot_wait_s"].tolist()]
    tmp = path.with_name(path.name + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tmp.open("wb") as handle:
        for i, rec in enumerate(records):
            row: dict[str, Any] = {
                "id": rec.request_id,
                "data_index": rec.data_index,
                "data_abbr": rec.data_abbr,
                "success": rec.success,
                "error_kind": rec.error_kind,
                "error": rec.error_message,
                "http_status": rec.http_status,
                "start_s": rec.start_s,
                "end_s": rec.end_s,
                "scheduled_s": scheduled[i],
                "slot_wait_s": slot_wait[i],
                "events": events[i],
                "input_tokens": counts.input_tokens[i],
                "input_tokens_source": counts.input_source[i],
                "output_tokens": counts.output_tokens[i],
                "output_tokens_source": counts.output_source[i],
                "finish_reason": rec.finish_reason,
                "attempts": rec.attempts,
                "worker": rec.worker_id,
            }
            if texts is not None:
                output, reasoning = texts.outputs.get(rec.request_id, ("", ""))
                row["input"] = texts.prompts[rec.data_index] if 0 <= rec.data_index < len(texts.prompts) else None
                row["output"] = output
                row["reasoning"] = reasoning
            handle.write(_json_line(row))
    os.replace(tmp, path)
    return path


def _json_line(row: dict[str, Any]) -> bytes:
    """One JSON line; a text JSON cannot hold (a lone surrogate in a prompt) is written escaped."""
    try:
        return orjson.dumps(row) + b"\n"
    except TypeError:
        return orjson.dumps(_utf8_values(row)) + b"\n"


def _utf8_values(value: Any) -> Any:
    if isinstance(value, str):
        return utf8_text(value)
    if isinstance(value, dict):
        return {k: _utf8_values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_utf8_values(v) for v in value]
    return value


def read_details_jsonl(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]
