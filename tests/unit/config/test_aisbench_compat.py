"""AISBench config files import and load unchanged."""

from __future__ import annotations

from ais_bench.config import load_config_file, load_models, load_run_config

# The original repository's configs/models/vllm_api/vllm_api_stream_chat.py (recent version).
ORIGINAL_MODEL = """from ais_bench.benchmark.models import VLLMCustomAPIChat
from ais_bench.benchmark.utils.postprocess.model_postprocessors import extract_non_reasoning_content

models = [
    dict(
        attr="service",
        type=VLLMCustomAPIChat,
        abbr="vllm-api-stream-chat",
        path="",
        model="",
        stream=True,
        request_rate=0,
        use_timestamp=False,
        retry=2,
        api_key="",
        host_ip="localhost",
        host_port=8080,
        url="",
        max_out_len=512,
        batch_size=1,
        trust_remote_code=False,
        generation_kwargs=dict(
            temperature=0.01,
            ignore_eos=False,
        ),
        response_anomaly=dict(
            model_name="",
            msprobe_config_path="",
            msprobe_mtype_path="",
            msprobe_token2category_dir="",
        ),
        pred_postprocessor=dict(type=extract_non_reasoning_content),
    )
]
"""

ALL_IN_ONE = """from mmengine.config import read_base
from ais_bench.benchmark.models import VLLMCustomAPIChat

with read_base():
    from ais_bench.benchmark.configs.summarizers.perf.stable_stage import summarizer
    from ais_bench.benchmark.configs.datasets.demo.demo_gsm8k_gen_4_shot_cot_chat_prompt import gsm8k_datasets
    from ais_bench.benchmark.configs.models.vllm_api.vllm_api_general import models as vllm_api_general

datasets = [*gsm8k_datasets]
models = vllm_api_general
models[0]['url'] = 'http://your-api-server:8080/'
models[0]['api_key'] = 'your-api-key'
"""


def test_original_model_file(write):
    (m,) = load_models(write("models/vllm_api_stream_chat.py", ORIGINAL_MODEL))
    assert m.stream and m.abbr == "vllm-api-stream-chat"


def test_compat_imports():
    from ais_bench.benchmark.calculators import DefaultPerfMetricCalculator, StablePerfMetricCalculator
    from ais_bench.benchmark.datasets import GSM8KDataset, SyntheticDataset
    from ais_bench.benchmark.models import (
        VLLMCustomAPI,
        VLLMCustomAPIChat,
        VLLMCustomAPIChatStream,
        VLLMCustomAPIStream,
    )
    from ais_bench.benchmark.summarizers import DefaultPerfSummarizer
    from ais_bench.benchmark.utils.postprocess.model_postprocessors import extract_non_reasoning_content

    assert all(
        isinstance(c, type)
        for c in (
            DefaultPerfMetricCalculator,
            StablePerfMetricCalculator,
            GSM8KDataset,
            SyntheticDataset,
            VLLMCustomAPI,
            VLLMCustomAPIChat,
            VLLMCustomAPIChatStream,
            VLLMCustomAPIStream,
            DefaultPerfSummarizer,
        )
    )
    assert extract_non_reasoning_content("<think>hmm</think> 42") == "42"


def test_all_in_one_file_with_builtin_imports(write):
    path = write("my_config.py", ALL_IN_ONE)
    run = load_run_config(path)
    assert (
        run.models[0].base_url == "http://your-api-server:8080/" and run.models[0].api_key == "your-api-key"
    )
    assert run.datasets[0].abbr == "demo_gsm8k" and run.summarizer.stage == "stable"
    assert "summarizer" in load_config_file(path)
