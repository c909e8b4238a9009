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
#: Upper limits that keep a simulated run finite and its numbers representable.
MAX_NUM_SEQS = 1_000_000
MAX_TOKENS = 2**31 - 1
MAX_COST_MS = 3_600_000.0
MAX_STALL_S = 86_400.0
_FAULT_RATE_FIELDS = ("fail_rate", "reset_rate", "stall_rate", "malformed_rate", "cut_rate")


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
    fail_message: str = field(
        default="",
        metadata=_doc("error message of failed requests ('' = a default); {authorization} becomes the "
                      "request's Authorization header, {nul} a NUL character (hostile servers)"),
    )
    reset_rate: float = field(default=0.0, metadata=_doc("share of requests whose connection is cut mid-way"))
    stall_rate: float = field(default=0.0, metadata=_doc("share of streams that pause mid-way for stall_s"))
    stall_s: float = field(default=2.0, metadata=_doc("length of a stall, s"))
    malformed_rate: float = field(default=0.0, metadata=_doc("share of streams with one invalid-JSON event"))
    cut_rate: float = field(
        default=0.0,
        metadata=_doc("share of streams that end cleanly mid-way, without finish_reason, usage or [DONE]"),
    )
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
                raise ConfigError(_unknown_field_message(name, known))
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
    "fail_message": "str",
    "reset_rate": "float",
    "stall_rate": "float",
    "stall_s": "float",
    "malformed_rate": "float",
    "cut_rate": "float",
    "record_truth_path": "str?",
}


def _show(value: Any) -> str:
    """A short one-line rendering of a value; never raises (huge ints, broken ``__repr__``)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return f"<an integer of about {int(value.bit_length() * 0.30103)} digits>"
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__} object>"
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= 80 else text[:77] + "..."


def _unknown_field_message(name: Any, known: list[str]) -> str:
    text = name if isinstance(name, str) else _show(name)
    close = difflib.get_close_matches(text, known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    shown = _show(text)[1:-1] if isinstance(name, str) else text
    return f"unknown sim field '{shown}'{hint}; allowed: {', '.join(known)}"


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def _valid_fail_message(template: str) -> bool:
    try:
        template.format_map({"authorization": "", "nul": "", "fail_rate": 0.0})
    except (KeyError, ValueError, IndexError, AttributeError):
        return False
    return True


def _check_type(name: str, value: Any) -> None:
    kind = FIELD_KINDS[name]
    if kind == "str?" and value is None:
        return
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": is_number and _finite(value),
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
        raise ConfigError(f"sim field '{name}' = {_show(value)} has the wrong type: allowed {wanted[kind]}")
    if kind.startswith("str") and "\x00" in value:
        raise ConfigError(f"sim field '{name}' = {_show(value)} is invalid: allowed a string without NUL characters")


def _require(ok: bool, name: str, value: Any, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"sim field '{name}' = {_show(value)} is invalid: allowed {allowed}")


def _check_values(cfg: SimConfig) -> None:
    _require(bool(cfg.model_name), "model_name", cfg.model_name, "a non-empty string")
    _require(cfg.max_num_seqs >= 1, "max_num_seqs", cfg.max_num_seqs, "an integer >= 1")
    _require(cfg.max_num_seqs <= MAX_NUM_SEQS, "max_num_seqs", cfg.max_num_seqs, f"an integer <= {MAX_NUM_SEQS}")
    _require(cfg.default_max_tokens >= 1, "default_max_tokens", cfg.default_max_tokens, "an integer >= 1")
    _require(
        cfg.default_max_tokens <= MAX_TOKENS, "default_max_tokens", cfg.default_max_tokens, "an integer <= 2**31-1"
    )
    for name in ("prefill_base_ms", "prefill_per_token_ms", "decode_base_ms", "decode_per_seq_ms", "stall_s"):
        _require(getattr(cfg, name) >= 0, name, getattr(cfg, name), "a number >= 0")
    for name in ("prefill_base_ms", "prefill_per_token_ms", "decode_base_ms", "decode_per_seq_ms"):
        _require(getattr(cfg, name) <= MAX_COST_MS, name, getattr(cfg, name), f"a number <= {MAX_COST_MS:g} (ms)")
    _require(cfg.stall_s <= MAX_STALL_S, "stall_s", cfg.stall_s, f"a number <= {MAX_STALL_S:g} (s)")
    _require(
        cfg.output_len_dist in OUTPUT_LEN_DISTS,
        "output_len_dist",
        cfg.output_len_dist,
        " or ".join(OUTPUT_LEN_DISTS),
    )
    _require(
        400 <= cfg.fail_status <= 599, "fail_status", cfg.fail_status, "an HTTP error status in 400..599"
    )
    _require(_valid_fail_message(cfg.fail_message), "fail_message", cfg.fail_message,
             "a text whose only {fields} are {authorization}, {nul} and {fail_rate}")
    for name in _FAULT_RATE_FIELDS:
        _require(0.0 <= getattr(cfg, name) <= 1.0, name, getattr(cfg, name), "a share in [0, 1]")
    total = sum(getattr(cfg, name) for name in _FAULT_RATE_FIELDS)
    _require(total <= 1.0 + 1e-9, "fail_rate+reset_rate+stall_rate+malformed_rate+cut_rate", total, "a sum <= 1")
