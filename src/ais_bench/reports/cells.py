"""How one value is shown in a table cell, csv cell or json value (formatting only)."""

from __future__ import annotations

from pathlib import Path

from ais_bench.errors import OutputError

MISSING = "N/A"


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
