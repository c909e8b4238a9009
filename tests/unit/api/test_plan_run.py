"""plan_run takes configs, keywords or names, and says when a simulator config was not started."""

from __future__ import annotations

from pathlib import Path

import pytest

from ais_bench import api
from ais_bench.errors import ConfigError

SYNTHETIC = {
    "abbr": "tiny",
    "type": "ais_bench.benchmark.datasets.SyntheticDataset",
    "config": {
        "Type": "string",
        "RequestCount": 2,
        "StringConfig": {
            "Input": {"Method": "uniform", "Params": {"MinValue": 4, "MaxValue": 4}},
            "Output": {"Method": "uniform", "Params": {"MinValue": 2, "MaxValue": 2}},
        },
    },
}


def test_a_simulator_config_that_is_not_started_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        api.plan_run("sim_api_stream_chat", SYNTHETIC, run_dir=tmp_path)  # a config name and keywords
    assert "'sim-api-stream-chat' talks to the embedded simulator, which is not started" in caught.value.message
    assert "serve_simulator" in (caught.value.hint or "")


def test_keywords_are_validated_like_a_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"<keywords>: models\[0\]\.batch_size = 0 is not allowed"):
        api.plan_run({"type": "VLLMCustomAPIChat", "abbr": "m", "batch_size": 0}, SYNTHETIC, run_dir=tmp_path)
