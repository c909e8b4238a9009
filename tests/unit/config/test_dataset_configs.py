from __future__ import annotations

import pytest

from ais_bench.benchmark.datasets import GSM8KDataset, SyntheticDataset
from ais_bench.config.datasets import build_datasets, load_datasets, validate_dataset
from ais_bench.config.resolve import resolve_config_file
from ais_bench.datasets.gsm8k import four_shot_chat_template
from ais_bench.errors import ConfigError


def builtin(name):
    return load_datasets(resolve_config_file("datasets", name, "/nonexistent").path)


def test_builtin_gsm8k_configs():
    (full,) = builtin("gsm8k_gen_4_shot_cot_chat_prompt")
    (demo,) = builtin("demo_gsm8k_gen_4_shot_cot_chat_prompt")
    (perf,) = builtin("gsm8k_gen_0_shot_cot_str_perf")
    assert (full.abbr, full.test_range, full.type) == ("gsm8k", None, GSM8KDataset)
    assert (demo.abbr, demo.test_range) == ("demo_gsm8k", "[0:8]")
    assert full.template == demo.template == four_shot_chat_template()
    assert full.prompt_format == "chat" and perf.prompt_format == "str"
    assert "{question}" in perf.template


def test_builtin_synthetic():
    (syn,) = builtin("synthetic_demo")
    assert syn.type is SyntheticDataset and syn.kind == "synthetic" and syn.prompt_format == "str"
    spec = syn.synthetic
    assert spec.request_count == 200 and spec.seed == 0
    assert (spec.prompts.input_len.min_value, spec.prompts.input_len.max_value) == (128, 128)
    assert (spec.prompts.output_len.min_value, spec.prompts.output_len.max_value) == (32, 96)


def test_suffix_selects_variables(write):
    path = write(
        "d.py",
        "from ais_bench.benchmark.datasets import GSM8KDataset\n"
        "a_datasets = [dict(abbr='a', type=GSM8KDataset)]\nb_mine = [dict(abbr='b', type=GSM8KDataset)]\n",
    )
    assert [d.abbr for d in load_datasets(path)] == ["a"]
    assert [d.abbr for d in load_datasets(path, "_mine")] == ["b"]
    with pytest.raises(ConfigError, match="no variable ending in '_other'"):
        load_datasets(path, "_other")


BAD = [
    (
        {"type": dict},
        "datasets[0].type = builtins.dict is not allowed: expected one of GSM8KDataset, SyntheticDataset",
    ),
    ({"abbr": ""}, "datasets[0].abbr = '' is not allowed"),
    (
        {"reader_cfg": {"test_range": "0:8"}},
        "datasets[0].reader_cfg.test_range = '0:8' is not allowed: expected a slice such as '[0:8]'",
    ),
    (
        {"reader_cfg": {"test_rnage": "[0:8]"}},
        "datasets[0].reader_cfg.test_rnage is not a known field (did you mean 'test_range'?)",
    ),
    ({"pth": "x"}, "datasets[0].pth is not a known field (did you mean 'path'?)"),
    (
        {"infer_cfg": {"prompt_template": {"template": 3}}},
        "datasets[0].infer_cfg.prompt_template.template = 3 is not allowed",
    ),
]


@pytest.mark.parametrize(("fields", "message"), BAD)
def test_wrong_gsm8k_values(fields, message):
    with pytest.raises(ConfigError) as info:
        validate_dataset({"abbr": "g", "type": GSM8KDataset, **fields}, "d.py")
    assert message in info.value.message and info.value.message.startswith("d.py: ")


def synthetic(**config):
    base = {
        "Type": "string",
        "RequestCount": 5,
        "StringConfig": {
            "Input": {"Method": "uniform", "Params": {"MinValue": 1, "MaxValue": 4}},
            "Output": {"Method": "uniform", "Params": {"MinValue": 1, "MaxValue": 4}},
        },
    }
    base.update(config)
    return {"abbr": "s", "type": SyntheticDataset, "config": base}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (synthetic(Type="tokens"), "config.Type = 'tokens' is not allowed: expected one of 'string', 'tokenid'"),
        (
            synthetic(RequestCount=0),
            "config.RequestCount = 0 is not allowed: expected an integer in [1, 1048576]",
        ),
        (
            synthetic(
                StringConfig={"Input": {"Method": "uniform", "Params": {"MinValue": 5, "MaxValue": 2}}}
            ),
            "config.StringConfig.Input.Params.MaxValue = 2 is not allowed: expected an integer in [5, 1048576]",
        ),
        (
            synthetic(StringConfig={"Input": {"Method": "poisson", "Params": {}}}),
            "config.StringConfig.Input.Method = 'poisson' is not allowed",
        ),
        ({**synthetic(), "seed": -3}, "datasets[0].seed = -3 is not allowed"),
    ],
)
def test_wrong_synthetic_values(entry, message):
    with pytest.raises(ConfigError) as info:
        build_datasets([entry], "d.py")
    assert message in info.value.message


def test_chat_template_roles():
    cfg = validate_dataset(
        {
            "abbr": "g",
            "type": "GSM8KDataset",
            "infer_cfg": {
                "prompt_template": {
                    "template": {
                        "begin": [{"role": "SYSTEM", "prompt": "Be brief."}],
                        "round": [
                            {"role": "HUMAN", "prompt": "Q: {question}"},
                            {"role": "BOT", "prompt": "A"},
                        ],
                    }
                }
            },
        },
        "d.py",
    )
    assert cfg.template == (
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Q: {question}"},
        {"role": "assistant", "content": "A"},
    )
