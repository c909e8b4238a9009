"""``ais_bench compare SWEEP_A SWEEP_B`` end to end: two concurrency sweeps against the embedded
simulator, B decoding ten times slower per step, compared point by point; --fail-if and its exit code
4 naming the point; a point only B measured; a sweep folder mixed with a run folder; compare.html in
a browser.

The direction is certain whatever the machine's speed: the simulator is never faster than its costs,
so B's decode steps take at least 20 ms while A's cost 2 ms (a busy machine would have to add 18 ms to
every one of A's steps to hide a tenfold difference).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ais_bench.cli.main import main
from ais_bench.reports.compare_sweep_html import PLOT_DIV_ID
from tests.support.browser import load_page, requires_chromium
from tests.support.configs import write_sim_model_config

FAST_DECODE_MS = 2.0
SLOW_DECODE_MS = 20.0
REQUESTS = 16
PAIRED = (1, 2, 4)


def _sweep(base: Path, name: str, decode_ms: float, values: str) -> Path:
    simulator = {"max_num_seqs": 4, "decode_base_ms": decode_ms, "decode_per_seq_ms": 0.0, "seed": 0}
    write_sim_model_config(base / "cfg", name, simulator, abbr="sim", max_out_len=12)
    code = main([
        "--models", name, "--config-dir", str(base / "cfg"), "--isl", "8", "--osl", "12",
        "--num-prompts", str(REQUESTS), "--num-warmups", "0", "--goodput", "e2el:60000",
        "--concurrency", values, "--work-dir", str(base / name),
    ])
    assert code == 0
    (sweep,) = (base / name).glob("*_sweep")
    return sweep


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("compare_sweeps")
    return {
        "fast": _sweep(base, "fast", FAST_DECODE_MS, "1,2,4"),
        "slow": _sweep(base, "slow", SLOW_DECODE_MS, "1,2,4,8"),
    }


def _compare(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ais_bench.cli.main", "compare", *args, "--output", str(tmp_path / "cmp")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )


def _document(tmp_path: Path) -> dict[str, object]:
    document: dict[str, object] = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    return document


def test_slower_decoding_is_slower_at_every_point(sweeps: dict[str, Path], tmp_path: Path) -> None:
    result = _compare(tmp_path, str(sweeps["fast"]), str(sweeps["slow"]))
    assert result.returncode == 0, result.stderr
    document = _document(tmp_path)
    assert document["kind"] == "sweeps" and document["axis"] == "concurrency"
    assert [point["value"] for point in document["points"]] == list(PAIRED)  # type: ignore[attr-defined]
    rows = {(row["point"], row["key"]): row for row in document["rows"]}  # type: ignore[attr-defined]
    for value in PAIRED:
        for key in ("tpot.mean", "tpot.p50", "itl.mean", "e2el.mean"):
            assert rows[(value, key)]["verdict"] == "slower", (value, key, rows[(value, key)])
        # each point's rows are the run comparison's: its A is what the point's run reported
        summary = json.loads((sweeps["fast"] / f"concurrency_{value}" / "performances" / "sim"
                              / "synthetic_summary.json").read_text())
        assert rows[(value, "e2el.mean")]["a"] == pytest.approx(summary["metrics"]["E2EL"]["values"]["Average"],
                                                                rel=1e-9)
    # the point only B measured is named, not compared
    labels = [run["label"] for run in document["runs"]]  # type: ignore[attr-defined]
    assert f"concurrency 8: not in {labels[0]}, not compared" in document["notes"]  # type: ignore[operator]
    assert "concurrency 8: not in" in result.stderr
    # sweep-level answers: both sweeps have goodput (every request good): the highest passing point of each
    (level,) = document["sweeps"]  # type: ignore[misc]
    assert (level["max_passing_a"], level["max_passing_b"], level["max_passing_source"]) == (4, 8, "points")
    curves = document["curves"]
    assert [p["value"] for p in curves[labels[1]]["points"]] == [1, 2, 4, 8]  # type: ignore[index]
    # printed: one table per family, one line per point, within 120 columns
    assert "TPOT (ms): concurrency" in result.stdout and "slower" in result.stdout
    assert "knee (concurrency): A " in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 120


def test_fail_if_exits_4_and_names_the_point(sweeps: dict[str, Path], tmp_path: Path) -> None:
    broken = _compare(tmp_path, str(sweeps["fast"]), str(sweeps["slow"]), "--fail-if", "tpot.p50>+10%")
    assert broken.returncode == 4
    for value in PAIRED:
        assert f"--fail-if tpot.p50>+10% violated: concurrency {value}, sim/synthetic of" in broken.stderr
    violations = _document(tmp_path)["violations"]
    assert [(v["point"], v["key"]) for v in violations] == [(v, "tpot.p50") for v in PAIRED]  # type: ignore[attr-defined]
    # B against itself (as A): no rule broken at any point
    kept = _compare(tmp_path, str(sweeps["slow"]), str(sweeps["slow"]), "--fail-if", "tpot.p50>+10%")
    assert kept.returncode == 0, kept.stderr


def test_a_sweep_and_a_run_folder_are_one_line(sweeps: dict[str, Path], tmp_path: Path) -> None:
    result = _compare(tmp_path, str(sweeps["fast"]), str(sweeps["slow"] / "concurrency_1"))
    assert result.returncode == 2
    assert "cannot compare the sweep folder" in result.stderr and "with the run folder" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


@requires_chromium()
def test_compare_html_of_sweeps_renders_without_errors(sweeps: dict[str, Path], tmp_path: Path) -> None:
    assert _compare(tmp_path, str(sweeps["fast"]), str(sweeps["slow"])).returncode == 0
    report = load_page(tmp_path / "cmp" / "compare.html", tmp_path, div_id=PLOT_DIV_ID)
    assert report.errors == []
    assert report.network == []
    fast, slow = (run["label"] for run in _document(tmp_path)["runs"])  # type: ignore[attr-defined]
    names = [trace["name"] for trace in report.traces]
    for label, points in ((fast, 3), (slow, 4)):
        for curve in ("ttft p50", "ttft p99", "itl p50", "itl p99", "e2el p50", "e2el p99", "request throughput",
                      "goodput", "SLO attainment"):
            (trace,) = [t for t in report.traces if t["name"] == f"{label}: {curve}"]
            assert trace["points"] == points
    # B's slower points are ringed on the ITL and E2EL plots (p50 and p99 of each: one trace per plot)
    ringed = [t for t in report.traces if t["name"] == f"{slow}: slower beyond noise"]
    assert len(ringed) >= 2 and all(1 <= t["points"] <= 6 for t in ringed)
    assert f"{fast}: faster beyond noise" not in names
