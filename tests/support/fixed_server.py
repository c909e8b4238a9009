"""A small OpenAI-compatible test server with exactly known timing, run in a background thread.

Streaming responses: wait ``ttft_s``, send the role chunk and the first token together, then one
token chunk every ``itl_s``; the final chunk carries usage when asked. Every request's body,
headers and the server-side in-flight count are recorded for assertions.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class FixedTiming:
    ttft_s: float = 0.05
    itl_s: float = 0.02
    output_tokens: int = 5
    prompt_tokens: int = 7
    status: int = 200


@dataclass
class ServerLog:
    bodies: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0


class FixedServer:
    def __init__(self, timing: FixedTiming | None = None) -> None:
        self.timing = timing or FixedTiming()
        self.log = ServerLog()
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._ready = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> FixedServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("test server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def __enter__(self) -> FixedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/completions", self._completions)
        app.router.add_get("/v1/models", self._models)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        self._loop.run_forever()

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "fixed-model", "object": "model"}]})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, chat=True)

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, chat=False)

    async def _handle(self, request: web.Request, chat: bool) -> web.StreamResponse:
        body = await request.json()
        log = self.log
        log.bodies.append(body)
        log.headers.append(dict(request.headers))
        log.paths.append(request.path)
        log.in_flight += 1
        log.max_in_flight = max(log.max_in_flight, log.in_flight)
        try:
            t = self.timing
            if t.status != 200:
                return web.json_response({"error": {"message": "test failure", "code": t.status}}, status=t.status)
            if body.get("stream"):
                return await self._stream(request, body, chat)
            await asyncio.sleep(t.ttft_s + t.itl_s * (t.output_tokens - 1))
            return web.json_response(self._full_body(chat))
        finally:
            log.in_flight -= 1

    def _usage(self) -> dict[str, int]:
        t = self.timing
        return {"prompt_tokens": t.prompt_tokens, "completion_tokens": t.output_tokens,
                "total_tokens": t.prompt_tokens + t.output_tokens}

    def _full_body(self, chat: bool) -> dict[str, Any]:
        text = " tok" * self.timing.output_tokens
        choice = {"index": 0, "finish_reason": "length"}
        choice.update({"message": {"role": "assistant", "content": text}} if chat else {"text": text})
        return {"id": "x", "object": "chat.completion" if chat else "text_completion", "choices": [choice],
                "usage": self._usage()}

    def _chunk(self, chat: bool, text: str | None, role: bool = False) -> bytes:
        if chat:
            delta: dict[str, Any] = {"role": "assistant", "content": ""} if role else {"content": text}
            choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": None}
        else:
            choice = {"index": 0, "text": text, "finish_reason": None}
        return b"data: " + json.dumps({"id": "x", "choices": [choice]}).encode() + b"\n\n"

    async def _stream(self, request: web.Request, body: dict[str, Any], chat: bool) -> web.StreamResponse:
        t = self.timing
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        start = time.perf_counter()
        await _sleep_until(start + t.ttft_s)
        first = (self._chunk(chat, None, role=True) if chat else b"") + self._chunk(chat, " tok")
        await resp.write(first)
        for k in range(1, t.output_tokens):
            await _sleep_until(start + t.ttft_s + k * t.itl_s)
            await resp.write(self._chunk(chat, " tok"))
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {"id": "x", "choices": [], "usage": self._usage()}
            await resp.write(b"data: " + json.dumps(usage).encode() + b"\n\n")
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp


async def _sleep_until(when: float) -> None:
    """Return once ``perf_counter()`` has reached ``when``, never before: the server's delays are lower
    bounds tests rely on (a timer may fire a clock tick early; a loaded machine only makes it late)."""
    while (delay := when - time.perf_counter()) > 0:
        await asyncio.sleep(delay)
