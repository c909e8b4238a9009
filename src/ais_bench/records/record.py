"""The raw record of one request, and the columnar table the metrics are computed from.

Clock: every ``*_s`` time is ``time.perf_counter()`` seconds (CLOCK_MONOTONIC on Linux), the same
clock in every worker process of one host. Only differences between times are meaningful.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Error kinds, grouped by the stage of the request that failed.
ERROR_KINDS = (
    "connect", "connect_timeout", "read_timeout", "http_status", "protocol", "decode", "server_error", "cancelled",
)
#: Finish reasons stored by code (1 + index); others are stored as "other". OpenAI/vLLM/SGLang:
#: stop, length, abort, tool_calls, content_filter, error; TGI/MindIE: eos_token, stop_sequence.
FINISH_REASONS = ("stop", "length", "abort", "eos_token", "stop_sequence", "tool_calls", "content_filter", "error")
#: Version of what worker record files and ``<ds>_details.h5`` hold. 1 (ais_bench before
#: 2026-11-30): every SSE event was a time point (role-only, finish-only and usage-only chunks too);
#: rows had no ``slot_wait_s`` and ``finish_reason``, and the rows file had no header. 2: time points
#: are token events only; the rows file starts with ``ROWS_MAGIC`` and this version byte.
RECORD_FORMAT = 2


@dataclass(slots=True)
class RequestRecord:
    """Everything the engine observed about one request: its events are its last attempt's, its send
    (``start_s``, ``time_points_s[0]``) is its first attempt's, so a retried request's E2EL and TTFT
    include the attempts that failed (what its user waited).

    ``time_points_s``: streaming -> [send, event_1, ..., event_K] where event_k is the time the bytes
    holding the k-th **token event** were read (before parsing; role-only, finish-only and usage-only
    chunks and ``[DONE]`` are not token events); non-streaming -> [send, body fully read].
    ``end_s``: for a successful request, the read that completed the response (the last event or
    ``[DONE]``; E2EL ends there). Failed requests keep ``start_s`` (the send time) and ``end_s`` (when
    the failure was seen) but may have fewer time points.
    ``finish_reason``: the server's last non-null finish reason (None when it sent none).
    ``usage_input_tokens`` / ``usage_output_tokens``: the server's ``usage`` counts, None when absent.
    ``content_events``: number of events that carried generated text (fallback token count).
    """

    request_id: int
    data_index: int
    data_abbr: str
    worker_id: int
    success: bool
    start_s: float
    end_s: float
    time_points_s: list[float] = field(default_factory=list)
    usage_input_tokens: int | None = None
    usage_output_tokens: int | None = None
    content_events: int = 0
    output_text: str = ""
    reasoning_text: str = ""
    attempts: int = 1
    error_kind: str | None = None
    error_message: str | None = None
    http_status: int | None = None
    #: Planned send time (perf_counter s) from the rate schedule, None when not paced.
    scheduled_s: float | None = None
    #: Seconds a paced request waited past its planned send time for one of the ``batch_size``
    #: slots (0 when a slot was free in time); None when no slot was involved (unpaced, pressure,
    #: or an open-loop timestamp replay).
    slot_wait_s: float | None = None
    finish_reason: str | None = None


@dataclass(slots=True)
class RequestTable:
    """Columnar view of a run's records: the only input the metrics package needs.

    Row i is one request (success or failure), in any order. ``time_points_s`` is every request's
    time points flattened; request i owns ``time_points_s[offsets[i]:offsets[i+1]]``.
    ``input_tokens`` / ``output_tokens`` are the final counts (see ``token_source``).
    """

    start_s: np.ndarray  # float64 (n,), send time of the first attempt
    end_s: np.ndarray  # float64 (n,), last event / body end / failure time
    success: np.ndarray  # bool (n,)
    input_tokens: np.ndarray  # int64 (n,)
    output_tokens: np.ndarray  # int64 (n,)
    offsets: np.ndarray  # int64 (n+1,)
    time_points_s: np.ndarray  # float64 (offsets[-1],)
    #: float64 (n,): seconds a paced request waited for a free batch_size slot after its planned send
    #: time; NaN when no slot was involved (not paced, or an open-loop replay). None: not recorded.
    slot_wait_s: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.start_s.shape[0])

    def time_points(self, i: int) -> np.ndarray:
        return self.time_points_s[self.offsets[i] : self.offsets[i + 1]]

    def take(self, mask_or_index: np.ndarray) -> RequestTable:
        """Sub-table of the selected rows (boolean mask or integer index array)."""
        index = np.flatnonzero(mask_or_index) if mask_or_index.dtype == bool else mask_or_index
        lengths = np.diff(self.offsets)[index]
        offsets = np.zeros(len(index) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        if len(index):
            starts = self.offsets[index]
            gather = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])
            points = self.time_points_s[gather]
        else:
            points = np.zeros(0, dtype=np.float64)
        return RequestTable(
            start_s=self.start_s[index],
            end_s=self.end_s[index],
            success=self.success[index],
            input_tokens=self.input_tokens[index],
            output_tokens=self.output_tokens[index],
            offsets=offsets,
            time_points_s=points,
            slot_wait_s=None if self.slot_wait_s is None else self.slot_wait_s[index],
        )

    @classmethod
    def from_columns(
        cls,
        time_points: list[list[float]],
        success: list[bool],
        input_tokens: list[int],
        output_tokens: list[int],
        start_s: list[float] | None = None,
        end_s: list[float] | None = None,
    ) -> RequestTable:
        """Build a table from per-request lists (tests and small runs).

        ``start_s``/``end_s`` default to each request's first/last time point.
        """
        lengths = np.array([len(tp) for tp in time_points], dtype=np.int64)
        offsets = np.zeros(len(time_points) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        flat = np.fromiter((t for tp in time_points for t in tp), dtype=np.float64, count=int(offsets[-1]))
        if start_s is None:
            start_s = [tp[0] if tp else np.nan for tp in time_points]
        if end_s is None:
            end_s = [tp[-1] if tp else np.nan for tp in time_points]
        return cls(
            start_s=np.asarray(start_s, dtype=np.float64),
            end_s=np.asarray(end_s, dtype=np.float64),
            success=np.asarray(success, dtype=bool),
            input_tokens=np.asarray(input_tokens, dtype=np.int64),
            output_tokens=np.asarray(output_tokens, dtype=np.int64),
            offsets=offsets,
            time_points_s=flat,
        )
