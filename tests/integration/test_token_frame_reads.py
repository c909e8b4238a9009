"""With kernel stamps, a read of nothing but a stream's plain token events is taken whole
(``clients/token_frame.py``) and gives the same record as the event-by-event path."""

from __future__ import annotations

import pytest

from ais_bench.clients.backends import OPENAI_CHAT, backend_for
from ais_bench.clients.http1 import ConnectionPool, Endpoint
from ais_bench.clients.loop import run_worker_loop
from ais_bench.clients.response import ResponseState
from ais_bench.clients.sse import SSEDecoder
from ais_bench.clients.token_frame import TokenFrame
from ais_bench.clients.transport import kernel_stamps_enabled
from ais_bench.engine.request import send_request
from ais_bench.engine.request_record import build_record
from ais_bench.records.record import RequestRecord
from tests.support.fake_clock import FakeClock, write_at
from tests.support.scripted_server import ScriptedConnection, ScriptedRequest, ScriptedServer, chunk, sse_head

pytestmark = pytest.mark.skipif(not kernel_stamps_enabled(), reason="needs kernel receive stamps (Linux)")

HEAD = '{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"'
TAIL = '"},"logprobs":null,"finish_reason":null}]}'
FINAL = b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":2,"completion_tokens":4}}\n\n'


def _token(text: str) -> bytes:
    return f"data: {HEAD}{text}{TAIL}\n\n".encode()


def _spy(monkeypatch: pytest.MonkeyPatch, reads: FakeClock) -> list[int | None]:
    """Counts the client's reads of the body on ``reads`` (read as a clock: ``write_at`` then waits
    for the client's read of each write) and returns what the frame's whole-read path took."""
    taken: list[int | None] = []
    feed, fold_read = SSEDecoder.feed, TokenFrame.fold_read

    def feed_spy(self: SSEDecoder, data: bytes) -> list[str]:
        reads()
        return feed(self, data)

    def fold_read_spy(self: TokenFrame, body: bytes, state: ResponseState, points: list[float], stamp: float) -> int | None:
        count = fold_read(self, body, state, points, stamp)
        taken.append(count)
        if count is not None:
            reads()
        return count

    monkeypatch.setattr(SSEDecoder, "feed", feed_spy)
    monkeypatch.setattr(TokenFrame, "fold_read", fold_read_spy)
    return taken


def _send(server: ScriptedServer) -> RequestRecord:
    async def run() -> RequestRecord:
        pool = ConnectionPool(Endpoint.of(server.base_url, {}), True)
        try:
            attempt, attempts = await send_request(
                pool, backend_for(OPENAI_CHAT), server.base_url + "v1/chat/completions", b"{}", True, 0, 65536
            )
        finally:
            pool.close()
        return build_record(attempt, attempts, 0, 0, "ds", 0)

    return run_worker_loop(run())


def test_a_read_of_token_events_is_taken_whole_with_the_same_record(monkeypatch: pytest.MonkeyPatch) -> None:
    reads = FakeClock()
    taken = _spy(monkeypatch, reads)

    async def script(conn: ScriptedConnection, request: ScriptedRequest) -> bool:
        await write_at(reads, 0.0, conn, sse_head() + chunk(_token("a")))
        await write_at(reads, 0.0, conn, chunk(_token(" b") + _token(" c") + _token(" d")))  # one read of three
        await conn.write(chunk(FINAL + b"data: [DONE]\n\n") + chunk(b""))
        return True

    with ScriptedServer(script) as server:
        record = _send(server)
    assert record.success, record.error_message
    assert taken[0] == 3  # the three-event read went whole; the last read (usage, [DONE]) did not
    assert record.output_text == "a b c d" and record.content_events == 4
    points = record.time_points_s
    assert len(points) == 5 and points[2] == points[3] == points[4]  # the send, then a; b, c, d: one read
    assert record.usage_output_tokens == 4


ROLE = b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant"},"logprobs":null,"finish_reason":null}]}\n\n'


def test_the_first_and_the_last_read_fold_their_runs_of_token_events(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first read (role chunk, then tokens) is parsed event by event until the frame is learned,
    then its other tokens are taken whole; the last read's tokens are taken whole before its finish
    and usage chunks are parsed one by one. The record is the event-by-event path's."""
    reads = FakeClock()
    taken = _spy(monkeypatch, reads)

    async def script(conn: ScriptedConnection, request: ScriptedRequest) -> bool:
        first = ROLE + _token("a") + _token(" b") + _token(" c")
        await write_at(reads, 0.0, conn, sse_head() + chunk(first))
        await write_at(reads, 0.0, conn, chunk(_token(" d") + _token(" e") + FINAL + b"data: [DONE]\n\n"))
        await conn.write(chunk(b""))
        return True

    with ScriptedServer(script) as server:
        record = _send(server)
    assert record.success, record.error_message
    assert taken == [2, None, 2]  # b and c; the last read whole (no); d and e
    assert record.output_text == "a b c d e" and record.content_events == 5
    _send_s, a, b, c, d, e = record.time_points_s
    assert a == b == c < d == e  # one stamp per read
    assert record.usage_output_tokens == 4 and record.finish_reason == "stop"
