"""The request state machine on a fake clock: attempts, retries, the send deadline, stream end
markers and the stall watchdog, with exact stamps.

A scripted server (``tests/support/scripted_server.py``) answers on 127.0.0.1; the client's pool
reads a :class:`FakeClock` instead of ``perf_counter`` (kernel stamps off), and the script moves
the clock and waits for the client's read after each write (``write_at``), so every stamp is a
value the test chose, however the threads are scheduled.
"""

from __future__ import annotations

import asyncio
import json
import threading

from ais_bench.clients.backends import (
    OPENAI_CHAT,
    TRITON,
    BackendSpec,
    backend_for,
)
from ais_bench.clients.http1 import ConnectionPool, Endpoint
from ais_bench.clients.loop import run_worker_loop
from ais_bench.engine.attempt import Attempt
from ais_bench.engine.request import send_request
from ais_bench.engine.request_record import build_record
from ais_bench.engine.worker import StallWatch
from ais_bench.records.record import RequestRecord
from tests.support.fake_clock import FakeClock, write_at
from tests.support.scripted_server import (
    ScriptedConnection,
    ScriptedRequest,
    ScriptedServer,
    chat_events,
    chunk,
    sse_head,
)

CHAT = backend_for(OPENAI_CHAT)
TOKEN_A, TOKEN_B, FINAL, DONE = chat_events(["a", "b"])


def _send(
    server: ScriptedServer,
    clock: FakeClock,
    *,
    spec: BackendSpec = CHAT,
    retry: int = 0,
    send_by_s: float | None = None,
) -> tuple[RequestRecord, int]:
    """One request through ``send_request`` on a pool reading ``clock``; its record and attempts."""

    async def run() -> tuple[RequestRecord, int]:
        pool = ConnectionPool(Endpoint.of(server.base_url, {}), False, clock=clock)
        try:
            attempt, attempts = await send_request(
                pool, spec, server.base_url + "v1/stream", b"{}", True, retry, 65536, send_by_s=send_by_s
            )
        finally:
            pool.close()
        return build_record(attempt, attempts, 0, 0, "ds", 0, clock=clock), attempts

    return run_worker_loop(run())


def _posts(server: ScriptedServer) -> list[ScriptedRequest]:
    return [request for request in server.snapshot().requests if request.method == "POST"]


def test_each_token_event_is_stamped_with_the_read_that_brought_it() -> None:
    clock = FakeClock(10.0)

    async def script(conn: ScriptedConnection, request: ScriptedRequest) -> bool:
        await write_at(clock, 11.0, conn, sse_head() + chunk(TOKEN_A))
        await write_at(clock, 12.0, conn, chunk(TOKEN_B))
        await write_at(clock, 13.0, conn, chunk(FINAL) + chunk(DONE) + chunk(b""))
        return True

    with ScriptedServer(script) as server:
        record, attempts = _send(server, clock)
    assert record.success and attempts == record.attempts == 1
    assert record.time_points_s == [10.0, 11.0, 12.0]  # the send, then one point per token event
    assert (record.start_s, record.end_s) == (10.0, 13.0)  # the end: the read that brought [DONE]


def test_a_retried_request_is_timed_from_its_first_send() -> None:
    clock = FakeClock(10.0)

    async def script(conn: ScriptedConnection, request: ScriptedRequest) -> bool:
        if conn.index == 0:  # the first attempt: one token, then the connection closes mid-stream
            await write_at(clock, 11.0, conn, sse_head() + chunk(TOKEN_A))
            clock.set(20.0)  # the retry is sent at 20
            return False
        await write_at(clock, 21.0, conn, sse_head() + chunk(TOKEN_A))
        await write_at(clock, 22.0, conn, chunk(FINAL) + chunk(DONE) + chunk(b""))
        return True

    with ScriptedServer(script) as server:
        record, attempts = _send(server, clock, retry=1)
        assert len(_posts(server)) == 2
    assert record.success and attempts == record.attempts == 2
    # the events are the last attempt's, the send is the first attempt's
    assert record.time_points_s == [10.0, 21.0]
    assert (record.start_s, record.end_s) == (10.0, 22.0)


def test_a_retry_cancelled_mid_stream_keeps_the_first_send() -> None:
    clock = FakeClock(10.0)
    second_token_read = threading.Event()

    async def script(conn: ScriptedConnection, request: ScriptedRequest) -> bool:
        if conn.index == 0:
            await write_at(clock, 11.0, conn, sse_head() + chunk(TOKEN_A))
            clock.set(20.0)
            return False
        await write_at(clock, 21.0, conn, sse_head() + chunk(TOKEN_A))
        second_token_read.set()
        await asyncio.sleep(3600)  # never ends: the client cancels the request
        return False

    async def run(server: ScriptedServer) -> list[Attempt]:
        started: list[Attempt] = []
        pool = ConnectionPool(Endpoint.of(server.base_url, {}), False, clock=clock)
        task = asyncio.create_task(
            send_request(pool, CHAT, server.base_url + "v1/stream", b"{}", True, 1, 65536, started)
        )
        await asyncio.to_thread(second_token_read.wait, 30)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        pool.close()
        return started

    with ScriptedServer(script) as server:
        started = run_worker_loop(run(server))
    assert len(started) == 2
    assert started[0].points == [10.0, 11.0]
    assert started[1].points == [10.0, 21.0]  # the interrupted retry: timed from the first send
    assert started[1].error_kind == "cancelled"


