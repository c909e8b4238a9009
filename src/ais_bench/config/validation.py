"""Field checks shared by the config validators.

Every failure is one ``ConfigError`` line of the form
``<file>: <where>.<field> = <value> is not allowed: expected <what>``.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

from ais_bench.errors import ConfigError

if TYPE_CHECKING:
    from typing_extensions import Unpack

T = TypeVar("T")


def show(value: Any) -> str:
    """A short, readable, one-line rendering of a config value (classes as dotted names).

    Never raises: an int too long to print is shown by its size, an object whose ``repr`` fails by
    its type name.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return f"<an integer of about {int(value.bit_length() * 0.30103)} digits>"
    try:
        text = dotted_name(value) if isinstance(value, type) or callable(value) else repr(value)
    except Exception:  # a broken __repr__, or a container holding an int too long to print
        text = f"<{type(value).__name__} object>"
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= 80 else text[:77] + "..."


def show_key(key: Any) -> str:
    """A dict key as written in a dotted location: the text of a string, ``show`` otherwise."""
    return key if isinstance(key, str) else show(key)


def dotted_name(obj: Any) -> str:
    """``module.QualName`` of a class or function; ``repr`` for anything else."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str) and module and qualname:
        return f"{module}.{qualname}"
    try:
        return repr(obj)
    except Exception:
        return f"<{type(obj).__name__} object>"


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


def not_allowed(source: str, field: str, value: Any, expected: str, *, secret: bool = False) -> ConfigError:
    """``<source>: <field> = <value> is not allowed: expected <expected>``; ``secret`` hides the value."""
    shown = f"<hidden {type(value).__name__}>" if secret and value is not None else show(value)
    return ConfigError(f"{source}: {show_key_path(field)} = {shown} is not allowed: expected {expected}")


def missing(source: str, field: str, expected: str) -> ConfigError:
    return ConfigError(f"{source}: {show_key_path(field)} is missing: expected {expected}")


def unknown_field(source: str, field: str, key: str, known: Iterable[str]) -> ConfigError:
    """Error for an unknown key ``key`` at ``field`` (its full dotted location), with a suggestion."""
    text = key if isinstance(key, str) else show(key)
    close = difflib.get_close_matches(text, sorted(known), n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return ConfigError(f"{source}: {show_key_path(field)} is not a known field{hint}")


def show_key_path(field: str) -> str:
    """A dotted location made printable on one line (keys may hold newlines or be very long)."""
    text = field.replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= 160 else text[:157] + "..."


def check_known_keys(
    source: str, where: str, d: dict[Any, Any], known: Iterable[str], ignored: Collection[str] = ()
) -> None:
    """Raise ``unknown_field`` for the first key of ``d`` neither in ``known`` nor ``ignored`` (keys
    AISBench reads and we do not: accepted silently, never suggested)."""
    known = tuple(known)
    for key in d:
        if key not in known and key not in ignored:
            raise unknown_field(source, f"{where}.{show_key(key)}", key, known)


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


class OpenEnds(TypedDict, total=False):
    """Which ends of a ``check_int`` / ``check_number`` interval are open (both closed by default)."""

    lo_open: bool
    hi_open: bool


def check_int(
    source: str, field: str, value: Any, lo: int | None, hi: int | None = None, **ends: Unpack[OpenEnds]
) -> int:
    """An ``int`` (not bool) inside the interval, else one-line ``ConfigError``."""
    if isinstance(value, int) and not isinstance(value, bool) and _in_bounds(value, lo, hi, ends):
        return value
    raise not_allowed(source, field, value, _bounds_text("an integer", lo, hi, ends))


def check_number(
    source: str, field: str, value: Any, lo: float | None, hi: float | None = None, **ends: Unpack[OpenEnds]
) -> float:
    """A finite int or float (not bool) inside the interval, returned as float."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool) and _finite(value)
    if number and _in_bounds(value, lo, hi, ends):
        return float(value)
    raise not_allowed(source, field, value, _bounds_text("a number", lo, hi, ends))


def _in_bounds(x: float, lo: float | None, hi: float | None, ends: OpenEnds) -> bool:
    return _in_interval(x, lo, hi, ends.get("lo_open", False), ends.get("hi_open", False))


def _bounds_text(what: str, lo: float | None, hi: float | None, ends: OpenEnds) -> str:
    """``an integer >= 1``, ``a number in (0, 1]``."""
    interval = interval_text(lo, hi, ends.get("lo_open", False), ends.get("hi_open", False))
    return f"{what} {interval}" if hi is None else f"{what} in {interval}"


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def check_bool(source: str, field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise not_allowed(source, field, value, "True or False")
    return value


def check_str(
    source: str, field: str, value: Any, *, non_empty: bool = False, secret: bool = False, unicode_only: bool = True
) -> str:
    """A ``str`` (``non_empty``: not blank); ``secret`` keeps the value out of the error.
    ``unicode_only``: refuse a lone surrogate (``'\\ud800'``), which no request, file or terminal
    can carry as UTF-8 (file paths may hold one: Python's stand-in for a non-UTF-8 byte of a name)."""
    if not isinstance(value, str) or (non_empty and not value.strip()):
        expected = "a non-empty string" if non_empty else "a string"
        raise not_allowed(source, field, value, expected, secret=secret)
    if unicode_only and not is_unicode_text(value):
        raise not_allowed(source, field, value, NO_SURROGATE, secret=secret)
    return value


#: What a string holding a lone surrogate is told.
NO_SURROGATE = "Unicode text (no lone surrogate such as '\\ud800')"


def is_unicode_text(value: str) -> bool:
    """Whether UTF-8 can encode ``value`` (it holds no lone surrogate)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_path_text(source: str, field: str, value: Any) -> str:
    """A string usable as a file path (no NUL character)."""
    text = check_str(source, field, value, unicode_only=False)
    if "\x00" in text:
        raise not_allowed(source, field, text, "a file path (no NUL character)")
    return text


def check_name(source: str, field: str, value: Any) -> str:
    """An ``abbr``: a non-empty string usable as one file or folder name."""
    name = check_str(source, field, value, non_empty=True)
    bad = name in (".", "..") or any(c in name for c in "/\\") or any(ord(c) < 32 for c in name)
    if bad or len(name.encode("utf-8", "surrogatepass")) > 200:
        raise not_allowed(
            source, field, name,
            "a name usable as a folder name (no '/', '\\', control characters, '.' or '..'; at most 200 bytes)",
        )
    return name


def check_dict(source: str, field: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise not_allowed(source, field, value, "a dict with string keys")
    return value


def check_choice(source: str, field: str, value: object, choices: Iterable[T]) -> T:
    """The choice ``value`` is (of its type and equal to it), else one-line ``ConfigError``."""
    options = list(choices)
    for choice in options:
        if value is choice or (isinstance(value, type(choice)) and value == choice):
            return choice
    raise not_allowed(source, field, value, "one of " + ", ".join(show(c) for c in options))
