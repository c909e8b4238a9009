"""The self-check's per-node clock section (runs across machines) and its warning; a run without
clock offsets keeps its self-check as it was."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pytest

from ais_bench.distributed.clock import ClockOffset
from ais_bench.engine.health import LagHistogram, build_self_check, median_e2el_s
from ais_bench.engine.runner import RunOutcome
from ais_bench.engine.shared import LoadTotals
from ais_bench.records.record import RequestRecord


@dataclass
class Outcome:
    clock_offsets: list[tuple[str, ClockOffset]] = field(default_factory=list)
    loop_lag: LagHistogram = field(default_factory=LagHistogram)
    worker_cpu_s: dict[int, tuple[float, float]] = field(default_factory=dict)
    stamping: str = "loop"


def _records(e2els_s: list[float], failed_e2el_s: float | None = None) -> list[RequestRecord]:
    records = [
        RequestRecord(request_id=i, data_index=i, data_abbr="ds", worker_id=0, success=True,
                      start_s=10.0 * i, end_s=10.0 * i + e2el, time_points_s=[10.0 * i, 10.0 * i + e2el])
        for i, e2el in enumerate(e2els_s)
    ]
    if failed_e2el_s is not None:
        records.append(RequestRecord(request_id=99, data_index=99, data_abbr="ds", worker_id=0, success=False,
                                     start_s=0.0, end_s=failed_e2el_s, error_kind="read_timeout"))
    return records


NODE_A = ClockOffset(offset_s=812.25, uncertainty_s=0.000150, samples=40, round_trip_min_s=0.0003,
                     round_trip_max_s=0.002, drift_s=0.00002)
NODE_B = ClockOffset(offset_s=-3.5, uncertainty_s=0.0125, samples=40, round_trip_min_s=0.024,
                     round_trip_max_s=0.05, drift_s=-0.0005)


def test_median_e2el_counts_successful_requests_only():
    # successful E2ELs 0.5, 1.0, 2.0 (median 1.0); the failure's 100 s is left out
    assert median_e2el_s(_records([2.0, 0.5, 1.0], failed_e2el_s=100.0)) == 1.0
    assert median_e2el_s(_records([], failed_e2el_s=3.0)) is None


def test_clock_section_by_node_in_the_json_after_the_other_keys():
    check = build_self_check(Outcome([("node-a", NODE_A), ("node-b", NODE_B)]), _records([2.0, 0.5, 1.0]))
    facts = check.to_json_dict()
    assert list(facts) == ["stamping", "loop_lag", "schedule_lag", "slot_wait", "client_cpu", "clocks"]
    assert json.dumps(facts["clocks"]) == json.dumps({
        "node-a": {"offset_ms": 812250.0, "uncertainty_ms": 0.15, "drift_ms": 0.02, "samples": 40,
                   "round_trip_min_ms": 0.3},
        "node-b": {"offset_ms": -3500.0, "uncertainty_ms": 12.5, "drift_ms": -0.5, "samples": 40,
                   "round_trip_min_ms": 24.0},
    })


def test_a_node_known_worse_than_1_percent_of_the_median_e2el_is_warned_about_by_name():
    # median E2EL 1.0 s: the limit is 10 ms; node-a's ±0.15 ms is within it, node-b's ±12.5 ms is not
    (warning,) = build_self_check(Outcome([("node-a", NODE_A), ("node-b", NODE_B)]), _records([2.0, 0.5, 1.0])).warnings
    assert warning.startswith("the clock of load node node-b is known only to ±12.500 ms")
    assert "fastest ping 24.000 ms" in warning and "drift -0.500 ms" in warning
    assert "over 1% of the median E2EL (1000.0 ms)" in warning
    assert "timeline" in warning and "not affected" in warning and "#clocks-across-machines" in warning
    assert "\n" not in warning


def test_the_warning_starts_just_above_1_percent():
    at_limit = ClockOffset(0.0, 0.010, 5, 0.02, 0.02)  # exactly 1 % of a 1 s median: no warning
    assert build_self_check(Outcome([("n", at_limit)]), _records([1.0])).warnings == ()
    above = ClockOffset(0.0, 0.0101, 5, 0.02, 0.02)
    assert len(build_self_check(Outcome([("n", above)]), _records([1.0])).warnings) == 1


def test_no_successful_request_no_clock_warning_but_the_section_stays():
    check = build_self_check(Outcome([("node-b", NODE_B)]), _records([], failed_e2el_s=1.0))
    assert check.warnings == ()
    assert list(check.to_json_dict()["clocks"]) == ["node-b"]


def test_the_median_is_taken_from_record_columns_too():
    data = {"success": np.array([1, 0, 1, 1], dtype=np.uint8), "start_s": np.array([0.0, 0.0, 5.0, 9.0]),
            "end_s": np.array([0.2, 50.0, 5.4, 9.3])}

    class Columns:
        def column(self, name: str) -> np.ndarray:
            return data[name]

    assert median_e2el_s(Columns()) == pytest.approx(0.3)


def test_a_run_on_this_host_has_no_clock_section():
    outcome = RunOutcome(totals=LoadTotals(), started_at_s=0.0, elapsed_s=1.0)
    assert outcome.clock_offsets == ()
    facts = build_self_check(outcome, _records([1.0])).to_json_dict()
    assert "clocks" not in facts
    assert list(facts) == ["stamping", "loop_lag", "schedule_lag", "slot_wait", "client_cpu"]


def test_the_clock_section_matches_the_summary_schema():
    jsonschema = pytest.importorskip("jsonschema")
    from ais_bench.reports.summary_json import summary_schema

    schema = summary_schema()
    self_check_schema = {"$defs": schema["$defs"], **schema["$defs"]["self_check"]}
    facts = build_self_check(Outcome([("node-a", NODE_A), ("node-b", NODE_B)]), _records([1.0])).to_json_dict()
    jsonschema.Draft202012Validator(self_check_schema).validate(facts)
    facts["clocks"]["node-a"]["uncertainty_ms"] = -1.0
    assert not jsonschema.Draft202012Validator(self_check_schema).is_valid(facts)


def test_the_self_check_log_line_names_the_nodes_worst_uncertainty(caplog: pytest.LogCaptureFixture):
    from ais_bench.api.running import _client_self_check

    outcome = RunOutcome(totals=LoadTotals(), started_at_s=0.0, elapsed_s=1.0,
                         clock_offsets=[("node-a", NODE_A), ("node-b", NODE_B)])
    with caplog.at_level("INFO"):
        facts = _client_self_check(outcome, _records([1.0]))  # type: ignore[arg-type]
    assert "clocks of 2 load node(s) known to ±12.500 ms or better -- see the warnings below" in caplog.text
    assert facts["client_self_check"]["clocks"]["node-b"]["uncertainty_ms"] == 12.5
    assert len(facts["warnings"]) == 1
