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
from ais_bench.records.store import finish_reason_name
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
    counts: TokenCounts,
    failures: Mapping[int, tuple[str | None, str | None]],
    texts: DetailTexts | None = None,
) -> Path:
    """Write the file atomically (a temporary file renamed into place) and return its path.

    ``failures``: row -> (error kind, message) of the failed rows, as the outputs show them.
    """
    rows = columns.rows
    events = np.maximum(np.diff(columns.offsets) - 1, 0).tolist()
    scheduled = [None if math.isnan(s) else s for s in rows["scheduled_s"].tolist()]
    slot_wait = [None if math.isnan(s) else s for s in rows["slot_wait_s"].tolist()]
    http = [None if status < 0 else status for status in rows["http_status"].tolist()]
    reasons = [finish_reason_name(code) for code in rows["finish_reason"].tolist()]
    columns_in_order = zip(
        rows["request_id"].tolist(), rows["data_index"].tolist(), rows["success"].astype(bool).tolist(),
        rows["start_s"].tolist(), rows["end_s"].tolist(), rows["attempts"].tolist(), rows["worker_id"].tolist(),
        counts.input_tokens.tolist(), counts.input_source.tolist(), counts.output_tokens.tolist(),
        counts.output_source.tolist(), strict=True,
    )
    tmp = path.with_name(path.name + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tmp.open("wb") as handle:
        for i, (rid, index, ok, start, end, attempts, worker, n_in, in_src, n_out, out_src) in enumerate(columns_in_order):
            kind, message = failures.get(i, (None, None))
            row: dict[str, Any] = {
                "id": rid,
                "data_index": index,
                "data_abbr": columns.data_abbr,
                "success": ok,
                "error_kind": kind,
                "error": message,
                "http_status": http[i],
                "start_s": start,
                "end_s": end,
                "scheduled_s": scheduled[i],
                "slot_wait_s": slot_wait[i],
                "events": events[i],
                "input_tokens": n_in,
                "input_tokens_source": in_src,
                "output_tokens": n_out,
                "output_tokens_source": out_src,
                "finish_reason": reasons[i],
                "attempts": attempts,
                "worker": worker,
            }
            if texts is not None:
                output, reasoning = texts.outputs.get(rid, ("", ""))
                row["input"] = texts.prompts[index] if 0 <= index < len(texts.prompts) else None
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
