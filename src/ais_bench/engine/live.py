"""Live figures of a running load: what the workers tell the main process while they send.

Each worker summarises the records it has just written (``RecordWriter``'s flush hands over the
batch as numpy arrays) into a ``LiveTally``: TTFT and ITL in ``LogHistogram``\\ s (fixed log-spaced
bins, so a 24-hour run costs the memory of a 10-second one) and the successful requests and their
output tokens per ``BUCKET_S`` of end time. The tally goes to the main process about twice a second
(``engine.messages.LiveCounts``) and starts again empty; the main process merges them into one
``LiveFigures``. ``SteadyStartWatch`` applies the steady-stage rule to the shared counters.

Clock: every ``*_s`` time is ``time.perf_counter()`` seconds, as in the records.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

#: Lower edge of the first log-spaced bin (seconds); smaller values (and 0) go to the underflow bin.
HIST_MIN_S = 1e-6
#: Bins per factor of 10: each bin is 10 ** (1 / 50) - 1 = 4.7 % wider at its top than at its bottom.
BINS_PER_DECADE = 50
#: 1 µs to 10,000 s; larger values go to the overflow bin.
DECADES = 10
LOG_BINS = BINS_PER_DECADE * DECADES
#: Underflow bin, the log-spaced bins, overflow bin.
HIST_SIZE = LOG_BINS + 2
#: Width of the end-time buckets the throughputs are counted in (seconds after the first planned send).
BUCKET_S = 0.5
#: The throughputs are averaged over the last this many seconds of complete buckets.
RATE_WINDOW_S = 5.0


def bin_edges_s(index: int) -> tuple[float, float]:
    """(lower, upper) edge in seconds of log-spaced bin ``index`` (1 .. ``LOG_BINS``)."""
    return (HIST_MIN_S * 10 ** ((index - 1) / BINS_PER_DECADE), HIST_MIN_S * 10 ** (index / BINS_PER_DECADE))


@dataclass
class LogHistogram:
    """Counts of durations (seconds) in fixed log-spaced bins, plus the exact smallest and largest
    value. Mergeable: ``a.merge(b)`` is the histogram of both sets of values."""

    counts: np.ndarray = field(default_factory=lambda: np.zeros(HIST_SIZE, dtype=np.int64))
    min_s: float = math.inf
    max_s: float = -math.inf

    def add(self, values_s: np.ndarray) -> None:
        values_s = np.asarray(values_s, dtype=np.float64)
        if values_s.shape[0] == 0:
            return
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = np.log10(np.maximum(values_s, 0.0) / HIST_MIN_S) * BINS_PER_DECADE
        index = np.clip(np.floor(np.nan_to_num(scaled, nan=-1.0, neginf=-1.0)) + 1, 0, HIST_SIZE - 1)
        self.counts += np.bincount(index.astype(np.intp), minlength=HIST_SIZE)
        self.min_s = min(self.min_s, float(values_s.min()))
        self.max_s = max(self.max_s, float(values_s.max()))

    def merge(self, other: LogHistogram) -> None:
        self.counts += other.counts
        self.min_s = min(self.min_s, other.min_s)
        self.max_s = max(self.max_s, other.max_s)

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def quantile_s(self, q: float) -> float | None:
        """The ``q`` quantile (0..1) by nearest rank (the ``ceil(q * n)``-th smallest value), as the
        geometric middle of its bin kept within [min, max]: within one bin width of the exact value.
        None when empty."""
        total = self.total
        if total == 0:
            return None
        rank = max(math.ceil(q * total), 1)
        index = int(np.searchsorted(np.cumsum(self.counts), rank))
        if index == 0:
            return self.min_s
        if index == HIST_SIZE - 1:
            return self.max_s
        lower_s, upper_s = bin_edges_s(index)
        return min(max(math.sqrt(lower_s * upper_s), self.min_s), self.max_s)

    def to_sparse(self) -> SparseHistogram:
        nonzero = np.flatnonzero(self.counts)
        return SparseHistogram(dict(zip(nonzero.tolist(), self.counts[nonzero].tolist(), strict=True)),
                               self.min_s, self.max_s)

    @classmethod
    def from_sparse(cls, sparse: SparseHistogram) -> LogHistogram:
        hist = cls(min_s=sparse.min_s, max_s=sparse.max_s)
        for index, count in sparse.counts.items():
            hist.counts[index] = count
        return hist


@dataclass(frozen=True)
class SparseHistogram:
    """A ``LogHistogram`` as sent between processes: its non-zero bins (index -> count), min, max."""

    counts: dict[int, int]
    min_s: float
    max_s: float


@dataclass(kw_only=True)
class LiveAccumulator:
    """What a worker's tally and the main process's merge both hold: TTFT and ITL histograms and, per end-time bucket (``BUCKET_S`` wide,
    bucket 0 starting at ``start_at_s``, the first planned send), the successful requests and their
    output tokens."""

    start_at_s: float = 0.0
    ttft: LogHistogram = field(default_factory=LogHistogram)
    itl: LogHistogram = field(default_factory=LogHistogram)
    requests_by_bucket: dict[int, int] = field(default_factory=dict)
    tokens_by_bucket: dict[int, int] = field(default_factory=dict)


@dataclass
class LiveTally(LiveAccumulator):
    """What one worker's records written since the last message add up to (see the module doc).

    ``stream``: streaming requests (TTFT and ITL exist)."""

    stream: bool

    def add_written(self, rows: np.ndarray, points_s: np.ndarray) -> None:
        """Add a batch of written records: ``rows`` of ``records.store.ROW_DTYPE`` whose time points
        are ``points_s`` (the batch's, in row order: the first row's points start at index 0)."""
        ok = (rows["success"] == 1) & (rows["tp_count"] >= 2)
        if not ok.any():
            return
        usage = rows["usage_output_tokens"]
        tokens = np.where(usage > 0, usage, rows["content_events"])[ok]
        bucket = np.maximum(np.floor((rows["end_s"][ok] - self.start_at_s) / BUCKET_S), 0).astype(np.int64)
        _add_by_key(self.requests_by_bucket, bucket, np.ones_like(bucket))
        _add_by_key(self.tokens_by_bucket, bucket, tokens)
        if self.stream:
            self._add_latencies(rows, points_s, ok)

    def _add_latencies(self, rows: np.ndarray, points_s: np.ndarray, ok: np.ndarray) -> None:
        """TTFT = tp[1] - tp[0] and ITL = diff(tp[1:]) of the successful rows (``metrics.per_request``)."""
        counts = rows["tp_count"].astype(np.int64)
        offsets = rows["tp_offset"].astype(np.int64) - int(rows["tp_offset"][0])
        self.ttft.add(points_s[offsets[ok] + 1] - points_s[offsets[ok]])
        row_of_point = np.repeat(np.arange(rows.shape[0]), counts)
        position = np.arange(row_of_point.shape[0]) - np.repeat(offsets, counts)
        # a gap from point j to j + 1 of the same successful row, after its first token event
        gap = (row_of_point[:-1] == row_of_point[1:]) & (position[:-1] >= 1) & ok[row_of_point[:-1]]
        self.itl.add(np.diff(points_s[: row_of_point.shape[0]])[gap])

    def take(self, complete_until_s: float) -> SparseTally:
        """The tally as sent to the main process (see ``SparseTally``); this one starts again empty."""
        sparse = SparseTally(self.ttft.to_sparse(), self.itl.to_sparse(), self.requests_by_bucket,
                             self.tokens_by_bucket, complete_until_s)
        self.ttft, self.itl = LogHistogram(), LogHistogram()
        self.requests_by_bucket, self.tokens_by_bucket = {}, {}
        return sparse


def _add_by_key(totals: dict[int, int], keys: np.ndarray, values: np.ndarray) -> None:
    unique, inverse = np.unique(keys, return_inverse=True)
    sums = np.bincount(inverse.ravel(), weights=values.astype(np.float64), minlength=unique.shape[0])
    for key, value in zip(unique.tolist(), sums.tolist(), strict=True):
        totals[key] = totals.get(key, 0) + round(value)


@dataclass
class LiveFigures(LiveAccumulator):
    """The main process's merge of every worker's tallies (bounded: fixed histograms, and end-time
    buckets only for the last ``RATE_WINDOW_S``).

    ``complete_until_s`` (per worker): every request the worker finished before that time has been
    counted here, so the throughputs are taken over complete buckets up to the earliest of them."""

    workers: int
    complete_until_s: dict[int, float] = field(default_factory=dict)

    def add(self, worker: int, tally: SparseTally) -> None:
        self.ttft.merge(LogHistogram.from_sparse(tally.ttft))
        self.itl.merge(LogHistogram.from_sparse(tally.itl))
        _merge_counts(self.requests_by_bucket, tally.requests_by_bucket.items())
        _merge_counts(self.tokens_by_bucket, tally.tokens_by_bucket.items())
        self.complete_until_s[worker] = max(tally.complete_until_s, self.complete_until_s.get(worker, -math.inf))
        self._forget_old_buckets()

    def last_full_bucket(self) -> int | None:
        """The newest end-time bucket every worker has reported in full, None before that."""
        if len(self.complete_until_s) < self.workers:
            return None
        last = math.floor((min(self.complete_until_s.values()) - self.start_at_s) / BUCKET_S) - 1
        return last if last >= 0 else None

    def rates(self) -> Rates | None:
        """Successful requests and output tokens per second over the last ``RATE_WINDOW_S`` (or the
        time since the first send when shorter) of complete end-time buckets; None before the
        first bucket is complete."""
        last = self.last_full_bucket()
        if last is None:
            return None
        first = max(last - round(RATE_WINDOW_S / BUCKET_S) + 1, 0)
        window_s = (last - first + 1) * BUCKET_S
        requests = sum(self.requests_by_bucket.get(b, 0) for b in range(first, last + 1))
        tokens = sum(self.tokens_by_bucket.get(b, 0) for b in range(first, last + 1))
        return Rates(requests / window_s, tokens / window_s, window_s)

    def _forget_old_buckets(self) -> None:
        if not self.requests_by_bucket:
            return
        keep_from = max(self.requests_by_bucket) - 2 * round(RATE_WINDOW_S / BUCKET_S)
        for buckets in (self.requests_by_bucket, self.tokens_by_bucket):
            for bucket in [b for b in buckets if b < keep_from]:
                del buckets[bucket]


def _merge_counts(totals: dict[int, int], items: Iterable[tuple[int, int]]) -> None:
    for key, value in items:
        totals[key] = totals.get(key, 0) + value


@dataclass(frozen=True)
class Rates:
    """Throughputs over ``window_s`` seconds: successful requests/s and their output tokens/s."""

    requests_per_s: float
    output_tokens_per_s: float
    window_s: float


@dataclass(frozen=True)
class SparseTally:
    """A ``LiveTally`` as sent between processes, with ``complete_until_s``: every request the
    worker finished before it is in this tally or an earlier one."""

    ttft: SparseHistogram
    itl: SparseHistogram
    requests_by_bucket: dict[int, int]
    tokens_by_bucket: dict[int, int]
    complete_until_s: float


class SteadyStartWatch:
    """The steady stage's start (``metrics.stable_stage``: the second request start after which
    ``batch_size`` requests are in flight) as the main process sees it live, from samples of the
    shared counters: started once a sample shows ``batch_size`` in flight after more requests were
    sent than at the first sample that showed it."""

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self._sent_when_first_full: int | None = None
        #: Seconds after the first planned send of the sample that showed the steady stage started.
        self.started_at_s: float | None = None

    def observe(self, sent: int, in_flight: int, elapsed_s: float) -> None:
        if self.started_at_s is not None or in_flight < self.batch_size:
            return
        if self._sent_when_first_full is None:
            self._sent_when_first_full = sent
        elif sent > self._sent_when_first_full:
            self.started_at_s = max(elapsed_s, 0.0)
