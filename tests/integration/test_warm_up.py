"""The warm-up runs in the workers through the pool the load then uses (issue 17): the connections it
opens are the ones the measured requests reuse, its requests are not records, and the run's clock
starts after it."""

from __future__ import annotations

import threading
from pathlib import Path
from time import perf_counter

from ais_bench.engine.plan import RunPlan
from ais_bench.engine.runner import RunOutcome, run_benchmark
from ais_bench.engine.warmup import WarmupResult
from ais_bench.records.store import read_records
from tests.support.plans import RUN_LIMIT_S, chat_plan
from tests.support.scripted_server import (
    ScriptedConnection,
    ScriptedRequest,
    ScriptedServer,
    chat_events,
    chunk,
    sse_head,
)


def _run(plan: RunPlan, warm_ups: list[tuple[WarmupResult, float]]) -> RunOutcome:
    """Run the plan in a thread (fail instead of hanging the suite); the warm-up's result and when it
    was handed over (perf_counter s) go to ``warm_ups``."""
    result: list[RunOutcome] = []

    def before_load(warm_up: WarmupResult) -> None:
        warm_ups.append((warm_up, perf_counter()))

    thread = threading.Thread(target=lambda: result.append(run_benchmark(plan, before_load=before_load)), daemon=True)
    thread.start()
    thread.join(RUN_LIMIT_S)
    assert not thread.is_alive(), f"the run did not end within {RUN_LIMIT_S} s"
    return result[0]


async def _whole_stream_at_once(conn: ScriptedConnection, request: ScriptedRequest) -> bool:
    """A complete stream in one write, so every response has ended before its connection is needed again."""
    await conn.write(sse_head() + b"".join(chunk(event) for event in chat_events(["a", "b"])) + chunk(b""))
    return True


def test_the_load_reuses_the_connections_the_warm_up_opened(tmp_path: Path) -> None:
    """batch_size 4, one worker, 4 warm-ups: the warm-up opens the 4 connections of the 4 lanes, and
    the 12 measured requests open none (the old warm-up ran in the main process on its own client,
    so the load opened 4 more)."""
    with ScriptedServer(_whole_stream_at_once) as server:
        warm_ups: list[tuple[WarmupResult, float]] = []
        outcome = _run(chat_plan(server.base_url, tmp_path, 12, 4, num_warmups=4), warm_ups)
        log = server.snapshot()
    (warm_up, warmed_at_s), = warm_ups
    assert warm_up == WarmupResult(sent=4, succeeded=4)
    assert len([r for r in log.requests if r.method == "POST"]) == 4 + 12
    assert log.connections_accepted == 4
    records = read_records(tmp_path, "ds")
    assert len(records) == outcome.totals.finished == 12  # warm-up requests are not records
    assert all(r.success for r in records)
    assert min(r.start_s for r in records) > warmed_at_s  # every measured send comes after the warm-up
