"""End-to-end perf runs against a test server whose timing is exactly known."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import orjson
import pytest

from ais_bench.cli.main import main
from ais_bench.clients.transport import kernel_stamps_supported
from ais_bench.records.store import read_records
from tests.support.configs import only_run_dir, write_model_config, write_synthetic_dataset
from tests.support.fixed_server import FixedServer, FixedTiming

#: Millisecond cells are seconds rounded to 4 decimals: within 0.05 ms of the exact value.
MS_ROUNDING = 0.05 + 1e-9


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
    # Server: TTFT 50 ms, then 4 more tokens 20 ms apart (each written at a perf_counter deadline from
    # the request's arrival, never before), usage chunk right after the last token.
    # Ideal per request: E2EL = 50 + 4*20 = 130 ms, TTFT = 50 ms, TPOT = 20 ms.
    timing = FixedTiming(ttft_s=0.05, itl_s=0.02, output_tokens=5, prompt_tokens=7)
    with FixedServer(timing) as server:
        write_model_config(tmp_path / "cfg", "test_model", server.port, batch_size=2)
        write_synthetic_dataset(tmp_path / "cfg", "tiny", 6)
        assert _run(tmp_path, "--num-warmups", "0") == 0
    common, rows, perf = _results(tmp_path)
    header = rows["Performance Parameters"]
    avg = header.index("Average")
    # Every number below is computed by hand from the recorded time points and must match to the
    # table's rounding (4 decimals of seconds: 0.05 ms; 4 decimals of token/s); the server's delays
    # only give lower bounds (a loaded machine adds time, never removes it).
    records = read_records(perf, "tiny")
    assert len(records) == 6 and all(len(r.time_points_s) == 6 for r in records)  # send + 5 token events
    points = np.array([r.time_points_s for r in records])
    since_send = points[:, 1:] - points[:, :1]
    # Token k is written >= 50 + 20 (k-1) ms after the request arrived, which is after its send. The
    # 1 ms only covers moving a kernel stamp from CLOCK_REALTIME to perf_counter (µs).
    assert np.all(since_send >= 0.05 + 0.02 * np.arange(5) - 0.001)
    e2el = np.array([r.end_s - r.start_s for r in records])
    ttft = points[:, 1] - points[:, 0]
    gaps = np.diff(points[:, 1:], axis=1)  # the role chunk (with the first token) and usage make no gap
    assert np.all(e2el >= 0.13 - 0.001)
    assert _ms(rows["E2EL"][avg]) == pytest.approx(e2el.mean() * 1000, abs=MS_ROUNDING)
    assert _ms(rows["TTFT"][avg]) == pytest.approx(ttft.mean() * 1000, abs=MS_ROUNDING)
    assert _ms(rows["TPOT"][avg]) == pytest.approx(((e2el - ttft) / 4).mean() * 1000, abs=MS_ROUNDING)
    # ITL gaps lie between token events only: the role chunk (sent with the first token) and the
    # usage chunk right after the last token make no gap, so four gaps per request (the version
    # before counted six, two of them ~0: mean 13.3 ms, Min 0.0).
    assert _ms(rows["ITL"][avg]) == pytest.approx(gaps.mean() * 1000, abs=MS_ROUNDING)
    assert rows["ITL"][-1] == "24"  # N of ITL: the number of gaps, 4 x 6 requests
    assert float(rows["OutputTokens"][avg]) == 5
    assert float(rows["InputTokens"][avg]) == 7
    assert float(rows["OutputTokenThroughput"][avg].split()[0]) == pytest.approx((5 / e2el).mean(), abs=1e-4)
    assert float(rows["PrefillTokenThroughput"][avg].split()[0]) == pytest.approx((7 / ttft).mean(), abs=1e-4)
    assert rows["E2EL"][-1] == "6"
    # 6 requests, 2 at a time, back to back: 3 waves of >= 130 ms each -> duration >= 390 ms.
    assert common["Total Requests"]["total"] == 6
    assert common["Success Requests"]["total"] == 6
    assert common["Max Concurrency"]["total"] == 2
    duration_s = max(r.end_s for r in records) - min(r.start_s for r in records)
    duration_ms = float(common["Benchmark Duration"]["total"].split()[0])
    assert duration_ms == pytest.approx(duration_s * 1000, abs=MS_ROUNDING)
    assert duration_ms >= 390 - 1
    # Concurrency = sum(E2EL) / duration, never above the 2 slots.
    assert common["Concurrency"]["total"] == pytest.approx(e2el.sum() / duration_s, rel=1e-4)
    assert common["Concurrency"]["total"] <= 2
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
