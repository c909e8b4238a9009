"""Pressure mode end to end against a server with known timing."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from ais_bench.cli.main import main
from ais_bench.records.store import read_records
from tests.support.configs import only_run_dir, write_model_config, write_synthetic_dataset
from tests.support.fixed_server import FixedServer, FixedTiming


@pytest.mark.parametrize("workers", [1, 2])
def test_pressure_adds_clients_at_rate_holds_and_stops(tmp_path: Path, workers: int) -> None:
    # Each request lasts 100 + 10*20 = 300 ms. 8 clients are added at 50 clients/s with fixed gaps
    # (20 ms apart, all within 140 ms, before any first request ends), then each sends back to back
    # until 2 s after the first send; requests in flight at the deadline finish and count.
    consts = tmp_path / "consts.py"
    consts.write_text(f"WORKERS_NUM = {workers}\n")
    timing = FixedTiming(ttft_s=0.1, itl_s=0.02, output_tokens=11)
    with FixedServer(timing) as server:
        write_model_config(
            tmp_path / "cfg", "test_model", server.port, batch_size=8, request_rate=50,
            traffic_cfg={"burstiness": 0},
        )
        write_synthetic_dataset(tmp_path / "cfg", "tiny", 3)
        started = time.monotonic()
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("AIS_BENCH_GLOBAL_CONSTS", str(consts))
            code = main([
                "--models", "test_model", "--datasets", "tiny", "--mode", "perf", "--summarizer", "stable_stage",
                "--pressure", "--pressure-time", "2", "--num-warmups", "0",
                "--config-dir", str(tmp_path / "cfg"), "--work-dir", str(tmp_path / "out"),
            ])
        wall_s = time.monotonic() - started
        assert code == 0
        assert server.log.max_in_flight == 8
    perf = only_run_dir(tmp_path / "out") / "performances" / "test-model"
    records = read_records(perf, "tiny")
    starts = np.sort(np.array([r.start_s for r in records]))
    ends = np.array([r.end_s for r in records])
    first_sends = starts[:8] - starts[0]
    # clients added every 20 ms (the mean is tight; single gaps may jitter on a loaded machine)
    assert np.diff(first_sends).mean() == pytest.approx(0.02, abs=0.002)
    np.testing.assert_allclose(np.diff(first_sends), 0.02, atol=0.015)
    # Deadline checked before each new request: nothing starts after 2 s; the run ends within
    # T + the longest request.
    assert starts[-1] - starts[0] < 2.0
    assert ends.max() - starts[0] <= 2.0 + 0.3 + 0.1
    assert wall_s < 2.0 + 0.3 + 8  # process start-up included
    # The dataset (3 rows) cycles round-robin.
    assert sorted({r.data_index for r in records}) == [0, 1, 2]
    assert len(records) >= 8 * 2.0 / 0.3 * 0.85
    common = json.loads((perf / "tiny.json").read_text())
    window = common["_ais_bench"]["window"]
    # Hold phase: from the 8th client's first send (~0.14 s) to the deadline (2 s); the steady window
    # must cover most of it.
    assert window["duration_s"] >= 0.8 * (2.0 - 0.14)
    assert common["Max Concurrency"]["stable"] == 8
    assert common["Concurrency"]["stable"] <= 8


def test_pressure_warns_when_time_ends_before_all_clients(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FixedServer(FixedTiming(ttft_s=0.01, itl_s=0.01, output_tokens=2)) as server:
        write_model_config(
            tmp_path / "cfg", "test_model", server.port, batch_size=10, request_rate=4,
            traffic_cfg={"burstiness": 0},
        )
        write_synthetic_dataset(tmp_path / "cfg", "tiny", 3)
        code = main([
                "--models", "test_model", "--datasets", "tiny", "--mode", "perf", "--debug",
            "--pressure", "--pressure-time", "1", "--num-warmups", "0",
            "--config-dir", str(tmp_path / "cfg"), "--work-dir", str(tmp_path / "out"),
        ])
    assert code == 0
    assert "pressure time ended before all clients were added" in capsys.readouterr().err
