"""The run folder is claimed atomically: runs started in the same second never collide."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from ais_bench.api import workdir
from ais_bench.cli.recalc import find_run_dir

STAMP = "20260101_120000"


def test_a_folder_created_by_another_run_after_the_check_is_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another run creates <stamp> between any existence check and our mkdir: we take <stamp>_1.
    monkeypatch.setattr(workdir.time, "strftime", lambda _fmt: STAMP)
    (tmp_path / STAMP).mkdir()
    monkeypatch.setattr(Path, "exists", lambda self: False)
    run_dir = workdir.create_run_dir(tmp_path)
    assert run_dir == tmp_path / f"{STAMP}_1"
    assert (run_dir / "logs").is_dir()


def test_runs_started_in_the_same_second_each_get_their_own_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workdir.time, "strftime", lambda _fmt: STAMP)
    runs = 8
    barrier = threading.Barrier(runs)
    made: list[Path] = []
    errors: list[BaseException] = []

    def start_run() -> None:
        barrier.wait()
        try:
            made.append(workdir.create_run_dir(tmp_path / "out"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start_run) for _ in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert sorted(p.name for p in made) == sorted([STAMP] + [f"{STAMP}_{i}" for i in range(1, runs)])


def test_bare_reuse_skips_folders_of_runs_that_sent_nothing(tmp_path: Path) -> None:
    ran = tmp_path / "20260101_120000"
    (ran / "performances" / "m" / "records").mkdir(parents=True)
    (ran / "performances" / "m" / "records" / "ds.worker0.rows").write_bytes(b"x" * 98)
    (tmp_path / "20260101_130000" / "logs").mkdir(parents=True)  # newer, but stopped before sending
    started = tmp_path / "20260101_140000" / "performances" / "m" / "records"
    started.mkdir(parents=True)  # newest: stopped while its workers started (only the run-state note)
    (started / "ds.run_facts.json").write_text('{"run_state": "running"}')
    assert find_run_dir(tmp_path, "latest") == ran
