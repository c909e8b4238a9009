"""Which rows of a dataset are used: AISBench ``test_range`` strings such as ``'[0:8]'``."""

from __future__ import annotations

import re

_RANGE = re.compile(r"^\s*\[\s*(-?\d*)\s*:\s*(-?\d*)\s*(?::\s*(-?\d*)\s*)?\]\s*$")


def parse_test_range(text: str) -> slice:
    """``'[a:b]'`` / ``'[a:b:c]'`` (Python slice syntax, parts optional) to a ``slice``.

    Raises ``ValueError`` for anything else.
    """
    match = _RANGE.match(text)
    if not match:
        raise ValueError(f"not a slice like '[0:8]': {text!r}")
    start, stop, step = (int(g) if g else None for g in match.groups())
    if step == 0:
        raise ValueError("slice step cannot be zero")
    return slice(start, stop, step)
