"""``<ds>_details.h5``: every request's columns plus every time point, for analysis and fast recalculation.

Schema (docs/outputs.md): one dataset per per-request column (length n, ordered by request id),
``time_points_s`` (float64, flat) with ``offsets`` (int64, n+1; request i owns
``time_points_s[offsets[i]:offsets[i+1]]``), the failed rows' messages as ``failed_rows`` +
``failed_error_message``, the tokenizer's own counts (``tokenizer_input_tokens``,
``tokenizer_output_tokens``, -1 = not counted; attributes ``tokenizer_path``, ``tokenizer_warnings``),
and attributes for the run (config dump, tool version, clock). A recalculation reads the columns,
the tokenizer counts and the run facts back, so it needs no dataset and no tokenizer.
The file is written to ``<name>.tmp`` and renamed, so an existing file is always complete.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ais_bench import __version__
from ais_bench.errors import RecordFormatError
from ais_bench.records.columns import RecordColumns
from ais_bench.records.record import FINISH_REASONS, RECORD_FORMAT
from ais_bench.records.server_series import ServerSeries
from ais_bench.records.store import ROW_DTYPE, error_kind_code
from ais_bench.records.table import TokenCounts
from ais_bench.records.token_counts import NOT_COUNTED, TokenizerCounts
from ais_bench.safe_text import printable_text

FORMAT_NAME = "ais_bench.details"
FORMAT_VERSION = RECORD_FORMAT  # the h5 layout changes with the records' meaning
#: Numeric per-request columns copied from the record rows (missing: -1, NaN for scheduled_s and
#: slot_wait_s).
ROW_COLUMNS = (
    "request_id", "data_index", "worker_id", "success", "attempts", "start_s", "end_s", "scheduled_s",
    "slot_wait_s", "usage_input_tokens", "usage_output_tokens", "content_events", "http_status",
)
_ROW_H5_NAMES = {"request_id": "id", "worker_id": "worker"}
#: The tokenizer's name in a file written before tokenizer counts were kept (its path was not stored).
OLD_TOKENIZER_PATH = "(the run's tokenizer)"
#: Value of a column that a file written by an older version does not have.
_MISSING_VALUES = {"slot_wait_s": np.nan}


@dataclass(frozen=True)
class RunAttributes:
    """What the h5 file says about the run besides the requests."""

    model_abbr: str
    data_abbr: str
    stream: bool
    batch_size: int
    config_text: str  # the merged config dump of the run (api_key masked), "" when unknown
    run_facts: dict[str, Any] = field(default_factory=dict)  # facts of the live run (json-serialisable)
    server_series: ServerSeries | None = None  # the scraped server metrics (--server-metrics)


def _h5py() -> Any:  # h5py has no type information; imported on first use (it is slow to import)
    import h5py

    return h5py


def write_details_h5(
    path: Path,
    columns: RecordColumns,
    counts: TokenCounts,
    failures: Mapping[int, tuple[str | None, str | None]],
    run: RunAttributes,
) -> Path:
    """Write the file (atomically) and return its path. ``failures``: row -> (error kind, message) of
    the failed rows, as the outputs show them."""
    h5py = _h5py()
    rows = columns.rows
    tmp = path.with_name(path.name + ".tmp")
    failed = np.flatnonzero(rows["success"] == 0)
    with h5py.File(tmp, "w") as f:
        attrs = f.attrs
        attrs["format"] = FORMAT_NAME
        attrs["format_version"] = min(FORMAT_VERSION, columns.record_format)  # old records stay old
        attrs["tool"] = "ais_bench"
        attrs["tool_version"] = __version__
        attrs["clock"] = "time.perf_counter"
        attrs["clock_source"] = "CLOCK_MONOTONIC (Linux): one clock for every worker process of the host"
        attrs["time_unit"] = "s"
        attrs["perf_counter_at_write_s"] = time.perf_counter()
        attrs["unix_time_at_write_s"] = time.time()
        attrs["model_abbr"] = run.model_abbr
        attrs["data_abbr"] = run.data_abbr
        attrs["stream"] = run.stream
        attrs["batch_size"] = run.batch_size
        attrs["requests"] = len(columns)
        attrs["config"] = run.config_text
        attrs["run_facts"] = json.dumps(run.run_facts)
        for name in ROW_COLUMNS:
            data = rows[name].astype(bool) if name == "success" else np.ascontiguousarray(rows[name])
            f.create_dataset(_ROW_H5_NAMES.get(name, name), data=data)
        f.create_dataset("input_tokens", data=np.asarray(counts.input_tokens, dtype=np.int64))
        f.create_dataset("output_tokens", data=np.asarray(counts.output_tokens, dtype=np.int64))
        f.create_dataset("input_tokens_source", data=np.asarray(counts.input_source, dtype="S12"))
        f.create_dataset("output_tokens_source", data=np.asarray(counts.output_source, dtype="S12"))
        kinds = [failures.get(i, (None, None))[0] or "" for i in failed.tolist()]
        error_kind = np.zeros(len(columns), dtype="S16")
        error_kind[failed] = np.asarray(kinds, dtype="S16")
        f.create_dataset("error_kind", data=error_kind)
        f.create_dataset("finish_reason", data=_finish_reason_names(rows["finish_reason"]))
        f.create_dataset("failed_rows", data=failed.astype(np.int64))
        f.create_dataset(
            "failed_error_message",
            data=np.array([printable_text(failures.get(i, (None, None))[1] or "") for i in failed.tolist()], dtype=object),
            dtype=h5py.string_dtype(),
        )
        _write_tokenizer_counts(f, columns.tokenizer, len(columns))
        f.create_dataset("offsets", data=columns.offsets)
        f.create_dataset("time_points_s", data=columns.time_points_s)
        if run.server_series is not None:
            write_server_series_h5(f, run.server_series)
    os.replace(tmp, path)
    return path


def read_details_h5(path: Path) -> RecordColumns:
    """The columns back from a details file (numpy bulk reads; ~2 s for 1M requests x 128 points)."""
    h5py = _h5py()
    with h5py.File(path, "r") as f:
        n = int(f.attrs["requests"])
        rows = np.zeros(n, dtype=ROW_DTYPE)
        for name in ROW_COLUMNS:
            stored = _ROW_H5_NAMES.get(name, name)
            rows[name] = f[stored][()] if stored in f else _MISSING_VALUES.get(name, -1)
        offsets = f["offsets"][()]
        rows["tp_offset"] = offsets[:-1]
        rows["tp_count"] = np.diff(offsets)
        failed = f["failed_rows"][()].tolist()
        messages = [m.decode() if isinstance(m, bytes) else m for m in f["failed_error_message"][()].tolist()]
        kinds = [k.decode() or None for k in f["error_kind"][()][failed].tolist()] if failed else []
        rows["error_kind"][failed] = [error_kind_code(k) for k in kinds]
        if "finish_reason" in f:  # files written before finish reasons were kept have none
            rows["finish_reason"] = _finish_reason_codes(f["finish_reason"][()])
        errors = {row: (kind, message or None) for row, kind, message in zip(failed, kinds, messages, strict=True)}
        time_points = f["time_points_s"][()]
        data_abbr = str(f.attrs["data_abbr"])
        facts = json.loads(f.attrs.get("run_facts", "{}"))
        record_format = int(f.attrs.get("format_version", 1))
        tokenizer = _read_tokenizer_counts(f)
    if record_format > RECORD_FORMAT:
        raise RecordFormatError(
            f"{path} was written by a newer ais_bench (format {record_format}; this one reads up to "
            f"{RECORD_FORMAT})", hint="recalculate it with the ais_bench version that ran it",
        )
    return RecordColumns(data_abbr, rows, offsets, time_points, errors, source="details.h5", run_facts=facts,
                         record_format=record_format, tokenizer=tokenizer)


def _write_tokenizer_counts(f: Any, tokenizer: TokenizerCounts | None, n: int) -> None:
    """The tokenizer's own counts per request (-1: not counted; all -1 and path "" without one)."""
    missing = np.full(n, NOT_COUNTED, dtype=np.int64)
    f.create_dataset("tokenizer_input_tokens", data=missing if tokenizer is None else tokenizer.input_tokens)
    f.create_dataset("tokenizer_output_tokens", data=missing if tokenizer is None else tokenizer.output_tokens)
    f.attrs["tokenizer_path"] = "" if tokenizer is None else tokenizer.path
    f.attrs["tokenizer_warnings"] = json.dumps([] if tokenizer is None else tokenizer.warnings)


