"""Command-line overrides of the selected configs (``--url``, ``--concurrency``, ``--isl``, ...),
checked and applied here only: the CLI and ``ais_bench.api.plan_run(overrides=...)`` both call
``apply_overrides``.

A flag replaces the field of every model (or every dataset) of the run; a value left None keeps the
config's. ``--isl``/``--osl`` reshape synthetic string datasets, or, with no dataset at all, make
one (``synthetic_dataset``). Combinations that contradict each other or cannot have an effect are
one ``ConfigError`` naming the flags.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from ais_bench.clients.backends import backend_for
from ais_bench.config.datasets import DatasetConfig, build_datasets, validate_dataset
from ais_bench.config.loader import BUILTIN_CONFIG_DIR
from ais_bench.config.model_fields import check_api_key, check_pem_file, check_url
from ais_bench.config.models import MAX_BATCH_SIZE, MAX_OUT_LEN, MAX_REQUEST_RATE, ModelConfig
from ais_bench.config.validation import check_int, check_number, check_str
from ais_bench.datasets import SYNTHETIC
from ais_bench.datasets.synthetic import MAX_LENGTH
from ais_bench.errors import ConfigError

#: The model config used when ``--url`` is given without ``--models``: OpenAI chat, streaming.
DEFAULT_URL_MODEL_FILE = BUILTIN_CONFIG_DIR / "models" / "vllm_api" / "vllm_api_stream_chat.py"
#: Rows of the dataset ``--isl``/``--osl`` make when no dataset is given and no ``--num-prompts``.
DEFAULT_SYNTHETIC_ROWS = 1000
#: The dataset name (results folder files) of that dataset.
SYNTHETIC_FLAGS_ABBR = "synthetic"
SOURCE = "command line"
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class RunOverrides:
    """Values that replace config fields for a whole run; None (False, empty) = keep the config's.

    Each field is the flag of the same name (``served_model_name`` is ``--served-model-name``):
    ``url`` (a model's ``url``, in place of ``host_ip``/``host_port``; no embedded simulator is
    started), ``served_model_name`` (``model``), ``api_key_env`` (the name of the environment
    variable holding ``api_key``), ``concurrency`` (``batch_size``), ``request_rate`` (req/s),
    ``max_out_len`` (tokens), ``seed`` (the model's and every dataset's), ``isl``/``osl`` (input
    and output tokens of synthetic prompts, with ``isl_stddev``/``osl_stddev`` their standard
    deviation in tokens; ``osl`` sets ``ignore_eos``), ``headers`` (added to every model's, the
    ``--header`` flags), ``ca_cert`` (PEM file), ``insecure`` (no TLS certificate check)."""

    url: str | None = None
    served_model_name: str | None = None
    api_key_env: str | None = None
    concurrency: int | None = None
    request_rate: float | None = None
    max_out_len: int | None = None
    seed: int | None = None
    isl: int | None = None
    osl: int | None = None
    isl_stddev: float | None = None
    osl_stddev: float | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    ca_cert: str | None = None
    insecure: bool = False

    @classmethod
    def of(cls, value: RunOverrides | Mapping[str, Any] | None) -> RunOverrides:
        """From itself, keywords (``dict(url=..., concurrency=16)``) or None (nothing overridden)."""
        if value is None:
            return cls()
        if isinstance(value, RunOverrides):
            return value
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ConfigError(
                f"unknown override {unknown[0]!r}", hint="the overrides are: " + ", ".join(sorted(known))
            )
        return cls(**value)

    @property
    def shapes_synthetic(self) -> bool:
        return self.isl is not None or self.osl is not None


@dataclass(frozen=True)
class OverriddenConfigs:
    models: list[ModelConfig]
    datasets: list[DatasetConfig]
    warnings: list[str]


def apply_overrides(
    models: list[ModelConfig],
    datasets: list[DatasetConfig],
    overrides: RunOverrides,
    *,
    num_prompts: int | None = None,
) -> OverriddenConfigs:
    """``models`` and ``datasets`` with ``overrides`` applied. With ``--isl``/``--osl`` and no
    dataset, the synthetic dataset of those lengths (``num_prompts`` rows, default
    ``DEFAULT_SYNTHETIC_ROWS``) is the run's dataset."""
    check_overrides(overrides)
    if overrides.shapes_synthetic and not datasets:
        datasets = [synthetic_dataset(overrides, num_prompts or DEFAULT_SYNTHETIC_ROWS)]
    else:
        datasets = [_overridden_dataset(d, overrides) for d in datasets]
    api_key = _api_key_from_env(overrides.api_key_env)
    new_models = [_overridden_model(m, overrides, api_key) for m in models]
    return OverriddenConfigs(new_models, datasets, _header_warnings(models, overrides))


