"""Model output post-processors named by AISBench model configs (``pred_postprocessor=...``).

Performance runs ignore ``pred_postprocessor``; these exist so that config files import unchanged.
"""

from __future__ import annotations

import re

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)


def extract_non_reasoning_content(text: str) -> str:
    """Return ``text`` without ``<think>...</think>`` blocks (and anything before a lone ``</think>``)."""
    text = _THINK.sub("", text)
    if "</think>" in text:
        text = text.split("</think>", 1)[1]
    return text.strip()


__all__ = ["extract_non_reasoning_content"]
