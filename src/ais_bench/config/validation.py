"""Field checks shared by the config validators.

Every failure is one ``ConfigError`` line of the form
``<file>: <where>.<field> = <value> is not allowed: expected <what>``.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ais_bench.errors import ConfigError


def show(value: Any) -> str:
    """A short, readable rendering of a config value (classes as dotted names)."""
    if isinstance(value, type) or callable(value):
        return dotted_name(value)
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def dotted_name(obj: Any) -> str:
    """``module.QualName`` of a class or function; ``repr`` for anything else."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if module and qualname:
        return f"{module}.{qualname}"
    return repr(obj)


def plain_data(value: Any) -> Any:
    """Classes and functions as dotted names, recursively (dicts, lists, tuples), for dumps."""
    if isinstance(value, dict):
        return {k: plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(v) for v in value]
    if isinstance(value, type) or callable(value):
        return dotted_name(value)
    return value


def display_path(path: str | Path) -> str:
    """``path`` relative to the current directory when it lies below it, else absolute."""
    path = Path(path).absolute()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def not_allowed(source: str, field: str, value: Any, expected: str) -> ConfigError:
    return ConfigError(f"{source}: {field} = {show(value)} is not allowed: expected {expected}")


def missing(source: str, field: str, expected: str) -> ConfigError:
    return ConfigError(f"{source}: {field} is missing: expected {expected}")


def unknown_field(source: str, field: str, key: str, known: Iterable[str]) -> ConfigError:
    """Error for an unknown key ``key`` at ``field`` (its full dotted location), with a suggestion."""
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return ConfigError(f"{source}: {field} is not a known field{hint}")


def _num(x: float | None) -> str:
    return str(int(x)) if x is not None and float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def interval_text(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    if hi is None:
        return f"> {_num(lo)}" if lo_open else f">= {_num(lo)}"
    left = "(" if lo_open else "["
    right = ")" if hi_open else "]"
    return f"{left}{_num(lo)}, {_num(hi)}{right}"


def _in_interval(x: float, lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> bool:
    if lo is not None and (x < lo or (lo_open and x == lo)):
        return False
    return hi is None or not (x > hi or (hi_open and x == hi))


def check_int(
    source: str,
    field: str,
    value: Any,
    lo: int | None,
    hi: int | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
) -> int:
    """An ``int`` (not bool) inside the interval, else one-line ``ConfigError``."""
    ok = isinstance(value, int) and not isinstance(value, bool)
    if not ok or not _in_interval(value, lo, hi, lo_open, hi_open):
        if hi is None:
            expected = f"an integer {interval_text(lo, hi, lo_open, hi_open)}"
        else:
            expected = f"an integer in {interval_text(lo, hi, lo_open, hi_open)}"
        raise not_allowed(source, field, value, expected)
    return value


def check_number(
    source: str,
    field: str,
    value: Any,
    lo: float | None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
) -> float:
    """A finite int or float (not bool) inside the interval, returned as float."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not _in_interval(value, lo, hi, lo_open, hi_open):
        if hi is None:
            expected = f"a number {interval_text(lo, hi, lo_open, hi_open)}"
        else:
            expected = f"a number in {interval_text(lo, hi, lo_open, hi_open)}"
        raise not_allowed(source, field, value, expected)
    return float(value)


def check_bool(source: str, field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise not_allowed(source, field, value, "True or False")
    return value


def check_str(source: str, field: str, value: Any, *, non_empty: bool = False) -> str:
    if not isinstance(value, str) or (non_empty and not value.strip()):
        raise not_allowed(source, field, value, "a non-empty string" if non_empty else "a string")
    return value


def check_dict(source: str, field: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise not_allowed(source, field, value, "a dict with string keys")
    return value


def check_choice(source: str, field: str, value: Any, choices: Iterable[Any]) -> Any:
    choices = list(choices)
    if value not in choices:
        raise not_allowed(source, field, value, "one of " + ", ".join(show(c) for c in choices))
    return value
