"""Write the merged config of one run to ``<run_dir>/configs/<YYYYmmdd_HHMMSS>_<pid>.py``.

The dump is a readable Python file with plain data only (classes written as dotted names,
``api_key``, secret-looking header values and a URL's password masked as ``***``): ``models``,
``datasets``, ``summarizer`` and ``cli_args``.
It loads back with ``ais_bench.config.loader.load_config_file`` and validates with
``build_models`` / ``build_datasets`` (which accept dotted type names).
"""

from __future__ import annotations

import os
import pprint
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ais_bench.config.datasets import DatasetConfig
from ais_bench.config.models import ModelConfig
from ais_bench.config.summarizers import SummarizerConfig
from ais_bench.config.validation import plain_data
from ais_bench.errors import OutputError
from ais_bench.safe_text import mask_url_password

_SECRET_KEYS = ("api_key",)


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("***" if k in _SECRET_KEYS and v else _mask(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    if isinstance(value, str):
        return mask_url_password(value)
    return value


def _assign(name: str, value: Any) -> str:
    text = pprint.pformat(value, width=100, sort_dicts=False)
    return f"{name} = {text}\n"


def dump_config(
    run_dir: str | Path,
    models: Sequence[ModelConfig],
    datasets: Sequence[DatasetConfig],
    summarizer: SummarizerConfig | None,
    cli_args: dict[str, Any] | None,
) -> Path:
    """Write the dump and return its path; ``OutputError`` when the folder cannot be written."""
    folder = Path(run_dir) / "configs"
    path = folder / f"{time.strftime('%Y%m%d_%H%M%S')}_{os.getpid()}.py"
    parts = [
        "# Merged configuration of this run, written by ais_bench (api_key values and URL passwords masked).\n",
        _assign("models", _mask(plain_data([m.to_dump_dict() for m in models]))),
        _assign("datasets", _mask([d.to_dump_dict() for d in datasets])),
        _assign("summarizer", (summarizer or SummarizerConfig()).to_dump_dict()),
        _assign("cli_args", _mask(plain_data(dict(cli_args or {})))),
    ]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(parts), encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write the config dump {path}: {exc}") from exc
    return path
