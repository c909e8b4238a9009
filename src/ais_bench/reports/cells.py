"""How one value is shown in a table cell, csv cell or json value (formatting only).

The AISBench rounding lives here and only here: tables, the csv and the HTML summary panel show
values rounded as AISBench shows them (``aisbench_stat``, ``aisbench_common``; the console rounds
confidence bounds the same way); ``<ds>.json`` keeps the metrics' full precision.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ais_bench import __version__
from ais_bench.errors import OutputError

MISSING = "N/A"
#: Decimals AISBench keeps (in a statistic's native unit, and again after a latency's x1000).
AISBENCH_DECIMALS = 4


def aisbench_stat(value: float | None, unit: str) -> float | None:
    """A per-request statistic (``MetricStats`` value, native unit) as AISBench shows it: rounded to 4
    decimals; a latency (seconds, shown in ``ms``) is then x1000 and rounded to 4 decimals again,
    so latencies show 0.1 ms resolution."""
    if value is None:
        return None
    rounded = round(value, AISBENCH_DECIMALS)
    return round(rounded * 1000, AISBENCH_DECIMALS) if unit == "ms" else rounded


def aisbench_common(value: int | float) -> int | float:
    """A common metric (already in its display unit) as AISBench shows it: 4 decimals (counts unchanged)."""
    return round(value, AISBENCH_DECIMALS)


def format_cell(value: int | float | None, unit: str) -> str | int | float | None:
    """``"2048.2945 ms"`` for a value with a unit, the bare number without one, None when missing.

    Numbers are shown with Python's shortest repr (``3450.96``, ``1481.0``), as the original does.
    """
    if value is None:
        return None
    if unit:
        return f"{value} {unit}"
    return value


def text_cell(value: int | float | None, unit: str) -> str:
    """The cell as text (csv): missing -> ``N/A``."""
    cell = format_cell(value, unit)
    return MISSING if cell is None else str(cell)


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` as UTF-8, turning an OS error into ``OutputError``."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8", newline="")
    except OSError as exc:
        raise OutputError(
            f"cannot write {target}: {exc.strerror or exc}",
            hint="check that the output folder is writable and the disk is not full",
        ) from exc


def document_identity(schema: str, schema_version: int) -> dict[str, Any]:
    """The first keys of every json document written for scripts: the schema it follows, the tool that wrote it."""
    return {"schema": schema, "schema_version": schema_version, "tool": "ais_bench", "tool_version": __version__}


def write_json_document(path: str | Path, document: Any) -> None:
    """Write ``document`` as indented JSON with every NaN or infinity as null (JSON has no such
    numbers); an OS error becomes ``OutputError``."""
    write_text(path, json.dumps(_finite(document), indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value
