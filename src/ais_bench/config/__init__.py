"""Config files: load (execute) them, resolve names to files, validate into typed objects.

Defaults live here only. Public API:

* ``resolve_config_files(models, datasets, summarizer, config_dir)`` -> ``ResolvedConfigs``;
  ``search_rows(resolved)`` for ``--search``;
* ``load_models(path)``, ``load_datasets(path, suffix)``, ``load_summarizer(path, key)``,
  ``load_run_config(path)`` (positional all-in-one file), ``load_global_consts(path=None)``;
* ``apply_overrides(models, datasets, RunOverrides(...))``: the command-line flags that replace
  config fields (``--url``, ``--concurrency``, ``--isl``/``--osl``, ...), in one place;
* ``dump_config(run_dir, models, datasets, summarizer, cli_args)``;
* ``read_base`` for config files that ``from ais_bench.config import read_base``.
"""

from ais_bench.config.datasets import DatasetConfig, build_datasets, load_datasets, validate_dataset
from ais_bench.config.dump import dump_config
from ais_bench.config.global_consts import GlobalConsts, load_global_consts
from ais_bench.config.headers import flag_headers, masked_headers
from ais_bench.config.loader import BUILTIN_CONFIG_DIR, load_config_file, read_base
from ais_bench.config.models import ModelConfig, build_models, load_models, validate_model
from ais_bench.config.overrides import (
    DEFAULT_URL_MODEL_FILE,
    OverriddenConfigs,
    RunOverrides,
    apply_overrides,
)
from ais_bench.config.resolve import (
    SEARCH_HEADER,
    ResolvedConfigs,
    ResolvedName,
    resolve_config_file,
    resolve_config_files,
    search_rows,
)
from ais_bench.config.run_config import RunConfig, load_run_config
from ais_bench.config.summarizers import SummarizerConfig, build_summarizer, load_summarizer

__all__ = [
    "BUILTIN_CONFIG_DIR",
    "DEFAULT_URL_MODEL_FILE",
    "SEARCH_HEADER",
    "DatasetConfig",
    "GlobalConsts",
    "ModelConfig",
    "OverriddenConfigs",
    "ResolvedConfigs",
    "ResolvedName",
    "RunConfig",
    "RunOverrides",
    "SummarizerConfig",
    "apply_overrides",
    "build_datasets",
    "build_models",
    "build_summarizer",
    "dump_config",
    "flag_headers",
    "load_config_file",
    "load_datasets",
    "load_global_consts",
    "load_models",
    "load_run_config",
    "load_summarizer",
    "masked_headers",
    "read_base",
    "resolve_config_file",
    "resolve_config_files",
    "search_rows",
    "validate_dataset",
    "validate_model",
]
