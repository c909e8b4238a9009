from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from metrics_helpers import request_rows, table_from_rows
from metrics_reference import RefTable, ref_per_request

from ais_bench.metrics.per_request import compute_per_request
from ais_bench.records.record import RequestTable
from tests.support.examples import examples


def test_hand_computed_streaming(hand_table: RequestTable) -> None:
    pr = compute_per_request(hand_table, stream=True)
    # rows 3 (one point) and 4 (failed) are not successful requests
    assert pr.row_index.tolist() == [0, 1, 2]
    # E2EL = tp[-1] - tp[0]: 11.0-10.0, 11.3-10.5, 11.4-11.0
    np.testing.assert_allclose(pr.e2el_s, [1.0, 0.8, 0.4])
    # TTFT = tp[1] - tp[0]: 10.2-10.0, 10.8-10.5, 11.4-11.0
    np.testing.assert_allclose(pr.ttft_s, [0.2, 0.3, 0.4])
    # TPOT = (E2EL - TTFT) / (n_out - 1): 0.8/8, 0.5/3, n_out = 1 -> 0
    np.testing.assert_allclose(pr.tpot_s, [0.1, 0.5 / 3, 0.0])
    # ITL = diff(tp[1:]): [0.1, 0.15, 0.55], [0.3, 0.2], []
    np.testing.assert_allclose(pr.itl(0), [0.1, 0.15, 0.55])
    np.testing.assert_allclose(pr.itl(1), [0.3, 0.2])
    assert pr.itl(2).size == 0
    assert pr.itl_offsets.tolist() == [0, 3, 5, 5]
    assert pr.itl_any_nonzero.tolist() == [True, True, False]
    # OutputTokenThroughput = n_out / E2EL: 9/1.0, 4/0.8, 1/0.4
    np.testing.assert_allclose(pr.output_token_throughput, [9.0, 5.0, 2.5])
    # PrefillTokenThroughput = n_in / TTFT: 100/0.2, 200/0.3, 50/0.4
    np.testing.assert_allclose(pr.prefill_token_throughput, [500.0, 2000 / 3, 125.0])
    assert pr.input_tokens.tolist() == [100, 200, 50]
    assert pr.output_tokens.tolist() == [9, 4, 1]


def test_non_streaming_has_no_ttft_tpot_prefill(hand_table: RequestTable) -> None:
    pr = compute_per_request(hand_table, stream=False)
    assert not pr.ttft_s.any() and not pr.tpot_s.any() and not pr.prefill_token_throughput.any()
    np.testing.assert_allclose(pr.e2el_s, [1.0, 0.8, 0.4])


def test_empty_and_all_failed_tables() -> None:
    empty = RequestTable.from_columns([], [], [], [])
    assert len(compute_per_request(empty, True)) == 0
    failed = RequestTable.from_columns([[1.0, 2.0], [3.0]], [False, True], [1, 1], [1, 1])
    pr = compute_per_request(failed, True)
    assert len(pr) == 0 and pr.itl_s.size == 0 and pr.itl_offsets.tolist() == [0]


def test_zero_e2el_gives_zero_throughput() -> None:
    table = RequestTable.from_columns([[5.0, 5.0]], [True], [3], [2])
    pr = compute_per_request(table, True)
    assert pr.output_token_throughput.tolist() == [0.0]
    assert pr.prefill_token_throughput.tolist() == [0.0]


def test_itl_extraction_across_chunk_boundaries(monkeypatch: pytest.MonkeyPatch) -> None:
    from ais_bench.metrics import per_request

    monkeypatch.setattr(per_request, "_ITL_CHUNK_POINTS", 3)
    rng = np.random.default_rng(3)
    rows = [
        (list(np.cumsum(rng.random(int(rng.integers(0, 9))))), bool(rng.random() > 0.2), 1, 5)
        for _ in range(40)
    ]
    table = table_from_rows(rows)
    pr = compute_per_request(table, True)
    ref = ref_per_request(RefTable(*zip(*rows, strict=True)), True)  # type: ignore[arg-type]
    assert pr.itl_s.tolist() == [gap for r in ref for gap in r.itl]


@settings(max_examples=examples(150), deadline=None)
@given(rows=request_rows())
def test_matches_pure_python_reference(rows: list[tuple[list[float], bool, int, int]]) -> None:
    table = table_from_rows(rows)
    ref_table = RefTable(
        [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows]
    )
    for stream in (True, False):
        pr = compute_per_request(table, stream)
        ref = ref_per_request(ref_table, stream)
        # Same float operations in the same order, so the values are identical, not just close.
        assert pr.row_index.tolist() == [r.row for r in ref]
        assert pr.start_s.tolist() == [r.start for r in ref]
        assert pr.end_s.tolist() == [r.end for r in ref]
        assert pr.e2el_s.tolist() == [r.e2el for r in ref]
        assert pr.ttft_s.tolist() == [r.ttft for r in ref]
        assert pr.tpot_s.tolist() == [r.tpot for r in ref]
        assert pr.output_token_throughput.tolist() == [r.out_tp for r in ref]
        assert pr.prefill_token_throughput.tolist() == [r.prefill_tp for r in ref]
        assert pr.itl_s.tolist() == [gap for r in ref for gap in r.itl]
        assert [pr.itl(k).tolist() for k in range(len(pr))] == [r.itl for r in ref]
        assert pr.itl_any_nonzero.tolist() == [any(g != 0 for g in r.itl) for r in ref]
        # E2EL = TTFT + first-event gap... i.e. E2EL == (tp[1]-tp[0]) + sum(ITL) when streaming
        if stream:
            for k, r in enumerate(ref):
                assert pr.e2el_s[k] == pytest.approx(r.ttft + sum(r.itl), abs=1e-9)


@settings(max_examples=examples(50), deadline=None)
@given(rows=request_rows())
def test_select_keeps_each_requests_itl(rows: list[tuple[list[float], bool, int, int]]) -> None:
    pr = compute_per_request(table_from_rows(rows), True)
    mask = np.arange(len(pr)) % 2 == 0
    sub = pr.select(mask)
    kept = np.flatnonzero(mask)
    assert sub.row_index.tolist() == pr.row_index[kept].tolist()
    assert [sub.itl(j).tolist() for j in range(len(sub))] == [pr.itl(int(k)).tolist() for k in kept]
    assert sub.itl_any_nonzero.tolist() == pr.itl_any_nonzero[kept].tolist()
