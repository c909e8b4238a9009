"""The positional ``config`` file: one Python file defining ``models``, ``datasets`` and ``summarizer``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ais_bench.config.datasets import DatasetConfig, build_datasets
from ais_bench.config.loader import load_config_file
from ais_bench.config.models import ModelConfig, build_models
from ais_bench.config.summarizers import SummarizerConfig, build_summarizer
from ais_bench.config.validation import display_path
from ais_bench.errors import ConfigError


@dataclass
class RunConfig:
    """Everything one all-in-one config file (or a config dump) defines."""

    models: list[ModelConfig]
    datasets: list[DatasetConfig]
    summarizer: SummarizerConfig
    cli_args: dict[str, Any] = field(default_factory=dict)


def load_run_config(path: str | Path, *, tokenizer_must_exist: bool = True) -> RunConfig:
    """Load an all-in-one config file: ``models`` and ``datasets`` lists are required,
    ``summarizer`` optional (default perf summarizer), ``cli_args`` kept when present (dumps).
    ``tokenizer_must_exist``: see ``load_models``."""
    source = display_path(path)
    namespace = load_config_file(path)
    for name in ("models", "datasets"):
        if name not in namespace:
            raise ConfigError(f"{source}: no variable '{name}' in this config file")
    summarizer = SummarizerConfig(source=source)
    if namespace.get("summarizer") is not None:
        summarizer = build_summarizer(namespace["summarizer"], source)
    cli_args = namespace.get("cli_args")
    return RunConfig(
        models=build_models(namespace["models"], source, tokenizer_must_exist=tokenizer_must_exist),
        datasets=build_datasets(namespace["datasets"], source, "datasets"),
        summarizer=summarizer,
        cli_args=dict(cli_args) if isinstance(cli_args, dict) else {},
    )
