"""Where the shared test data lives: ``../shared/data`` beside the repository (CI lays it there),
or the folder named by ``AIS_BENCH_SHARED_DATA``. Tests that need it skip when it is absent, except
under CI (``CI=true``), where its absence is a failure."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("AIS_BENCH_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
GSM8K_DIR = SHARED_DATA / "gsm8k"
SMOLLM2_DIR = SHARED_DATA / "tokenizers" / "smollm2-135m-instruct"


def require(path: Path, what: str) -> pytest.MarkDecorator:
    present = path.exists()
    if not present and os.environ.get("CI") == "true":
        raise RuntimeError(f"{what} missing at {path}: CI must provide ../shared/data beside the repository")
    return pytest.mark.skipif(not present, reason=f"{what} absent at {path}")
