"""The run folder: ``<work_dir>/<YYYYmmdd_HHMMSS>/{configs,logs,performances/<model_abbr>}``."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from ais_bench.errors import OutputError

#: Free space below which a run does not start.
MIN_FREE_BYTES = 64 * 1024 * 1024


def create_run_dir(work_dir: str | Path) -> Path:
    """Create a new timestamped run folder, checking that it is writable and has free space."""
    root = Path(work_dir)
    stamp = time.strftime("%Y%m%d_%H%M%S")
    run_dir = root / stamp
    suffix = 1
    while run_dir.exists():
        run_dir = root / f"{stamp}_{suffix}"
        suffix += 1
    try:
        run_dir.mkdir(parents=True)
        (run_dir / "logs").mkdir()
        with tempfile.NamedTemporaryFile(dir=run_dir, prefix=".write_check"):
            pass
    except OSError as exc:
        raise OutputError(
            f"cannot write the output folder {run_dir}: {exc.strerror or exc}",
            hint="pass a writable folder with -w/--work-dir",
        ) from None
    free = shutil.disk_usage(run_dir).free
    if free < MIN_FREE_BYTES:
        raise OutputError(
            f"only {free // (1024 * 1024)} MiB free under {run_dir}: the run's records may not fit",
            hint="free some disk space or pass another folder with -w/--work-dir",
        )
    return run_dir


def perf_dir(run_dir: Path, model_abbr: str) -> Path:
    path = run_dir / "performances" / model_abbr
    path.mkdir(parents=True, exist_ok=True)
    return path


def display(path: Path) -> str:
    """A path relative to the current folder when it is inside it."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)
