"""How the warm-up is dealt over the workers, and how their results add up (``engine/warmup.py``)."""

from __future__ import annotations

from ais_bench.engine.warmup import WarmupResult, warm_up_rows


def test_the_warm_ups_are_dealt_over_the_workers_as_batch_size_is() -> None:
    # 5 warm-ups over 2 workers: 3 and 2, the dataset's rows 0..4 in worker order (cycling over 3 rows)
    assert warm_up_rows(5, 2, 0, 3) == [0, 1, 2]
    assert warm_up_rows(5, 2, 1, 3) == [0, 1]
    # the default single warm-up: worker 0 sends it, the others none
    assert [warm_up_rows(1, 3, worker, 10) for worker in range(3)] == [[0], [], []]
    assert warm_up_rows(0, 1, 0, 10) == []


def test_the_workers_results_add_up_with_the_first_error_first() -> None:
    total = WarmupResult(2, 0, "a").plus(WarmupResult(1, 1, None)).plus(WarmupResult(1, 0, "b"))
    assert total == WarmupResult(sent=4, succeeded=1, first_error="a")
    assert WarmupResult().plus(WarmupResult(1, 0, "b")).first_error == "b"


def test_the_first_error_keeps_its_http_status() -> None:
    total = WarmupResult(1, 0, "refused", None).plus(WarmupResult(1, 0, "HTTP 404", 404))
    assert (total.first_error, total.first_status) == ("refused", None)
    assert WarmupResult(1, 1).plus(WarmupResult(1, 0, "HTTP 404", 404)).first_status == 404
