"""Replay the conformance corpus (``exchanges/*.json``) against every adapter, over real HTTP.

Each exchange is one request/response of a real server (vLLM, SGLang, TGI, Triton with vllm_backend
or the TensorRT-LLM ensemble, MindIE) in the wire format its own source writes (the ``source`` field
of each file names it; the README says how the corpus was made). A scripted server on 127.0.0.1
receives the body ais_bench builds for the exchange's backend, checks it against the recorded
request, and answers with the recorded bytes (chunked, with a length, or delimited by closing the
connection). The test then checks what ais_bench computed: events, token events (the time points),
output/input tokens and their source, finish reason, success or the failure reason, through the
run's one HTTP client (``clients/http1.py``).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from ais_bench.benchmark.models import AISBENCH_BACKENDS
from ais_bench.clients.backends import BACKENDS, BackendSpec
from ais_bench.clients.body import BodyOptions
from ais_bench.clients.http1 import ConnectionPool, Endpoint
from ais_bench.clients.loop import run_worker_loop
from ais_bench.clients.transport import kernel_stamps_enabled
from ais_bench.datasets.item import RequestItem
from ais_bench.engine.attempt import Attempt
from ais_bench.engine.request import send_request
from ais_bench.engine.request_record import build_record
from ais_bench.records.record import RequestRecord
from ais_bench.records.table import resolve_token_counts
from tests.support.records import columns_of

CORPUS = Path(__file__).parent / "exchanges"
#: The corpus names backends by their AISBench class.
SPECS = {cls.__name__: BACKENDS[meaning.backend] for cls, meaning in AISBENCH_BACKENDS.items()}
PROMPT = "Say hello"
MAX_CHUNK = 65536


def _exchanges() -> list[Any]:
    return [pytest.param(json.loads(path.read_text()), id=path.stem) for path in sorted(CORPUS.glob("*.json"))]


@dataclass
class ReplayServer:
    """Answers one request with the recorded response; keeps what it received and, per piece written
    (head, then each chunk), the ``perf_counter`` time just before its write (``written_s``)."""

    response: dict[str, Any]
    received: list[tuple[str, bytes]] = field(default_factory=list)
    written_s: list[float] = field(default_factory=list)
    server: asyncio.AbstractServer | None = None

    @property
    def url_base(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aenter__(self) -> ReplayServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length)
            self.received.append((head.split(b" ")[1].decode(), body))
            pause_s = self.response.get("pause_after_first_chunk_s", 0.0)
            for k, piece in enumerate(_response_pieces(self.response)):
                self.written_s.append(time.perf_counter())
                writer.write(piece)
                await writer.drain()
                if k == 1 and pause_s:  # piece 0 is the head, piece 1 the first chunk
                    await _sleep_until(self.written_s[-1] + pause_s)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def _sleep_until(deadline_s: float) -> None:
    """Sleep until ``perf_counter()`` reaches the deadline: a single ``asyncio.sleep`` may wake early."""
    while (left_s := deadline_s - time.perf_counter()) > 0:
        await asyncio.sleep(left_s)


def _response_pieces(response: dict[str, Any]) -> list[bytes]:
    """The recorded response as the writes the server makes: head, then each chunk."""
    chunks = [chunk.encode() for chunk in response["chunks"]]
    framing = response["framing"]
    head = [f"HTTP/1.1 {response['status']} OK", f"Content-Type: {response['content_type']}"]
    if framing == "chunked":
        head.append("Transfer-Encoding: chunked")
        body = [b"%x\r\n%s\r\n" % (len(c), c) for c in chunks] + [b"0\r\n\r\n"]
    elif framing == "length":
        head.append(f"Content-Length: {sum(len(c) for c in chunks)}")
        body = chunks
    else:  # "close": the body ends when the server closes the connection
        head.append("Connection: close")
        body = chunks
    return ["\r\n".join([*head, "", ""]).encode(), *body]


def _request_body(exchange: dict[str, Any], spec: BackendSpec) -> bytes:
    item = RequestItem(0, PROMPT, "conformance")
    options = BodyOptions("m", exchange["stream"], exchange["max_out_len"], exchange["generation_kwargs"])
    body = spec.build_body(item, options)
    return orjson.dumps(body)


async def _replay(exchange: dict[str, Any], kernel_stamps: bool) -> tuple[Attempt, int, ReplayServer]:
    spec = SPECS[exchange["backend"]]
    body = _request_body(exchange, spec)
    async with ReplayServer(exchange["response"]) as server:
        path = spec.url_path(stream=exchange["stream"], model_name=exchange.get("model_name", ""))
        url = f"{server.url_base}/{path}"
        pool = ConnectionPool(Endpoint.of(url, {"Content-Type": "application/json"}), kernel_stamps, 30.0)
        try:
            attempt, attempts = await send_request(pool, spec, url, body, exchange["stream"], 0, MAX_CHUNK)
        finally:
            pool.close()
        return attempt, attempts, server


def _same_body(sent: dict[str, Any], recorded: dict[str, Any]) -> None:
    if recorded.get("id") == "<uuid4>":  # Triton's request id: a fresh uuid4 per dataset row
        assert len(sent.pop("id")) == 36
        recorded = {k: v for k, v in recorded.items() if k != "id"}
    assert sent == recorded


#: Kernel-stamped connections parse each read's events inside the read; loop-stamped ones one loop
#: turn later (``engine/stream.py``): both must give the same records.
STAMPING = [pytest.param(True, id="kernel-stamps"), pytest.param(False, id="loop-stamps")]


@pytest.mark.parametrize("kernel_stamps", STAMPING)
@pytest.mark.parametrize("exchange", _exchanges())
def test_exchange_replays_to_the_recorded_numbers(exchange: dict[str, Any], kernel_stamps: bool) -> None:
    if kernel_stamps and not kernel_stamps_enabled():
        pytest.skip("no kernel receive stamps here")
    attempt, attempts, server = run_worker_loop(_replay(exchange, kernel_stamps))
    received = server.received
    assert attempts == 1
    assert len(received) == 1
    path, body = received[0]
    assert path == exchange["request"]["path"]
    _same_body(orjson.loads(body), exchange["request"]["body"])

    record = build_record(attempt, attempts, 0, 0, "conformance", 0)
    expect = exchange["expect"]
    assert record.success is expect["success"], record.error_message
    if not expect["success"]:
        assert record.error_kind == expect["error_kind"]
        assert expect["error_contains"] in (record.error_message or "")
        if "finish_reason" in expect:
            assert record.finish_reason == expect["finish_reason"]
        return
    _check_success(record, attempt, exchange)


def _check_success(record: RequestRecord, attempt: Attempt, exchange: dict[str, Any]) -> None:
    expect = exchange["expect"]
    if exchange["stream"]:
        assert attempt.events == expect["events"]
    assert len(record.time_points_s) - 1 == expect["token_events"]
    assert record.time_points_s == sorted(record.time_points_s)
    assert record.end_s >= record.time_points_s[-1]
    assert record.finish_reason == expect["finish_reason"]
    assert record.output_text == expect["text"]
    counts = resolve_token_counts(columns_of([record]), stream=exchange["stream"])
    assert counts.output_tokens.tolist() == [expect["output_tokens"]]
    assert counts.output_source.tolist() == [expect["output_source"]]
    assert counts.input_tokens.tolist() == [expect["input_tokens"]]
    if "warning_contains" in expect:
        assert any(expect["warning_contains"] in w for w in counts.warnings), counts.warnings


def test_the_corpus_covers_every_backend_and_names_its_sources() -> None:
    exchanges = [json.loads(p.read_text()) for p in CORPUS.glob("*.json")]
    assert {e["backend"] for e in exchanges} >= {"VLLMCustomAPIChat", "VLLMCustomAPI", "TGICustomAPI", "TritonCustomAPI", "MindieStreamApi"}
    assert {e["server"] for e in exchanges} >= {
        "vLLM", "SGLang", "TGI", "Triton + vllm_backend", "Triton + TensorRT-LLM ensemble", "MindIE",
    }
    assert all(e["source"] and e["version"] for e in exchanges)


def test_ttft_waits_for_the_first_token_not_the_role_chunk() -> None:
    """vLLM writes the role-only chunk before the first token is computed: TTFT ends at the first
    token event, and the role chunk makes no ITL gap. The server holds the first token chunk until
    0.3 s (on ``perf_counter``) after it wrote the role chunk, and records when it wrote each piece."""
    exchange = json.loads((CORPUS / "vllm-chat-stream.json").read_text())
    exchange["response"]["pause_after_first_chunk_s"] = 0.3
    attempt, _, server = run_worker_loop(_replay(exchange, kernel_stamps_enabled()))
    record = build_record(attempt, 1, 0, 0, "conformance", 0)
    assert record.success, record.error_message
    points = record.time_points_s
    assert len(points) == 5  # the send and the 4 token events
    role_written_s, first_token_written_s = server.written_s[1], server.written_s[2]
    assert first_token_written_s - role_written_s >= 0.3  # what the server guarantees, not luck
    # The first token event cannot arrive before the server wrote it. The 10 ms margin only absorbs
    # the kernel stamp's move from CLOCK_REALTIME to perf_counter (µs, more if the process is
    # interrupted while reading both clocks); a TTFT ending at the role chunk would be >= 0.29 s early.
    assert points[1] >= first_token_written_s - 0.01
    assert points[0] <= role_written_s  # the send precedes every answer
