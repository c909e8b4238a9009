"""A run folder written by an older ais_bench (commit 2cb95de, record format 2) is recalculated into the
same result files and tables, byte for byte: the guard of every refactoring of records, metrics and
reports. The folder (``tests/data/golden_run``) holds a 40-request run against the embedded simulator;
``expected/`` holds what that commit's ``--mode perf_viz --reuse`` wrote and printed (``stdout.txt``:
AISBench's table layout, printed with ``--wide``), and ``stdout_compact.txt`` the compact tables
printed by default since issue 18.

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


def _recalculate(tmp_path: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[Path, str]:
    work = tmp_path / "out"
    shutil.copytree(GOLDEN, work / RUN_NAME, ignore=shutil.ignore_patterns("expected", "cfg_used"))
    for name in ("tiny.json", "tiny.csv"):
        (work / RUN_NAME / PERF / name).unlink()
    capsys.readouterr()
    code = main([
        "--models", "golden_model", "--datasets", "golden_ds", "--summarizer", "stable_stage",
        "--mode", "perf_viz", "--reuse", RUN_NAME,
        "--config-dir", str(GOLDEN / "cfg_used"), "--work-dir", str(work), *flags,
    ])
    assert code == 0
    return work / RUN_NAME / PERF, capsys.readouterr().out


@pytest.fixture
def recalculated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, str]:
    return _recalculate(tmp_path, capsys, "--wide")


def _printed(out: str) -> str:
    return "\n".join(line for line in out.splitlines() if not line.startswith("Performance Result files"))


@pytest.mark.parametrize("name", ["tiny.json", "tiny.csv"])
def test_result_files_are_unchanged(recalculated: tuple[Path, str], name: str) -> None:
    perf, _ = recalculated
    assert (perf / name).read_bytes() == (GOLDEN / "expected" / name).read_bytes()


def test_printed_tables_are_unchanged(recalculated: tuple[Path, str]) -> None:
    _, out = recalculated
    expected = (GOLDEN / "expected" / "stdout.txt").read_text()
    assert _printed(out).strip() == expected.strip()


def test_compact_tables_are_unchanged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    perf, out = _recalculate(tmp_path, capsys)
    expected = (GOLDEN / "expected" / "stdout_compact.txt").read_text()
    assert _printed(out).strip() == expected.strip()
    assert (perf / "tiny.csv").read_bytes() == (GOLDEN / "expected" / "tiny.csv").read_bytes()  # csv: full layout


LONG_MODEL = "qwen2.5-72b-instruct-awq-tensor-parallel-4-vllm-0.6.3-" * 2
LONG_DATA = "sharegpt-v3-unfiltered-cleaned-split-multi-turn-every-" * 2


def _renamed_golden(tmp_path: Path) -> tuple[Path, Path]:
    """The golden run and its configs with a long model abbr and a long dataset abbr."""
    work, configs = tmp_path / "out", tmp_path / "cfg"
    shutil.copytree(GOLDEN, work / RUN_NAME, ignore=shutil.ignore_patterns("expected", "cfg_used", "tiny.json", "tiny.csv"))
    perf = work / RUN_NAME / "performances"
    (perf / "golden").rename(perf / LONG_MODEL)
    for path in (perf / LONG_MODEL).rglob("tiny*"):
        path.rename(path.with_name(LONG_DATA + path.name.removeprefix("tiny")))
    for kind, old, new in [("models", "golden", LONG_MODEL), ("datasets", "tiny", LONG_DATA)]:
        source = next((GOLDEN / "cfg_used" / kind).glob("*.py"))
        (configs / kind).mkdir(parents=True)
        text = source.read_text().replace(f'abbr="{old}"', f'abbr="{new}"')
        (configs / kind / source.name).write_text(text)
    return work, configs


def test_compact_tables_fit_120_columns_with_long_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    work, configs = _renamed_golden(tmp_path)
    code = main([
        "--models", "golden_model", "--datasets", "golden_ds", "--summarizer", "stable_stage",
        "--mode", "perf_viz", "--reuse", RUN_NAME, "--config-dir", str(configs), "--work-dir", str(work),
    ])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    title = next(i for i, line in enumerate(lines) if line.startswith("Performance Results of task"))
    end = next(i for i, line in enumerate(lines) if line.startswith("Steady window:"))
    assert end - title > 20  # the two tables are between
    assert all(len(line) <= 120 for line in lines[title:end]), "\n".join(lines[title:end])
    assert (work / RUN_NAME / "performances" / LONG_MODEL / f"{LONG_DATA}.csv").is_file()


def test_debug_prints_the_full_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out = _recalculate(tmp_path, capsys, "--debug")
    assert _printed(out).strip() == (GOLDEN / "expected" / "stdout.txt").read_text().strip()