def check_overrides(o: RunOverrides) -> None:
    """Each value in its range, and no two flags that contradict each other."""
    if o.url is not None:
        if not o.url.strip():
            raise ConfigError("--url is empty", hint="give the server's root URL, e.g. --url http://127.0.0.1:8000")
        check_url(SOURCE, "--url", o.url)
    for name in ("served_model_name", "api_key_env"):
        if getattr(o, name) is not None and not check_str(SOURCE, _flag(name), getattr(o, name)):
            raise ConfigError(f"{_flag(name)} is empty", hint=f"give {_flag(name)} a name, or leave the flag out")
    _check_numbers(o)
    if o.ca_cert is not None:
        check_pem_file(SOURCE, "--ca-cert", o.ca_cert)
    _check_combinations(o)


def _check_numbers(o: RunOverrides) -> None:
    ints = {
        "concurrency": (1, MAX_BATCH_SIZE), "max_out_len": (1, MAX_OUT_LEN), "seed": (0, MAX_SEED),
        "isl": (1, MAX_LENGTH), "osl": (1, min(MAX_LENGTH, MAX_OUT_LEN)),
    }
    for name, (lo, hi) in ints.items():
        if getattr(o, name) is not None:
            check_int(SOURCE, _flag(name), getattr(o, name), lo, hi)
    if o.request_rate is not None:
        check_number(SOURCE, "--request-rate", o.request_rate, 0, MAX_REQUEST_RATE)
    for name in ("isl_stddev", "osl_stddev"):
        if getattr(o, name) is not None:
            check_number(SOURCE, _flag(name), getattr(o, name), 0, MAX_LENGTH)


def _check_combinations(o: RunOverrides) -> None:
    for stddev, mean in (("isl_stddev", "isl"), ("osl_stddev", "osl")):
        if getattr(o, stddev) is not None and getattr(o, mean) is None:
            raise ConfigError(
                f"{_flag(stddev)} is given without {_flag(mean)}: it is the spread around {_flag(mean)}",
                hint=f"add {_flag(mean)} N, or leave {_flag(stddev)} out",
            )
    if o.max_out_len is not None and o.osl is not None:
        raise ConfigError(
            "--max-out-len and --osl both set the output length of every request",
            hint="keep one: --osl N asks for exactly N tokens (ignore_eos), --max-out-len N for at most N",
        )
    if o.ca_cert is not None and o.insecure:
        raise ConfigError(
            "--ca-cert and --insecure contradict each other: --insecure checks no certificate at all",
            hint="keep --ca-cert to check the server against that CA, or --insecure to check nothing",
        )
    if o.api_key_env is not None and any(name.lower() == "authorization" for name in o.headers):
        raise ConfigError(
            "--api-key-env and --header Authorization both set the Authorization header",
            hint="keep one: --api-key-env VAR (sent as 'Bearer <key>') or --header 'Authorization: ...'",
        )


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _api_key_from_env(variable: str | None) -> str | None:
    """The api_key held by the environment variable ``variable`` (never shown in an error)."""
    if variable is None:
        return None
    key = os.environ.get(variable, "")
    if not key:
        state = "is not set" if variable not in os.environ else "is empty"
        raise ConfigError(
            f"--api-key-env {variable}: the environment variable {variable} {state}",
            hint=f"export {variable}=<your key> before running, or pass the name of the variable that holds it",
        )
    return check_api_key(SOURCE, f"the environment variable {variable}", key)


def _overridden_model(model: ModelConfig, o: RunOverrides, api_key: str | None) -> ModelConfig:
    values: dict[str, Any] = {}
    if o.url is not None:
        values.update(url=o.url.strip(), simulator=None, simulator_keys=())
    if o.served_model_name is not None:
        values["model"] = o.served_model_name
    if api_key is not None:
        if any(name.lower() == "authorization" for name in model.headers):
            raise ConfigError(
                f"--api-key-env and the headers of model '{model.abbr}' ({model.source}) both set Authorization",
                hint="remove Authorization from that model config's headers, or leave --api-key-env out",
            )
        values["api_key"] = api_key
    for flag_name, field_name in _MODEL_FIELDS.items():
        if getattr(o, flag_name) is not None:
            values[field_name] = getattr(o, flag_name)
    if o.osl is not None:
        values["generation_kwargs"] = {**model.generation_kwargs, "ignore_eos": True}
    if o.ca_cert is not None:
        values["ca_cert"] = check_pem_file(SOURCE, "--ca-cert", o.ca_cert)
    if o.insecure:
        values["insecure"] = True
    new = replace(model, **values)
    _check_model_effects(new, o)
    return new.with_headers(dict(o.headers)) if o.headers else new


#: Flags that replace one model field as they are: flag (RunOverrides field) -> ModelConfig field.
_MODEL_FIELDS = {
    "concurrency": "batch_size", "request_rate": "request_rate", "max_out_len": "max_out_len", "seed": "seed",
}


