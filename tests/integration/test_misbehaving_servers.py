"""The engine against scripted misbehaving servers (``tests/support/scripted_server.py``): a gateway
that accepts exactly batch_size connections, a server that stops answering (issue 14, item 2)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from ais_bench.engine.plan import RunPlan
from ais_bench.engine.runner import RunOutcome, run_benchmark
from ais_bench.records.store import read_records
from tests.support.plans import RUN_LIMIT_S, chat_plan
from tests.support.scripted_server import (
    ScriptedConnection,
    ScriptedRequest,
    ScriptedServer,
    chat_events,
    chunk,
    sse_head,
    stream_chat,
)


def _run_within_limit(plan: RunPlan) -> RunOutcome:
    """Run the plan in a thread; fail (instead of hanging the suite) when it does not end."""
    result: list[RunOutcome] = []
    thread = threading.Thread(target=lambda: result.append(run_benchmark(plan)), daemon=True)
    thread.start()
    thread.join(RUN_LIMIT_S)
    assert not thread.is_alive(), f"the run did not end within {RUN_LIMIT_S} s"
    return result[0]


async def _done_then_late_end(conn: ScriptedConnection, request: ScriptedRequest) -> bool:
    """Every event and ``[DONE]`` at once, the body's terminating chunk 50 ms later."""
    await conn.write(sse_head() + b"".join(chunk(event) for event in chat_events(["a", "b", "c"])))
    await asyncio.sleep(0.05)
    await conn.write(chunk(b""))
    return True


def test_a_gateway_that_accepts_exactly_batch_size_connections_serves_the_whole_run(tmp_path: Path):
    """Each lane's next request waits for its connection to come back after ``[DONE]``: never a third
    connection, which this gateway would leave waiting forever (REQUEST_TIME_OUT here only keeps a
    regression from hanging the suite)."""
    with ScriptedServer(_done_then_late_end, max_connections=2) as server:
        outcome = _run_within_limit(chat_plan(server.base_url, tmp_path, 20, 2, request_timeout_s=10.0))
        log = server.snapshot()
    records = read_records(tmp_path, "ds")
    assert len(records) == outcome.totals.finished == 20
    assert [r.error_message for r in records if not r.success] == []
    assert all(r.attempts == 1 for r in records)
    assert log.connections_accepted == 2 and log.max_connections_open == 2
    assert len([r for r in log.requests if r.method == "POST"]) == 20


def test_the_stall_watchdog_fails_the_requests_that_make_no_progress_and_the_run_ends(tmp_path: Path):
    """No REQUEST_TIME_OUT, and the server never answers one request: once nothing else is in flight
    and nothing moves for the watchdog's limit, that request fails with a reason and the run ends."""
    answered = 0
    never = asyncio.Event

    async def script(conn: ScriptedConnection, request: ScriptedRequest) -> bool:
        nonlocal answered
        answered += 1
        if answered == 3:
            await never().wait()  # this request gets no answer, ever
        await stream_chat(conn, ["a", "b"])
        return True

    with ScriptedServer(script) as server:
        outcome = _run_within_limit(chat_plan(server.base_url, tmp_path, 6, 2, stall_timeout_s=1.0))
    records = read_records(tmp_path, "ds")
    assert len(records) == 6
    failed = [r for r in records if not r.success]
    assert len(failed) == 1
    assert failed[0].error_kind == "read_timeout"
    assert failed[0].error_message == (
        "no progress from the server for 1 s with 1 request(s) in flight (stall watchdog; set "
        "REQUEST_TIME_OUT to limit each request instead)"
    )
    assert any("made no progress for 1 s" in warning for warning in outcome.warnings)


def test_the_watchdog_stays_out_of_the_way_when_request_time_out_is_set(tmp_path: Path):
    """With REQUEST_TIME_OUT each request ends in time by itself; the watchdog is off."""
    plan = chat_plan("http://127.0.0.1:1/", tmp_path, 1, 1, request_timeout_s=5.0, stall_timeout_s=1.0)
    assert plan.stall_limit_s is None
    assert chat_plan("http://127.0.0.1:1/", tmp_path, 1, 1, stall_timeout_s=1.0).stall_limit_s == 1.0
