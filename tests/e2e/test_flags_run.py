"""A run driven by flags alone, from a bare folder (no config file written): ``--url`` picks the
built-in OpenAI chat streaming config, ``--isl/--osl`` make the prompts, the other flags override
the model's fields. The results and what the server received prove that each flag took effect."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ais_bench import api
from ais_bench.sim import SimConfig, start_sim_process
from ais_bench.sim.tokens import CHAT_TOKENS_PER_MESSAGE, CHAT_TOKENS_PER_REPLY
from tests.support.configs import only_run_dir
from tests.support.fixed_server import FixedServer

pytestmark = pytest.mark.processes

#: A simulator that costs no time per token, so 200 requests of 128 tokens finish in seconds.
FAST = {"prefill_base_ms": 0.0, "prefill_per_token_ms": 0.0, "decode_per_seq_ms": 0.0, "decode_base_ms": 0.5}
#: The simulator counts a chat prompt's words plus the tokens a chat template adds around one message.
CHAT_OVERHEAD = CHAT_TOKENS_PER_MESSAGE + CHAT_TOKENS_PER_REPLY


def _ais_bench(cwd: Path, *flags: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ais_bench.cli.main", *flags],
        cwd=cwd, capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})},
    )


def test_the_one_command_run_from_a_bare_folder(tmp_path: Path) -> None:
    with start_sim_process(SimConfig(max_num_seqs=32, **FAST)) as sim:
        result = _ais_bench(
            tmp_path, "--url", sim.url, "--concurrency", "16", "--isl", "128", "--osl", "128",
            "--num-prompts", "200", "--mode", "perf", "--dump-text",
        )
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "configs").exists()  # nothing was written before the run
    out_dir = only_run_dir(tmp_path / "outputs" / "default") / "performances" / "vllm-api-stream-chat"
    common = json.loads((out_dir / "synthetic.json").read_text())
    assert common["Total Requests"] == {"total": 200} and common["Success Requests"] == {"total": 200}
    assert 1 <= common["Max Concurrency"]["total"] <= 16
    assert common["Total Input Tokens"] == {"total": 200 * (128 + CHAT_OVERHEAD)}
    assert common["Total Generated Tokens"] == {"total": 200 * 128}  # exactly --osl each: ignore_eos
    details = [json.loads(line) for line in (out_dir / "synthetic_details.jsonl").read_text().splitlines()]
    assert {(d["output_tokens"], d["finish_reason"]) for d in details} == {(128, "length")}
    assert {len(d["input"][0]["content"].split()) for d in details} == {128}  # --isl words per chat prompt
    dump = next((only_run_dir(tmp_path / "outputs" / "default") / "configs").glob("*.py")).read_text()
    assert "'batch_size': 16" in dump and "'ignore_eos': True" in dump
    assert f"'url': '{sim.url}'" in dump


def test_model_flags_reach_every_request(tmp_path: Path) -> None:
    with FixedServer() as server:
        result = _ais_bench(
            tmp_path, "--url", server.base_url, "--served-model-name", "served-by-flag", "--api-key-env", "MY_KEY",
            "--max-out-len", "9", "--datasets", "synthetic_gen", "--num-prompts", "3", "--num-warmups", "0",
            env={"MY_KEY": "sk-from-env"},
        )
        bodies, headers = server.log.bodies, server.log.headers
    assert result.returncode == 0, result.stderr
    assert len(bodies) == 3
    assert {body["model"] for body in bodies} == {"served-by-flag"}  # no discovery: the flag names it
    assert {h["Authorization"] for h in headers} == {"Bearer sk-from-env"}
    assert "sk-from-env" not in result.stderr
    dump = next((only_run_dir(tmp_path / "outputs" / "default") / "configs").glob("*.py")).read_text()
    assert "sk-from-env" not in dump and "'api_key': '***'" in dump


def test_a_missing_key_variable_is_one_line_and_sends_nothing(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "NO_SUCH_KEY_VAR"}
    with FixedServer() as server:
        result = subprocess.run(
            [sys.executable, "-m", "ais_bench.cli.main", "--url", server.base_url, "--api-key-env", "NO_SUCH_KEY_VAR",
             "--isl", "4", "--osl", "4"],
            cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env,
        )
        requests = len(server.log.bodies)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "[AIS-CONFIG] --api-key-env NO_SUCH_KEY_VAR: the environment variable" in errors[0]
    assert "Traceback" not in result.stderr and requests == 0


def test_the_api_takes_the_flags_as_keywords(tmp_path: Path) -> None:
    with start_sim_process(SimConfig(max_num_seqs=8, **FAST)) as sim:
        planned = api.plan_run(
            None, None, run_dir=api.new_run_dir(tmp_path / "out"), num_prompts=10, num_warmups=0,
            overrides=dict(url=sim.url, concurrency=4, isl=16, osl=8),
        )
        result = api.run(planned, progress=False)
    assert planned.plan.batch_size == 4 and len(planned.plan.items) == 10
    assert result.totals.succeeded == 10
    assert result.summary is not None
    common = {metric.name: metric.value for metric in result.summary.common}
    assert common["Total Generated Tokens"] == 10 * 8
    assert common["Total Input Tokens"] == 10 * (16 + CHAT_OVERHEAD)
