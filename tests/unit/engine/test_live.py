"""The live figures: bounded histograms, the workers' tallies of written records, the sliding
throughput window and the live steady-stage rule."""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ais_bench.engine.live import (
    BINS_PER_DECADE,
    HIST_SIZE,
    RATE_WINDOW_S,
    LiveFigures,
    LiveTally,
    LogHistogram,
    SparseTally,
    SteadyStartWatch,
)
from ais_bench.records.record import RequestRecord
from ais_bench.records.store import RecordWriter, worker_record_path
from tests.support.examples import examples

#: A bin's upper edge over its lower edge.
BIN_RATIO = 10 ** (1 / BINS_PER_DECADE)
#: Durations inside the log-spaced bins (1 µs .. 10,000 s).
durations_s = st.floats(min_value=1e-6, max_value=9e3, allow_nan=False)


def _hist(values_s: list[float]) -> LogHistogram:
    hist = LogHistogram()
    hist.add(np.array(values_s))
    return hist


def _nearest_rank(values_s: list[float], q: float) -> float:
    ordered = sorted(values_s)
    return ordered[max(math.ceil(q * len(ordered)), 1) - 1]


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(durations_s, max_size=60), st.lists(durations_s, max_size=60))
def test_merging_histograms_gives_the_histogram_of_the_union(first: list[float], second: list[float]) -> None:
    merged = _hist(first)
    # what crosses the process boundary: the sparse form, pickled
    merged.merge(LogHistogram.from_sparse(pickle.loads(pickle.dumps(_hist(second).to_sparse()))))
    union = _hist(first + second)
    assert np.array_equal(merged.counts, union.counts)
    assert (merged.min_s, merged.max_s) == (union.min_s, union.max_s)


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(durations_s, min_size=1, max_size=200), st.floats(min_value=0.0, max_value=1.0))
def test_a_quantile_is_within_one_bin_width_of_the_exact_value(values_s: list[float], q: float) -> None:
    exact_s = _nearest_rank(values_s, q)
    estimate_s = _hist(values_s).quantile_s(q)
    assert estimate_s is not None
    # the exact value's bin is at most exact * (ratio - 1) wide; the estimate lies inside that bin
    assert abs(estimate_s - exact_s) <= exact_s * (BIN_RATIO - 1) * (1 + 1e-9)


def test_percentiles_of_known_values_are_the_hand_computed_ones_within_a_bin() -> None:
    hist = _hist([k / 1000 for k in range(1, 101)])  # 1, 2, ..., 100 ms
    # nearest rank: p50 = the 50th value = 50 ms, p99 = the 99th = 99 ms
    assert abs(hist.quantile_s(0.5) - 0.050) <= 0.050 * (BIN_RATIO - 1)  # type: ignore[operator]
    assert abs(hist.quantile_s(0.99) - 0.099) <= 0.099 * (BIN_RATIO - 1)  # type: ignore[operator]
    assert hist.quantile_s(1.0) == 0.1  # the largest is kept exactly
    assert _hist([0.04] * 7).quantile_s(0.5) == 0.04  # one value: exact
    assert LogHistogram().quantile_s(0.5) is None


def test_zero_and_huge_durations_land_in_the_end_bins() -> None:
    hist = _hist([0.0, 0.0, 2e4])
    assert hist.counts[0] == 2 and hist.counts[HIST_SIZE - 1] == 1
    assert hist.quantile_s(0.5) == 0.0 and hist.quantile_s(1.0) == 2e4


def _record(request_id: int, points_s: list[float], **fields: object) -> RequestRecord:
    values: dict[str, object] = dict(
        request_id=request_id, data_index=request_id, data_abbr="ds", worker_id=0, success=True,
        start_s=points_s[0], end_s=points_s[-1], time_points_s=points_s, usage_output_tokens=len(points_s) - 1,
    )
    values.update(fields)
    return RequestRecord(**values)  # type: ignore[arg-type]


def _write(tmp_path: Path, tally: LiveTally, records: list[RequestRecord]) -> None:
    with RecordWriter(worker_record_path(tmp_path, "ds", 0), on_written=tally.add_written) as writer:
        for record in records:
            writer.append(record)


def test_a_tally_holds_the_ttft_and_itl_of_the_successful_records_written(tmp_path: Path) -> None:
    tally = LiveTally(stream=True, start_at_s=100.0)
    _write(tmp_path, tally, [
        _record(0, [100.0, 100.040, 100.050, 100.070]),  # TTFT 40 ms, ITL 10 and 20 ms
        _record(1, [100.5, 100.560, 100.590], usage_output_tokens=None, content_events=2),  # TTFT 60, ITL 30
        _record(2, [100.6, 100.601, 100.9], success=False),  # failed: no value
        _record(3, [100.7], success=False, end_s=101.0),  # failed before any event
        _record(4, [101.0, 101.005]),  # TTFT 5 ms, one token event: no gap
    ])
    assert tally.ttft.total == 3
    assert math.isclose(tally.ttft.min_s, 0.005) and math.isclose(tally.ttft.max_s, 0.060)
    assert tally.itl.total == 3
    assert math.isclose(tally.itl.min_s, 0.010) and math.isclose(tally.itl.max_s, 0.030)
    # end-time buckets of 0.5 s from the first send: 100.07 -> 0, 100.59 -> 1, 101.005 -> 2
    assert tally.requests_by_bucket == {0: 1, 1: 1, 2: 1}
    # tokens: usage when there is one, else the content events
    assert tally.tokens_by_bucket == {0: 3, 1: 2, 2: 1}


