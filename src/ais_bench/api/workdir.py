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
    """Create a new timestamped run folder, checking that it is writable and has free space.

    The folder is claimed by creating it (``mkdir`` fails when it exists), never by checking first:
    two runs started in the same second in one work dir get ``<stamp>`` and ``<stamp>_1``.
    """
    root = Path(work_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
        run_dir = _claim_run_dir(root, time.strftime("%Y%m%d_%H%M%S"))
        (run_dir / "logs").mkdir()
        with tempfile.NamedTemporaryFile(dir=run_dir, prefix=".write_check"):
            pass
    except OSError as exc:
        raise OutputError(
            f"cannot write the output folder {exc.filename or root}: {exc.strerror or exc}",
            hint="pass a writable folder with -w/--work-dir",
        ) from None
    free = shutil.disk_usage(run_dir).free
    if free < MIN_FREE_BYTES:
        raise OutputError(
            f"only {free // (1024 * 1024)} MiB free under {run_dir}: the run's records may not fit",
            hint="free some disk space or pass another folder with -w/--work-dir",
        )
    return run_dir


def _claim_run_dir(root: Path, stamp: str) -> Path:
    """Create ``root/stamp`` or, when another run has it, the first free ``root/stamp_N``."""
    suffix = 0
    while True:
        run_dir = root / (stamp if suffix == 0 else f"{stamp}_{suffix}")
        try:
            run_dir.mkdir()
            return run_dir
        except FileExistsError:
            suffix += 1


def has_records(run_dir: Path) -> bool:
    """True when a run folder holds records or results under ``performances/`` (a run-state note
    written before the load, ``records/<ds>.run_facts.json``, is neither)."""
    performances = run_dir / "performances"
    return performances.is_dir() and any(
        p.is_file() and not p.name.endswith(".run_facts.json") and p.stat().st_size > 0
        for p in performances.rglob("*")
    )


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
