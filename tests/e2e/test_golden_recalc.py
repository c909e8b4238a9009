"""A run folder written by an older ais_bench (commit 2cb95de, record format 2) is recalculated into the
same result files and tables, byte for byte: the guard of every refactoring of records, metrics and
reports. The folder (``tests/data/golden_run``) holds a 40-request run against the embedded simulator;
``expected/`` holds what that commit's ``--mode perf_viz --reuse`` wrote and printed.

A deliberate change of an output updates ``expected/`` in the same commit and says why in
docs/aisbench-differences.md or docs/outputs.md."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ais_bench.cli.main import main
from tests.support.paths import REPO_ROOT

GOLDEN = REPO_ROOT / "tests" / "data" / "golden_run"
RUN_NAME = "20261130_163446"
PERF = Path("performances") / "golden"


@pytest.fixture
def recalculated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, str]:
    work = tmp_path / "out"
    shutil.copytree(GOLDEN, work / RUN_NAME, ignore=shutil.ignore_patterns("expected", "cfg_used"))
    for name in ("tiny.json", "tiny.csv"):
        (work / RUN_NAME / PERF / name).unlink()
    capsys.readouterr()
    code = main([
        "--models", "golden_model", "--datasets", "golden_ds", "--summarizer", "stable_stage",
        "--mode", "perf_viz", "--reuse", RUN_NAME,
        "--config-dir", str(GOLDEN / "cfg_used"), "--work-dir", str(work),
    ])
    assert code == 0
    return work / RUN_NAME / PERF, capsys.readouterr().out


@pytest.mark.parametrize("name", ["tiny.json", "tiny.csv"])
def test_result_files_are_unchanged(recalculated: tuple[Path, str], name: str) -> None:
    perf, _ = recalculated
    assert (perf / name).read_bytes() == (GOLDEN / "expected" / name).read_bytes()


def test_printed_tables_are_unchanged(recalculated: tuple[Path, str]) -> None:
    _, out = recalculated
    expected = (GOLDEN / "expected" / "stdout.txt").read_text()
    printed = "\n".join(
        line for line in out.splitlines() if not line.startswith("Performance Result files")
    )
    assert printed.strip() == expected.strip()
