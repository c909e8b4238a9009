"""The disk fills up during a run: one ``AIS-OUTPUT`` line, exit 2, the records written so far kept
(a consistent set, summarised later with ``--reuse``), no worker crash, no traceback.

A real full disk: a small tmpfs mounted for the test (``tests/support/small_disk.py``; skipped where
mounting is not possible). The scripted server fills it when a given request arrives, so the order of events
is fixed: the first 256 records are on disk before (the writer flushes every 256 records at the
latest), the disk is full after.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ais_bench.cli.main import main
from ais_bench.records.store import read_records
from tests.support.configs import only_run_dir, write_model_config, write_synthetic_dataset
from tests.support.scripted_server import (
    Script,
    ScriptedConnection,
    ScriptedRequest,
    ScriptedServer,
    stream_chat,
)
from tests.support.small_disk import fill, mounted_tmpfs

FILL_AT_REQUEST = 300
BATCH_SIZE = 4


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 72 MiB tmpfs (the tool wants 64 MiB free to start a run)."""
    with mounted_tmpfs(tmp_path / "disk", "72m") as disk:
        yield disk


def _fill_at(disk: Path, request_number: int) -> Script:
    turns = itertools.count()

    async def script(conn: ScriptedConnection, request: ScriptedRequest) -> bool:
        if next(turns) == request_number:
            fill(disk)
        await stream_chat(conn, ["a", "b"])
        return True

    return script


def _run(tmp_path: Path, disk: Path, *extra: str) -> int:
    return main(["--models", "scripted", "--datasets", "tiny", "--num-warmups", "0",
                 "--config-dir", str(tmp_path / "cfg"), "--work-dir", str(disk / "out"), *extra])


def test_disk_full_during_the_load(
    tmp_path: Path, small_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with ScriptedServer(_fill_at(small_disk, FILL_AT_REQUEST)) as server:
        write_model_config(tmp_path / "cfg", "scripted", server.port, abbr="scripted", batch_size=BATCH_SIZE)
        write_synthetic_dataset(tmp_path / "cfg", "tiny", 5000)
        code = _run(tmp_path, small_disk)
        sent = len([r for r in server.snapshot().requests if r.method == "POST"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err and "AIS-WORKER" not in err and "Logging error" not in err
    errors = [line for line in err.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "[AIS-OUTPUT] cannot write the run's records" in errors[0], err
    assert "No space left on device" in errors[0] and "--reuse" in errors[0]
    assert FILL_AT_REQUEST < sent < 5000  # sending stopped
    perf = only_run_dir(small_disk / "out") / "performances" / "scripted"
    kept = read_records(perf, "tiny")  # a consistent record set: every row with its points and text
    # each record: the send and its 2 token events (the finish+usage chunk is not a token event)
    assert all(r.success and len(r.time_points_s) == 3 for r in kept)
    # Request 300 is sent once at least 300 - batch_size have finished; the writer holds at most 255
    # unflushed (it flushes at 256 or after 1 s, whichever comes first, so how many of them were
    # flushed before the disk filled depends on the machine's speed): the rest are on disk.
    assert len(kept) >= FILL_AT_REQUEST - BATCH_SIZE - 255
    assert f"the {len(kept)} records on disk are kept" in errors[0]
    # Space comes back: what was kept is summarised.
    (small_disk / "filler").unlink()  # written by fill()
    assert _run(tmp_path, small_disk, "--mode", "perf_viz", "--reuse") == 3  # a run stopped early: partial
    assert (perf / "tiny.json").is_file() and (perf / "tiny_details.h5").is_file()
    extra = json.loads((perf / "tiny.json").read_text())["_ais_bench"]
    assert extra["run_state"] == "stopped" and "No space left on device" in extra["warnings"][0]


def test_disk_full_while_writing_the_results(
    tmp_path: Path, small_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with ScriptedServer(_fill_at(small_disk, 10**9)) as server:
        write_model_config(tmp_path / "cfg", "scripted", server.port, abbr="scripted", batch_size=4)
        write_synthetic_dataset(tmp_path / "cfg", "tiny", 40)
        assert _run(tmp_path, small_disk) == 0
    perf = only_run_dir(small_disk / "out") / "performances" / "scripted"
    for name in ("tiny.json", "tiny.csv", "tiny_details.jsonl", "tiny_details.h5", "tiny_plot.html"):
        (perf / name).unlink()
    fill(small_disk)
    capsys.readouterr()
    assert _run(tmp_path, small_disk, "--mode", "perf_viz", "--reuse") == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if " ERROR " in line]
    assert "Traceback" not in err and len(errors) == 1 and "[AIS-OUTPUT] cannot write the results" in errors[0]
    assert len(read_records(perf, "tiny")) == 40
    assert not list(perf.glob("*.tmp"))
