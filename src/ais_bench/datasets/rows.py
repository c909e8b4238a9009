"""Reading dataset files row by row, with the line number of each row for error messages.

A file is either JSON lines (one object per line, blank lines skipped) or one JSON array of objects
(ShareGPT's format); the first non-blank character decides. Every problem raises ``DatasetError``
naming the file, the line and the field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ais_bench.errors import DatasetError

Row = tuple[int, dict[str, Any]]  # (line number, object)


def check_file(path: Path, what: str, hint: str) -> None:
    """``DatasetError`` unless ``path`` is a readable file."""
    if path.is_dir():
        raise DatasetError(f"{what}: {path} is a folder, not a file", hint=hint)
    if not path.is_file():
        raise DatasetError(f"{what}: file not found: {path}", hint=hint)


def read_rows(path: Path) -> Iterator[Row]:
    """The objects of a JSON-lines file or of a JSON array file, with their (starting) line numbers."""
    text = _read_text(path)
    stripped = text.lstrip()
    if stripped.startswith("["):
        yield from _array_rows(path, text, len(text) - len(stripped))
    else:
        yield from _jsonl_rows(path, text)


def read_jsonl_rows(path: Path) -> Iterator[Row]:
    """The objects of a JSON-lines file, with their line numbers."""
    yield from _jsonl_rows(path, _read_text(path))


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _jsonl_rows(path: Path, text: str) -> Iterator[Row]:
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}:{line_no}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        check_unicode(path, line_no, line, obj)
        yield line_no, _object(path, line_no, obj)


def _array_rows(path: Path, text: str, start: int) -> Iterator[Row]:
    decoder = json.JSONDecoder()
    pos = start + 1  # after "["
    line_no = 1 + text.count("\n", 0, pos)
    counted_to = pos
    expect_value = True
    while True:
        pos = _skip_space(text, pos)
        if pos >= len(text):
            raise DatasetError(f"{path}: the JSON array is not closed (missing ']')")
        if text[pos] == "]":
            if _skip_space(text, pos + 1) < len(text):
                raise DatasetError(f"{path}:{_line(text, pos)}: unexpected data after the JSON array")
            return
        if not expect_value:
            if text[pos] != ",":
                raise DatasetError(f"{path}:{_line(text, pos)}: expected ',' or ']' between array elements")
            pos = _skip_space(text, pos + 1)
        line_no += text.count("\n", counted_to, pos)
        counted_to = pos
        try:
            obj, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        check_unicode(path, line_no, text[pos:end], obj)
        yield line_no, _object(path, line_no, obj)
        pos = end
        expect_value = False


def check_unicode(path: Path, line_no: int, raw: str, obj: Any) -> None:
    """Refuse a row holding a lone surrogate (a JSON ``\\ud800`` escape without its pair): no UTF-8
    text, so no request body, can carry it. Only rows whose text has a ``\\u`` escape can."""
    if "\\u" not in raw:
        return
    bad = _first_lone_surrogate(obj)
    if bad is not None:
        raise DatasetError(
            f"{path}:{line_no}: field '{bad}' holds a lone surrogate (a \\ud800-\\udfff escape without its "
            "pair), which is not Unicode text a request can carry",
            hint="fix or remove the escape in the file",
        )


def _first_lone_surrogate(value: Any, where: str = "") -> str | None:
    """The location (``messages[0].content``) of the first string that UTF-8 cannot encode, or None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return where or "(row)"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{where}.{key}" if where else str(key)
            found = _first_lone_surrogate(key, name) or _first_lone_surrogate(item, name)
            if found:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _first_lone_surrogate(item, f"{where}[{i}]")
            if found:
                return found
    return None


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _line(text: str, pos: int) -> int:
    return 1 + text.count("\n", 0, pos)


def _object(path: Path, line_no: int, obj: Any) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise DatasetError(f"{path}:{line_no}: expected a JSON object, got {type(obj).__name__}")
    return obj


def field_error(path: Path, line_no: int, name: str, expected: str, row: dict[str, Any]) -> DatasetError:
    """The error for a missing or malformed field ``name`` of the row at ``line_no``."""
    if name in row:
        shown = json.dumps(row[name], ensure_ascii=False)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        return DatasetError(f"{path}:{line_no}: field '{name}' = {shown} is not allowed: expected {expected}")
    return DatasetError(f"{path}:{line_no}: field '{name}' is missing: expected {expected}")


def get_str(path: Path, line_no: int, row: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = row.get(name)
    if value is None and not required and name not in row:
        return None
    if not isinstance(value, str) or not value:
        raise field_error(path, line_no, name, "a non-empty string", row)
    return value


def get_optional_int(
    path: Path, line_no: int, row: dict[str, Any], name: str, *, minimum: int = 1, maximum: int = 2**63 - 1
) -> int | None:
    """``get_int``, or None when the field is absent or null."""
    if row.get(name) is None:
        return None
    return get_int(path, line_no, row, name, minimum=minimum, maximum=maximum)


def get_int(
    path: Path, line_no: int, row: dict[str, Any], name: str, *, minimum: int = 1, maximum: int = 2**63 - 1
) -> int:
    """An integer in [minimum, maximum] (an integral float is accepted)."""
    value = row.get(name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        expected = f"an integer >= {minimum}" if maximum == 2**63 - 1 else f"an integer in [{minimum}, {maximum}]"
        raise field_error(path, line_no, name, expected, row)
    return value


def get_timestamp_ms(path: Path, line_no: int, row: dict[str, Any], name: str = "timestamp") -> float | None:
    """A time in milliseconds (number >= 0), None when absent."""
    value = row.get(name)
    if value is None:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
    if not ok:
        raise field_error(path, line_no, name, "a number of milliseconds >= 0", row)
    return float(value)
