"""Shared fixtures."""

from __future__ import annotations

import pytest


@pytest.fixture
def write(tmp_path):
    """``write("models/x.py", text) -> Path`` below a fresh temporary folder."""

    def _write(relative: str, text: str):
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return _write
