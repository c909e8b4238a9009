"""The quick start's steady stage: 8 GSM8K requests at batch_size 3, lanes finishing in lockstep."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ais_bench.cli.main import main
from ais_bench.records.store import read_records
from tests.e2e.test_aisbench_compat_run import QUICK_START_BLOCK
from tests.support.configs import only_run_dir
from tests.support.fixed_server import FixedServer, FixedTiming
from tests.support.paths import GSM8K_DIR, require


@require(GSM8K_DIR / "test.jsonl", "shared GSM8K data")
def test_quick_start_stable_stage_gives_the_true_steady_throughput(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # 100 ms TTFT + 63 x 10 ms: each request lasts ~0.73 s; 3 lanes run 3 + 3 + 2 requests in
    # lockstep, so the steady rate is 3 lanes / E2EL (~4.1 req/s; the original's rule said 6.8)
    monkeypatch.setenv("AIS_BENCH_DATA_ROOT", str(GSM8K_DIR.parent))
    monkeypatch.chdir(tmp_path)
    with FixedServer(FixedTiming(ttft_s=0.1, itl_s=0.01, output_tokens=64)) as server:
        models = tmp_path / "configs" / "models"
        models.mkdir(parents=True)
        (models / "vllm_api_stream_chat.py").write_text(QUICK_START_BLOCK.format(port=server.port))
        code = main([
            "--models", "vllm_api_stream_chat", "--datasets", "demo_gsm8k_gen_4_shot_cot_chat_prompt",
            "--summarizer", "stable_stage", "--mode", "perf", "--num-warmups", "0",
        ])
    out = capsys.readouterr().out
    assert code == 0
    perf = only_run_dir(tmp_path / "outputs" / "default") / "performances" / "vllm-api-stream-chat"
    records = read_records(perf, "demo_gsm8k")
    assert len(records) == 8 and all(r.success for r in records)
    common = json.loads((perf / "demo_gsm8k.json").read_text())
    rate = float(common["Request Throughput"]["stable"].split()[0])
    window = common["_ais_bench"]["window"]
    t2, t4 = window["start_s"], window["end_s"]
    # the truth from this run's own records, whatever the machine's load did to the timing (a
    # stalled round makes its requests longer): Little's law over the window, L / W with
    # L = request-seconds inside the window / its length, W = mean E2EL of the requests sent in it
    busy_s = sum(max(0.0, min(r.end_s, t4) - max(r.start_s, t2)) for r in records)
    sent_in = [r.end_s - r.start_s for r in records if t2 <= r.start_s < t4]
    true_rate = busy_s / (t4 - t2) / float(np.mean(sent_in))
    assert rate == pytest.approx(true_rate, rel=0.03)
    # 3 lanes busy all the window: ~3 / E2EL, nowhere near the 6.8 req/s of counting whole requests
    assert window["at_batch_size_share"] > 0.9 and window["peak_in_flight"] == 3
    assert rate < 1.1 * 3 / min(r.end_s - r.start_s for r in records)
    # the window is one round: about one request long
    assert window["duration_s"] == pytest.approx(float(np.mean(sent_in)), rel=0.1)
    # a 3-request window is a thin result: said first, and no interval pretends otherwise
    assert out.lstrip().startswith("Warning: Steady window is short")
    assert window["confidence"]["Request Throughput"] is None
