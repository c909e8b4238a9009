"""Global constants (``WORKERS_NUM``, ``MAX_CHUNK_SIZE``, ``REQUEST_TIME_OUT``, ``LOG_LEVEL``).

Read from the user-editable Python file ``ais_bench/benchmark/global_consts.py``, or from the file
named by the environment variable ``AIS_BENCH_GLOBAL_CONSTS``, and validated as AISBench does.
"""

from __future__ import annotations

import difflib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ais_bench.config.loader import load_config_file
from ais_bench.config.validation import (
    check_int,
    check_number,
    display_path,
    not_allowed,
    show,
    show_key_path,
)

ENV_VAR = "AIS_BENCH_GLOBAL_CONSTS"
DEFAULT_PATH = Path(__file__).resolve().parent.parent / "benchmark" / "global_consts.py"
DEFAULT_MAX_CHUNK_SIZE = 65536
MAX_CHUNK_SIZE_LIMIT = 2**24
MAX_REQUEST_TIME_OUT_S = 86400
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_KNOWN = (
    "WORKERS_NUM",
    "MAX_CHUNK_SIZE",
    "REQUEST_TIME_OUT",
    "LOG_LEVEL",
    "PRESSURE_TIME",
    "CONNECTION_ADD_RATE",
)


@dataclass(frozen=True)
class GlobalConsts:
    """Validated global constants.

    ``workers_num``: request-sending processes, 0 = automatic; ``max_chunk_size_bytes``: largest
    streamed line; ``request_time_out_s``: total per-request timeout in seconds, None = none;
    ``log_level``: logging level name. ``pressure_time_s`` / ``connection_add_rate`` are the legacy
    AISBench names which, when present, override ``--pressure-time`` / ``request_rate`` in pressure mode.
    ``warnings``: text for the CLI to print (fallbacks, deprecations, unknown names).
    """

    workers_num: int = 0
    max_chunk_size_bytes: int = DEFAULT_MAX_CHUNK_SIZE
    request_time_out_s: float | None = None
    log_level: str = "INFO"
    pressure_time_s: int | None = None
    connection_add_rate: float | None = None
    source: str = ""
    warnings: tuple[str, ...] = ()


def load_global_consts(path: str | Path | None = None) -> GlobalConsts:
    """Load and validate the constants file: ``path``, else ``$AIS_BENCH_GLOBAL_CONSTS``, else the default."""
    if path is None:
        path = os.environ.get(ENV_VAR) or DEFAULT_PATH
    namespace = load_config_file(path)
    return build_global_consts(namespace, display_path(path))


def build_global_consts(namespace: dict[str, Any], source: str) -> GlobalConsts:
    """Validate the upper-case names of an already-loaded constants file."""
    warnings: list[str] = []
    values: dict[str, Any] = {"source": source}
    if "WORKERS_NUM" in namespace:
        values["workers_num"] = check_int(source, "WORKERS_NUM", namespace["WORKERS_NUM"], 0)
    chunk = namespace.get("MAX_CHUNK_SIZE", DEFAULT_MAX_CHUNK_SIZE)
    ok = isinstance(chunk, int) and not isinstance(chunk, bool) and 1 <= chunk <= MAX_CHUNK_SIZE_LIMIT
    if ok:
        values["max_chunk_size_bytes"] = chunk
    else:
        warnings.append(
            f"{source}: MAX_CHUNK_SIZE = {show(chunk)} is outside [1, 2**24]; using {DEFAULT_MAX_CHUNK_SIZE}"
        )
    timeout = namespace.get("REQUEST_TIME_OUT")
    if timeout is not None:
        seconds = check_number(source, "REQUEST_TIME_OUT", timeout, 0, MAX_REQUEST_TIME_OUT_S)
        values["request_time_out_s"] = seconds or None  # 0 = no limit, as in AISBench (aiohttp)
    if "LOG_LEVEL" in namespace:
        values["log_level"] = _check_log_level(source, namespace["LOG_LEVEL"])
    _legacy(namespace, source, values, warnings)
    for name in namespace:
        if isinstance(name, str) and name.isupper() and name not in _KNOWN and name not in LOG_LEVELS:
            close = difflib.get_close_matches(name, _KNOWN, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            warnings.append(f"{source}: unknown constant {show_key_path(name)} is ignored{hint}")
    return GlobalConsts(**values, warnings=tuple(warnings))


def _check_log_level(source: str, value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = logging.getLevelName(value)
    if isinstance(value, str) and value.upper() in LOG_LEVELS:
        return value.upper()
    raise not_allowed(source, "LOG_LEVEL", value, "one of " + ", ".join(LOG_LEVELS))


def _legacy(namespace: dict[str, Any], source: str, values: dict[str, Any], warnings: list[str]) -> None:
    if namespace.get("PRESSURE_TIME") is not None:
        values["pressure_time_s"] = check_int(source, "PRESSURE_TIME", namespace["PRESSURE_TIME"], 1, 86400)
        warnings.append(
            f"{source}: PRESSURE_TIME is deprecated; use --pressure-time (it overrides it for now)"
        )
    if namespace.get("CONNECTION_ADD_RATE") is not None:
        values["connection_add_rate"] = check_number(
            source, "CONNECTION_ADD_RATE", namespace["CONNECTION_ADD_RATE"], 0, 64000
        )
        warnings.append(
            f"{source}: CONNECTION_ADD_RATE is deprecated; use the model's request_rate (it overrides it for now)"
        )