def _read_tokenizer_counts(f: Any) -> TokenizerCounts | None:
    """The tokenizer counts back; for a file written before they were kept, the final counts whose
    source was the tokenizer (so the old run's counts are reproduced), None when it had none."""
    if "tokenizer_input_tokens" in f:
        path = str(f.attrs.get("tokenizer_path", ""))
        if not path:
            return None
        warnings = json.loads(f.attrs.get("tokenizer_warnings", "[]"))
        return TokenizerCounts(path, f["tokenizer_input_tokens"][()], f["tokenizer_output_tokens"][()], warnings)
    from_tokenizer = [f[f"{what}_tokens_source"][()] == b"tokenizer" for what in ("input", "output")]
    if not any(mask.any() for mask in from_tokenizer):
        return None
    counts = [np.where(mask, f[f"{what}_tokens"][()], NOT_COUNTED) for mask, what in zip(from_tokenizer, ("input", "output"), strict=True)]
    return TokenizerCounts(OLD_TOKENIZER_PATH, counts[0].astype(np.int64), counts[1].astype(np.int64))


#: ``finish_reason`` dataset: the name of each row's finish reason ("" when none).
_FINISH_NAMES = np.array(["", *FINISH_REASONS] + ["other"] * (255 - len(FINISH_REASONS)), dtype="S16")


