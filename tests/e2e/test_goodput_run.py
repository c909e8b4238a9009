"""``--goodput``: a run against the embedded simulator and its recalculation with other bounds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from ais_bench.cli.main import main
from ais_bench.reports.summary_json import summary_schema
from tests.support.configs import only_run_dir

SIM = ("--models", "sim_api_stream_chat", "--datasets", "synthetic_demo")
REQUESTS = 32


def _goodput(run_dir: Path) -> tuple[dict, dict]:
    document = json.loads((run_dir / "performances" / "sim-api-stream-chat" / "synthetic.json").read_text())
    return document, document["_ais_bench"]["goodput"]


@pytest.fixture(scope="module")
def sim_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """32 requests to the simulator with a bound every request meets (E2EL within 10 minutes)."""
    work = tmp_path_factory.mktemp("goodput") / "out"
    code = main([*SIM, "--num-prompts", str(REQUESTS), "--work-dir", str(work), "--goodput", "e2el:600000"])
    assert code == 0
    return work


def test_run_reports_goodput(sim_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document, goodput = _goodput(only_run_dir(sim_run))
    assert goodput["slo_ms"] == {"e2el": 600000.0}
    assert (goodput["requests"], goodput["good_requests"], goodput["failed_requests"]) == (REQUESTS, REQUESTS, 0)
    assert goodput["attainment"] == 1.0 and goodput["most_missed"] is None
    # every request good: goodput is Request Throughput, over the same duration
    throughput = float(document["Request Throughput"]["total"].removesuffix(" req/s"))
    assert goodput["goodput_req_s"] == pytest.approx(throughput, rel=1e-12)
    assert goodput["duration_s"] * 1000 == pytest.approx(float(document["Benchmark Duration"]["total"][:-3]))
    summary = json.loads((only_run_dir(sim_run) / "performances" / "sim-api-stream-chat" / "synthetic_summary.json")
                         .read_text())
    jsonschema.Draft202012Validator(summary_schema()).validate(summary)
    assert summary["goodput"]["goodput_req_s"] == goodput["goodput_req_s"]
    assert summary["goodput"]["good_requests"] == REQUESTS
    html = (only_run_dir(sim_run) / "performances" / "sim-api-stream-chat" / "synthetic_plot.html").read_text()
    assert 'class="goodput"' in html


def test_recalculation_with_other_bounds(sim_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # No TTFT is 0 ms: every request misses ttft:0; tpot:600000 is met by all.
    capsys.readouterr()
    assert main([*SIM, "--work-dir", str(sim_run), "--reuse", "--goodput", "ttft:0", "tpot:600000"]) == 0
    out = capsys.readouterr().out
    assert "Goodput (total stage, SLO ttft <= 0 ms, tpot <= 600000 ms): 0 req/s" in out
    assert f"SLO attainment: 0 of {REQUESTS} requests (0.0%" in out
    assert f"over ttft 0 ms: {REQUESTS}, over tpot 600000 ms: 0; most missed: ttft" in out
    _, goodput = _goodput(only_run_dir(sim_run))
    assert goodput["good_requests"] == 0 and goodput["missed"] == {"ttft": REQUESTS, "tpot": 0}
    assert goodput["attainment_ci"]["low"] == 0.0 and 0 < goodput["attainment_ci"]["high"] < 0.15


def test_bad_goodput_flag_is_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ais_bench.cli.main", *SIM, "--goodput", "itl:20"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "--goodput: unknown SLO metric 'itl'" in errors[0]
    assert not (tmp_path / "outputs").exists()
