"""The per-request details file written after a run: ``<ds>_details.jsonl``.

One JSON object per request, ordered by request id: ``id`` (request id, unique in the run),
``data_index`` (row of the dataset), ``success``, ``error_kind``, ``error`` (message), ``http_status``,
``start_s``/``end_s`` (perf_counter seconds), ``events`` (number of time points minus the send),
``input_tokens``/``output_tokens`` and their ``*_source`` (usage, events, none), ``attempts``.
Time points are kept in the worker record files (``records/``), not here.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from ais_bench.records.record import RequestRecord
from ais_bench.records.table import TokenCounts


def write_details_jsonl(path: Path, records: list[RequestRecord], counts: TokenCounts) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        for i, rec in enumerate(records):
            row = {
                "id": rec.request_id,
                "data_index": rec.data_index,
                "data_abbr": rec.data_abbr,
                "success": rec.success,
                "error_kind": rec.error_kind,
                "error": rec.error_message,
                "http_status": rec.http_status,
                "start_s": rec.start_s,
                "end_s": rec.end_s,
                "events": max(len(rec.time_points_s) - 1, 0),
                "input_tokens": counts.input_tokens[i],
                "input_tokens_source": counts.input_source[i],
                "output_tokens": counts.output_tokens[i],
                "output_tokens_source": counts.output_source[i],
                "attempts": rec.attempts,
                "worker": rec.worker_id,
            }
            handle.write(orjson.dumps(row) + b"\n")
    return path
