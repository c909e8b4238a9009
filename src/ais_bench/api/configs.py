"""Validated configs for the API from a config name (as ``--models`` / ``--datasets`` /
``--summarizer`` take it), a config file path, or the keywords of one config entry."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from ais_bench.config import (
    DatasetConfig,
    ModelConfig,
    SummarizerConfig,
    build_datasets,
    build_models,
    build_summarizer,
    load_datasets,
    load_models,
    load_summarizer,
    resolve_config_file,
)
from ais_bench.errors import ConfigError

_Config = TypeVar("_Config")

#: How a config given as keywords is named in error messages.
KEYWORDS_SOURCE = "<keywords>"


def model_config(value: ModelConfig | Mapping[str, Any] | str, config_dir: str | Path | None = None) -> ModelConfig:
    """A ``ModelConfig`` from itself, the keywords of one ``models`` entry
    (``dict(type=VLLMCustomAPIChat, abbr=..., ...)``) or the name of a model config file holding one model."""
    if isinstance(value, ModelConfig):
        return value
    if isinstance(value, Mapping):
        return build_models([dict(value)], KEYWORDS_SOURCE)[0]
    resolved = resolve_config_file("models", value, config_dir)
    return _only(load_models(resolved.path), "model", value)


def dataset_config(value: DatasetConfig | Mapping[str, Any] | str, config_dir: str | Path | None = None) -> DatasetConfig:
    """A ``DatasetConfig`` from itself, the keywords of one datasets entry or the name of a dataset
    config file holding one dataset (``name/part`` picks the variable as ``--datasets`` does)."""
    if isinstance(value, DatasetConfig):
        return value
    if isinstance(value, Mapping):
        return build_datasets([dict(value)], KEYWORDS_SOURCE)[0]
    resolved = resolve_config_file("datasets", value, config_dir)
    return _only(load_datasets(resolved.path, resolved.part or "_datasets"), "dataset", value)


def summarizer_config(
    value: SummarizerConfig | Mapping[str, Any] | str | None, config_dir: str | Path | None = None
) -> SummarizerConfig:
    """A ``SummarizerConfig`` from itself, the keywords of a summarizer dict, a summarizer config
    name (``stable_stage``) or None (every request, the default statistics)."""
    if value is None:
        return SummarizerConfig()
    if isinstance(value, SummarizerConfig):
        return value
    if isinstance(value, Mapping):
        return build_summarizer(dict(value), KEYWORDS_SOURCE)
    resolved = resolve_config_file("summarizers", value, config_dir)
    return load_summarizer(resolved.path, resolved.part or "summarizer")


def _only(configs: list[_Config], kind: str, name: str) -> _Config:
    if len(configs) != 1:
        raise ConfigError(
            f"{kind} config '{name}' holds {len(configs)} {kind}s; the API plans one at a time",
            hint=f"load the file with ais_bench.config.load_{kind}s(path) and pass one of them",
        )
    return configs[0]
