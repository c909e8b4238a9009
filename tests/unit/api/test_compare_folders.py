"""Which folders ``ais_bench compare`` accepts, and the one-line errors for the others."""

from __future__ import annotations

from pathlib import Path

import pytest

from ais_bench.api.compare import compare_runs, find_run_results
from ais_bench.errors import ConfigError


def _message(folder: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        find_run_results(folder)
    line = caught.value.one_line()
    assert "\n" not in line
    return line


def test_a_folder_without_results(tmp_path: Path) -> None:
    (tmp_path / "performances" / "model").mkdir(parents=True)
    assert "holds no run results (no performances/<model_abbr>/<ds>_details.h5)" in _message(tmp_path)
    assert "is not a folder" in _message(tmp_path / "missing")


def test_a_run_stopped_before_its_results(tmp_path: Path) -> None:
    records = tmp_path / "performances" / "model" / "records"
    records.mkdir(parents=True)
    (records / "syn.worker0.rows").write_bytes(b"x")
    assert "has records but no *_details.h5" in _message(tmp_path)
    assert "--mode perf_viz --reuse" in _message(tmp_path)


def test_a_sweep_folder_is_named_as_such(tmp_path: Path) -> None:
    (tmp_path / "sweep.json").write_text("{}")
    assert "is a sweep folder: comparing whole sweeps is not supported yet" in _message(tmp_path)


def test_two_folders_at_least_and_a_known_stage(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at least two run folders"):
        compare_runs([tmp_path])
    with pytest.raises(ConfigError, match="unknown stage"):
        compare_runs([tmp_path, tmp_path], stage="steady")
