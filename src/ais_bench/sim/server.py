"""The HTTP side of the simulated server (aiohttp) and ``serve()``, which runs it in the current loop.

Routes: ``POST /v1/chat/completions``, ``POST /v1/completions`` (stream and not), ``GET /v1/models``,
``GET /health``. Bad bodies get HTTP 400 with an OpenAI-style error body; injected failures get
``fail_status`` with one too. Tokens come from the engine loop (``engine.py``) through a sink
(``sinks.py``); faults are drawn per request (``faults.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from ais_bench.clients.transport import KernelStampedTransport, enable_kernel_stamps, kernel_stamps_supported
from ais_bench.sim.config import SimConfig
from ais_bench.sim.engine import Sequence, SimEngine
from ais_bench.sim.faults import FAULT_FAIL, FAULT_MALFORMED, PlanDrawer, RequestPlan
from ais_bench.sim.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from ais_bench.sim.metrics import render_metrics
from ais_bench.sim.request_body import BadRequest, GenerateRequest, parse_generate_body
from ais_bench.sim.responses import KIND_CHAT, KIND_COMPLETIONS, RequestInfo, error_body, full_body
from ais_bench.sim.sinks import FullSink, StreamSink, finish_reason_of
from ais_bench.sim.tokens import InputTokenCounter
from ais_bench.sim.truth import TruthRecorder

MAX_BODY_BYTES = 64 * 1024 * 1024
SHUTDOWN_TIMEOUT_S = 1.0
LISTEN_BACKLOG = 4096


def json_response(obj: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(obj), status=status, content_type="application/json")


def error_response(status: int, message: str, error_type: str) -> web.Response:
    return json_response(error_body(message, error_type, status), status)


class SimApp:
    """Request handlers bound to one engine, RNG and token counter."""

    def __init__(self, cfg: SimConfig) -> None:
        self.cfg = cfg
        self.engine = SimEngine(cfg)
        self._drawer = PlanDrawer(cfg)
        self._counter = InputTokenCounter(cfg.tokenizer_path)
        self._request_numbers = itertools.count()
        self._created_s = int(time.time())
        self.recorder = TruthRecorder(cfg.record_truth_path) if cfg.record_truth_path else None

    def build(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/completions", self._completions)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/health", self._health)
        app.router.add_get("/metrics", self._metrics)
        return app

    async def _metrics(self, request: web.Request) -> web.Response:
        body = render_metrics(self.engine, self.cfg.model_name)
        return web.Response(body=body, headers={"Content-Type": METRICS_CONTENT_TYPE})

    async def _health(self, request: web.Request) -> web.Response:
        engine = self.engine
        return json_response({"status": "ok", **engine.load(), "tokens_emitted": engine.tokens_emitted})

    async def _models(self, request: web.Request) -> web.Response:
        model = {
            "id": self.cfg.model_name,
            "object": "model",
            "created": self._created_s,
            "owned_by": "ais_bench",
        }
        return json_response({"object": "list", "data": [model]})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        return await self._generate(request, KIND_CHAT)

    def _fail_message(self, request: web.Request) -> str:
        template = self.cfg.fail_message or "simulated failure (fail_rate={fail_rate})"
        auth = request.headers.get("Authorization", "")
        return template.format_map({"fail_rate": self.cfg.fail_rate, "nul": "\x00", "authorization": auth})

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        return await self._generate(request, KIND_COMPLETIONS)

    async def _generate(self, request: web.Request, kind: str) -> web.StreamResponse:
        handler_s = time.perf_counter()
        # In ground-truth mode the connection is kernel-stamped: the request's bytes arrived then.
        arrival_s = getattr(request.transport, "message_read_s", 0.0) or handler_s
        try:
            body = parse_generate_body(await request.read(), kind, self.cfg.default_max_tokens)
        except BadRequest as exc:
            return error_response(400, str(exc), "invalid_request_error")
        number = next(self._request_numbers)
        plan = self._drawer.draw(body.max_tokens, body.ignore_eos)
        if plan.fault == FAULT_FAIL:
            message = self._fail_message(request)
            return error_response(self.cfg.fail_status, message, "server_error")
        info = RequestInfo(
            kind=kind,
            request_id=f"{'chatcmpl' if kind == KIND_CHAT else 'cmpl'}-sim-{number}",
            created=int(time.time()),
            model=self.cfg.model_name,
            prompt_tokens=self._count_input(body),
            include_usage=body.include_usage,
        )
        sink: StreamSink | FullSink | None
        if body.stream:
            resp, sink = await self._stream(request, info, plan, body.max_tokens)
        else:
            resp, sink = await self._full(request, info, plan, body.max_tokens)
        if self.recorder is not None and sink is not None:
            self._record(request, number, arrival_s, handler_s, resp, sink)
        return resp

    def _count_input(self, body: GenerateRequest) -> int:
        if body.messages is not None:
            return self._counter.count_messages(body.messages)
        return self._counter.count_prompt(body.prompt if body.prompt is not None else "")

    async def _stream(
        self, request: web.Request, info: RequestInfo, plan: RequestPlan, max_tokens: int
    ) -> tuple[web.StreamResponse, StreamSink | None]:
        if request.version < (1, 1):
            return error_response(
                505, "streaming needs HTTP/1.1 (chunked transfer)", "invalid_request_error"
            ), None
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        await resp.write(b"")  # flush the headers now: the sink writes body chunks to the transport
        transport = request.transport
        if transport is None or transport.is_closing():
            return resp, None
        record = self.recorder is not None
        sink = StreamSink(transport, info, plan, max_tokens, self.cfg.stall_s, record)
        self.engine.submit(Sequence(info.prompt_tokens, plan.output_tokens, sink))
        await sink.done
        if not sink.aborted and not transport.is_closing():
            await resp.write_eof()
        return resp, sink

    async def _full(
        self, request: web.Request, info: RequestInfo, plan: RequestPlan, max_tokens: int
    ) -> tuple[web.StreamResponse, FullSink | None]:
        transport = request.transport
        if transport is None or transport.is_closing():
            return web.Response(status=499), None
        sink = FullSink(transport, plan, self.cfg.stall_s, self.recorder is not None)
        self.engine.submit(Sequence(info.prompt_tokens, plan.output_tokens, sink))
        await sink.done
        if sink.completion_tokens < plan.output_tokens:
            return error_response(503, "request not finished: server closing", "server_error"), sink
        data = orjson.dumps(full_body(info, sink.completion_tokens, finish_reason_of(plan, max_tokens)))
        if plan.fault == FAULT_MALFORMED:
            data = data[: len(data) // 2]
        if sink.event_times_s is not None:
            sink.event_times_s.append(time.perf_counter())
        return web.Response(body=data, content_type="application/json"), sink

    def _record(
        self,
        request: web.Request,
        number: int,
        arrival_s: float,
        handler_s: float,
        resp: web.StreamResponse,
        sink: StreamSink | FullSink,
    ) -> None:
        assert self.recorder is not None
        self.recorder.add(
            {
                "request_id": request.headers.get("X-Request-Id") or f"sim-{number}",
                "arrival_s": arrival_s,
                "handler_s": handler_s,
                "event_times_s": sink.event_times_s or [],
                "status": resp.status,
                "completion_tokens": sink.completion_tokens,
                "fault": sink.plan.fault,
            }
        )


@dataclass(eq=False)
class SimServer:
    """A running simulated server in the current event loop: ``url`` (``http://host:port``) and
    ``base_url`` (with a trailing ``/``)."""

    _app: SimApp
    _runner: web.AppRunner
    _engine_task: asyncio.Task[None]
    host: str
    port: int
    _listener: StampedListener | None = None
    _closed: bool = field(default=False, init=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url + "/"

    @property
    def engine(self) -> SimEngine:
        return self._app.engine

    async def close(self) -> None:
        """Stop the engine, release waiting handlers, close the listener; write the truth file."""
        if self._closed:
            return
        self._closed = True
        self._engine_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._engine_task
        self._app.engine.shutdown()
        if self._listener is not None:
            await self._listener.close()
        await self._runner.cleanup()
        if self._app.recorder is not None:
            self._app.recorder.write()

    async def __aenter__(self) -> SimServer:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class StampedListener:
    """Accepts connections itself and serves each on a kernel-stamped transport
    (``clients/transport.py``), so a request's ``arrival_s`` is when its first bytes reached this
    host, not when the handler got round to it. Used in ground-truth mode on Linux."""

    def __init__(self, sock: socket.socket, protocol_factory: Any) -> None:
        self._sock = sock
        self._protocol_factory = protocol_factory
        self._task = asyncio.create_task(self._accept_forever(), name="ais_bench-sim-accept")

    @classmethod
    def open(cls, host: str, port: int, protocol_factory: Any) -> StampedListener:
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(LISTEN_BACKLOG)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        return cls(sock, protocol_factory)

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    async def _accept_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            conn, _ = await loop.sock_accept(self._sock)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            enable_kernel_stamps(conn)
            conn.setblocking(False)
            KernelStampedTransport(loop, conn, self._protocol_factory()).start()

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._sock.close()


async def serve(cfg: SimConfig, host: str = "127.0.0.1", port: int = 0) -> SimServer:
    """Start the simulated server on ``host:port`` (0 = a free port) in the running loop."""
    app = SimApp(cfg)
    runner = web.AppRunner(
        app.build(), access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT_S
    )
    await runner.setup()
    listener = None
    try:
        if cfg.record_truth_path and kernel_stamps_supported():
            listener = StampedListener.open(host, port, runner.server)
            bound_port = listener.port
        else:
            site = web.TCPSite(runner, host, port, backlog=LISTEN_BACKLOG)
            await site.start()
            bound_port = int(runner.addresses[0][1])
    except OSError:
        await runner.cleanup()
        raise
    engine_task = asyncio.create_task(app.engine.run(), name="ais_bench-sim-engine")
    return SimServer(app, runner, engine_task, host, bound_port, listener)
