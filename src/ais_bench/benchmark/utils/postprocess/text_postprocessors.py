"""Text post-processors named by AISBench dataset configs (accuracy only)."""

from __future__ import annotations

import re


def match_answer_pattern(response_text: str, answer_pattern: str) -> str:
    """Return the first group of ``answer_pattern`` found in ``response_text``, else ``""``."""
    match = re.search(answer_pattern, response_text)
    return match.group(1) if match else ""


__all__ = ["match_answer_pattern"]
