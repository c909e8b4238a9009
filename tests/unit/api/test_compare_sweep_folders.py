"""How ``ais_bench compare`` reads sweep folders: pairing points by value, the notes of the points not
compared, the sweep-level answers, and the one-line errors (two axes, nothing in common, a mix of a
sweep and a run folder, a sweep.json that is not one). No run is compared here (tests/e2e does that)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ais_bench.api import compare_sweeps as compare_sweeps_module
from ais_bench.api.compare import Comparison
from ais_bench.api.compare_sweeps import (
    compare_sweeps,
    folders_are_sweeps,
    highest_passing,
    load_sweep_results,
    paired_values,
    sweep_level,
    unpaired_point_notes,
)
from ais_bench.errors import ConfigError, NoSteadyStage
from ais_bench.reports.compare_sweep_report import format_level


def _point(value: float, status: str = "ok", attainment: float | None = None) -> dict[str, Any]:
    return {"value": value, "status": status, "reason": "" if status == "ok" else "All requests failed",
            "run_dir": f"concurrency_{value:g}", "request_throughput": value, "attainment": attainment}


def _sweep(folder: Path, points: list[dict[str, Any]], **keys: Any) -> Path:
    folder.mkdir(parents=True)
    document = {"schema": "ais_bench.sweep", "schema_version": 1, "kind": "sweep", "axis": "concurrency",
                "knee": None, "slo_ms": None, "points": points, **keys}
    (folder / "sweep.json").write_text(json.dumps(document))
    return folder


def _one_line(caught: pytest.ExceptionInfo[ConfigError]) -> str:
    line = caught.value.one_line()
    assert "\n" not in line
    return line


def test_points_pair_by_value_and_the_others_are_named(tmp_path: Path) -> None:
    a = load_sweep_results(_sweep(tmp_path / "a", [_point(1), _point(2), _point(4), _point(8, "failed")]))
    b = load_sweep_results(_sweep(tmp_path / "b", [_point(2), _point(4), _point(8), _point(16)]))
    assert paired_values(a, b) == [2.0, 4.0]
    assert a.points[4.0] == tmp_path / "a" / "concurrency_4"
    assert unpaired_point_notes(a, b) == [
        "concurrency 1: not in b, not compared",
        "concurrency 8: no results in a (failed), not compared",
        "concurrency 16: not in a, not compared",
    ]


def test_the_highest_passing_load_and_the_knee_of_each_sweep(tmp_path: Path) -> None:
    points_a = [_point(1, attainment=1.0), _point(2, attainment=0.995), _point(4, attainment=0.5)]
    points_b = [_point(1, attainment=1.0), _point(2, attainment=0.9), _point(4, "failed")]
    slo = {"slo_ms": {"ttft": 200}}
    a = load_sweep_results(_sweep(tmp_path / "a", points_a, knee=2, **slo))
    b = load_sweep_results(_sweep(tmp_path / "b", points_b, **slo))
    assert highest_passing(a.document, 0.99) == 2.0 and highest_passing(b.document, 0.99) == 1.0
    level = sweep_level(a, b)
    assert (level.knee_a, level.knee_b) == (2.0, None)
    assert (level.max_passing_a, level.max_passing_b, level.max_passing_source, level.target) == (2, 1, "points", 0.99)
    # both searched: their own max_passing and target
    search = {"kind": "slo_search", "max_passing": 6, "slo_attainment_target": 0.95, **slo}
    searched = sweep_level(load_sweep_results(_sweep(tmp_path / "sa", points_a, **search)),
                           load_sweep_results(_sweep(tmp_path / "sb", points_b, **{**search, "max_passing": 3})))
    assert (searched.max_passing_a, searched.max_passing_b, searched.max_passing_source) == (6, 3, "slo_search")
    assert searched.target == 0.95
    # without an SLO on one side: no highest passing load
    plain = sweep_level(a, load_sweep_results(_sweep(tmp_path / "p", points_b)))
    assert plain.max_passing_source is None and plain.max_passing_b is None


def test_sweeps_of_two_axes_are_one_line(tmp_path: Path) -> None:
    a = _sweep(tmp_path / "a", [_point(1)])
    b = _sweep(tmp_path / "b", [_point(1)], axis="request_rate")
    with pytest.raises(ConfigError) as caught:
        compare_sweeps([a, b])
    assert "cannot compare a request_rate sweep (b) with a concurrency sweep (a)" in _one_line(caught)


def test_sweeps_without_a_common_point_are_one_line(tmp_path: Path) -> None:
    a = _sweep(tmp_path / "a", [_point(1), _point(2)])
    b = _sweep(tmp_path / "b", [_point(4), _point(2, "unsteady")])
    with pytest.raises(ConfigError) as caught:
        compare_sweeps([a, b])
    assert "the sweeps have no measured concurrency in common: a has 1, 2, b has 4" in _one_line(caught)


def test_a_sweep_and_a_run_folder_are_one_line(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path / "s", [_point(1)])
    run = tmp_path / "run"
    run.mkdir()
    assert folders_are_sweeps([sweep, sweep]) is True
    assert folders_are_sweeps([run, run]) is False
    with pytest.raises(ConfigError) as caught:
        folders_are_sweeps([run, sweep])
    assert "cannot compare the sweep folder" in _one_line(caught) and "with the run folder" in _one_line(caught)


def test_a_sweep_json_that_is_not_one(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "sweep.json").write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read"):
        load_sweep_results(tmp_path / "x")
    (tmp_path / "x" / "sweep.json").write_text('{"schema": "other"}')
    with pytest.raises(ConfigError, match=r"is not an ais_bench sweep\.json"):
        load_sweep_results(tmp_path / "x")
    with pytest.raises(ConfigError, match="at least two sweep folders"):
        compare_sweeps([tmp_path / "x"])


def test_a_sweep_whose_every_point_passed_is_marked(tmp_path: Path) -> None:
    slo = {"slo_ms": {"ttft": 200}}
    a = load_sweep_results(_sweep(tmp_path / "a", [_point(1, attainment=1.0), _point(2, attainment=1.0)], **slo))
    b = load_sweep_results(_sweep(tmp_path / "b", [_point(1, attainment=1.0), _point(2, attainment=0.5)], **slo))
    level = sweep_level(a, b)
    assert (level.max_passing_a, level.passed_all_a, level.max_passing_b, level.passed_all_b) == (2, True, 1, False)
    text = format_level(level, "concurrency", "a")
    assert "highest concurrency meeting SLO attainment 0.99 (highest measured point): A 2+, B 1" in text
    assert "(+: every point of that sweep passed, so its limit is higher)" in text


def test_a_point_without_a_steady_stage_is_a_note(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the point runs themselves are not read here: compare_runs stands in, as a point at 2 has no steady stage
    def compare_point(folders: list[Path], **_: object) -> Comparison:
        if folders[0].name == "concurrency_2":
            raise NoSteadyStage("b: syn_details.h5 has no steady stage (peak concurrency 1 < 2)")
        return Comparison(runs=[])

    monkeypatch.setattr(compare_sweeps_module, "compare_runs", compare_point)
    a = _sweep(tmp_path / "a", [_point(1), _point(2)])
    b = _sweep(tmp_path / "b", [_point(1), _point(2)])
    comparison = compare_sweeps([a, b], stage="stable")
    assert [point.value for point in comparison.points] == [1.0]
    assert comparison.notes == ["concurrency 2: not compared: b: syn_details.h5 has no steady stage (peak concurrency 1 < 2)"]
    only_unsteady = _sweep(tmp_path / "c", [_point(2)])
    with pytest.raises(NoSteadyStage, match="no point of c could be compared with a on the stable stage"):
        compare_sweeps([a, only_unsteady], stage="stable")
