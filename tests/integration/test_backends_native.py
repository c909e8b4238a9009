"""TGI, Triton and MindIE backends end to end against small servers speaking each protocol on 127.0.0.1.

Each server checks the request body shape (and 400s on a wrong one), streams ``max_new_tokens``
(Triton: ``max_tokens``) words as its API does (TGI: ``data:`` without a space and the whole
``generated_text`` in the last event; Triton: ``text_output`` pieces; MindIE: ``token`` events then
``generated_text``), and never sends ``usage`` nor ``details`` -- so the token counts must come from
the tokenizer (model ``path``), never be 0. Triton's model is found in ``POST /v2/repository/index``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from ais_bench.cli.main import main
from ais_bench.tokens import load_tokenizer
from tests.support.configs import only_run_dir, write_model_config, write_synthetic_dataset
from tests.support.paths import SMOLLM2_DIR, require

pytestmark = require(SMOLLM2_DIR, "SmolLM2 tokenizer")

WORDS = (" alpha", " beta", " gamma", " delta", " epsilon")
TRITON_MODEL = "ensemble"
TRITON_KEYS = {
    "id", "text_input", "max_tokens", "stream", "exclude_input_in_output", "return_num_input_tokens",
    "return_num_output_tokens", "return_finish_reason", "parameters",
}


def words(n: int) -> list[str]:
    return [WORDS[i % len(WORDS)] for i in range(n)]


class NativeServer:
    """One aiohttp app serving the three protocols; records (path, body) of every POST."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.refuse_discovery = False
        self.port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> NativeServer:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_post("/generate", self._tgi)
        app.router.add_post("/generate_stream", self._tgi)
        app.router.add_post("/v2/models/{name}/generate", self._triton)
        app.router.add_post("/v2/models/{name}/generate_stream", self._triton)
        app.router.add_post("/infer", self._mindie)
        app.router.add_post("/v2/repository/index", self._models)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        self._loop.run_forever()

    async def _body(self, request: web.Request, keys: set[str], length: str = "max_new_tokens") -> dict[str, Any]:
        body = await request.json()
        self.requests.append((request.path, body))
        params = body.get("parameters")
        where = body if length == "max_tokens" else params
        if set(body) != keys or not isinstance(params, dict) or not isinstance(where.get(length), int):
            raise web.HTTPBadRequest(text=json.dumps({"error": f"bad body {body}"}))
        return body

    async def _sse(self, request: web.Request, events: list[str], sep: str) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for event in events:
            await resp.write(f"data:{sep}{event}\n\n".encode())
            await asyncio.sleep(0.002)
        await resp.write_eof()
        return resp

    async def _tgi(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request, {"inputs", "parameters"})
        pieces = words(body["parameters"]["max_new_tokens"])
        if request.path == "/generate":
            return web.json_response({"generated_text": "".join(pieces)})
        events = [
            {"index": i + 1, "token": {"id": i, "text": p, "logprob": -0.5, "special": False},
             "generated_text": None, "details": None}
            for i, p in enumerate(pieces)
        ]
        events.append({"index": len(pieces) + 1, "token": {"id": 0, "text": "<|im_end|>", "special": True},
                       "generated_text": "".join(pieces), "details": None})
        return await self._sse(request, [json.dumps(e) for e in events], "")

    async def _triton(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["name"] != TRITON_MODEL:
            raise web.HTTPNotFound(text=json.dumps({"error": "unknown model"}))
        body = await self._body(request, TRITON_KEYS, "max_tokens")
        pieces = words(body["max_tokens"])
        if request.path.endswith("/generate"):
            return web.json_response({"model_name": TRITON_MODEL, "text_output": "".join(pieces)})
        return await self._sse(request, [json.dumps({"model_name": TRITON_MODEL, "text_output": p}) for p in pieces], " ")

    async def _mindie(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request, {"inputs", "stream", "parameters"})
        pieces = words(body["parameters"]["max_new_tokens"])
        if not body["stream"]:
            return web.json_response({"generated_text": "".join(pieces), "details": None})
        events = [{"prefill_time": 1.0 if i == 0 else None, "decode_time": None if i == 0 else 0.5,
                   "token": {"id": i, "text": p}} for i, p in enumerate(pieces)]
        events[-1]["generated_text"] = "".join(pieces)
        return await self._sse(request, [json.dumps(e) for e in events], " ")

    async def _models(self, request: web.Request) -> web.Response:
        if self.refuse_discovery:
            raise web.HTTPNotFound()
        return web.json_response([{"name": TRITON_MODEL, "version": "1", "state": "READY"}])


CASES = [
    ("TGICustomAPI", False, "/generate"),
    ("TGICustomAPI", True, "/generate_stream"),
    ("TGICustomAPIStream", None, "/generate_stream"),
    ("TritonCustomAPI", False, f"/v2/models/{TRITON_MODEL}/generate"),
    ("TritonCustomAPI", True, f"/v2/models/{TRITON_MODEL}/generate_stream"),
    ("TritonCustomAPIStream", None, f"/v2/models/{TRITON_MODEL}/generate_stream"),
    ("MindieStreamApi", None, "/infer"),
    ("MindieStreamApi", False, "/infer"),
]


@pytest.mark.parametrize(("backend", "stream", "path"), CASES)
def test_native_backend_end_to_end(tmp_path: Path, backend: str, stream: bool | None, path: str) -> None:
    fields: dict[str, Any] = {"path": str(SMOLLM2_DIR), "model": "", "batch_size": 2, "max_out_len": 64}
    if stream is not None:
        fields["stream"] = stream
    if backend == "TritonCustomAPIStream":
        fields["model_name"] = TRITON_MODEL  # given: no discovery (the server is told to refuse it)
    with NativeServer() as server:
        server.refuse_discovery = "model_name" in fields
        write_model_config(tmp_path / "cfg", "native", server.port, backend=backend, **fields)
        if stream is None:  # rely on the backend's default streaming mode
            text = (tmp_path / "cfg" / "models" / "native.py").read_text().replace("stream=True,\n        ", "")
            (tmp_path / "cfg" / "models" / "native.py").write_text(text)
        write_synthetic_dataset(tmp_path / "cfg", "tiny", 4, input_len=12, output_len=6)
        code = main([
            "--models", "native", "--datasets", "tiny", "--mode", "perf", "--num-warmups", "1", "--dump-text",
            "--config-dir", str(tmp_path / "cfg"), "--work-dir", str(tmp_path / "out"),
        ])
    assert code == 0
    assert {p for p, _ in server.requests} == {path}
    first = server.requests[-1][1]
    prompt = first.get("inputs", first.get("text_input"))
    assert prompt == " ".join(["A"] * 12)
    assert (first["max_tokens"] if "text_input" in first else first["parameters"]["max_new_tokens"]) == 6
    tok = load_tokenizer(SMOLLM2_DIR)
    perf = only_run_dir(tmp_path / "out") / "performances" / "native"
    details = [json.loads(line) for line in (perf / "tiny_details.jsonl").read_text().splitlines()]
    assert len(details) == 4 and all(d["success"] for d in details)
    expected_out = len(tok.encode("".join(words(6))))
    expected_in = len(tok.encode(" ".join(["A"] * 12), add_special_tokens=True))
    for d in details:
        assert d["output"] == "".join(words(6)) and d["input"] == " ".join(["A"] * 12)
        assert d["output_tokens_source"] == "tokenizer" and d["output_tokens"] == expected_out
        assert d["input_tokens_source"] == "tokenizer" and d["input_tokens"] == expected_in
    common = json.loads((perf / "tiny.json").read_text())
    assert common["Total Generated Tokens"]["total"] == 4 * expected_out


@pytest.fixture(scope="module")
def unmeasured_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TGI without streaming, without ``details`` and without a tokenizer: nobody measured the input
    or the output token counts. Returns the run's performances folder."""
    base = tmp_path_factory.mktemp("unmeasured")
    with NativeServer() as server:
        write_model_config(base / "cfg", "native", server.port, backend="TGICustomAPI", stream=False,
                           model="", batch_size=2, max_out_len=64)
        write_synthetic_dataset(base / "cfg", "tiny", 4, input_len=12, output_len=6)
        code = main([
            "--models", "native", "--datasets", "tiny", "--mode", "perf", "--num-warmups", "0",
            "--config-dir", str(base / "cfg"), "--work-dir", str(base / "out"),
        ])
    assert code == 0
    return only_run_dir(base / "out") / "performances" / "native"


def test_a_non_streamed_count_nobody_measured_is_not_reported_as_measured(unmeasured_run: Path) -> None:
    """Each request counts a placeholder output of 1, marked ``unknown``; the throughputs computed
    from it are left out and the warning says what to set."""
    perf = unmeasured_run
    details = [json.loads(line) for line in (perf / "tiny_details.jsonl").read_text().splitlines()]
    assert {d["output_tokens_source"] for d in details} == {"unknown"}
    result = json.loads((perf / "tiny.json").read_text())
    for name in ("Output Token Throughput", "Total Generated Tokens", "Total Token Throughput"):
        assert name not in result
    assert "Request Throughput" in result
    table = (perf / "tiny.csv").read_text()
    assert "E2EL" in table and "OutputTokens" not in table and "OutputTokenThroughput" not in table
    warnings = result["_ais_bench"]["warnings"]
    assert any("output token count unknown for 4" in w and "path" in w for w in warnings), warnings


def test_an_input_count_nobody_measured_is_not_reported_as_zero(unmeasured_run: Path) -> None:
    """Its input 0 is a placeholder too, so InputTokens, PrefillTokenThroughput, Total Input Tokens and
    the input and total token throughputs are left out (they read 0 as if measured), and the warning
    says so."""
    perf = unmeasured_run
    details = [json.loads(line) for line in (perf / "tiny_details.jsonl").read_text().splitlines()]
    assert {d["input_tokens_source"] for d in details} == {"none"}
    result = json.loads((perf / "tiny.json").read_text())
    for name in ("Total Input Tokens", "Input Token Throughput", "Total Token Throughput"):
        assert name not in result
    assert result["Request Throughput"]["total"].endswith("req/s")
    table = (perf / "tiny.csv").read_text()
    assert "E2EL" in table and "InputTokens" not in table and "PrefillTokenThroughput" not in table
    warnings = result["_ais_bench"]["warnings"]
    assert any("no usage.prompt_tokens" in w and "input-token rows and throughputs are left out" in w
               for w in warnings), warnings
