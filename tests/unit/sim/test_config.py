"""``SimConfig`` validation: defaults, from_dict, and one-line errors naming field, value, allowed."""

from __future__ import annotations

import pytest

from ais_bench.errors import ConfigError
from ais_bench.sim import SimConfig


def test_defaults():
    cfg = SimConfig()
    assert (cfg.max_num_seqs, cfg.prefill_base_ms, cfg.prefill_per_token_ms) == (16, 5.0, 0.02)
    assert (cfg.decode_base_ms, cfg.decode_per_seq_ms, cfg.seed, cfg.model_name) == (
        8.0,
        0.25,
        0,
        "sim-model",
    )
    assert cfg.fail_status == 500


def test_from_dict_round_trip():
    cfg = SimConfig.from_dict({"max_num_seqs": 4, "decode_base_ms": 3, "tokenizer_path": None})
    assert cfg.max_num_seqs == 4 and cfg.decode_base_ms == 3
    assert SimConfig.from_dict(cfg.to_dict()) == cfg


def test_unknown_field_suggests_a_name():
    with pytest.raises(ConfigError) as info:
        SimConfig.from_dict({"max_num_seq": 4})
    message = info.value.message
    assert "unknown sim field 'max_num_seq'" in message
    assert "did you mean 'max_num_seqs'" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("data", "fragments"),
    [
        ({"max_num_seqs": 0}, ["'max_num_seqs'", "0", ">= 1"]),
        ({"max_num_seqs": 2.5}, ["'max_num_seqs'", "2.5", "integer"]),
        ({"max_num_seqs": True}, ["'max_num_seqs'", "True", "integer"]),
        ({"decode_base_ms": -1}, ["'decode_base_ms'", "-1", ">= 0"]),
        ({"decode_base_ms": "fast"}, ["'decode_base_ms'", "'fast'", "number"]),
        ({"decode_base_ms": float("nan")}, ["'decode_base_ms'", "nan", "finite"]),
        ({"fail_rate": 1.5}, ["'fail_rate'", "1.5", "[0, 1]"]),
        ({"fail_rate": 0.6, "reset_rate": 0.6}, ["fail_rate+reset_rate", "1.2", "<= 1"]),
        ({"fail_status": 200}, ["'fail_status'", "200", "400..599"]),
        ({"output_len_dist": "zipf"}, ["'output_len_dist'", "'zipf'", "uniform"]),
        ({"model_name": ""}, ["'model_name'", "non-empty"]),
        ({"tokenizer_path": 3}, ["'tokenizer_path'", "3", "string or None"]),
    ],
)
def test_wrong_values_name_field_value_and_allowed(data: dict, fragments: list[str]):
    with pytest.raises(ConfigError) as info:
        SimConfig.from_dict(data)
    message = info.value.one_line()
    assert message.startswith("[AIS-CONFIG]")
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_from_dict_needs_a_dict():
    with pytest.raises(ConfigError, match="must be a dict"):
        SimConfig.from_dict([("seed", 1)])  # type: ignore[arg-type]
