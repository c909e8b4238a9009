"""A single run does not import what only some flags use (the start-up cost, docs/performance.md):
the sweep modules and ``tabulate`` (the ``--wide`` tables) are imported on first use."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[3]


def _modules_after(script: str) -> list[str]:
    code = f"import json, sys\n{script}\nprint(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    modules: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return modules


@pytest.mark.processes
def test_the_modules_of_a_single_run_leave_out_sweeps_and_the_wide_tables() -> None:
    modules = _modules_after("import ais_bench.cli.main, ais_bench.api, ais_bench.api.results, ais_bench.api.running")
    assert "ais_bench.api" in modules
    assert "ais_bench.api.sweep" not in modules
    assert "ais_bench.reports.sweep_report" not in modules
    assert "tabulate" not in modules


def test_the_sweep_names_of_the_api_are_imported_on_first_use() -> None:
    from ais_bench import api
    from ais_bench.api import sweep

    assert api.run_sweep is sweep.run_sweep
    assert api.run_slo_search is sweep.run_slo_search
    assert api.PointSettings is sweep.PointSettings
    assert api.SweepResult is sweep.SweepResult
    assert api.new_sweep_dir is sweep.new_sweep_dir


def test_an_unknown_name_of_the_api_is_an_attribute_error() -> None:
    from ais_bench import api

    try:
        api.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("api.no_such_name did not raise")
