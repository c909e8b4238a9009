"""Issue 19's "done when": a concurrency sweep and the SLO search against the embedded simulator with
4 slots.

Simulator costs: an admission step costs 200 ms of prefill + 5 ms of decode, every other step 5 ms,
and each answer is 64 tokens (--osl), so a request holds its slot for about 520 ms. Unloaded (one
request in flight), TTFT is one admission step, 205 ms. Up to 4 in flight a request may arrive just
as another request's admission step starts and wait for it: its TTFT is then up to 2 x 205 ms =
410 ms. Beyond 4 in flight a request waits in the queue for a slot, about 520 ms, before its own
205 ms admission step: at least 725 ms whatever the machine's speed (the simulator is never faster
than its costs); from 5 in flight on, the fifth request sent at the start already queues. The bound,
715 ms, sits just under that: a busy machine only makes TTFTs longer, so the room it leaves for
scheduling noise is on the side below the bound, 305 ms over the 410 ms (a bound of 615 ms left
205 ms, and a loaded CI box once used it up). So attainment is 1 up to 4 and below 1 from 5 on (at
most 2/3 at 8 and 16, where half the requests queue), and the search's answer is 4.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ais_bench.cli.main import main
from tests.support.configs import write_sim_model_config

REQUESTS = 12
TTFT_BOUND_MS = 725 - 10
SIMULATOR = dict(max_num_seqs=4, prefill_base_ms=200.0, prefill_per_token_ms=0.0, decode_base_ms=5.0,
                 decode_per_seq_ms=0.0, seed=0)


def _command(tmp: Path, *flags: str) -> list[str]:
    configs = tmp / "configs"
    write_sim_model_config(configs, "sim4", SIMULATOR, max_out_len=64, batch_size=4)
    return ["--models", "sim4", "--config-dir", str(configs), "--isl", "8", "--osl", "64",
            "--num-prompts", str(REQUESTS), "--goodput", f"ttft:{TTFT_BOUND_MS}", "--work-dir", str(tmp / "out"), *flags]


def _sweep_dir(tmp: Path) -> Path:
    (sweep,) = (tmp / "out").glob("*_sweep")
    return sweep


@pytest.fixture(scope="module")
def concurrency_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("sweep")
    assert main(_command(tmp, "--concurrency", "1,2,4,8,16")) == 0
    return _sweep_dir(tmp)


def test_sweep_attainment_falls_beyond_the_slots(concurrency_sweep: Path) -> None:
    document = json.loads((concurrency_sweep / "sweep.json").read_text())
    assert document["axis"] == "concurrency" and document["slo_ms"] == {"ttft": TTFT_BOUND_MS}
    points = {p["value"]: p for p in document["points"]}
    assert list(points) == [1, 2, 4, 8, 16]
    assert all(p["status"] == "ok" and p["requests"] == REQUESTS for p in points.values())
    assert [points[v]["attainment"] for v in (1, 2, 4)] == [1.0, 1.0, 1.0]
    assert all(points[v]["attainment"] <= 2 / 3 for v in (8, 16))
    assert points[1]["ttft_p50_ms"] >= 200  # one admission step at least
    assert points[8]["ttft_p99_ms"] > TTFT_BOUND_MS


def test_sweep_folder_holds_each_point_run(concurrency_sweep: Path) -> None:
    document = json.loads((concurrency_sweep / "sweep.json").read_text())
    assert document["run_dirs"] == [f"concurrency_{v}" for v in (1, 2, 4, 8, 16)]
    for value, run_dir in zip((1, 2, 4, 8, 16), document["run_dirs"], strict=True):
        summary = json.loads((concurrency_sweep / run_dir / "performances" / "sim4" / "synthetic_summary.json").read_text())
        assert summary["common"]["Total Requests"]["value"] == REQUESTS
        dumped = next((concurrency_sweep / run_dir / "configs").glob("*.py")).read_text()
        assert f"batch_size={value}," in dumped.replace(" ", "") or f"'batch_size':{value}" in dumped.replace(" ", "")
    lines = (concurrency_sweep / "sweep.csv").read_text().splitlines()
    assert len(lines) == 6 and lines[0].startswith("value,status,reason,run_dir,")
    assert (concurrency_sweep / "sweep.html").stat().st_size > 1_000_000  # plotly.js inside


def test_slo_search_returns_the_slot_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_command(tmp_path, "--slo-search", "concurrency")) == 0
    document = json.loads((_sweep_dir(tmp_path) / "sweep.json").read_text())
    assert document["kind"] == "slo_search"
    assert (document["max_passing"], document["min_failing"]) == (4, 5)
    assert [p["value"] for p in document["points"]] == [1, 2, 4, 8, 6, 5]
    # 12 of 12 good gives a Wilson interval reaching below 0.99: flagged, not hidden
    assert document["uncertain"] == [4]
    out = capsys.readouterr().out
    assert "highest concurrency meeting SLO attainment >= 0.99: 4 (attainment 1.000" in out
    assert "Uncertain: the 95% interval of the attainment at 4 straddles the target" in out


def test_a_failed_point_is_a_row_and_the_sweep_goes_on(tmp_path: Path) -> None:
    configs = tmp_path / "configs"
    write_sim_model_config(configs, "simfail", dict(max_num_seqs=4, fail_rate=1.0, seed=0), max_out_len=8, batch_size=2)
    argv = ["--models", "simfail", "--config-dir", str(configs), "--isl", "8", "--osl", "8", "--num-prompts", "3",
            "--num-warmups", "0", "--work-dir", str(tmp_path / "out"), "--concurrency", "1,2"]
    assert main(argv) == 3  # partial: some points gave no results
    document = json.loads((_sweep_dir(tmp_path) / "sweep.json").read_text())
    assert [(p["value"], p["status"]) for p in document["points"]] == [(1, "failed"), (2, "failed")]
    assert all(p["reason"].startswith("All requests failed") and p["request_throughput"] is None
               for p in document["points"])
    assert document["knee"] is None
    lines = (_sweep_dir(tmp_path) / "sweep.csv").read_text().splitlines()
    assert len(lines) == 3 and lines[1].startswith('1,failed,"All requests failed')


def test_an_unsteady_point_is_a_row_with_its_reason(tmp_path: Path) -> None:
    # 2 requests never make a steady stage: at concurrency 2 in flight reaches 2 on one request start
    # at most (treated as warm-up), at concurrency 3 it never reaches 3.
    configs = tmp_path / "configs"
    write_sim_model_config(configs, "sim2", dict(max_num_seqs=4, seed=0), max_out_len=8, batch_size=2)
    argv = ["--models", "sim2", "--config-dir", str(configs), "--isl", "8", "--osl", "8", "--num-prompts", "2",
            "--summarizer", "stable_stage", "--work-dir", str(tmp_path / "out"), "--concurrency", "2,3"]
    assert main(argv) == 3
    document = json.loads((_sweep_dir(tmp_path) / "sweep.json").read_text())
    assert [p["status"] for p in document["points"]] == ["unsteady", "unsteady"]
    assert all(p["reason"].startswith("Can not find a stable stage") for p in document["points"])
