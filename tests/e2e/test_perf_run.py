"""End-to-end perf runs against a test server whose timing is exactly known."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import orjson
import pytest

from ais_bench.cli.main import main
from ais_bench.clients.transport import kernel_stamps_supported
from tests.support.configs import only_run_dir, write_model_config, write_synthetic_dataset
from tests.support.fixed_server import FixedServer, FixedTiming


def _run(tmp_path: Path, *extra: str) -> int:
    return main([
        "--models", "test_model", "--datasets", "tiny", "--mode", "perf",
        "--config-dir", str(tmp_path / "cfg"), "--work-dir", str(tmp_path / "out"), *extra,
    ])


def _results(tmp_path: Path, abbr: str = "test-model", ds: str = "tiny") -> tuple[dict, dict[str, list[str]], Path]:
    perf = only_run_dir(tmp_path / "out") / "performances" / abbr
    common = json.loads((perf / f"{ds}.json").read_text())
    with (perf / f"{ds}.csv").open() as handle:
        rows = {row[0]: row for row in csv.reader(handle)}
    return common, rows, perf


def _ms(cell: str) -> float:
    assert cell.endswith(" ms"), cell
    return float(cell[:-3])


def test_stream_chat_metrics_match_known_delays(tmp_path: Path) -> None:
    # Server: TTFT 50 ms, then 4 more tokens 20 ms apart, usage chunk right after the last token.
    # Per request: E2EL = 50 + 4*20 = 130 ms, TTFT = 50 ms, TPOT = (130-50)/(5-1) = 20 ms,
    # OutputTokenThroughput = 5 / 0.130 = 38.46 token/s, PrefillTokenThroughput = 7 / 0.050 = 140 token/s.
    timing = FixedTiming(ttft_s=0.05, itl_s=0.02, output_tokens=5, prompt_tokens=7)
    with FixedServer(timing) as server:
        write_model_config(tmp_path / "cfg", "test_model", server.port, batch_size=2)
        write_synthetic_dataset(tmp_path / "cfg", "tiny", 6)
        assert _run(tmp_path, "--num-warmups", "0") == 0
    common, rows, perf = _results(tmp_path)
    header = rows["Performance Parameters"]
    avg = header.index("Average")
    # The server's delays are lower bounds; client and server overheads (HTTP parsing, loop wake-up,
    # a loaded 2-core machine) may add a few ms to the time before the first token, not to the gaps.
    e2el, ttft = _ms(rows["E2EL"][avg]), _ms(rows["TTFT"][avg])
    assert 130 <= e2el <= 130 + 12
    assert 50 <= ttft <= 50 + 10
    assert e2el - ttft == pytest.approx(80, abs=3)
    assert _ms(rows["TPOT"][avg]) == pytest.approx(20, abs=1)
    # ITL gaps lie between token events only: the role chunk (sent with the first token) and the
    # usage chunk right after the last token make no gap, so four 20 ms gaps per request (the
    # version before counted six, two of them ~0: mean 13.3 ms, Min 0.0).
    assert _ms(rows["ITL"][avg]) == pytest.approx(20, abs=1.5)
    assert rows["ITL"][-1] == "24"  # N of ITL: the number of gaps, 4 x 6 requests
    assert float(rows["OutputTokens"][avg]) == 5
    assert float(rows["InputTokens"][avg]) == 7
    # Per-request throughputs follow from the measured latencies (mean of ratios ~ ratio of means here).
    assert float(rows["OutputTokenThroughput"][avg].split()[0]) == pytest.approx(5 / (e2el / 1000), rel=0.02)
    assert float(rows["PrefillTokenThroughput"][avg].split()[0]) == pytest.approx(7 / (ttft / 1000), rel=0.04)
    assert rows["E2EL"][-1] == "6"
    # 6 requests, 2 at a time, back to back: 3 waves of 130 ms -> duration ~390 ms.
    assert common["Total Requests"]["total"] == 6
    assert common["Success Requests"]["total"] == 6
    assert common["Max Concurrency"]["total"] == 2
    duration_ms = float(common["Benchmark Duration"]["total"].split()[0])
    assert 390 <= duration_ms <= 390 + 40
    # Concurrency = sum(E2EL) / duration; two requests always in flight -> close to 2.
    assert common["Concurrency"]["total"] == pytest.approx(6 * e2el / duration_ms, rel=0.01)
    assert 1.85 <= common["Concurrency"]["total"] <= 2
    assert common["Total Generated Tokens"]["total"] == 30
    details = [orjson.loads(line) for line in (perf / "tiny_details.jsonl").read_bytes().splitlines()]
    assert len(details) == 6 and all(d["success"] for d in details)
    assert {d["output_tokens_source"] for d in details} == {"usage"}
    facts = json.loads((perf / "records" / "tiny.run_facts.json").read_text())
    expected = "kernel" if kernel_stamps_supported() else "loop"
    assert facts["client_self_check"]["stamping"] == expected


def test_request_bodies_and_headers_at_the_server(tmp_path: Path) -> None:
    with FixedServer(FixedTiming(ttft_s=0.001, itl_s=0.001, output_tokens=2)) as server:
        write_model_config(
            tmp_path / "cfg", "test_model", server.port, api_key="sekrit-key", model="",
            generation_kwargs={"temperature": 0.5, "max_tokens": 999, "ignore_eos": True},
        )
        write_synthetic_dataset(tmp_path / "cfg", "tiny", 2, input_len=3, output_len=4)
        assert _run(tmp_path, "--num-warmups", "0") == 0
        bodies, headers, paths = server.log.bodies, server.log.headers, server.log.paths
    assert paths == ["/v1/chat/completions"] * 2
    body = bodies[0]
    assert body["model"] == "fixed-model"  # discovered from GET /v1/models
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [{"role": "user", "content": "A A A"}]
    assert body["temperature"] == 0.5 and body["ignore_eos"] is True
    assert body["max_tokens"] == 4  # the row's max_out_len wins over generation_kwargs
    assert headers[0]["Authorization"] == "Bearer sekrit-key"
    assert headers[0]["Content-Type"] == "application/json"
    dumps = list((only_run_dir(tmp_path / "out") / "configs").glob("*.py"))
    assert dumps and "sekrit-key" not in dumps[0].read_text()


def test_completions_non_stream_body(tmp_path: Path) -> None:
    with FixedServer(FixedTiming(ttft_s=0.001, itl_s=0.001, output_tokens=3)) as server:
        write_model_config(tmp_path / "cfg", "test_model", server.port, backend="VLLMCustomAPI", stream=False)
        write_synthetic_dataset(tmp_path / "cfg", "tiny", 2, input_len=2)
        assert _run(tmp_path, "--num-warmups", "0") == 0
        body = server.log.bodies[0]
    assert server.log.paths[0] == "/v1/completions"
    assert body["prompt"] == "A A" and body["stream"] is False and "stream_options" not in body
    _, rows, _ = _results(tmp_path)
    assert "TTFT" not in rows and "TPOT" not in rows  # not measurable without streaming


@pytest.mark.parametrize("workers", [2])
def test_in_flight_never_exceeds_batch_size_with_several_workers(tmp_path: Path, workers: int) -> None:
    consts = tmp_path / "consts.py"
    consts.write_text(f"WORKERS_NUM = {workers}\n")
    with FixedServer(FixedTiming(ttft_s=0.01, itl_s=0.005, output_tokens=4)) as server:
        write_model_config(tmp_path / "cfg", "test_model", server.port, batch_size=5)
        write_synthetic_dataset(tmp_path / "cfg", "tiny", 60)
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("AIS_BENCH_GLOBAL_CONSTS", str(consts))
            assert _run(tmp_path, "--num-warmups", "0") == 0
        assert server.log.max_in_flight == 5
    common, _, _ = _results(tmp_path)
    assert common["Success Requests"]["total"] == 60


def test_warmup_requests_are_excluded(tmp_path: Path) -> None:
    with FixedServer(FixedTiming(ttft_s=0.001, itl_s=0.001, output_tokens=2)) as server:
        write_model_config(tmp_path / "cfg", "test_model", server.port)
        write_synthetic_dataset(tmp_path / "cfg", "tiny", 4)
        assert _run(tmp_path, "--num-warmups", "3") == 0
        assert len(server.log.bodies) == 7
    common, _, _ = _results(tmp_path)
    assert common["Total Requests"]["total"] == 4
