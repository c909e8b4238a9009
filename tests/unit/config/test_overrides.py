"""Command-line overrides of the selected configs (``config/overrides.py``): each flag lands in its
field of every model or dataset, and contradictory or pointless combinations are one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from ais_bench.cli.args import parse_args
from ais_bench.cli.configs import load_run_configs
from ais_bench.config import DEFAULT_URL_MODEL_FILE, RunOverrides, apply_overrides, load_datasets, load_models
from ais_bench.config.loader import BUILTIN_CONFIG_DIR
from ais_bench.config.overrides import DEFAULT_SYNTHETIC_ROWS
from ais_bench.datasets import load_items
from ais_bench.datasets.synthetic import StringSpec
from ais_bench.errors import ConfigError
from tests.support.paths import SMOLLM2_DIR, require

SYNTHETIC_GEN = BUILTIN_CONFIG_DIR / "datasets" / "synthetic" / "synthetic_gen.py"
GSM8K_DEMO = BUILTIN_CONFIG_DIR / "datasets" / "demo" / "demo_gsm8k_gen_4_shot_cot_chat_prompt.py"
TOKENID = BUILTIN_CONFIG_DIR / "datasets" / "synthetic" / "synthetic_gen_tokenid.py"
SIM_MODEL = BUILTIN_CONFIG_DIR / "models" / "sim" / "sim_api_stream_chat.py"


def _default_model():
    return load_models(DEFAULT_URL_MODEL_FILE)


def test_model_flags_replace_the_fields_of_every_model() -> None:
    models = [*_default_model(), *load_models(SIM_MODEL)]
    overrides = RunOverrides(
        url="http://127.0.0.1:9000", served_model_name="served", concurrency=16, request_rate=2.5,
        max_out_len=64, seed=7, headers={"X-Team": "blue"},
    )
    out = apply_overrides(models, [], overrides).models
    for model in out:
        assert model.base_url == "http://127.0.0.1:9000/"
        assert (model.model, model.batch_size, model.request_rate, model.max_out_len, model.seed) == (
            "served", 16, 2.5, 64, 7,
        )
        assert model.headers["X-Team"] == "blue"
        assert model.simulator is None  # --url: the server named, no embedded simulator started
    assert out[1].abbr == "sim-api-stream-chat" and out[0].abbr == "vllm-api-stream-chat"


def test_no_override_keeps_every_field() -> None:
    models, datasets = _default_model(), load_datasets(SYNTHETIC_GEN)
    out = apply_overrides(models, datasets, RunOverrides())
    assert out.models == models and out.datasets == datasets and out.warnings == []


def test_the_api_key_comes_from_the_named_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", "sk-secret")
    out = apply_overrides(_default_model(), [], RunOverrides(api_key_env="MY_KEY"))
    assert out.models[0].api_key == "sk-secret"
    assert out.models[0].to_dump_dict()["api_key"] == "***"


@pytest.mark.parametrize("value, state", [(None, "is not set"), ("", "is empty")])
def test_a_missing_or_empty_key_variable_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, value: str | None, state: str
) -> None:
    monkeypatch.delenv("MY_KEY", raising=False)
    if value is not None:
        monkeypatch.setenv("MY_KEY", value)
    with pytest.raises(ConfigError) as caught:
        apply_overrides(_default_model(), [], RunOverrides(api_key_env="MY_KEY"))
    assert caught.value.message == f"--api-key-env MY_KEY: the environment variable MY_KEY {state}"
    assert caught.value.hint is not None and "export MY_KEY=" in caught.value.hint


def test_isl_osl_without_a_dataset_make_fixed_length_prompts_that_ignore_eos() -> None:
    out = apply_overrides(_default_model(), [], RunOverrides(isl=128, osl=32), num_prompts=5)
    (dataset,) = out.datasets
    items = list(load_items(dataset, None))
    assert dataset.abbr == "synthetic" and len(items) == 5
    assert all(item.prompt == " ".join(["A"] * 128) and item.max_out_len == 32 for item in items)
    assert out.models[0].generation_kwargs["ignore_eos"] is True
    assert out.models[0].generation_kwargs["temperature"] == 0.01  # the config's other keys stay


def test_without_num_prompts_the_flag_dataset_has_the_default_row_count() -> None:
    (dataset,) = apply_overrides(_default_model(), [], RunOverrides(isl=4, osl=4)).datasets
    assert dataset.synthetic is not None and dataset.synthetic.request_count == DEFAULT_SYNTHETIC_ROWS


def test_stddev_draws_normal_lengths_around_the_mean() -> None:
    overrides = RunOverrides(isl=100, osl=50, isl_stddev=10, osl_stddev=5, seed=3)
    (dataset,) = apply_overrides(_default_model(), [], overrides, num_prompts=2000).datasets
    items = list(load_items(dataset, None))
    inputs = [len(item.prompt.split()) for item in items]
    outputs = [item.max_out_len for item in items]
    assert len(set(inputs)) > 10 and len(set(outputs)) > 5
    assert 97 <= sum(inputs) / len(inputs) <= 101  # int() truncation lowers the mean by about 0.5
    assert 47 <= sum(outputs) / len(outputs) <= 51
    assert dataset.seed == 3


def test_isl_osl_reshape_a_synthetic_string_dataset_and_keep_the_rest() -> None:
    (before,) = load_datasets(SYNTHETIC_GEN)
    (after,) = apply_overrides(_default_model(), [before], RunOverrides(osl=16)).datasets
    assert after.synthetic is not None and before.synthetic is not None
    kept, shaped = before.synthetic.prompts, after.synthetic.prompts
    assert isinstance(kept, StringSpec) and isinstance(shaped, StringSpec)
    assert shaped.input_len == kept.input_len  # --isl not given: kept
    assert (shaped.output_len.min_value, shaped.output_len.max_value) == (16, 16)
    assert after.synthetic.request_count == before.synthetic.request_count and after.abbr == before.abbr


def test_seed_reaches_the_datasets_too() -> None:
    datasets = [*load_datasets(SYNTHETIC_GEN)]
    (dataset,) = apply_overrides(_default_model(), datasets, RunOverrides(seed=11)).datasets
    assert dataset.seed == 11 and dataset.synthetic is not None and dataset.synthetic.seed == 11


@pytest.mark.parametrize(
    "overrides, message",
    [
        (RunOverrides(isl_stddev=3), "--isl-stddev is given without --isl: it is the spread around --isl"),
        (RunOverrides(osl=8, max_out_len=8), "--max-out-len and --osl both set the output length of every request"),
        (RunOverrides(url="https://h:1", ca_cert=__file__, insecure=True), "--ca-cert and --insecure contradict"),
        (RunOverrides(api_key_env="K", headers={"authorization": "x"}), "--api-key-env and --header Authorization"),
        (RunOverrides(concurrency=0), "command line: --concurrency = 0 is not allowed: expected an integer in [1, 100000]"),
        (RunOverrides(url="ftp://host"), "command line: --url = 'ftp://host' is not allowed"),
        (RunOverrides(url=" "), "--url is empty"),
        (RunOverrides(served_model_name=""), "--served-model-name is empty"),
        (RunOverrides(ca_cert="/no/such.pem", url="https://h"), "command line: --ca-cert = '/no/such.pem' is not allowed"),
        (RunOverrides(insecure=True), "--insecure has no effect on model 'vllm-api-stream-chat': it talks to http://"),
        (RunOverrides(isl=8), "--isl without --osl and without a dataset: the prompts need both lengths"),
    ],
)
def test_contradictions_and_pointless_flags_are_one_line(overrides: RunOverrides, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        apply_overrides(_default_model(), [], overrides)
    assert caught.value.message.startswith(message), caught.value.message
    assert "\n" not in caught.value.one_line()


@pytest.mark.parametrize("path, what", [(GSM8K_DEMO, "is a GSM8KDataset"), (TOKENID, "is a synthetic tokenid dataset")])
def test_isl_on_a_dataset_that_is_not_synthetic_text_is_refused(path: Path, what: str) -> None:
    with pytest.raises(ConfigError) as caught:
        apply_overrides(_default_model(), load_datasets(path), RunOverrides(isl=8, osl=8))
    assert caught.value.message.startswith("--isl/--osl shape synthetic string prompts, but dataset")
    assert caught.value.message.endswith(what)


def test_request_rate_on_a_timestamp_replay_is_refused(write) -> None:
    path = write(
        "models/replay.py",
        "from ais_bench.benchmark.models import VLLMCustomAPI\n"
        "models = [dict(type=VLLMCustomAPI, abbr='replay', use_timestamp=True)]\n",
    )
    with pytest.raises(ConfigError, match="--request-rate has no effect on model 'replay'"):
        apply_overrides(load_models(path), [], RunOverrides(request_rate=5))


def test_a_model_name_for_an_api_that_sends_none_is_refused() -> None:
    tgi = load_models(BUILTIN_CONFIG_DIR / "models" / "tgi_api" / "tgi_stream_api_general.py")
    with pytest.raises(ConfigError, match=r"--served-model-name has no effect on model '.*': its API \(TGICustomAPI"):
        apply_overrides(tgi, [], RunOverrides(served_model_name="x"))


def test_keywords_name_only_known_overrides() -> None:
    assert RunOverrides.of({"concurrency": 4}) == RunOverrides(concurrency=4)
    with pytest.raises(ConfigError, match="unknown override 'batch_size'"):
        RunOverrides.of({"batch_size": 4})


def test_the_command_line_selects_the_default_model_and_the_flag_dataset(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    args = parse_args(["--url", "http://127.0.0.1:8000", "--concurrency", "16", "--isl", "128", "--osl", "128",
                       "--num-prompts", "200", "--mode", "perf"])
    configs = load_run_configs(args)
    (model,), (dataset,) = configs.models, configs.datasets
    assert (model.abbr, model.base_url, model.batch_size, model.stream) == (
        "vllm-api-stream-chat", "http://127.0.0.1:8000/", 16, True,
    )
    assert dataset.synthetic is not None and dataset.synthetic.request_count == 200


def test_without_url_a_model_is_still_required() -> None:
    with pytest.raises(ConfigError, match="no model given"):
        parse_args(["--isl", "8", "--osl", "8"])


@require(SMOLLM2_DIR, "the SmolLM2 tokenizer")
def test_an_isl_prompt_is_isl_tokens_of_a_real_tokenizer() -> None:
    from ais_bench.tokens import load_tokenizer

    tokenizer = load_tokenizer(str(SMOLLM2_DIR))
    (dataset,) = apply_overrides(_default_model(), [], RunOverrides(isl=128, osl=4), num_prompts=3).datasets
    prompts = [item.prompt for item in load_items(dataset, None)]
    assert tokenizer.count_prompts(prompts).tolist() == [128, 128, 128]
