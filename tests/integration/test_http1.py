"""The lean HTTP/1.1 client (``clients/http1.py``) as the engine drives it (``engine/request.py``).

Real HTTP on 127.0.0.1: a raw ``asyncio`` server when the exact bytes on the wire matter (what the
client writes, odd framings, closes and stalls at chosen moments), or a small ``aiohttp.web`` app.
Every test runs its server and its client in one coroutine on the workers' loop (``run_worker_loop``).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest
from aiohttp import web

from ais_bench.clients import http1
from ais_bench.clients.backends import OPENAI_CHAT, backend_for
from ais_bench.clients.http1 import ERROR_BODY_LIMIT, ConnectionPool, Endpoint, Exchange
from ais_bench.clients.loop import run_worker_loop
from ais_bench.clients.transport import kernel_stamps_enabled
from ais_bench.engine.attempt import Attempt
from ais_bench.engine.request import send_request

SPEC = backend_for(OPENAI_CHAT)
MAX_CHUNK = 65536
PATH = "/v1/chat/completions"
USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
STREAM_BODY = orjson.dumps(
    {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 2,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
)
FULL_REQUEST_BODY = orjson.dumps(
    {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": False}
)


def _chat_event(
    content: str | None = None, *, role: bool = False, usage: dict[str, int] | None = None
) -> bytes:
    """One SSE event carrying an OpenAI ``chat.completion.chunk`` (as vLLM sends them)."""
    payload: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
    }
    if usage is not None:
        payload.update(choices=[], usage=usage)
    else:
        delta = {"role": "assistant", "content": ""} if role else {"content": content}
        payload["choices"] = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}]
    return b"data: " + orjson.dumps(payload) + b"\n\n"


#: The role chunk, two tokens ("Hel", "lo") and the usage chunk: 4 events, then ``[DONE]``.
EVENTS = [_chat_event(role=True), _chat_event("Hel"), _chat_event("lo"), _chat_event(usage=USAGE)]
DONE = b"data: [DONE]\n\n"
FULL_BODY = orjson.dumps(
    {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}
        ],
        "usage": USAGE,
    }
)
TERMINATOR = b"0\r\n\r\n"


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _head(status: str, *headers: str) -> bytes:
    return "".join(line + "\r\n" for line in (f"HTTP/1.1 {status}", *headers)).encode() + b"\r\n"


SSE_HEAD = _head("200 OK", "Content-Type: text/event-stream", "Transfer-Encoding: chunked")
#: A whole chunked stream in one write: the events, [DONE] and the body's end arrive together.
SSE_RESPONSE = SSE_HEAD + b"".join(map(_chunk, [*EVENTS, DONE])) + TERMINATOR


def _json_response(status: str, body: bytes, *headers: str) -> bytes:
    return _head(status, "Content-Type: application/json", f"Content-Length: {len(body)}", *headers) + body


def _header(head: bytes, name: str) -> str | None:
    for line in head.decode("latin-1").split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None


Handler = Callable[["RawServer", asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class RawServer:
    """An ``asyncio`` server on 127.0.0.1: each accepted connection goes to ``handler``; it keeps the
    number of connections accepted and every request read (head bytes, body bytes)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[tuple[bytes, bytes]] = []
        self.port = 0
        self._writers: list[asyncio.StreamWriter] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PATH}"

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        for writer in self._writers:
            writer.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        try:
            await self.handler(self, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def read_request(self, reader: asyncio.StreamReader) -> tuple[bytes, bytes] | None:
        """The next request of the connection (head with its blank line, body); None at its end."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        body = await reader.readexactly(int(_header(head, "Content-Length") or 0))
        self.requests.append((head, body))
        return head, body


def _answer_each(response: bytes) -> Handler:
    """A keep-alive server answering every request of a connection with ``response``."""

    async def handler(server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await server.read_request(reader) is not None:
            writer.write(response)
            await writer.drain()

    return handler



def _two_requests_on_one_pool(handler: Handler, stream: bool) -> tuple[RawServer, list[Attempt]]:
    """Two requests, one after the other, through one pool to a raw server answering with ``handler``."""

    async def run() -> tuple[RawServer, list[Attempt]]:
        async with RawServer(handler) as server:
            pool = _pool(server.url)
            try:
                results = [(await _send(pool, server.url, stream=stream))[0] for _ in range(2)]
            finally:
                pool.close()
        return server, results

    return run_worker_loop(run())

def _pool(url: str, headers: dict[str, str] | None = None, timeout_s: float | None = None) -> ConnectionPool:
    return ConnectionPool(Endpoint.of(url, headers or {}), kernel_stamps_enabled(), timeout_s)


async def _send(
    pool: ConnectionPool,
    url: str,
    *,
    stream: bool = True,
    retry: int = 0,
    headers: dict[str, str] | None = None,
    started: list[Attempt] | None = None,
) -> tuple[Attempt, int]:
    body = STREAM_BODY if stream else FULL_REQUEST_BODY
    return await send_request(pool, SPEC, url, body, stream, retry, MAX_CHUNK, started, headers)


async def _start_web(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> tuple[web.AppRunner, str]:
    """A small ``aiohttp.web`` server answering ``POST PATH`` with ``handler``: (runner, url)."""
    app = web.Application()
    app.router.add_post(PATH, handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}{PATH}"


def _one_request(handler: Handler) -> tuple[Attempt, int]:
    """One streamed request, through a fresh pool, to a :class:`RawServer` running ``handler``."""

    async def run() -> tuple[Attempt, int]:
        async with RawServer(handler) as server:
            pool = _pool(server.url)
            try:
                return await _send(pool, server.url)
            finally:
                pool.close()

    return run_worker_loop(run())


def _assert_hello_streams_on_first_try(results: list[tuple[Attempt, int]]) -> None:
    for attempt, attempts in results:
        _assert_hello_stream(attempt)
        assert attempts == 1


def _assert_hello_stream(attempt: Attempt) -> None:
    assert attempt.error_kind is None, attempt.error_message
    assert attempt.events == len(EVENTS)
    assert len(attempt.points) - 1 == attempt.state.content_events  # only token events are stamped
    assert attempt.points == sorted(attempt.points)
    assert attempt.state.text == "Hello"
    assert attempt.state.content_events == 2
    assert (attempt.state.usage_input_tokens, attempt.state.usage_output_tokens) == (3, 2)


# --- 1. the request on the wire ------------------------------------------------------------------


def test_the_request_on_the_wire_has_the_expected_line_headers_and_body():
    async def run() -> tuple[RawServer, list[Attempt]]:
        async with RawServer(_answer_each(_json_response("200 OK", FULL_BODY))) as server:
            url = server.url + "?x=1"
            plain = _pool(url, {"Authorization": "Bearer k"})
            overriding = _pool(
                url,
                {
                    "Authorization": "Bearer k",
                    "content-type": "application/json; charset=utf-8",
                    "Host": "evil.example",
                    "Content-Length": "999",
                    "Connection": "close",
                    "Transfer-Encoding": "chunked",
                    "User-Agent": "probe/1",
                },
            )
            try:
                first, _ = await _send(plain, url, stream=False, headers={"X-Request-Id": "r1"})
                second, _ = await _send(overriding, url, stream=False, headers={"X-Request-Id": "r2"})
            finally:
                plain.close()
                overriding.close()
        return server, [first, second]

    server, attempts = run_worker_loop(run())
    for attempt in attempts:
        assert attempt.error_kind is None, attempt.error_message
        assert attempt.state.text == "Hello" and attempt.state.finish_reason == "stop"
    port = server.port
    n = len(FULL_REQUEST_BODY)
    (head1, body1), (head2, body2) = server.requests
    line = "POST /v1/chat/completions?x=1 HTTP/1.1"
    host = f"Host: 127.0.0.1:{port}"
    assert head1.decode().split("\r\n") == [
        line,
        host,
        "User-Agent: ais_bench",
        "Accept: */*",
        "Content-Type: application/json",
        "Accept-Encoding: identity",
        "Authorization: Bearer k",
        f"Content-Length: {n}",
        "X-Request-Id: r1",
        "",
        "",
    ]
    # The user's Content-Type (and User-Agent) replace the defaults; Host, Content-Length, Connection
    # and Transfer-Encoding from the user's dict are not written: the client writes the framing itself.
    assert head2.decode().split("\r\n") == [
        line,
        host,
        "Accept: */*",
        "Accept-Encoding: identity",
        "Authorization: Bearer k",
        "content-type: application/json; charset=utf-8",
        "User-Agent: probe/1",
        f"Content-Length: {n}",
        "X-Request-Id: r2",
        "",
        "",
    ]
    names = [line.split(":")[0].lower() for line in head2.decode().split("\r\n")[1:] if line]
    for name in ("host", "content-length", "content-type"):
        assert names.count(name) == 1
    assert "connection" not in names and "transfer-encoding" not in names
    assert body1 == body2 == FULL_REQUEST_BODY
    assert server.connections == 2  # one per pool


# --- 2. keep-alive ------------------------------------------------------------------------------


def test_sequential_streamed_requests_reuse_one_keep_alive_connection():
    transports: list[object] = []
    seen_ids: list[str] = []

    async def stream(request: web.Request) -> web.StreamResponse:
        transports.append(request.transport)
        seen_ids.append(request.headers["X-Request-Id"])
        assert (await request.json())["stream"] is True
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for event in EVENTS:
            await resp.write(event)
        await resp.write_eof(DONE)  # [DONE] and the chunked terminator in one write
        return resp

    async def run() -> list[tuple[Attempt, int]]:
        runner, url = await _start_web(stream)
        pool = _pool(url)
        try:
            return [await _send(pool, url, headers={"X-Request-Id": f"k{i}"}) for i in range(5)]
        finally:
            pool.close()
            await runner.cleanup()

    results = run_worker_loop(run())
    _assert_hello_streams_on_first_try(results)
    assert seen_ids == ["k0", "k1", "k2", "k3", "k4"]
    assert len(transports) == 5
    assert len({id(transport) for transport in transports}) == 1  # one TCP connection for all five


# --- 3. response framings -----------------------------------------------------------------------


def _framed(pieces: list[bytes], framing: str, content_type: str) -> bytes:
    if framing == "chunked":
        return (
            _head("200 OK", content_type, "Transfer-Encoding: chunked")
            + b"".join(map(_chunk, pieces))
            + TERMINATOR
        )
    body = b"".join(pieces)
    if framing == "content-length":
        return _head("200 OK", content_type, f"Content-Length: {len(body)}") + body
    return _head("200 OK", content_type, "Connection: close") + body  # delimited by the end of the connection


@pytest.mark.parametrize("stream", [True, False], ids=["sse", "json"])
@pytest.mark.parametrize("framing", ["chunked", "content-length", "close"])
def test_every_response_framing_parses(framing: str, stream: bool):
    if stream:
        response = _framed([*EVENTS, DONE], framing, "Content-Type: text/event-stream")
    else:
        response = _framed([FULL_BODY], framing, "Content-Type: application/json")

    async def handler(server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await server.read_request(reader) is not None:
            writer.write(response)
            await writer.drain()
            if framing == "close":
                return  # the body ends with the connection

    server, results = _two_requests_on_one_pool(handler, stream)
    for attempt in results:
        if stream:
            _assert_hello_stream(attempt)
        else:
            assert attempt.error_kind is None, attempt.error_message
            assert len(attempt.points) == 2 and attempt.points[1] >= attempt.points[0]
            assert attempt.state.text == "Hello" and attempt.state.finish_reason == "stop"
            assert attempt.state.content_events == 1
            assert (attempt.state.usage_input_tokens, attempt.state.usage_output_tokens) == (3, 2)
    assert len(server.requests) == 2
    assert server.connections == (2 if framing == "close" else 1)


# --- 4. a keep-alive connection the server closes -------------------------------------------------


def test_a_connection_the_server_closed_while_idle_is_not_reused():
    """The server closes an idle connection after 30 ms; the client noticed (the loop read the end of
    the connection) and opens a new one: no retry needed."""

    async def handler(server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                request = await asyncio.wait_for(server.read_request(reader), 0.03)
            except asyncio.TimeoutError:
                return  # idle timeout: close
            if request is None:
                return
            writer.write(SSE_RESPONSE)
            await writer.drain()

    async def run() -> tuple[RawServer, list[tuple[Attempt, int]]]:
        async with RawServer(handler) as server:
            pool = _pool(server.url)
            try:
                first = await _send(pool, server.url)
                await asyncio.sleep(0.1)
                second = await _send(pool, server.url, retry=0)
            finally:
                pool.close()
        return server, [first, second]

    server, results = run_worker_loop(run())
    _assert_hello_streams_on_first_try(results)
    assert server.connections == 2


def test_a_request_on_a_keep_alive_connection_the_server_closed_goes_again_on_a_new_one():
    """The keep-alive race (issue 14, item 5): the server answers one request per connection, then
    reads the next one and closes without answering (no ``Connection: close``). The request never
    reached the server's application: it goes again on a new connection, within the same attempt
    (``retry=0`` is not touched), as every HTTP client does."""

    async def handler(server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if await server.read_request(reader) is None:
            return
        writer.write(SSE_RESPONSE)
        await writer.drain()
        await server.read_request(reader)  # read whole (a close then sends FIN, not RST) and drop it

    async def run() -> tuple[RawServer, list[tuple[Attempt, int]]]:
        async with RawServer(handler) as server:
            pool = _pool(server.url)
            try:
                results = [await _send(pool, server.url, retry=0) for _ in range(4)]
            finally:
                pool.close()
        return server, results

    server, results = run_worker_loop(run())
    _assert_hello_streams_on_first_try(results)
    assert server.connections == 4  # requests 2, 3 and 4 each found their connection closed
    assert len(server.requests) == 7


def test_a_new_connection_closed_before_the_response_is_a_failure_not_sent_again():
    """Only a *reused* connection is presumed stale: on a new one the close is the server's answer."""

    async def handler(server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)

    async def run() -> tuple[RawServer, tuple[Attempt, int]]:
        async with RawServer(handler) as server:
            pool = _pool(server.url)
            try:
                result = await _send(pool, server.url, retry=0)
            finally:
                pool.close()
        return server, result

    server, (attempt, attempts) = run_worker_loop(run())
    assert attempt.error_kind == "protocol" and attempt.retryable is True and attempts == 1
    assert (
        attempt.error_message
        == "stream ended early after 0 events: server closed the connection before the response"
    )
    assert len(attempt.points) == 1
    assert server.connections == 1 and len(server.requests) == 1


# --- 5. non-200 responses -----------------------------------------------------------------------


def test_a_503_is_an_http_status_error_with_the_server_message_and_the_connection_is_kept():
    error_body = orjson.dumps({"error": {"message": "overloaded"}})

    async def handler(server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (request := await server.read_request(reader)) is not None:
            if _header(request[0], "X-Request-Id") == "fail":
                writer.write(_json_response("503 Service Unavailable", error_body))
            else:
                writer.write(SSE_RESPONSE)
            await writer.drain()

    async def run() -> tuple[RawServer, list[tuple[Attempt, int]]]:
        async with RawServer(handler) as server:
            pool = _pool(server.url)
            try:
                failed = await _send(pool, server.url, retry=2, headers={"X-Request-Id": "fail"})
                ok = await _send(pool, server.url, headers={"X-Request-Id": "ok"})
            finally:
                pool.close()
        return server, [failed, ok]

    server, ((failed, attempts), (ok, _)) = run_worker_loop(run())
    assert failed.error_kind == "http_status"
    assert failed.http_status == 503
    assert failed.error_message == "HTTP 503 Service Unavailable: overloaded"
    assert "HTTP 503 Service Unavailable" in failed.error_message and "overloaded" in failed.error_message
    assert failed.retryable is False and attempts == 1  # not retried despite retry=2
    assert len(failed.points) == 2 and failed.points[1] >= failed.points[0]
    _assert_hello_stream(ok)
    assert server.connections == 1


def test_a_huge_error_body_is_cut_to_the_limit_and_the_connection_still_serves():
    big = b'{"error": {"message": "' + b"x" * (1 << 20) + b'"}}'

    async def handler(server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (request := await server.read_request(reader)) is not None:
            if _header(request[0], "X-Request-Id") == "big":
                writer.write(_json_response("503 Service Unavailable", big))
            else:
                writer.write(SSE_RESPONSE)
            await writer.drain()

    async def run() -> tuple[RawServer, Exchange, list[tuple[Attempt, int]]]:
        async with RawServer(handler) as server:
            pool = _pool(server.url)
            try:
                connection = await pool.acquire()
                exchange = Exchange(asyncio.get_running_loop(), None, None)
                connection.send(pool.endpoint.request(STREAM_BODY, {"X-Request-Id": "big"}), exchange)
                await asyncio.wait_for(exchange.done, 2.0)
                failed = await _send(pool, server.url, headers={"X-Request-Id": "big"})
                ok = await _send(pool, server.url, headers={"X-Request-Id": "ok"})
            finally:
                pool.close()
        return server, exchange, [failed, ok]

    server, exchange, ((failed, _), (ok, _)) = run_worker_loop(run())
    assert exchange.status == 503 and exchange.reason == "Service Unavailable"
    assert exchange.body_bytes == len(big)  # all read ...
    assert len(exchange.body) == ERROR_BODY_LIMIT == 4096  # ... the first 4096 bytes kept
    assert bytes(exchange.body) == big[:4096]
    assert failed.error_kind == "http_status" and failed.http_status == 503
    # The kept part is not valid JSON: its first 200 characters are the message.
    assert failed.error_message == "HTTP 503 Service Unavailable: " + big[:200].decode()
    _assert_hello_stream(ok)
    assert server.connections == 1  # the 1 MB was drained and the connection reused


# --- 6. a stream cut short ------------------------------------------------------------------------


@pytest.mark.parametrize("framing", ["chunked", "content-length"])
def test_a_server_that_stops_mid_stream_gives_a_protocol_error(framing: str):
    whole = _framed([*EVENTS, DONE], framing, "Content-Type: text/event-stream")
    first_two = _framed(EVENTS[:2], framing, "Content-Type: text/event-stream")
    if framing == "chunked":
        cut = first_two[: -len(TERMINATOR)]  # two chunks, no terminator
    else:
        cut = whole[: len(whole) - len(b"".join([*EVENTS[2:], DONE]))]  # Content-Length of all, 2 events sent

    async def handler(server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if await server.read_request(reader) is not None:
            writer.write(cut)
            await writer.drain()

    attempt, attempts = _one_request(handler)
    assert attempt.error_kind == "protocol"
    assert attempt.error_message.startswith("stream ended early after 2 events")
    assert attempt.error_message == (
        "stream ended early after 2 events: server closed the connection before the response ended"
    )
    assert len(attempt.points) == 2  # the send and the one token event (the role chunk is not one)
    assert attempt.state.text == "Hel"
    assert attempts == 1


# --- 7. REQUEST_TIME_OUT and unreachable servers ---------------------------------------------------


def test_a_stalled_response_times_out_as_read_timeout():
    async def run() -> tuple[Attempt, int, float, bool]:
        client_left = asyncio.Event()

        async def handler(
            server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> None:
            if await server.read_request(reader) is not None:
                writer.write(SSE_HEAD + _chunk(EVENTS[1]))  # headers and one event, then nothing
                await writer.drain()
                await reader.read()  # until the client goes away
                client_left.set()

        async with RawServer(handler) as server:
            pool = _pool(server.url, timeout_s=0.3)
            try:
                start = time.perf_counter()
                attempt, attempts = await _send(pool, server.url, retry=0)
                elapsed = time.perf_counter() - start
                await asyncio.wait_for(client_left.wait(), 10.0)  # returns once set: generous for a loaded machine
            finally:
                pool.close()
        return attempt, attempts, elapsed, client_left.is_set()

    attempt, attempts, elapsed, client_left = run_worker_loop(run())
    assert attempt.error_kind == "read_timeout"
    assert attempt.error_message == "timed out after 1 events (REQUEST_TIME_OUT)"
    assert attempt.retryable is True and attempts == 1
    assert attempt.state.text == "Hel" and len(attempt.points) == 2
    # Never before REQUEST_TIME_OUT (0.3 s); a loaded machine may end it late, so the upper bound only
    # rules out a timeout that never fires (the test would hang) or one taken from somewhere else.
    assert 0.29 <= elapsed < 0.3 + 5
    assert client_left  # the client closed the connection it gave up on


def test_a_port_with_nothing_listening_is_a_connect_error():
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
    url = f"http://127.0.0.1:{closed.getsockname()[1]}{PATH}"

    async def run() -> tuple[Attempt, int, float]:
        pool = _pool(url, timeout_s=1.0)
        start = time.perf_counter()
        try:
            attempt, attempts = await _send(pool, url, retry=1)
        finally:
            pool.close()
        return attempt, attempts, time.perf_counter() - start

    try:
        attempt, attempts, elapsed = run_worker_loop(run())
    finally:
        closed.close()
    assert attempt.error_kind == "connect"
    assert "cannot reach" in attempt.error_message and "connection refused" in attempt.error_message
    assert attempt.error_message == f"cannot reach {url}: connection refused"
    assert attempt.retryable is True and attempts == 2  # a connect error is retried
    assert len(attempt.points) == 1
    # Refused at once: two attempts that each waited for REQUEST_TIME_OUT (1 s) would take >= 2 s.
    assert elapsed < 2 * 1.0


def _send_to_a_full_listen_queue(make_pool: Callable[[str], ConnectionPool]) -> tuple[Attempt, float, str]:
    """Send one request to a listener that never accepts and whose queue is full, so the handshake
    gets no answer; returns (attempt, seconds it took, url)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)  # never accepted: once its queue is full, further handshakes get no answer
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    url = f"http://127.0.0.1:{port}{PATH}"

    async def run() -> tuple[Attempt, float]:
        await asyncio.sleep(0.02)
        pool = make_pool(url)
        start = time.perf_counter()
        try:
            attempt, _ = await _send(pool, url)
        finally:
            pool.close()
        return attempt, time.perf_counter() - start

    try:
        attempt, elapsed = run_worker_loop(run())
    finally:
        for sock in [*fillers, listener]:
            sock.close()
    return attempt, elapsed, url


def test_a_connect_that_runs_out_of_time_is_a_connect_timeout():
    """REQUEST_TIME_OUT covers the connect: a handshake that gets no answer ends after 0.3 s as
    ``connect_timeout`` (not ``connect``, not ``read_timeout``)."""
    attempt, elapsed, _ = _send_to_a_full_listen_queue(lambda url: _pool(url, timeout_s=0.3))
    assert 0.29 <= elapsed < 0.3 + 5  # at REQUEST_TIME_OUT, never before; late only on a loaded machine
    assert attempt.error_kind == "connect_timeout"
    assert attempt.error_message == "timed out after 0 events (REQUEST_TIME_OUT)"
    assert attempt.retryable is True and len(attempt.points) == 1


# --- 8. a response split in awkward places ---------------------------------------------------------


async def _trickle(writer: asyncio.StreamWriter, data: bytes, piece: int = 1) -> None:
    """Write ``data`` ``piece`` bytes at a time, letting the client read between writes."""
    for i in range(0, len(data), piece):
        writer.write(data[i : i + piece])
        await writer.drain()
        await asyncio.sleep(0.0002)


@pytest.mark.parametrize("piece", [1, 3])
def test_a_response_written_in_small_pieces_decodes_every_event(piece: int):
    async def handler(server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await server.read_request(reader) is not None:
            await _trickle(writer, SSE_RESPONSE, piece)

    attempt, attempts = _one_request(handler)
    _assert_hello_stream(attempt)
    assert attempts == 1
    assert attempt.events == len(EVENTS)
    assert len(attempt.points) - 1 == attempt.state.content_events
    if piece == 1:
        assert len(set(attempt.points[1:])) == attempt.state.content_events  # each event in a read of its own


def test_a_reason_phrase_split_across_reads_is_kept_whole():
    response = _json_response("503 Service Unavailable", orjson.dumps({"error": {"message": "overloaded"}}))

    async def handler(server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await server.read_request(reader) is not None:
            await _trickle(writer, response, 1)

    attempt, _ = _one_request(handler)
    assert attempt.error_kind == "http_status" and attempt.http_status == 503
    assert attempt.error_message == "HTTP 503 Service Unavailable: overloaded"


# --- 9. [DONE] before the end of the body -------------------------------------------------------------


def test_done_returns_at_once_and_the_connection_is_reused_once_the_body_ends():
    """The server holds the body's end until the client has returned (or 10 s, never on a client that
    returns at [DONE]): a client that waited for the body's end would make it time out."""
    times: dict[str, list[float]] = {"done": [], "end": []}
    held_until_returned: list[bool] = []
    returned_event = asyncio.Event()

    async def handler(server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await server.read_request(reader) is not None:
            writer.write(SSE_HEAD + b"".join(map(_chunk, [*EVENTS, DONE])))
            await writer.drain()
            times["done"].append(time.perf_counter())
            try:
                await asyncio.wait_for(returned_event.wait(), 10.0)
                held_until_returned.append(True)
            except asyncio.TimeoutError:
                held_until_returned.append(False)
            returned_event.clear()
            writer.write(TERMINATOR)
            await writer.drain()
            times["end"].append(time.perf_counter())

    async def run() -> tuple[RawServer, list[tuple[Attempt, int, float]]]:
        async with RawServer(handler) as server:
            pool = _pool(server.url)
            results = []
            try:
                for _ in range(2):
                    attempt, attempts = await _send(pool, server.url)
                    results.append((attempt, attempts, time.perf_counter()))
                    returned_event.set()
                    await asyncio.sleep(0.3)  # the terminator arrives meanwhile (else the pool waits for it)
            finally:
                pool.close()
        return server, results

    server, results = run_worker_loop(run())
    assert held_until_returned == [True, True]  # returned at [DONE], before the body's end was sent
    for (attempt, attempts, returned), done_s, end_s in zip(
        results, times["done"], times["end"], strict=True
    ):
        _assert_hello_stream(attempt)
        assert attempts == 1
        assert done_s <= returned <= end_s
        # The last event arrived with the write that [DONE] ended (the 10 ms only covers moving the
        # kernel stamp to perf_counter).
        assert attempt.points[-1] <= done_s + 0.01
    assert server.connections == 1  # the connection was reused once the body ended


# --- a bug: the drain of a finished exchange hits the next one ----------------------------------------


def test_a_finished_request_does_not_close_the_connection_another_request_took_over(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(http1, "DRAIN_GRACE_S", 0.2)  # 5 s in production; the same with a shorter stream

    async def handler(server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (request := await server.read_request(reader)) is not None:
            if _header(request[0], "X-Request-Id") == "a":
                writer.write(SSE_RESPONSE)  # events, [DONE] and the body's end in one read
            else:  # "b": a longer stream (longer than the drain grace)
                writer.write(SSE_HEAD + b"".join(map(_chunk, EVENTS[:2])))
                await writer.drain()
                await asyncio.sleep(0.5)
                writer.write(b"".join(map(_chunk, [*EVENTS[2:], DONE])) + TERMINATOR)
            await writer.drain()

    async def run() -> tuple[RawServer, tuple[Attempt, int], tuple[Attempt, int]]:
        async with RawServer(handler) as server:
            pool = _pool(server.url)
            started_a: list[Attempt] = []

            async def request_b() -> tuple[Attempt, int]:
                # Another lane starts a request as soon as A's response has been read, before A's
                # coroutine resumes: it gets A's connection, which is back in the pool.
                while not (started_a and len(started_a[0].points) > 1):
                    await asyncio.sleep(0)
                return await _send(pool, server.url, headers={"X-Request-Id": "b"})

            try:
                task_b = asyncio.create_task(request_b())
                a = await _send(pool, server.url, headers={"X-Request-Id": "a"}, started=started_a)
                b = await task_b
            finally:
                pool.close()
        return server, a, b

    server, (a, _), (b, _) = run_worker_loop(run())
    _assert_hello_stream(a)
    assert server.connections == 1  # B went out on A's connection
    _assert_hello_stream(b)


def test_a_request_that_waited_too_long_for_a_draining_connection_opens_a_new_one(
    monkeypatch: pytest.MonkeyPatch,
):
    """The first response ends with [DONE] but its body's end comes only much later: the next
    request waits DRAIN_WAIT_S for that connection, then closes it and goes out on a new one."""
    monkeypatch.setattr(http1, "DRAIN_WAIT_S", 0.1)  # 1 s in production
    body_end_sent = asyncio.Event

    async def run() -> tuple[RawServer, list[tuple[Attempt, int]], bool]:
        held = body_end_sent()

        async def handler(server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            first = server.connections == 1
            while await server.read_request(reader) is not None:
                if not first:
                    writer.write(SSE_RESPONSE)
                    await writer.drain()
                    continue
                writer.write(SSE_HEAD + b"".join(map(_chunk, [*EVENTS, DONE])))  # no body end yet
                await writer.drain()
                try:
                    await asyncio.wait_for(held.wait(), 10.0)  # until the second request is answered
                    writer.write(TERMINATOR)
                    await writer.drain()
                except (asyncio.TimeoutError, ConnectionError):
                    pass

        async with RawServer(handler) as server:
            pool = _pool(server.url)
            try:
                results = [await _send(pool, server.url), await _send(pool, server.url)]
                first_still_open = pool.open_connections > 1
                held.set()
            finally:
                pool.close()
        return server, results, first_still_open

    server, results, first_still_open = run_worker_loop(run())
    _assert_hello_streams_on_first_try(results)
    assert server.connections == 2  # the second request gave up on the first connection
    assert not first_still_open  # which the client closed when it gave up


# --- 10. a stale abort never touches the next request on the connection ---------------------------


def test_aborting_a_finished_exchange_leaves_the_next_request_on_the_connection_alone():
    """A consumer that fails after its response ended (e.g. the JSON of an event parsed one loop turn
    later) aborts its own exchange; by then the connection may already carry the next request."""

    async def stream(request: web.Request) -> web.StreamResponse:
        await request.read()
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await asyncio.sleep(0.05)
        for event in EVENTS:
            await resp.write(event)
        await resp.write_eof(DONE)
        return resp

    async def run() -> tuple[bool, Exchange]:
        runner, url = await _start_web(stream)
        pool = _pool(url)
        loop = asyncio.get_running_loop()
        try:
            first_connection = await pool.acquire()
            first = Exchange(loop, None, None)
            first_connection.send(pool.endpoint.request(STREAM_BODY), first)
            await asyncio.wait_for(first.done, 2)
            connection = await pool.acquire()
            second = Exchange(loop, None, None)
            connection.send(pool.endpoint.request(STREAM_BODY), second)
            first_connection.abort(first)  # stale: the first response is over
            await asyncio.wait_for(second.done, 2)
            return connection is first_connection, second
        finally:
            pool.close()
            await runner.cleanup()

    reused, second = run_worker_loop(run())
    assert reused
    assert second.status == 200
    assert bytes(second.body).count(b"data: ") == len(EVENTS) + 1  # every event and [DONE]


@pytest.mark.processes
def test_malformed_events_never_leave_a_request_waiting(tmp_path):
    """Through the engine: a third of the streams carry an event whose JSON is cut; each of those
    requests fails with the parse error and no request is left waiting (REQUEST_TIME_OUT would turn a
    wait into a timeout). The race a soak run found (the deferred parse error of a finished stream
    aborting the next request on its connection) needs a busier client than this to show; the test
    above pins the contract that fixes it."""
    from ais_bench.datasets.item import RequestItem
    from ais_bench.engine.plan import RunPlan
    from ais_bench.engine.preflight import encode_bodies
    from ais_bench.engine.runner import run_benchmark
    from ais_bench.records.store import read_records
    from ais_bench.sim import SimConfig, start_sim_process

    items = [RequestItem(index=i, prompt=f"hi {i}", data_abbr="ds") for i in range(240)]
    bodies = encode_bodies(
        SPEC, items, model="sim-model", stream=True, max_out_len=8, generation_kwargs={"ignore_eos": True}
    )
    cfg = SimConfig(
        max_num_seqs=32, decode_base_ms=1.0, decode_per_seq_ms=0.0, prefill_base_ms=0.0,
        prefill_per_token_ms=0.0, malformed_rate=0.3, seed=7,
    )
    with start_sim_process(cfg) as sim:
        plan = RunPlan(
            backend=OPENAI_CHAT, url=sim.url + PATH, headers={}, stream=True,
            items=items, bodies=bodies, batch_size=32, workers=1,
            record_dir=tmp_path, data_abbr="ds", request_timeout_s=3.0,
        )
        outcome = run_benchmark(plan)
    records = read_records(tmp_path, "ds")
    assert len(records) == outcome.totals.finished == 240
    kinds = [rec.error_kind for rec in records if not rec.success]
    assert kinds and set(kinds) == {"decode"}  # the cut JSON of the event; never a timeout


# --- 11. a reset that arrives together with data -----------------------------------------------------


def test_a_reset_that_arrives_together_with_the_last_data_ends_the_request():
    """The server sends two events and resets the connection while the client's loop is busy, so the
    loop learns of the data and the reset at once (libuv then calls the reader once and drops it)."""
    import struct
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    def serve_and_reset() -> None:
        conn, _ = listener.accept()
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        head = _head("200 OK", "Content-Type: text/event-stream", "Transfer-Encoding: chunked")
        time.sleep(0.1)  # the client's loop is busy by now
        conn.sendall(head + _chunk(EVENTS[0]) + _chunk(EVENTS[1]))
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()  # RST
        listener.close()

    server = threading.Thread(target=serve_and_reset, daemon=True)
    server.start()
    url = f"http://127.0.0.1:{port}{PATH}"

    async def run() -> tuple[Attempt, float]:
        pool = _pool(url, timeout_s=3.0)
        asyncio.get_running_loop().call_later(0.01, time.sleep, 0.3)  # busy while data and reset arrive
        began = time.perf_counter()
        attempt, _ = await _send(pool, url)
        pool.close()
        return attempt, time.perf_counter() - began

    attempt, took_s = run_worker_loop(run())
    server.join(2)
    assert attempt.error_kind == "protocol", attempt.error_message
    assert attempt.error_message.startswith("stream ended early after")
    assert "reset" in attempt.error_message
    assert took_s < 3.0  # seen at once (after the 0.3 s busy spell), not at the 3 s REQUEST_TIME_OUT


# --- 12. connections: never more than requests in flight (issue 14, items 2 and 5) ---------------------


def test_a_request_after_done_waits_for_the_connection_instead_of_opening_another():
    """``[DONE]`` arrives, the body's end 0.1 s later: the lane's next request waits for that
    connection to come back to the pool rather than opening a second one (a gateway that accepts
    exactly batch_size connections would never answer the second)."""

    async def handler(server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await server.read_request(reader) is not None:
            writer.write(SSE_HEAD + b"".join(map(_chunk, [*EVENTS, DONE])))
            await writer.drain()
            await asyncio.sleep(0.1)
            writer.write(TERMINATOR)
            await writer.drain()

    async def run() -> tuple[RawServer, list[tuple[Attempt, int]], list[int]]:
        async with RawServer(handler) as server:
            pool = _pool(server.url)
            open_counts = []
            try:
                results = []
                for _ in range(3):
                    results.append(await _send(pool, server.url))
                    open_counts.append(pool.open_connections)
            finally:
                pool.close()
        return server, results, open_counts

    server, results, open_counts = run_worker_loop(run())
    _assert_hello_streams_on_first_try(results)
    assert server.connections == 1
    assert open_counts == [1, 1, 1]


def test_a_connection_waited_for_that_the_server_closes_right_after_its_body_is_replaced():
    """The body's end and the server's close arrive in one read, while the next request waits for
    that connection: it must open a new one, not write into the closed one and wait forever (a soak
    run hung so). The server runs in its own thread, so both arrive while the client's loop is
    blocked; REQUEST_TIME_OUT only keeps a regression from hanging the suite."""
    from tests.support.scripted_server import ScriptedServer, chat_events, chunk, sse_head

    async def script(conn, request) -> bool:  # type: ignore[no-untyped-def]
        await conn.write(sse_head() + b"".join(chunk(event) for event in chat_events(["Hel", "lo"])))
        await asyncio.sleep(0.05)
        await conn.write(chunk(b""))
        return False  # close, without "Connection: close"

    async def run(url: str) -> list[tuple[Attempt, int, float]]:
        pool = _pool(url, timeout_s=10.0)
        loop = asyncio.get_running_loop()
        results = []
        try:
            for _ in range(3):
                began = time.perf_counter()
                attempt, attempts = await _send(pool, url)
                results.append((attempt, attempts, time.perf_counter() - began))
                loop.call_soon(time.sleep, 0.3)  # blocked while the body's end and the close arrive
        finally:
            pool.close()
        return results

    with ScriptedServer(script) as server:
        results = run_worker_loop(run(server.base_url + PATH.lstrip("/")))
        log = server.snapshot()
    for attempt, attempts, took_s in results:
        assert attempt.error_kind is None, attempt.error_message
        assert attempt.state.text == "Hello" and attempts == 1
        assert took_s < 10  # never the 10 s REQUEST_TIME_OUT
    assert log.connections_accepted == len(log.requests) == 3


def test_an_idle_connection_is_closed_and_not_reused():
    """A connection left idle longer than ``idle_close_s`` is closed by the client (the server sees
    its end) and the next request opens a new one."""
    closed = asyncio.Event

    async def run() -> tuple[RawServer, list[tuple[Attempt, int]], int]:
        saw_end = closed()

        async def handler(server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while await server.read_request(reader) is not None:
                writer.write(SSE_RESPONSE)
                await writer.drain()
            saw_end.set()

        async with RawServer(handler) as server:
            pool = ConnectionPool(Endpoint.of(server.url, {}), kernel_stamps_enabled(), idle_close_s=0.2)
            try:
                first = await _send(pool, server.url)
                await asyncio.wait_for(saw_end.wait(), 10)  # the client closed the idle connection
                open_after = pool.open_connections
                second = await _send(pool, server.url)
            finally:
                pool.close()
        return server, [first, second], open_after

    server, results, open_after = run_worker_loop(run())
    _assert_hello_streams_on_first_try(results)
    assert open_after == 0
    assert server.connections == 2


def test_a_connect_that_gets_no_answer_fails_within_the_connect_timeout():
    """No REQUEST_TIME_OUT: the connect still ends, after the pool's connect timeout, with a reason."""
    attempt, elapsed, url = _send_to_a_full_listen_queue(lambda url: ConnectionPool(Endpoint.of(url, {}), False, None, connect_timeout_s=0.3))
    assert 0.29 <= elapsed < 10
    assert attempt.error_kind == "connect_timeout"
    assert attempt.error_message == (
        f"cannot reach {url}: no connection within 0.3 s (the server accepts no more connections, "
        "or nothing answers at this address)"
    )


# --- 13. interim responses, redirects, compressed and non-stream answers (issue 14, items 10, 11) ------


@pytest.mark.parametrize("interim", [
    b"HTTP/1.1 100 Continue\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n",
], ids=["100", "100+103"])
@pytest.mark.parametrize("stream", [True, False], ids=["sse", "json"])
def test_interim_1xx_responses_before_the_real_one_are_skipped(interim: bytes, stream: bool):
    response = SSE_RESPONSE if stream else _json_response("200 OK", FULL_BODY)

    async def handler(server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await server.read_request(reader) is not None:
            writer.write(interim)
            await writer.drain()
            await asyncio.sleep(0.01)
            writer.write(response)
            await writer.drain()

    server, results = _two_requests_on_one_pool(handler, stream)
    for attempt in results:
        assert attempt.error_kind is None, attempt.error_message
        assert attempt.state.text == "Hello"
        if stream:
            _assert_hello_stream(attempt)
    assert server.connections == 1  # the connection stays usable after the interim responses


def _gzip_stream() -> bytes:
    import gzip

    body = gzip.compress(b"".join([*EVENTS, DONE]))
    return _head("200 OK", "Content-Type: text/event-stream", "Content-Encoding: gzip",
                 "Transfer-Encoding: chunked") + _chunk(body) + TERMINATOR


#: Responses the client cannot use, and the reason each must give.
UNUSABLE = {
    "redirect": (
        _head("307 Temporary Redirect", "Location: /v2/chat/completions", "Content-Length: 0"),
        "http_status",
        "HTTP 307 Temporary Redirect: server redirected to /v2/chat/completions; point url there",
    ),
    "gzip": (
        _gzip_stream(),
        "protocol",
        "server sent a gzip-compressed body although the client asked for an uncompressed one "
        "(Accept-Encoding: identity); turn response compression off in the server or proxy",
    ),
    "json": (
        _json_response("200 OK", FULL_BODY),
        "protocol",
        "server answered a stream request with a JSON body instead of an event stream; check that this "
        "API streams (or set stream=False in the model config); it sent: ",
    ),
}


@pytest.mark.parametrize("case", list(UNUSABLE))
def test_a_response_the_load_cannot_use_fails_with_a_reason_that_says_why(case: str):
    response, kind, reason = UNUSABLE[case]
    attempt, attempts = _one_request(_answer_each(response))
    assert attempt.error_kind == kind
    assert attempt.error_message.startswith(reason), attempt.error_message
    assert attempts == 1


@pytest.mark.parametrize("case", list(UNUSABLE))
def test_the_warm_up_and_the_load_give_the_same_reason(case: str):
    """The warm-up goes through the same client as the load: it neither follows the redirect to a
    working address nor decompresses, so it cannot pass while every request of the load fails."""
    from ais_bench.engine.warmup import run_warmup

    response, _, reason = UNUSABLE[case]
    good = SSE_RESPONSE

    async def handler(server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (request := await server.read_request(reader)) is not None:
            writer.write(good if request[0].startswith(b"POST /v2/") else response)
            await writer.drain()

    async def run() -> tuple[str | None, int, Attempt]:
        async with RawServer(handler) as server:
            warm_pool = _pool(server.url, timeout_s=5.0)
            try:
                warmup = await run_warmup(
                    warm_pool, SPEC, server.url, [STREAM_BODY] * 2, concurrency=2, stream=True,
                    max_chunk_bytes=MAX_CHUNK,
                )
            finally:
                warm_pool.close()
            pool = _pool(server.url)
            try:
                attempt, _ = await _send(pool, server.url)
            finally:
                pool.close()
        return warmup.first_error, warmup.succeeded, attempt

    first_error, succeeded, attempt = run_worker_loop(run())
    assert succeeded == 0
    assert first_error == attempt.error_message
    assert attempt.error_message.startswith(reason)


def test_a_url_with_user_and_password_sends_basic_credentials_as_aiohttp_does():
    """The warm-up used to send them (aiohttp) while the load did not: now both do."""
    import base64

    async def run() -> RawServer:
        async with RawServer(_answer_each(_json_response("200 OK", FULL_BODY))) as server:
            url = server.url.replace("http://", "http://us%40er:p%3Ass@")
            pool = _pool(url)
            try:
                attempt, _ = await _send(pool, url, stream=False)
            finally:
                pool.close()
            assert attempt.error_kind is None, attempt.error_message
        return server

    server = run_worker_loop(run())
    (head, _), = server.requests
    assert _header(head, "Authorization") == "Basic " + base64.b64encode(b"us@er:p:ss").decode()
    assert _header(head, "Host") == f"127.0.0.1:{server.port}"
