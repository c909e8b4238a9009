"""Which folders ``ais_bench compare`` accepts, and the one-line errors for the others."""

from __future__ import annotations

from pathlib import Path

import pytest

from ais_bench.api.compare import RunResults, compare_runs, find_run_results, pair_datasets, unpaired_notes
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
    assert "is a sweep folder, not a run folder" in _message(tmp_path)
    assert "ais_bench compare SWEEP_A SWEEP_B" in _message(tmp_path)


def test_two_folders_at_least_and_a_known_stage(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at least two run folders"):
        compare_runs([tmp_path])
    with pytest.raises(ConfigError, match="unknown stage"):
        compare_runs([tmp_path, tmp_path], stage="steady")


def _run(label: str, *keys: str) -> RunResults:
    return RunResults(label, Path(label), {key: Path(label) / key.split("/")[0] for key in keys})


def test_datasets_pair_by_model_and_dataset_else_by_dataset() -> None:
    base = _run("a", "m/syn", "m/gsm8k")
    assert pair_datasets(base, _run("b", "m/gsm8k", "m/other")) == [("m/gsm8k", "m/gsm8k")]
    # two builds under two abbrs, one model each: paired by the dataset abbr
    assert pair_datasets(base, _run("b", "build-b/syn")) == [("m/syn", "build-b/syn")]
    notes = unpaired_notes(base, _run("b", "build-b/syn"), [("m/syn", "build-b/syn")])
    assert notes == ["only in the baseline a, not compared with b: m/gsm8k"]


def test_datasets_that_do_not_match_are_one_line() -> None:
    with pytest.raises(ConfigError) as caught:
        pair_datasets(_run("a", "m/syn"), _run("b", "m/other"))
    assert caught.value.one_line().startswith("[AIS-CONFIG] the datasets do not match: b has m/other, the baseline a has m/syn")
    with pytest.raises(ConfigError):  # two models on one side: no pairing by the dataset abbr alone
        pair_datasets(_run("a", "m/syn"), _run("b", "x/syn", "y/syn"))
