"""``<ds>_summary.json``: written by live runs and recalculations, valid against the shipped JSON Schema,
its numbers those of ``<ds>.json`` and ``<ds>.csv`` of the same run in base units at full precision."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest

from ais_bench import __version__
from ais_bench.cli.main import main
from ais_bench.records.store import read_records
from ais_bench.reports.cells import aisbench_stat
from ais_bench.reports.summary_json import summary_schema
from tests.support.configs import only_run_dir, write_model_config, write_synthetic_dataset
from tests.support.fixed_server import FixedServer, FixedTiming
from tests.support.paths import REPO_ROOT

GOLDEN = REPO_ROOT / "tests" / "data" / "golden_run"
GOLDEN_RUN = "20261130_163446"
_BASE_UNITS = {"ms": "ms", "req/s": "req/s", "token/s": "tokens/s"}


def _validated(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(summary_schema())
    jsonschema.Draft202012Validator(summary_schema()).validate(document)
    return document


def _check_against_json_and_csv(summary: dict[str, Any], perf: Path, ds: str) -> None:
    """Every common metric equals ``<ds>.json``'s value (a string with a unit there, a number here);
    every statistic, rounded as AISBench rounds, is the csv's cell."""
    common = json.loads((perf / f"{ds}.json").read_text(encoding="utf-8"))
    stage = summary["stage"]
    names = [name for name in common if name != "_ais_bench"]
    assert list(summary["common"]) == names
    for name in names:
        shown = common[name][stage]
        entry = summary["common"][name]
        if isinstance(shown, str):
            number, unit = shown.split(" ")
            assert entry == {"value": float(number), "unit": _BASE_UNITS[unit]}, name
        else:
            assert entry["value"] == shown and entry["unit"] in ("requests", "tokens"), name
    with (perf / f"{ds}.csv").open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    stats = rows[0][2:-1]
    assert summary["stats"] == stats and list(summary["metrics"]) == [row[0] for row in rows[1:]]
    for row in rows[1:]:
        metric = summary["metrics"][row[0]]
        assert metric["n"] == int(row[-1])
        for stat, cell in zip(stats, row[2:-1], strict=True):
            value = metric["values"][stat]
            native = value / 1000 if metric["unit"] == "ms" else value
            shown_unit = {"ms": "ms", "tokens": "", "tokens/s": "token/s"}[metric["unit"]]
            assert cell.split(" ")[0] == str(aisbench_stat(native, shown_unit)), (row[0], stat)
    extra = common["_ais_bench"]
    for key in ("warnings", "failed_reasons", "finish_reasons", "retries", "client_self_check", "run_state"):
        assert summary.get(key) == extra.get(key), key


def test_live_run_writes_a_valid_summary_in_base_units(tmp_path: Path) -> None:
    timing = FixedTiming(ttft_s=0.05, itl_s=0.02, output_tokens=5, prompt_tokens=7)
    with FixedServer(timing) as server:
        write_model_config(tmp_path / "cfg", "test_model", server.port, batch_size=2)
        write_synthetic_dataset(tmp_path / "cfg", "tiny", 6)
        assert main([
            "--models", "test_model", "--datasets", "tiny", "--mode", "perf", "--num-warmups", "0",
            "--config-dir", str(tmp_path / "cfg"), "--work-dir", str(tmp_path / "out"),
        ]) == 0
    run_dir = only_run_dir(tmp_path / "out")
    perf = run_dir / "performances" / "test-model"
    summary = _validated(perf / "tiny_summary.json")
    _check_against_json_and_csv(summary, perf, "tiny")
    assert (summary["tool"], summary["tool_version"], summary["schema_version"]) == ("ais_bench", __version__, 1)
    assert (summary["model_abbr"], summary["data_abbr"], summary["stage"]) == ("test-model", "tiny", "total")
    dump = next((run_dir / "configs").glob("*.py"))
    assert summary["config_digest"] == "sha256:" + hashlib.sha256(dump.read_bytes()).hexdigest()
    assert summary["window"] is None and summary["run_state"] == "finished"
    assert summary["client_self_check"]["stamping"] in ("kernel", "loop")
    # full precision, by hand from the recorded time points: E2EL in ms, 5 tokens, 7 input tokens
    records = read_records(perf, "tiny")
    e2el_ms = np.array([r.end_s - r.start_s for r in records]) * 1000
    assert summary["metrics"]["E2EL"]["values"]["Average"] == pytest.approx(e2el_ms.mean(), rel=1e-12)
    assert summary["metrics"]["E2EL"]["values"]["Max"] == pytest.approx(e2el_ms.max(), rel=1e-12)
    assert summary["metrics"]["OutputTokens"] == {"unit": "tokens", "n": 6, "values": {
        stat: 5.0 for stat in summary["stats"]}}
    assert summary["common"]["Total Input Tokens"] == {"value": 42, "unit": "tokens"}


def test_recalculation_writes_the_summary_with_the_window(tmp_path: Path) -> None:
    work = tmp_path / "out"
    shutil.copytree(GOLDEN, work / GOLDEN_RUN, ignore=shutil.ignore_patterns("expected", "cfg_used"))
    assert main([
        "--models", "golden_model", "--datasets", "golden_ds", "--summarizer", "stable_stage",
        "--mode", "perf_viz", "--reuse", GOLDEN_RUN, "--config-dir", str(GOLDEN / "cfg_used"), "--work-dir", str(work),
    ]) == 0
    perf = work / GOLDEN_RUN / "performances" / "golden"
    summary = _validated(perf / "tiny_summary.json")
    _check_against_json_and_csv(summary, perf, "tiny")
    window = json.loads((perf / "tiny.json").read_text())["_ais_bench"]["window"]
    assert summary["stage"] == "stable"
    assert summary["window"]["start_ms"] == window["start_rel_s"] * 1000
    assert summary["window"]["end_ms"] == window["end_rel_s"] * 1000
    assert summary["window"]["duration_ms"] == window["duration_s"] * 1000
    assert (summary["window"]["share"], summary["window"]["requests"]) == (window["share"], 24)
    ttft = summary["window"]["confidence"]["TTFT Median"]
    assert ttft["unit"] == "ms" and ttft["estimate"] == window["confidence"]["TTFT Median"]["estimate"]
    assert summary["window"]["confidence"]["Output Token Throughput"]["unit"] == "tokens/s"
    dump = (GOLDEN / "configs" / "20261130_163446_7451.py").read_bytes()
    assert summary["config_digest"] == "sha256:" + hashlib.sha256(dump).hexdigest()


def test_schema_refuses_a_number_with_its_unit_in_a_string() -> None:
    document = {
        "schema": "ais_bench.summary", "schema_version": 1, "tool": "ais_bench", "tool_version": "x",
        "model_abbr": "m", "data_abbr": "d", "config_digest": None, "stage": "total", "stats": ["Average"],
        "metrics": {}, "common": {"Benchmark Duration": {"value": "983.4 ms", "unit": "ms"}}, "window": None,
        "warnings": [], "client_self_check": None,
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, summary_schema())
    document["common"]["Benchmark Duration"]["value"] = 983.4
    jsonschema.validate(document, summary_schema())
