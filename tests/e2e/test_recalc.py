"""Recalculation (``--mode perf_viz --reuse``) of finished runs, end to end through the CLI."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import orjson
import pytest

from ais_bench.cli.main import main
from ais_bench.records.record import RECORD_FORMAT
from ais_bench.records.store import ROW_DTYPE, ROW_DTYPE_V1, ROWS_HEADER, ROWS_MAGIC
from tests.support.configs import only_run_dir, write_model_config, write_synthetic_dataset
from tests.support.fixed_server import FixedServer, FixedTiming

P95_STABLE = """from ais_bench.benchmark.calculators import StablePerfMetricCalculator
from ais_bench.benchmark.summarizers import DefaultPerfSummarizer

summarizer = dict(
    attr="performance",
    type=DefaultPerfSummarizer,
    calculator=dict(type=StablePerfMetricCalculator, stats_list=["Average", "Median", "P95", "P99"]),
)
"""
P95_TOTAL = P95_STABLE.replace("StablePerfMetricCalculator", "DefaultPerfMetricCalculator")


def _cli(tmp_path: Path, *extra: str) -> int:
    return main([
        "--models", "test_model", "--datasets", "tiny", "--config-dir", str(tmp_path / "cfg"),
        "--work-dir", str(tmp_path / "out"), *extra,
    ])


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One default_perf run (2 workers, batch 4, 48 requests), kept pristine; tests copy it."""
    base = tmp_path_factory.mktemp("recalc")
    consts = base / "consts.py"
    consts.write_text("WORKERS_NUM = 2\n")
    with FixedServer(FixedTiming(ttft_s=0.02, itl_s=0.004, output_tokens=6, prompt_tokens=9)) as server:
        write_model_config(base / "cfg", "test_model", server.port, batch_size=4)
        write_synthetic_dataset(base / "cfg", "tiny", 48)
        (base / "cfg" / "summarizers").mkdir(parents=True)
        (base / "cfg" / "summarizers" / "p95_stable.py").write_text(P95_STABLE)
        (base / "cfg" / "summarizers" / "p95_total.py").write_text(P95_TOTAL)
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("AIS_BENCH_GLOBAL_CONSTS", str(consts))
            assert _cli(base, "--mode", "perf", "--num-warmups", "0") == 0
    return base


@pytest.fixture
def run(finished_run: Path, tmp_path: Path) -> Path:
    shutil.copytree(finished_run, tmp_path, dirs_exist_ok=True, symlinks=True)  # `latest` stays a link
    return tmp_path


def _perf(base: Path) -> Path:
    return only_run_dir(base / "out") / "performances" / "test-model"


def _snapshot(perf: Path) -> dict[str, bytes]:
    return {name: (perf / name).read_bytes() for name in ("tiny.csv", "tiny.json", "tiny_details.jsonl")}


def test_recalculation_reproduces_csv_and_json_exactly(run: Path) -> None:
    perf = _perf(run)
    before = _snapshot(perf)
    (perf / "tiny.csv").unlink()
    (perf / "tiny.json").write_text("{}")
    assert _cli(run, "--mode", "perf_viz", "--reuse") == 0
    assert _snapshot(perf) == before


def test_recalculation_from_worker_files_alone_reproduces_everything(run: Path) -> None:
    perf = _perf(run)
    before = _snapshot(perf)
    with h5py.File(perf / "tiny_details.h5") as f:
        h5_points = f["time_points_s"][()]
    for name in ("tiny.csv", "tiny.json", "tiny_details.jsonl", "tiny_details.h5"):
        (perf / name).unlink()
    run_name = only_run_dir(run / "out").name
    assert _cli(run, "--mode", "perf", "--reuse", run_name) == 0  # switched to perf_viz
    assert _snapshot(perf) == before
    with h5py.File(perf / "tiny_details.h5") as f:
        np.testing.assert_array_equal(f["time_points_s"][()], h5_points)


def _rewrite_as_record_format_1(records_dir: Path) -> None:
    """What ais_bench wrote before record format 2: no rows header, 90-byte rows."""
    for rows_path in records_dir.glob("*.rows"):
        data = rows_path.read_bytes()
        assert data.startswith(ROWS_HEADER)
        rows = np.frombuffer(data[len(ROWS_HEADER):], dtype=ROW_DTYPE)
        old = np.zeros(rows.shape[0], dtype=ROW_DTYPE_V1)
        for name in ROW_DTYPE_V1.names:
            old[name] = rows[name]
        rows_path.write_bytes(old.tobytes())