def _finish_reason_names(codes: np.ndarray) -> np.ndarray:
    return _FINISH_NAMES[codes.astype(np.intp)]


def _finish_reason_codes(names: np.ndarray) -> np.ndarray:
    lookup = {name: code for code, name in enumerate(_FINISH_NAMES[: len(FINISH_REASONS) + 1].tolist())}
    return np.array([lookup.get(name, 255) for name in names.tolist()], dtype=np.uint8)


def read_h5_attributes(path: Path) -> dict[str, object]:
    h5py = _h5py()
    with h5py.File(path, "r") as f:
        return {key: f.attrs[key] for key in f.attrs}


#: The group of ``<ds>_details.h5`` holding the scraped server metrics (``--server-metrics``).
SERVER_METRICS_GROUP = "server_metrics"


def write_server_series_h5(f: Any, series: ServerSeries) -> None:
    """The scraped samples as the columns of ``<ds>_server_metrics.csv`` (``t_s``, ``name``, ``labels``, ``value``)."""
    h5py = _h5py()
    group = f.create_group(SERVER_METRICS_GROUP)
    group.attrs["clock"] = "time.perf_counter"
    group.create_dataset("t_s", data=series.t_s)
    group.create_dataset("name", data=series.name.astype(object), dtype=h5py.string_dtype())
    group.create_dataset("labels", data=series.labels.astype(object), dtype=h5py.string_dtype())
    group.create_dataset("value", data=series.value)


def read_server_series_h5(path: Path) -> ServerSeries | None:
    """The scraped samples kept in a details file, None when it has none."""
    h5py = _h5py()
    with h5py.File(path, "r") as f:
        if SERVER_METRICS_GROUP not in f:
            return None
        group = f[SERVER_METRICS_GROUP]

        def texts(name: str) -> np.ndarray:
            return np.array([t.decode() if isinstance(t, bytes) else t for t in group[name][()].tolist()], dtype=object)

        return ServerSeries(group["t_s"][()], texts("name"), texts("labels"), group["value"][()])
