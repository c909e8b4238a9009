"""``ais_bench compare`` end to end: runs against the embedded simulator with different decode costs,
a run against itself, the folder forms, --fail-if and its exit code 4, one-line errors, and
compare.html in a browser."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ais_bench.cli.main import main
from ais_bench.reports.compare_html import PLOT_DIV_ID
from tests.support.browser import load_page, requires_chromium
from tests.support.configs import only_run_dir, write_sim_model_config, write_synthetic_dataset

#: Decode step costs (ms) of the two simulated builds: B decodes ten times slower than A.
FAST_DECODE_MS = 2.0
SLOW_DECODE_MS = 20.0


def _run(base: Path, name: str, decode_ms: float, dataset: str = "syn", *extra: str) -> Path:
    simulator = {"max_num_seqs": 4, "decode_base_ms": decode_ms, "decode_per_seq_ms": 0.0, "seed": 0}
    write_sim_model_config(base / "cfg", name, simulator, abbr="sim", batch_size=4, max_out_len=12)
    work = base / name
    code = main([
        "--models", name, "--datasets", dataset, "--config-dir", str(base / "cfg"), "--work-dir", str(work),
        "--mode", "perf", "--num-warmups", "0", *extra,
    ])
    assert code == 0
    return only_run_dir(work)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("compare")
    write_synthetic_dataset(base / "cfg", "syn", 40, input_len=16, output_len=12)
    write_synthetic_dataset(base / "cfg", "other", 8, input_len=16, output_len=4)
    return {
        "fast": _run(base, "fast", FAST_DECODE_MS, "syn", "--goodput", "e2el:60000"),  # every request good
        "slow": _run(base, "slow", SLOW_DECODE_MS),
        "other": _run(base, "other_ds", FAST_DECODE_MS, dataset="other"),
    }


def _compare(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ais_bench.cli.main", "compare", *args, "--output", str(tmp_path / "cmp")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )


def _rows(tmp_path: Path) -> dict[str, dict[str, object]]:
    document = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    return {row["key"]: row for row in document["rows"]}


def test_slower_decoding_is_reported_slower(runs: dict[str, Path], tmp_path: Path) -> None:
    result = _compare(tmp_path, str(runs["fast"]), str(runs["slow"]))
    assert result.returncode == 0, result.stderr
    rows = _rows(tmp_path)
    for key in ("tpot.mean", "tpot.p50", "itl.mean", "itl.p50", "e2el.mean", "output_token_throughput"):
        assert rows[key]["verdict"] == "slower", (key, rows[key])
    assert "tpot.p50" in result.stdout and "slower" in result.stdout
    # A's numbers are the ones its run reported (<ds>_summary.json, ms)
    summary = json.loads((runs["fast"] / "performances" / "sim" / "syn_summary.json").read_text())
    assert rows["e2el.mean"]["a"] == pytest.approx(summary["metrics"]["E2EL"]["values"]["Average"], rel=1e-9)
    assert rows["request_throughput"]["a"] == pytest.approx(summary["common"]["Request Throughput"]["value"], rel=1e-9)
    assert (tmp_path / "cmp" / "compare.html").stat().st_size > 1_000_000  # plotly.js embedded
    # goodput under the baseline's bounds (its --goodput e2el:60000): every request of both runs is good
    assert summary["goodput"]["slo_ms"] == {"e2el": 60000.0}
    assert rows["slo_attainment"]["a"] == rows["slo_attainment"]["b"] == 1.0
    assert rows["goodput"]["a"] == pytest.approx(summary["goodput"]["goodput_req_s"], rel=1e-9)
    assert rows["goodput"]["a"] == pytest.approx(rows["request_throughput"]["a"], rel=1e-9)


def test_goodput_flag_sets_the_bounds(runs: dict[str, Path], tmp_path: Path) -> None:
    # e2el:0: no request is good in either run; the rule on attainment is then broken
    result = _compare(tmp_path, str(runs["slow"]), str(runs["fast"]), "--goodput", "e2el:0",
                      "--fail-if", "slo_attainment<0.5")
    assert result.returncode == 4
    rows = _rows(tmp_path)
    assert rows["slo_attainment"]["a"] == rows["slo_attainment"]["b"] == 0.0
    assert rows["goodput"]["verdict"] == "no significant change"
    assert "--fail-if slo_attainment<0.5 violated" in result.stderr


def test_a_run_against_itself_has_no_significant_change(runs: dict[str, Path], tmp_path: Path) -> None:
    # the same folder twice, once as its performances/<model> folder and once through the latest link
    latest = runs["fast"].parent / "latest"
    result = _compare(tmp_path, str(runs["fast"] / "performances" / "sim"), str(latest))
    assert result.returncode == 0, result.stderr
    rows = _rows(tmp_path)
    assert len(rows) == 20  # 16 latency rows, 2 throughputs, goodput and SLO attainment
    assert {row["verdict"] for row in rows.values()} == {"no significant change"}
    document = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert [run["label"] for run in document["runs"]] == [runs["fast"].name, f"{runs['fast'].name}#2"]


def test_fail_if_exits_4_and_names_the_rule(runs: dict[str, Path], tmp_path: Path) -> None:
    broken = _compare(tmp_path, str(runs["fast"]), str(runs["slow"]), "--fail-if", "tpot.p50>+50%",
                      "--fail-if", "ttft.p99>1000s")
    assert broken.returncode == 4
    assert "--fail-if tpot.p50>+50% violated: sim/syn of" in broken.stderr
    assert "ttft.p99>1000s" not in broken.stderr
    violations = json.loads((tmp_path / "cmp" / "compare.json").read_text())["violations"]
    assert [v["rule"] for v in violations] == ["tpot.p50>+50%"]
    kept = _compare(tmp_path, str(runs["fast"]), str(runs["slow"]), "--fail-if", "tpot.p50>+100000%")
    assert kept.returncode == 0, kept.stderr


@pytest.mark.parametrize(
    ("which", "rule", "message"),
    [
        ("not_a_run", None, "holds no run results"),
        ("other", None, "the datasets do not match"),
        ("slow", "tpot.p50>fast", "is not a threshold"),
        ("single", None, "at least two run folders"),
    ],
)
def test_mistakes_are_one_line(
    runs: dict[str, Path], tmp_path: Path, which: str, rule: str | None, message: str
) -> None:
    (tmp_path / "empty").mkdir()
    folders = {"not_a_run": [str(tmp_path / "empty")], "other": [str(runs["other"])], "slow": [str(runs["slow"])],
               "single": []}[which]
    extra = ["--fail-if", rule] if rule else []
    result = _compare(tmp_path, str(runs["fast"]), *folders, *extra)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


@requires_chromium()
def test_compare_html_renders_without_errors(runs: dict[str, Path], tmp_path: Path) -> None:
    assert _compare(tmp_path, str(runs["fast"]), str(runs["slow"])).returncode == 0
    report = load_page(tmp_path / "cmp" / "compare.html", tmp_path, div_id=PLOT_DIV_ID)
    assert report.errors == []
    assert report.network == []
    names = {trace["name"] for trace in report.traces}
    # Each run's label (its folder name; "#2" is added when both runs started in the same second).
    labels = [run["label"] for run in json.loads((tmp_path / "cmp" / "compare.json").read_text())["runs"]]
    assert len(set(labels)) == 2 and names == set(labels)
    assert len(report.traces) == 2 * 3  # TTFT, ITL and E2EL CDFs per run
    assert all(trace["points"] > 100 for trace in report.traces)