def test_worker_files_of_the_previous_record_format_are_recalculated_with_a_warning(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    perf = _perf(run)
    before = _snapshot(perf)
    for name in ("tiny.csv", "tiny.json", "tiny_details.jsonl", "tiny_details.h5"):
        (perf / name).unlink()
    _rewrite_as_record_format_1(perf / "records")
    capsys.readouterr()
    assert _cli(run, "--mode", "perf_viz", "--reuse") == 0
    out = capsys.readouterr().out
    assert "written by an older ais_bench (record format 1)" in out
    assert (perf / "tiny.csv").read_bytes() == before["tiny.csv"]  # same requests, same numbers
    common = json.loads((perf / "tiny.json").read_text())
    assert any("record format 1" in w for w in common["_ais_bench"]["warnings"])
    with h5py.File(perf / "tiny_details.h5") as f:
        assert f.attrs["format_version"] == 1  # the h5 made from old records says they are old


def test_records_of_a_newer_format_are_refused_with_one_line(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    perf = _perf(run)
    (perf / "tiny_details.h5").unlink()
    for rows_path in (perf / "records").glob("*.rows"):
        data = rows_path.read_bytes()
        rows_path.write_bytes(ROWS_MAGIC + bytes([RECORD_FORMAT + 1]) + data[len(ROWS_HEADER):])
    capsys.readouterr()
    assert _cli(run, "--mode", "perf_viz", "--reuse") == 2
    err = capsys.readouterr().err
    assert "[AIS-RECORDS]" in err and "newer ais_bench" in err and "Traceback" not in err


def test_h5_jsonl_and_csv_agree(run: Path) -> None:
    perf = _perf(run)
    details = [orjson.loads(line) for line in (perf / "tiny_details.jsonl").read_bytes().splitlines()]
    with (perf / "tiny.csv").open() as handle:
        rows = {row[0]: row for row in csv.reader(handle)}
    common = json.loads((perf / "tiny.json").read_text())
    with h5py.File(perf / "tiny_details.h5") as f:
        ids, offsets, points = f["id"][()], f["offsets"][()], f["time_points_s"][()]
        success, out_tokens = f["success"][()], f["output_tokens"][()]
        start_s, end_s = f["start_s"][()], f["end_s"][()]
        assert f.attrs["clock"] == "time.perf_counter" and "test-model" in f.attrs["config"]
        assert f.attrs["batch_size"] == 4 and f.attrs["requests"] == 48
    assert ids.tolist() == [d["id"] for d in details] == list(range(48))
    assert success.tolist() == [d["success"] for d in details]
    assert start_s.tolist() == [d["start_s"] for d in details]
    assert end_s.tolist() == [d["end_s"] for d in details]
    assert (np.diff(offsets) - 1).tolist() == [d["events"] for d in details]
    assert out_tokens.tolist() == [d["output_tokens"] for d in details]
    # The csv follows from the h5 time points: E2EL (send -> the read that completed the response,
    # end_s, at or after the last token event) and TTFT averages, N, token totals.
    assert (end_s >= points[offsets[1:] - 1]).all()
    e2el = end_s - points[offsets[:-1]]
    ttft = points[offsets[:-1] + 1] - points[offsets[:-1]]
    avg = rows["Performance Parameters"].index("Average")
    assert float(rows["E2EL"][avg].removesuffix(" ms")) == pytest.approx(round(float(e2el.mean()), 4) * 1000)
    assert float(rows["TTFT"][avg].removesuffix(" ms")) == pytest.approx(round(float(ttft.mean()), 4) * 1000)
    assert rows["E2EL"][-1] == "48"
    assert common["Total Generated Tokens"]["total"] == int(out_tokens.sum()) == 48 * 6
    duration_ms = float(common["Benchmark Duration"]["total"].removesuffix(" ms"))
    assert duration_ms == pytest.approx((end_s.max() - start_s.min()) * 1000, abs=1e-3)


def test_recalculate_with_stable_stage_and_p95(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    perf = _perf(run)
    assert _cli(run, "--mode", "perf_viz", "--reuse", "--summarizer", "p95_stable") == 0
    with (perf / "tiny.csv").open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["Performance Parameters", "Stage", "Average", "Median", "P95", "P99", "N"]
    assert {row[1] for row in rows[1:]} == {"stable"}
    common = json.loads((perf / "tiny.json").read_text())
    window = common["_ais_bench"]["window"]
    assert window["batch_size"] == 4 and 0 < window["requests"] < 48
    assert common["Total Requests"]["stable"] == window["requests"]
    out = capsys.readouterr().out
    assert "P95" in out and "stable" in out
    # Same records with a total-stage P95: P95 lies between the median and P99.
    assert _cli(run, "--mode", "perf_viz", "--reuse", "--summarizer", "p95_total") == 0
    with (perf / "tiny.csv").open() as handle:
        e2el = {row[0]: row for row in csv.reader(handle)}["E2EL"]
    median, p95, p99 = (float(cell.split()[0]) for cell in e2el[3:6])
    assert median <= p95 <= p99 and e2el[1] == "total" and e2el[-1] == "48"


def test_stable_stage_intervals_are_reproduced_byte_for_byte(run: Path) -> None:
    perf = _perf(run)
    assert _cli(run, "--mode", "perf_viz", "--reuse", "--summarizer", "p95_stable") == 0
    first = (perf / "tiny.json").read_bytes()
    confidence = json.loads(first)["_ais_bench"]["window"]["confidence"]
    ttft = confidence["TTFT Median"]
    assert ttft is not None and ttft["method"] == "bootstrap" and ttft["low"] <= ttft["estimate"] <= ttft["high"]
    (perf / "tiny.json").write_text("{}")
    assert _cli(run, "--mode", "perf_viz", "--reuse", "--summarizer", "p95_stable") == 0
    assert (perf / "tiny.json").read_bytes() == first


def test_batch_size_comes_from_the_command_line_model(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_model_config(run / "cfg", "test_model", 1, batch_size=8)  # same abbr, another batch_size
    assert _cli(run, "--mode", "perf_viz", "--reuse") == 0
    assert json.loads((_perf(run) / "tiny.json").read_text())["Max Concurrency"]["total"] == 8
    # The run held 4 in flight: with batch_size 8 there is no steady stage, and the error says so.
    assert _cli(run, "--mode", "perf_viz", "--reuse", "--summarizer", "p95_stable") == 2
    assert "never batch_size=8" in capsys.readouterr().err


def test_dump_text_adds_prompts_and_outputs(run: Path) -> None:
    perf = _perf(run)
    assert _cli(run, "--mode", "perf_viz", "--reuse", "--dump-text") == 0
    details = [orjson.loads(line) for line in (perf / "tiny_details.jsonl").read_bytes().splitlines()]
    assert details[0]["input"] == [{"role": "user", "content": "A A A A A A A A"}]
    assert details[0]["output"] == " tok" * 6 and details[0]["reasoning"] == ""


def test_missing_run_folder_is_one_line(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(run, "--mode", "perf_viz", "--reuse", "20200101_000000") == 2
    err = capsys.readouterr().err
    assert "run folder" in err and "20200101_000000 does not exist" in err and "Traceback" not in err
    assert f"latest: {only_run_dir(run / 'out').name}" in err


def test_perf_viz_without_any_run_names_the_folder(tmp_path: Path, run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main([
        "--models", "test_model", "--datasets", "tiny", "--config-dir", str(run / "cfg"),
        "--work-dir", str(tmp_path / "empty"), "--mode", "perf_viz",
    ])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "no run folder to recalculate under" in err and "empty" in err and "--mode perf" in err


def test_other_abbrs_or_missing_records_are_one_line(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_synthetic_dataset(run / "cfg", "other", 3)
    code = main([
        "--models", "test_model", "--datasets", "other", "--config-dir", str(run / "cfg"),
        "--work-dir", str(run / "out"), "--mode", "perf_viz", "--reuse",
    ])
    assert code == 2
    err = capsys.readouterr().err
    assert "no records of dataset 'other'" in err and "datasets there: tiny" in err
