"""With kernel stamps, a read of nothing but a stream's plain token events is taken whole
(``clients/token_frame.py``) and gives the same record as the event-by-event path."""

from __future__ import annotations

import asyncio
import threading

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
from tests.support.fake_clock import READ_LIMIT_S
from tests.support.scripted_server import ScriptedConnection, ScriptedRequest, ScriptedServer, chunk, sse_head

pytestmark = pytest.mark.skipif(not kernel_stamps_enabled(), reason="needs kernel receive stamps (Linux)")

HEAD = '{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"'
TAIL = '"},"logprobs":null,"finish_reason":null}]}'
FINAL = b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":2,"completion_tokens":4}}\n\n'


def _token(text: str) -> bytes:
    return f"data: {HEAD}{text}{TAIL}\n\n".encode()


class ReadsSeen:
    """Counts the client's reads of the body (spies on the decoder and the frame), so the script
    writes its next piece only once the client has read the last one: each write is one read."""

    def __init__(self) -> None:
        self.taken: list[int | None] = []
        self._reads = 0
        self._changed = threading.Condition()

    def note(self) -> None:
        with self._changed:
            self._reads += 1
            self._changed.notify_all()

    def wait_beyond(self, reads: int) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: self._reads > reads, READ_LIMIT_S), "the client did not read"

    async def write_and_wait(self, conn: ScriptedConnection, data: bytes) -> None:
        with self._changed:
            reads = self._reads
        await conn.write(data)
        await asyncio.to_thread(self.wait_beyond, reads)


def _spy(monkeypatch: pytest.MonkeyPatch) -> ReadsSeen:
    seen = ReadsSeen()
    feed, fold_read = SSEDecoder.feed, TokenFrame.fold_read

    def feed_spy(self: SSEDecoder, data: bytes) -> list[str]:
        seen.note()
        return feed(self, data)

    def fold_read_spy(self: TokenFrame, body: bytes, state: ResponseState) -> int | None:
        count = fold_read(self, body, state)
        seen.taken.append(count)
        if count is not None:
            seen.note()
        return count

    monkeypatch.setattr(SSEDecoder, "feed", feed_spy)
    monkeypatch.setattr(TokenFrame, "fold_read", fold_read_spy)
    return seen


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
    seen = _spy(monkeypatch)

    async def script(conn: ScriptedConnection, request: ScriptedRequest) -> bool:
        await seen.write_and_wait(conn, sse_head() + chunk(_token("a")))
        await seen.write_and_wait(conn, chunk(_token(" b") + _token(" c") + _token(" d")))  # one read of three
        await conn.write(chunk(FINAL + b"data: [DONE]\n\n") + chunk(b""))
        return True

    with ScriptedServer(script) as server:
        record = _send(server)
    assert record.success, record.error_message
    assert seen.taken[0] == 3  # the three-event read went whole; the last read (usage, [DONE]) did not
    assert record.output_text == "a b c d" and record.content_events == 4
    points = record.time_points_s
    assert len(points) == 5 and points[2] == points[3] == points[4]  # the send, then a; b, c, d: one read
    assert record.usage_output_tokens == 4