def test_a_tally_taken_starts_again_empty_and_its_size_is_bounded(tmp_path: Path) -> None:
    tally = LiveTally(stream=True)
    records = [_record(i, [float(i), i + 0.01 * (1 + i % 7), i + 0.5, i + 0.9]) for i in range(3000)]
    _write(tmp_path, tally, records)
    sent = pickle.loads(pickle.dumps(tally.take(complete_until_s=3000.0)))
    assert sent.ttft.counts and sum(sent.ttft.counts.values()) == 3000
    assert len(sent.ttft.counts) <= HIST_SIZE and len(sent.itl.counts) <= HIST_SIZE
    assert tally.ttft.total == 0 and not tally.requests_by_bucket


def test_a_tally_of_a_non_streaming_run_counts_requests_only(tmp_path: Path) -> None:
    tally = LiveTally(stream=False, start_at_s=0.0)
    _write(tmp_path, tally, [_record(0, [0.0, 0.3])])
    assert tally.requests_by_bucket == {0: 1} and tally.ttft.total == 0 and tally.itl.total == 0


def _tally(requests_by_bucket: dict[int, int], tokens_by_bucket: dict[int, int], complete_until_s: float) -> SparseTally:
    empty = LogHistogram().to_sparse()
    return SparseTally(empty, empty, requests_by_bucket, tokens_by_bucket, complete_until_s)


def test_throughput_is_taken_over_the_buckets_every_worker_has_reported_in_full() -> None:
    figures = LiveFigures(workers=2, start_at_s=100.0)
    # worker 0: 2 requests ended in [100.0, 100.5), 1 in [100.5, 101.0), 1 in [101.0, 101.5); 10 tokens each
    figures.add(0, _tally({0: 2, 1: 1, 2: 1}, {0: 20, 1: 10, 2: 10}, complete_until_s=101.3))
    assert figures.rates() is None  # worker 1 has said nothing yet
    figures.add(1, _tally({1: 1}, {1: 20}, complete_until_s=101.1))
    # complete until 101.1 (the earlier worker): buckets 0 and 1 are whole, bucket 2 is not
    rates = figures.rates()
    assert rates is not None and rates.window_s == 1.0
    assert rates.requests_per_s == 4.0 and rates.output_tokens_per_s == 50.0
    figures.add(1, _tally({}, {}, complete_until_s=101.6))  # nothing more ended: complete until later
    figures.add(0, _tally({}, {}, complete_until_s=101.7))  # both past 101.5: bucket 2 is whole
    rates = figures.rates()
    assert rates is not None and (rates.window_s, rates.requests_per_s, rates.output_tokens_per_s) == (1.5, 5 / 1.5, 60 / 1.5)


def test_the_throughput_window_slides_and_old_buckets_are_forgotten() -> None:
    figures = LiveFigures(workers=1, start_at_s=0.0)
    for bucket in range(10_000):  # 5,000 s: one request with 4 tokens every 0.5 s
        figures.add(0, _tally({bucket: 1}, {bucket: 4}, complete_until_s=(bucket + 1) * 0.5))
    rates = figures.rates()
    assert rates is not None and rates.window_s == RATE_WINDOW_S
    assert (rates.requests_per_s, rates.output_tokens_per_s) == (2.0, 8.0)
    assert len(figures.requests_by_bucket) <= 2 * RATE_WINDOW_S / 0.5 + 1
    assert len(figures.tokens_by_bucket) <= 2 * RATE_WINDOW_S / 0.5 + 1


def test_the_steady_stage_starts_at_the_second_start_seen_at_batch_size() -> None:
    watch = SteadyStartWatch(batch_size=4)
    watch.observe(sent=3, in_flight=3, elapsed_s=0.1)  # ramping up
    watch.observe(sent=4, in_flight=4, elapsed_s=0.2)  # batch_size reached: the ramp-up's start
    watch.observe(sent=4, in_flight=4, elapsed_s=0.3)  # no new start yet
    watch.observe(sent=5, in_flight=3, elapsed_s=0.4)  # a new start, but below batch_size
    assert watch.started_at_s is None
    watch.observe(sent=6, in_flight=4, elapsed_s=0.5)  # a later start and batch_size in flight
    assert watch.started_at_s == 0.5
    watch.observe(sent=9, in_flight=4, elapsed_s=0.9)
    assert watch.started_at_s == 0.5


def test_no_steady_stage_while_batch_size_is_never_reached() -> None:
    watch = SteadyStartWatch(batch_size=16)
    for sent in range(1, 200):
        watch.observe(sent=sent, in_flight=min(sent, 15), elapsed_s=sent * 0.1)
    assert watch.started_at_s is None
