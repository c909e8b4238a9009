"""--server-metrics end to end against the embedded simulator, whose /metrics counts what it served:
the derived numbers are checked against what the client received (exact counts, no timing)."""

from __future__ import annotations

import csv
import json
import socket
from pathlib import Path
from typing import Any

import h5py
import jsonschema
import pytest

from ais_bench.cli.main import main
from ais_bench.reports.summary_json import summary_schema
from tests.support.configs import only_run_dir, write_sim_model_config, write_synthetic_dataset

MAX_NUM_SEQS = 2
SIM = {"max_num_seqs": MAX_NUM_SEQS, "seed": 0, "decode_base_ms": 4.0, "prefill_base_ms": 2.0}


def _run(tmp_path: Path, *flags: str) -> int:
    cfg = tmp_path / "cfg"
    write_sim_model_config(cfg, "sim_model", SIM, host_ip="127.0.0.1", batch_size=4, model="")
    write_synthetic_dataset(cfg, "tiny", 16, input_len=8, output_len=12)
    return main([
        "--models", "sim_model", "--datasets", "tiny", "--num-warmups", "1",
        "--config-dir", str(cfg), "--work-dir", str(tmp_path / "out"), *flags,
    ])


def _perf(tmp_path: Path) -> Path:
    return only_run_dir(tmp_path / "out") / "performances" / "sim-model"


def _facts(perf: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((perf / "tiny.json").read_text(encoding="utf-8"))
    return document


def test_scraped_counters_equal_what_the_client_received(tmp_path: Path) -> None:
    assert _run(tmp_path, "--server-metrics", "--server-metrics-interval", "0.1") == 0
    perf = _perf(tmp_path)
    document = _facts(perf)
    server = document["_ais_bench"]["server_metrics"]
    assert server["urls"][0].endswith("/metrics") and server["interval_s"] == 0.1
    assert server["failed_scrapes"] == {server["urls"][0]: 0} and server["scrapes"] >= 2
    vllm = server["stages"]["total"]["servers"]["vllm"]
    # the first scrape precedes the load and the last follows it: every token and prompt is counted
    assert vllm["generation_tokens"] == document["Total Generated Tokens"]["total"]
    assert vllm["prompt_tokens"] == document["Total Input Tokens"]["total"]
    assert vllm["ttft"]["count"] == 16
    assert vllm["running_requests"]["max"] <= MAX_NUM_SEQS
    assert vllm["kv_cache_usage"]["max"] <= 1.0
    check = server["cross_check"]["total"]
    assert check["server_generation_tokens_per_s"] == pytest.approx(check["client_output_tokens_per_s"], rel=1e-9)
    with (perf / "tiny_server_metrics.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["t_s", "name", "labels", "value"]
    assert {"vllm:num_requests_running", "vllm:generation_tokens_total"} <= {row[1] for row in rows[1:]}
    assert server["samples"] == len(rows) - 1
    with h5py.File(perf / "tiny_details.h5") as f:
        assert f["server_metrics/t_s"].shape == (len(rows) - 1,)
    page = (perf / "tiny_plot.html").read_text(encoding="utf-8")
    assert "Server: requests running and waiting" in page and "Server: KV-cache usage" in page
    assert "Server: vllm running" in page and "Server: vllm kv usage" in page
    summary = json.loads((perf / "tiny_summary.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(summary_schema()).validate(summary)
    assert summary["server_metrics"] == server


def test_recalculation_rederives_from_the_saved_series(tmp_path: Path) -> None:
    assert _run(tmp_path, "--server-metrics", "--server-metrics-interval", "0.1") == 0
    perf = _perf(tmp_path)
    before = _facts(perf)["_ais_bench"]["server_metrics"]
    (perf / "tiny_server_metrics.csv").unlink()  # the copy in tiny_details.h5 is enough
    run = only_run_dir(tmp_path / "out").name
    assert main([
        "--models", "sim_model", "--datasets", "tiny", "--mode", "perf_viz", "--reuse", run,
        "--config-dir", str(tmp_path / "cfg"), "--work-dir", str(tmp_path / "out"),
    ]) == 0
    assert _facts(perf)["_ais_bench"]["server_metrics"] == before


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_a_failing_scrape_is_a_warning_and_the_run_goes_on(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/metrics"
    assert _run(tmp_path, "--server-metrics", url, "--server-metrics-interval", "0.2") == 0
    perf = _perf(tmp_path)
    document = _facts(perf)
    server = document["_ais_bench"]["server_metrics"]
    assert server["failed_scrapes"][url] == server["scrapes"] >= 2
    assert "cannot reach" in server["first_errors"][url]
    assert any(f"scrapes of {url} failed" in warning for warning in document["_ais_bench"]["warnings"])
    assert server["stages"]["total"]["servers"] == {}
    assert document["Total Requests"]["total"] == 16


def test_a_url_that_is_not_http_is_one_config_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(tmp_path, "--server-metrics", "127.0.0.1:9400/metrics") != 0
    err = capsys.readouterr().err
    assert "--server-metrics '127.0.0.1:9400/metrics' is not an http:// or https:// URL" in err
    assert "Traceback" not in err
