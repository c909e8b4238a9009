"""The run folder is claimed atomically: runs started in the same second never collide. The work
dir's `latest` link (or `LATEST` marker) names the newest run that sent requests, and a bare `--reuse`
follows it."""

from __future__ import annotations

import os
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


def _run_with_records(work: Path, name: str) -> Path:
    records = work / name / "performances" / "m" / "records"
    records.mkdir(parents=True)
    (records / "ds.worker0.rows").write_bytes(b"x" * 98)
    return work / name


def test_latest_is_a_relative_link_replaced_by_each_newer_run(tmp_path: Path) -> None:
    first, second = _run_with_records(tmp_path, STAMP), _run_with_records(tmp_path, "20260101_120500")
    workdir.mark_latest(first)
    assert (tmp_path / "latest").is_symlink() and os.readlink(tmp_path / "latest") == STAMP
    workdir.mark_latest(second)
    assert os.readlink(tmp_path / "latest") == "20260101_120500"
    assert workdir.latest_run_dir(tmp_path) == second
    assert not list(tmp_path.glob(".latest*"))  # the temporary link was renamed over the old one
    assert find_run_dir(tmp_path, "latest") == second


def test_bare_reuse_follows_the_link_rather_than_the_newest_name(tmp_path: Path) -> None:
    # a run folder named later but never linked (e.g. written by an older version): the link wins
    linked = _run_with_records(tmp_path, STAMP)
    _run_with_records(tmp_path, "20260101_130000")
    workdir.mark_latest(linked)
    assert find_run_dir(tmp_path, "latest") == linked


def test_link_to_a_run_without_records_falls_back_to_the_newest_with_records(tmp_path: Path) -> None:
    ran = _run_with_records(tmp_path, STAMP)
    killed_early = tmp_path / "20260101_130000"
    killed_early.mkdir()
    workdir.mark_latest(killed_early)
    assert find_run_dir(tmp_path, "latest") == ran


def test_where_symlinks_fail_a_marker_file_names_the_latest_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    older, newer = _run_with_records(tmp_path, STAMP), _run_with_records(tmp_path, "20260101_120500")

    def no_symlinks(*_args: object, **_kwargs: object) -> None:
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(workdir.os, "symlink", no_symlinks)
    workdir.mark_latest(older)
    assert (tmp_path / "LATEST").read_text() == f"{STAMP}\n" and not (tmp_path / "latest").exists()
    assert find_run_dir(tmp_path, "latest") == older  # the marker, not the newest name
    monkeypatch.undo()
    workdir.mark_latest(newer)  # symlinks work again: the link replaces the marker
    assert os.readlink(tmp_path / "latest") == newer.name and not (tmp_path / "LATEST").exists()


def test_only_run_folders_are_linked_and_a_real_latest_folder_is_kept(tmp_path: Path) -> None:
    workdir.mark_latest(_run_with_records(tmp_path, "my_run"))  # plan_run(run_dir=...) of the caller's choosing
    assert not (tmp_path / "latest").exists() and not (tmp_path / "LATEST").exists()
    (tmp_path / "latest").mkdir()
    workdir.mark_latest(_run_with_records(tmp_path, STAMP))
    assert (tmp_path / "latest").is_dir() and not (tmp_path / "latest").is_symlink()
    assert (tmp_path / "LATEST").read_text() == f"{STAMP}\n"


def test_a_work_dir_that_takes_neither_link_nor_marker_only_warns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def read_only(*_args: object, **_kwargs: object) -> None:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(workdir.os, "replace", read_only)
    workdir.mark_latest(_run_with_records(tmp_path, STAMP))  # no exception: the run goes on
    assert f"could not mark {STAMP} as the latest run" in caplog.text and "Read-only" in caplog.text
    assert not (tmp_path / "latest").exists() and not (tmp_path / "LATEST").exists()
    assert not list(tmp_path.glob(".*tmp"))
