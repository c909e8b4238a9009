"""SLO bounds from ``--goodput`` and from the summarizer's ``slo=dict(...)``."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from ais_bench.cli.configs import load_run_configs
from ais_bench.config.slo import parse_goodput_flag, slo_bounds
from ais_bench.config.summarizers import build_summarizer
from ais_bench.errors import ConfigError
from ais_bench.metrics.goodput import SloBound

PERF = {"attr": "performance", "type": "x", "calculator": {"type": "DefaultPerfMetricCalculator"}}


def test_flag_pairs_become_bounds_in_metric_order() -> None:
    bounds = parse_goodput_flag(["e2el:5000", "ttft:200", "tpot:50.5"])
    assert bounds == (SloBound("ttft", 200.0), SloBound("tpot", 50.5), SloBound("e2el", 5000.0))
    assert parse_goodput_flag(["ttft:0"]) == (SloBound("ttft", 0.0),)  # 0 allowed, as vLLM


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (["ttft=200"], "is not KEY:VALUE"),
        ([":200"], "is not KEY:VALUE"),
        (["ttft:fast"], "is not a number of ms"),
        (["ttft:200", "ttft:100"], "gives ttft twice"),
        (["itl:20"], "unknown SLO metric 'itl'"),
        (["TTFT:20"], "unknown SLO metric 'TTFT'"),
        (["ttft:-1"], "expected a number of ms >= 0"),
        (["ttft:nan"], "expected a number of ms >= 0"),
        (["e2el:inf"], "expected a number of ms >= 0"),
    ],
)
def test_bad_flag_is_one_config_error(pairs: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_goodput_flag(pairs)
    assert message in caught.value.message
    assert caught.value.hint


def test_summarizer_slo_dict() -> None:
    summarizer = build_summarizer({**PERF, "slo": {"e2el": 5000, "ttft": 200}}, "s.py")
    assert summarizer.slo == (SloBound("ttft", 200.0), SloBound("e2el", 5000.0))
    assert summarizer.to_dump_dict()["slo"] == {"ttft": 200.0, "e2el": 5000.0}
    assert "slo" not in build_summarizer(PERF, "s.py").to_dump_dict()
    assert build_summarizer(PERF, "s.py").slo == ()
    # a summarizer AISBench replaces by the default keeps its slo
    assert build_summarizer({"slo": {"tpot": 40}}, "s.py").slo == (SloBound("tpot", 40.0),)


def test_summarizer_slo_errors_name_the_file() -> None:
    with pytest.raises(ConfigError, match=r"s\.py: summarizer\.slo: unknown SLO metric 'p99'"):
        build_summarizer({**PERF, "slo": {"p99": 10}}, "s.py")
    with pytest.raises(ConfigError, match=r"summarizer\.slo"):
        build_summarizer({**PERF, "slo": [("ttft", 10)]}, "s.py")
    with pytest.raises(ConfigError, match="ttft = True is not allowed"):
        slo_bounds({"ttft": True}, "s.py")


def _args(**values: object) -> argparse.Namespace:
    defaults = dict(
        config=None, models=["sim_api_stream_chat"], datasets=["synthetic_demo"], summarizer=None,
        config_dir="/nonexistent", mode="perf", num_prompts=None, goodput=None,
    )
    return argparse.Namespace(**{**defaults, **values})


def test_flag_replaces_the_summarizer_slo() -> None:
    configs = load_run_configs(_args(goodput=["ttft:150"]))
    assert configs.summarizer.slo == (SloBound("ttft", 150.0),)
    assert load_run_configs(_args()).summarizer.slo == ()


def test_ttft_bound_on_a_non_streaming_model_is_refused_before_the_run() -> None:
    with pytest.raises(ConfigError, match="needs streamed responses") as caught:
        load_run_configs(_args(models=["sim_api_general_chat"], goodput=["ttft:150"]))
    assert caught.value.hint and "e2el" in caught.value.hint
    assert load_run_configs(_args(models=["sim_api_general_chat"], goodput=["e2el:150"])).summarizer.slo


def test_api_refuses_a_ttft_bound_on_a_non_streaming_model_before_planning(tmp_path: Path) -> None:
    from ais_bench import api

    with pytest.raises(ConfigError, match="needs streamed responses"):
        api.plan_run("sim_api_general_chat", "synthetic_demo", run_dir=tmp_path, summarizer={"slo": {"ttft": 100}})


def test_the_config_dump_keeps_the_bounds(tmp_path: Path) -> None:
    from ais_bench.benchmark.models import VLLMCustomAPIChat
    from ais_bench.config import build_datasets, dump_config, load_run_config, validate_model

    model = validate_model({"attr": "service", "type": VLLMCustomAPIChat, "abbr": "m"}, "m.py")
    dataset = {"abbr": "g", "type": "ais_bench.benchmark.datasets.GSM8KDataset", "path": "gsm8k"}
    summarizer = build_summarizer({**PERF, "slo": {"tpot": 50, "ttft": 200}}, "s.py")
    path = dump_config(tmp_path, [model], build_datasets([dataset], "d.py"), summarizer, {"goodput": ["ttft:200"]})
    assert load_run_config(path).summarizer.slo == (SloBound("ttft", 200.0), SloBound("tpot", 50.0))
