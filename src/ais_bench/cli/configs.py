"""From the command line to validated configs: models, datasets, summarizer, global constants."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, replace
from pathlib import Path

from ais_bench.config import (
    DEFAULT_URL_MODEL_FILE,
    DatasetConfig,
    GlobalConsts,
    ModelConfig,
    ResolvedConfigs,
    RunOverrides,
    SummarizerConfig,
    apply_overrides,
    build_datasets,
    flag_headers,
    load_datasets,
    load_global_consts,
    load_models,
    load_run_config,
    load_summarizer,
    resolve_config_files,
)
from ais_bench.config.slo import parse_goodput_flag
from ais_bench.errors import ConfigError
from ais_bench.metrics.goodput import check_slo_stream


@dataclass
class RunConfigs:
    models: list[ModelConfig]
    datasets: list[DatasetConfig]
    summarizer: SummarizerConfig
    consts: GlobalConsts
    warnings: list[str] = field(default_factory=list)


def resolve_names(args: argparse.Namespace) -> ResolvedConfigs:
    """The config files named on the command line; ``--url`` without ``--models`` (or a config
    file) selects the built-in OpenAI chat streaming config."""
    models = args.models
    if not models and not args.config and getattr(args, "url", None) is not None:
        models = [str(DEFAULT_URL_MODEL_FILE)]
    return resolve_config_files(models, args.datasets, args.summarizer, args.config_dir)


def overrides_from_args(args: argparse.Namespace) -> RunOverrides:
    """The flags that override fields of the selected configs (``config/overrides.py``)."""
    values = {name: getattr(args, name, None) for name in _OVERRIDE_FLAGS}
    return RunOverrides(
        **values, headers=flag_headers(args.header) if getattr(args, "header", None) else {},
        insecure=bool(getattr(args, "insecure", False)),
    )


_OVERRIDE_FLAGS = (
    "url", "served_model_name", "api_key_env", "concurrency", "request_rate", "max_out_len", "seed",
    "isl", "osl", "isl_stddev", "osl_stddev", "ca_cert",
)


def load_run_configs(args: argparse.Namespace) -> RunConfigs:
    consts = load_global_consts()
    warnings = list(consts.warnings)
    needs_tokenizer = args.mode != "perf_viz"  # a recalculation reads the counts stored with the run
    if args.config:
        path = Path(args.config)
        if not path.is_file():
            raise ConfigError(f"config file {args.config} does not exist", hint="check the path")
        run = load_run_config(path, tokenizer_must_exist=needs_tokenizer)
        models, datasets, summarizer = run.models, run.datasets, run.summarizer
        if args.summarizer:
            resolved = resolve_config_files(None, None, args.summarizer, args.config_dir)
            summarizer = _load_resolved_summarizer(resolved)
            warnings += resolved.warnings
    else:
        resolved = resolve_names(args)
        warnings += resolved.warnings
        models = [m for r in resolved.models for m in load_models(r.path, tokenizer_must_exist=needs_tokenizer)]
        datasets = [d for r in resolved.datasets for d in load_datasets(r.path, r.part or "_datasets")]
        summarizer = _load_resolved_summarizer(resolved)
    warnings += summarizer.warnings
    summarizer = _with_goodput_flag(summarizer, getattr(args, "goodput", None))
    if getattr(args, "custom_dataset_path", None):
        datasets = [*datasets, custom_dataset_config(args.custom_dataset_path)]
    overridden = apply_overrides(models, datasets, overrides_from_args(args), num_prompts=args.num_prompts)
    _check_unique_abbrs(overridden.models, overridden.datasets)
    for model in overridden.models:
        check_slo_stream(summarizer.slo, model.stream)
    warnings += overridden.warnings
    return RunConfigs(overridden.models, overridden.datasets, summarizer, consts, warnings)


def _with_goodput_flag(summarizer: SummarizerConfig, pairs: list[str] | None) -> SummarizerConfig:
    """The summarizer with ``--goodput``'s bounds in place of its ``slo`` (unchanged without the flag)."""
    if not pairs:
        return summarizer
    return replace(summarizer, slo=parse_goodput_flag(pairs))


def custom_dataset_config(path: str) -> DatasetConfig:
    """The dataset config of ``--custom-dataset-path FILE``: a ``CustomDataset`` named after the file."""
    from ais_bench.benchmark.datasets import CustomDataset

    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"--custom-dataset-path {path}: no such file", hint="give an existing JSONL file")
    entry = {"abbr": file.stem, "type": CustomDataset, "path": str(file.resolve())}
    return build_datasets([entry], "--custom-dataset-path")[0]


def _load_resolved_summarizer(resolved: ResolvedConfigs) -> SummarizerConfig:
    if resolved.summarizer is None:
        return load_summarizer(None)
    return load_summarizer(resolved.summarizer.path, resolved.summarizer.part or "summarizer")


def _check_unique_abbrs(models: list[ModelConfig], datasets: list[DatasetConfig]) -> None:
    for kind, abbrs in (("model", [m.abbr for m in models]), ("dataset", [d.abbr for d in datasets])):
        seen: set[str] = set()
        for abbr in abbrs:
            if abbr in seen:
                raise ConfigError(
                    f"two {kind} configs share abbr '{abbr}': their results would overwrite each other",
                    hint=f"give each {kind} config its own abbr",
                )
            seen.add(abbr)
