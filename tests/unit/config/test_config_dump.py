from __future__ import annotations

import os
import re
from pathlib import Path

from ais_bench.benchmark.datasets import SyntheticDataset
from ais_bench.benchmark.models import VLLMCustomAPIChat
from ais_bench.config import (
    build_datasets,
    dump_config,
    load_run_config,
    load_summarizer,
    validate_model,
)
from ais_bench.config.resolve import resolve_config_file

SYN = {
    "abbr": "syn",
    "type": SyntheticDataset,
    "config": {
        "Type": "string",
        "RequestCount": 4,
        "StringConfig": {
            "Input": {"Method": "uniform", "Params": {"MinValue": 2, "MaxValue": 2}},
            "Output": {"Method": "uniform", "Params": {"MinValue": 3, "MaxValue": 5}},
        },
    },
    "seed": 1,
}


def test_dump_masks_api_key_and_reloads(tmp_path):
    model = validate_model(
        {"attr": "service", "type": VLLMCustomAPIChat, "abbr": "m", "api_key": "sk-secret", "batch_size": 2},
        "m.py",
    )
    datasets = build_datasets([SYN], "d.py")
    summarizer = load_summarizer(resolve_config_file("summarizers", "stable_stage", "/nonexistent").path)
    path = dump_config(
        tmp_path, [model], datasets, summarizer, {"mode": "perf", "api_key": "k2", "debug": False}
    )
    assert path.parent == tmp_path / "configs"
    assert re.fullmatch(rf"\d{{8}}_\d{{6}}_{os.getpid()}\.py", path.name)
    text = path.read_text()
    assert "sk-secret" not in text and "k2" not in text and "'***'" in text
    assert "'ais_bench.benchmark.models.VLLMCustomAPIChat'" in text
    assert "'ais_bench.benchmark.datasets.SyntheticDataset'" in text

    run = load_run_config(path)
    assert run.models[0].type is VLLMCustomAPIChat and run.models[0].batch_size == 2
    assert run.datasets[0].synthetic == datasets[0].synthetic
    assert run.summarizer.stage == "stable" and run.cli_args["mode"] == "perf"


def test_a_dump_written_before_the_classes_moved_to_ais_bench_benchmark_still_loads():
    """The golden run's dump names ais_bench.clients.backends / ais_bench.datasets.dataset_types."""
    dump = Path(__file__).parents[2] / "data" / "golden_run" / "configs" / "20261130_163446_7451.py"
    assert "'ais_bench.clients.backends.VLLMCustomAPIChat'" in dump.read_text()
    run = load_run_config(dump)
    assert run.models[0].type is VLLMCustomAPIChat and run.models[0].backend == "openai-chat"
    assert run.datasets[0].type is SyntheticDataset and run.datasets[0].kind == "synthetic"
