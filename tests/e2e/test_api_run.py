"""The public Python API runs a benchmark without the command line: plan, run, typed result."""

from __future__ import annotations

import json
from pathlib import Path

from ais_bench import api
from ais_bench.metrics.summary import PerfSummary

REQUESTS = 12
SYNTHETIC = {
    "abbr": "tiny",
    "type": "ais_bench.benchmark.datasets.SyntheticDataset",
    "config": {
        "Type": "string",
        "RequestCount": REQUESTS,
        "StringConfig": {
            "Input": {"Method": "uniform", "Params": {"MinValue": 8, "MaxValue": 8}},
            "Output": {"Method": "uniform", "Params": {"MinValue": 6, "MaxValue": 6}},
        },
    },
    "seed": 0,
}


def test_the_api_runs_the_embedded_simulator_and_returns_a_typed_result(tmp_path: Path) -> None:
    model = api.model_config("sim_api_stream_chat")  # a built-in config by name, as --models takes it
    run_dir = api.new_run_dir(tmp_path / "out")
    with api.serve_simulator(model) as target:
        planned = api.plan_run(target, SYNTHETIC, run_dir=run_dir, num_warmups=1)  # dataset as keywords
        assert isinstance(planned.plan, api.RunPlan) and len(planned.plan.bodies) == REQUESTS
        assert planned.plan.url == f"http://127.0.0.1:{target.host_port}/v1/chat/completions"
        result = api.run(planned, progress=False)
    assert isinstance(result, api.RunResult)
    assert api.summarizer_config("stable_stage").stage == "stable"  # by name, as --summarizer takes it
    assert (result.model_abbr, result.data_abbr, result.stage) == ("sim-api-stream-chat", "tiny", "total")
    assert (result.totals.sent, result.totals.finished, result.totals.failed) == (REQUESTS, REQUESTS, 0)
    assert not result.interrupted and result.stop_signal is None
    assert isinstance(result.summary, PerfSummary)
    common = {metric.name: metric.value for metric in result.summary.common}
    assert common["Total Requests"] == REQUESTS and common["Success Requests"] == REQUESTS
    # every output is where the result says, and the json holds the same numbers as the summary
    paths = result.paths
    assert paths.out_dir == run_dir / "performances" / "sim-api-stream-chat"
    for path in (paths.json, paths.csv, paths.details_jsonl, paths.details_h5):
        assert path.is_file(), path
    written = json.loads(paths.json.read_text())
    assert written["Total Requests"] == {"total": REQUESTS}
    assert written["Success Requests"] == {"total": REQUESTS}