def _check_model_effects(model: ModelConfig, o: RunOverrides) -> None:
    """Flags that would have no effect on this model are refused rather than ignored."""
    if (o.ca_cert is not None or o.insecure) and not model.base_url.startswith("https://"):
        flag = "--ca-cert" if o.ca_cert is not None else "--insecure"
        raise ConfigError(
            f"{flag} has no effect on model '{model.abbr}': it talks to {model.base_url} (plain HTTP, no TLS)",
            hint=f"use an https:// URL (--url or url= in the model config), or leave {flag} out",
        )
    if o.served_model_name is not None and not backend_for(model.backend).needs_model_name:
        raise ConfigError(
            f"--served-model-name has no effect on model '{model.abbr}': its API ({model.type.__name__}) "
            "sends no model name",
            hint="leave --served-model-name out",
        )
    if o.request_rate is not None and model.use_timestamp:
        raise ConfigError(
            f"--request-rate has no effect on model '{model.abbr}': it sends on the dataset's timestamps "
            "(use_timestamp=True)",
            hint="leave --request-rate out, or set use_timestamp=False in the model config",
        )


def _header_warnings(models: list[ModelConfig], o: RunOverrides) -> list[str]:
    """A warning for each model whose ``api_key`` an ``Authorization`` header flag replaces."""
    if not any(name.lower() == "authorization" for name in o.headers):
        return []
    return [
        f"--header Authorization replaces the api_key of model '{m.abbr}' (both set the Authorization header)"
        for m in models if m.api_key
    ]


def _overridden_dataset(dataset: DatasetConfig, o: RunOverrides) -> DatasetConfig:
    """``dataset`` with ``--seed`` and, for a synthetic string dataset, ``--isl``/``--osl``."""
    if not o.shapes_synthetic and o.seed is None:
        return dataset
    raw = dict(dataset.raw)
    if o.seed is not None:
        raw.pop("random_seed", None)
        raw["seed"] = o.seed
    if o.shapes_synthetic:
        raw["config"] = _reshaped_synthetic_config(dataset, o)
    return validate_dataset(raw, dataset.source)


def _reshaped_synthetic_config(dataset: DatasetConfig, o: RunOverrides) -> dict[str, Any]:
    spec = dataset.synthetic
    if dataset.kind != SYNTHETIC or spec is None or spec.kind != "string":
        what = "a synthetic tokenid dataset" if spec is not None else f"a {dataset.type.__name__}"
        raise ConfigError(
            f"--isl/--osl shape synthetic string prompts, but dataset '{dataset.abbr}' ({dataset.source}) is {what}",
            hint="leave --datasets out (the flags then make the dataset), or use --datasets synthetic_gen",
        )
    config = dict(dataset.raw["config"])
    string_config = dict(config["StringConfig"])
    if o.isl is not None:
        string_config["Input"] = _length(o.isl, o.isl_stddev)
    if o.osl is not None:
        string_config["Output"] = _length(o.osl, o.osl_stddev)
    config["StringConfig"] = string_config
    return config


def synthetic_dataset(o: RunOverrides, rows: int) -> DatasetConfig:
    """The dataset of ``--isl N --osl M`` with no dataset given: ``rows`` prompts of N words
    ``"A A A ..."`` (one token each for common tokenizers), each asking for M output tokens."""
    if o.isl is None or o.osl is None:
        given, other = ("--isl", "--osl") if o.isl is not None else ("--osl", "--isl")
        raise ConfigError(
            f"{given} without {other} and without a dataset: the prompts need both lengths",
            hint=f"add {other} N, or pick a dataset whose other length is kept (--datasets synthetic_gen)",
        )
    from ais_bench.benchmark.datasets import SyntheticDataset

    config = {
        "Type": "string",
        "RequestCount": rows,
        "StringConfig": {"Input": _length(o.isl, o.isl_stddev), "Output": _length(o.osl, o.osl_stddev)},
    }
    entry: dict[str, Any] = {"abbr": SYNTHETIC_FLAGS_ABBR, "type": SyntheticDataset, "config": config}
    entry["seed"] = o.seed if o.seed is not None else 0
    return build_datasets([entry], "--isl/--osl")[0]


def _length(tokens: int, stddev: float | None) -> dict[str, Any]:
    """An AISBench length distribution: ``tokens`` exactly, or a normal one of that mean and
    ``stddev``, clipped to [1, MAX_LENGTH]."""
    if not stddev:
        return {"Method": "uniform", "Params": {"MinValue": tokens, "MaxValue": tokens}}
    params = {"Mean": tokens, "Var": stddev * stddev, "MinValue": 1, "MaxValue": MAX_LENGTH}
    return {"Method": "gaussian", "Params": params}
