"""``SimConfig``: every parameter of the simulated inference service, validated.

Times are given in milliseconds (``*_ms``) or seconds (``*_s``) as the names say; rates are shares of
requests in [0, 1]. ``SimConfig(...)`` and ``SimConfig.from_dict(...)`` both validate and raise
``ConfigError`` with a one-line message that names the field, its value and what is allowed.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ais_bench.errors import ConfigError

OUTPUT_LEN_DISTS = ("uniform", "max")
_FAULT_RATE_FIELDS = ("fail_rate", "reset_rate", "stall_rate", "malformed_rate")


def _doc(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass(frozen=True)
class SimConfig:
    """Parameters of the simulated continuous-batching server (see ``sim/engine.py`` for the model)."""

    model_name: str = field(default="sim-model", metadata=_doc("model id served by /v1/models and echoed"))
    max_num_seqs: int = field(default=16, metadata=_doc("sequences decoded at once (slots); others queue"))
    prefill_base_ms: float = field(
        default=5.0, metadata=_doc("fixed prefill cost of a step admitting requests, ms")
    )
    prefill_per_token_ms: float = field(
        default=0.02, metadata=_doc("prefill cost per admitted input token, ms")
    )
    decode_base_ms: float = field(default=8.0, metadata=_doc("fixed cost of one decode step, ms"))
    decode_per_seq_ms: float = field(default=0.25, metadata=_doc("decode step cost per running sequence, ms"))
    seed: int = field(default=0, metadata=_doc("seed of the RNG drawing output lengths and faults"))
    default_max_tokens: int = field(
        default=256, metadata=_doc("max_tokens when the request sets none, tokens")
    )
    output_len_dist: str = field(
        default="uniform",
        metadata=_doc("output length without ignore_eos: 'uniform' in [1, max_tokens] or 'max'"),
    )
    tokenizer_path: str | None = field(
        default=None, metadata=_doc("HF tokenizer dir or tokenizer.json to count input tokens")
    )
    fail_rate: float = field(default=0.0, metadata=_doc("share of requests answered with fail_status"))
    fail_status: int = field(default=500, metadata=_doc("HTTP status of failed requests (400..599)"))
    reset_rate: float = field(default=0.0, metadata=_doc("share of requests whose connection is cut mid-way"))
    stall_rate: float = field(default=0.0, metadata=_doc("share of streams that pause mid-way for stall_s"))
    stall_s: float = field(default=2.0, metadata=_doc("length of a stall, s"))
    malformed_rate: float = field(default=0.0, metadata=_doc("share of streams with one invalid-JSON event"))
    record_truth_path: str | None = field(
        default=None, metadata=_doc("JSONL file of per-event write times (perf_counter s), written at close")
    )

    def __post_init__(self) -> None:
        for f in fields(self):
            _check_type(f.name, getattr(self, f.name))
        _check_values(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SimConfig:
        """Build a config from a plain dict; unknown names and wrong values raise ``ConfigError``."""
        if not isinstance(data, dict):
            raise ConfigError(f"sim config must be a dict, got {type(data).__name__}")
        known = [f.name for f in fields(cls)]
        for name in data:
            if name not in known:
                raise ConfigError(_unknown_field_message(str(name), known))
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


FIELD_KINDS: dict[str, str] = {
    "model_name": "str",
    "max_num_seqs": "int",
    "prefill_base_ms": "float",
    "prefill_per_token_ms": "float",
    "decode_base_ms": "float",
    "decode_per_seq_ms": "float",
    "seed": "int",
    "default_max_tokens": "int",
    "output_len_dist": "str",
    "tokenizer_path": "str?",
    "fail_rate": "float",
    "fail_status": "int",
    "reset_rate": "float",
    "stall_rate": "float",
    "stall_s": "float",
    "malformed_rate": "float",
    "record_truth_path": "str?",
}


def _unknown_field_message(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown sim field '{name}'{hint}; allowed: {', '.join(known)}"


def _check_type(name: str, value: Any) -> None:
    kind = FIELD_KINDS[name]
    if kind == "str?" and value is None:
        return
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": is_number and math.isfinite(value),
        "str": isinstance(value, str),
        "str?": isinstance(value, str),
    }[kind]
    if not ok:
        wanted = {
            "int": "an integer",
            "float": "a finite number",
            "str": "a string",
            "str?": "a string or None",
        }
        raise ConfigError(f"sim field '{name}' = {value!r} has the wrong type: allowed {wanted[kind]}")


def _require(ok: bool, name: str, value: Any, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"sim field '{name}' = {value!r} is invalid: allowed {allowed}")


def _check_values(cfg: SimConfig) -> None:
    _require(bool(cfg.model_name), "model_name", cfg.model_name, "a non-empty string")
    _require(cfg.max_num_seqs >= 1, "max_num_seqs", cfg.max_num_seqs, "an integer >= 1")
    _require(cfg.default_max_tokens >= 1, "default_max_tokens", cfg.default_max_tokens, "an integer >= 1")
    for name in ("prefill_base_ms", "prefill_per_token_ms", "decode_base_ms", "decode_per_seq_ms", "stall_s"):
        _require(getattr(cfg, name) >= 0, name, getattr(cfg, name), "a number >= 0")
    _require(
        cfg.output_len_dist in OUTPUT_LEN_DISTS,
        "output_len_dist",
        cfg.output_len_dist,
        " or ".join(OUTPUT_LEN_DISTS),
    )
    _require(
        400 <= cfg.fail_status <= 599, "fail_status", cfg.fail_status, "an HTTP error status in 400..599"
    )
    for name in _FAULT_RATE_FIELDS:
        _require(0.0 <= getattr(cfg, name) <= 1.0, name, getattr(cfg, name), "a share in [0, 1]")
    total = sum(getattr(cfg, name) for name in _FAULT_RATE_FIELDS)
    _require(total <= 1.0 + 1e-9, "fail_rate+reset_rate+stall_rate+malformed_rate", total, "a sum <= 1")