def test_no_byte_is_sent_at_or_after_the_send_deadline() -> None:
    clock = FakeClock(10.0)

    async def script(conn: ScriptedConnection, request: ScriptedRequest) -> bool:
        await write_at(clock, 11.0, conn, sse_head() + chunk(TOKEN_A) + chunk(FINAL) + chunk(DONE) + chunk(b""))
        return True

    with ScriptedServer(script) as server:
        _, attempts = _send(server, clock, send_by_s=10.0)  # the deadline is now: not sent
        assert attempts == 0 and _posts(server) == []
        clock.set(9.5)
        record, attempts = _send(server, clock, send_by_s=10.0)  # half a second before it: sent
        assert attempts == 1 and len(_posts(server)) == 1
    assert record.success and record.time_points_s == [9.5, 11.0]


def test_a_retry_due_after_the_send_deadline_is_not_sent() -> None:
    clock = FakeClock(9.0)

    async def script(conn: ScriptedConnection, request: ScriptedRequest) -> bool:
        await write_at(clock, 9.5, conn, sse_head() + chunk(TOKEN_A))
        clock.set(10.0)  # the connection closes at the deadline: the retry would be sent at 10
        return False

    with ScriptedServer(script) as server:
        record, attempts = _send(server, clock, retry=3, send_by_s=10.0)
        assert len(_posts(server)) == 1
    assert attempts == record.attempts == 1
    assert not record.success and record.error_kind == "protocol"
    assert record.error_message is not None and record.error_message.startswith("stream ended early after 1 events")
    assert record.time_points_s == [9.0, 9.5]
    assert (record.start_s, record.end_s) == (9.0, 10.0)  # a failure ends when it is recorded


def test_a_chat_stream_without_done_is_cut() -> None:
    clock = FakeClock(10.0)

    async def script(conn: ScriptedConnection, request: ScriptedRequest) -> bool:
        await write_at(clock, 11.0, conn, sse_head() + chunk(TOKEN_A))
        await write_at(clock, 12.0, conn, chunk(FINAL))
        await write_at(clock, 13.0, conn, chunk(b""))  # the body ends: no [DONE]
        return True

    with ScriptedServer(script) as server:
        record, attempts = _send(server, clock)
    assert attempts == 1 and not record.success and record.error_kind == "protocol"
    assert record.error_message == "stream cut after 2 events: it ended without data: [DONE]"
    assert record.time_points_s == [10.0, 11.0]
    assert (record.start_s, record.end_s) == (10.0, 13.0)


def test_a_stream_whose_end_marker_is_the_body_end_is_complete_at_its_last_event() -> None:
    clock = FakeClock(10.0)
    events = [b"data: " + json.dumps({"text_output": text}).encode() + b"\n\n" for text in ("a", "b")]

    async def script(conn: ScriptedConnection, request: ScriptedRequest) -> bool:
        await write_at(clock, 11.0, conn, sse_head() + chunk(events[0]))
        await write_at(clock, 12.0, conn, chunk(events[1]))
        await write_at(clock, 13.0, conn, chunk(b""))
        return True

    with ScriptedServer(script) as server:
        record, attempts = _send(server, clock, spec=backend_for(TRITON))
    assert record.success and attempts == 1
    assert record.time_points_s == [10.0, 11.0, 12.0]
    assert (record.start_s, record.end_s) == (10.0, 12.0)  # the body's end brought no event


def test_the_stall_watchdog_fires_exactly_limit_seconds_after_the_last_progress() -> None:
    watch = StallWatch(2.0, mark=(0, 1), now_s=100.0)
    assert not watch.stalled((0, 1), busy=True, now_s=101.999)
    assert not watch.stalled((0, 2), busy=True, now_s=101.5)  # progress: the wait starts again
    assert not watch.stalled((0, 2), busy=True, now_s=103.4)
    assert watch.stalled((0, 2), busy=True, now_s=103.5)


def test_the_stall_watchdog_does_not_count_time_with_nothing_in_flight() -> None:
    watch = StallWatch(2.0, mark=(3, 0), now_s=0.0)
    assert not watch.stalled((3, 0), busy=False, now_s=50.0)  # idle: not a stall, the wait restarts
    assert not watch.stalled((3, 0), busy=True, now_s=51.0)
    assert watch.stalled((3, 0), busy=True, now_s=52.0)
