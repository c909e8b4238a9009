"""The run folder: ``<work_dir>/<YYYYmmdd_HHMMSS>/{configs,logs,performances/<model_abbr>}``, and the
work dir's ``latest`` link to the newest run folder that sent requests."""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from ais_bench.errors import OutputError

log = logging.getLogger("ais_bench")

#: Run folder names: ``YYYYmmdd_HHMMSS`` with an optional ``_N`` suffix (two runs in one second).
RUN_DIR_PATTERN = re.compile(r"^\d{8}_\d{6}(?:_(\d+))?$")
#: ``<work_dir>/latest``: a relative symlink to the newest run folder that sent requests.
LATEST_LINK = "latest"
#: ``<work_dir>/LATEST``: that folder's name in a text file, where a symlink cannot be made.
LATEST_MARKER = "LATEST"

#: Free space below which a run does not start.
MIN_FREE_BYTES = 64 * 1024 * 1024


def create_run_dir(work_dir: str | Path, *, suffix: str = "") -> Path:
    """Create a new timestamped run folder, checking that it is writable and has free space.
    ``suffix`` follows the time stamp (``_sweep``: a sweep folder, ``<stamp>_sweep``).

    The folder is claimed by creating it (``mkdir`` fails when it exists), never by checking first:
    two runs started in the same second in one work dir get ``<stamp>`` and ``<stamp>_1``.
    """
    root = Path(work_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
        run_dir = _claim_run_dir(root, time.strftime("%Y%m%d_%H%M%S") + suffix)
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


def mark_latest(run_dir: Path) -> None:
    """Point ``<work_dir>/latest`` at ``run_dir`` (a run folder whose load starts now).

    The link is relative (the work dir can be moved) and replaced atomically (a new link renamed over
    the old one), so a reader never finds it missing. Where no symlink can be made (some network and
    Windows file systems) the folder's name goes into ``<work_dir>/LATEST`` instead. A folder that is
    not a run folder (``plan_run`` with a ``run_dir`` of the caller's choosing) marks nothing, and
    failing to mark only logs a warning: the run goes on.
    """
    if not RUN_DIR_PATTERN.match(run_dir.name):
        return
    work_dir = run_dir.parent
    try:
        if _link_latest(work_dir, run_dir.name):
            _remove_stale_marker(work_dir)
        else:
            _write_atomically(work_dir / LATEST_MARKER, run_dir.name + "\n")
    except OSError as exc:
        log.warning("could not mark %s as the latest run in %s: %s", run_dir.name, display(work_dir), exc)


def _link_latest(work_dir: Path, name: str) -> bool:
    """Make ``latest`` a symlink to ``name``; False when symlinks fail here, or when ``latest`` is a real
    file or folder (never replaced)."""
    link = work_dir / LATEST_LINK
    if link.exists() and not link.is_symlink():
        return False
    temp = work_dir / f".{LATEST_LINK}.{os.getpid()}.tmp"
    try:
        temp.unlink(missing_ok=True)
        os.symlink(name, temp, target_is_directory=True)
        os.replace(temp, link)
    except OSError:
        temp.unlink(missing_ok=True)
        return False
    return True


def _remove_stale_marker(work_dir: Path) -> None:
    """Drop a ``LATEST`` file left from a time symlinks failed (on a case-insensitive file system
    ``LATEST`` is the new link itself: kept)."""
    marker = work_dir / LATEST_MARKER
    if marker.is_file() and not marker.is_symlink():
        marker.unlink()


def _write_atomically(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def latest_run_dir(work_dir: Path) -> Path | None:
    """The run folder ``latest`` (or ``LATEST``) names, when it is a run folder of ``work_dir``."""
    link = work_dir / LATEST_LINK
    name: str | None = None
    if link.is_symlink():
        name = os.readlink(link)
    elif (work_dir / LATEST_MARKER).is_file():
        name = (work_dir / LATEST_MARKER).read_text(encoding="utf-8").strip()
    if name is None or not RUN_DIR_PATTERN.match(name) or not (work_dir / name).is_dir():
        return None
    return work_dir / name
