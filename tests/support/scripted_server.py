"""A misbehaving HTTP server on 127.0.0.1, scripted byte for byte, run in a background thread.

The load tests of the CLI (a subprocess) and of the engine need servers that do what real servers
and gateways sometimes do: answer with odd bytes, close connections without saying so, accept only a
few connections, stall. Each request of a connection is handed to ``script(conn, request)``, an async
function that writes raw bytes with ``conn.write`` and returns whether the connection stays open.
``GET /v1/models`` is answered by the server itself unless ``answer_models=False``.

The server keeps what tests assert on: every request (head and body), the connections accepted, the
connections open now and at most, all under a lock because the test thread reads them.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

MODELS_BODY = json.dumps({"object": "list", "data": [{"id": "scripted-model", "object": "model"}]}).encode()


@dataclass(frozen=True)
class ScriptedRequest:
    """One request as read from the wire: the request line, headers (lower-case names) and body."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class ScriptedConnection:
    """What a script can do with the connection of the request it answers."""

    def __init__(self, writer: asyncio.StreamWriter, index: int) -> None:
        self._writer = writer
        self.index = index  # 0 for the first connection the server accepted
        self.requests_answered = 0

    async def write(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()

    def abort(self) -> None:
        """Reset the connection (RST) instead of closing it."""
        transport = self._writer.transport
        transport.abort()


Script = Callable[[ScriptedConnection, ScriptedRequest], Awaitable[bool]]


@dataclass
class ServerLog:
    requests: list[ScriptedRequest] = field(default_factory=list)
    connections_accepted: int = 0
    connections_open: int = 0
    max_connections_open: int = 0


class ScriptedServer:
    """``with ScriptedServer(script) as server: ... server.url ...``.

    ``max_connections``: the server accepts at most this many connections at a time, like a gateway
    with a connection limit; further connections wait in the listen backlog until one closes.
    ``ssl_context``: serve HTTPS with it (``base_url`` is then ``https://``).
    """

    def __init__(
        self,
        script: Script,
        max_connections: int | None = None,
        answer_models: bool = True,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.script = script
        self.ssl_context = ssl_context
        self.max_connections = max_connections
        self.answer_models = answer_models
        self.log = ServerLog()
        self.port = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._slots: asyncio.Semaphore | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._ready = threading.Event()

    @property
    def base_url(self) -> str:
        return f"{'https' if self.ssl_context is not None else 'http'}://127.0.0.1:{self.port}/"

    def snapshot(self) -> ServerLog:
        """A copy of the log, safe to read from the test thread."""
        with self._lock:
            return ServerLog(list(self.log.requests), self.log.connections_accepted,
                             self.log.connections_open, self.log.max_connections_open)

    def start(self) -> ScriptedServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("scripted server did not start")
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        if self.max_connections is not None:
            self._slots = asyncio.Semaphore(self.max_connections)
        self._server = loop.run_until_complete(asyncio.start_server(self._accept, "127.0.0.1", 0, ssl=self.ssl_context))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            self._server.close()
            _cancel_pending(loop)
            # join the threads of write_at's waits: none may outlive the server (a test that follows,
            # e.g. of worker_start_method, counts the threads of the process)
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._slots is not None:
            await self._slots.acquire()
        with self._lock:
            index = self.log.connections_accepted
            self.log.connections_accepted += 1
            self.log.connections_open += 1
            self.log.max_connections_open = max(self.log.max_connections_open, self.log.connections_open)
        try:
            await self._answer_requests(ScriptedConnection(writer, index), reader)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
            with self._lock:
                self.log.connections_open -= 1
            if self._slots is not None:
                self._slots.release()

    async def _answer_requests(self, conn: ScriptedConnection, reader: asyncio.StreamReader) -> None:
        while True:
            request = await _read_request(reader)
            if request is None:
                return
            with self._lock:
                self.log.requests.append(request)
            if self.answer_models and request.method == "GET" and request.path.endswith("/models"):
                await conn.write(http_response(200, MODELS_BODY))
                continue
            keep_open = await self.script(conn, request)
            conn.requests_answered += 1
            if not keep_open:
                return


def _cancel_pending(loop: asyncio.AbstractEventLoop) -> None:
    """End the connections still open (a script that never answers) before the loop closes."""
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


async def _read_request(reader: asyncio.StreamReader) -> ScriptedRequest | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = [*lines[0].split(" ", 2), "", ""][:3]
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
    return ScriptedRequest(method, path, headers, body)


def http_response(status: int, body: bytes, content_type: str = "application/json", *extra: str) -> bytes:
    """A complete response with Content-Length (keep-alive unless ``extra`` says otherwise)."""
    lines = [f"HTTP/1.1 {status} X", f"Content-Type: {content_type}", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def sse_head(*extra: str) -> bytes:
    """The head of a chunked event stream."""
    lines = ["HTTP/1.1 200 OK", "Content-Type: text/event-stream", "Transfer-Encoding: chunked", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunk(data: bytes) -> bytes:
    """One HTTP/1.1 chunk; ``chunk(b"")`` is the terminating chunk."""
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def chat_events(tokens: Iterable[str], usage: tuple[int, int] | None = (7, 0), done: bool = True) -> list[bytes]:
    """OpenAI chat-completion SSE events: one per token, the finish chunk with usage, ``[DONE]``."""
    token_list = list(tokens)
    events = [_event({"id": "s", "choices": [{"index": 0, "delta": {"content": t}, "finish_reason": None}]})
              for t in token_list]
    final: dict[str, Any] = {"id": "s", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    if usage is not None:
        prompt, completion = usage
        final["usage"] = {"prompt_tokens": prompt, "completion_tokens": completion or len(token_list),
                          "total_tokens": prompt + (completion or len(token_list))}
    events.append(_event(final))
    if done:
        events.append(b"data: [DONE]\n\n")
    return events


def _event(obj: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


async def stream_chat(conn: ScriptedConnection, tokens: Iterable[str], gap_s: float = 0.0) -> None:
    """Answer with a complete, well-formed chunked chat stream (keep-alive)."""
    await conn.write(sse_head())
    for event in chat_events(tokens):
        await conn.write(chunk(event))
        if gap_s:
            await asyncio.sleep(gap_s)
    await conn.write(chunk(b""))
