"""Shared fixtures: a stand-in ``ais_bench.clients.backends`` only when the real one is absent."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass

import pytest

try:
    import ais_bench.clients.backends  # noqa: F401
except ImportError:  # the clients package is written elsewhere; keep these tests runnable without it

    @dataclass(frozen=True)
    class _Spec:
        name: str
        default_stream: bool

    _module = types.ModuleType("ais_bench.clients.backends")
    for _name, _stream in (
        ("VLLMCustomAPIChat", False),
        ("VLLMCustomAPIChatStream", True),
        ("VLLMCustomAPI", False),
        ("VLLMCustomAPIStream", True),
    ):
        setattr(_module, _name, type(_name, (), {"__module__": "ais_bench.clients.backends"}))
    _module.BACKENDS = {
        getattr(_module, n): _Spec(n, s)
        for n, s in (
            ("VLLMCustomAPIChat", False),
            ("VLLMCustomAPIChatStream", True),
            ("VLLMCustomAPI", False),
            ("VLLMCustomAPIStream", True),
        )
    }
    sys.modules["ais_bench.clients.backends"] = _module


@pytest.fixture
def write(tmp_path):
    """``write("models/x.py", text) -> Path`` below a fresh temporary folder."""

    def _write(relative: str, text: str):
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return _write
