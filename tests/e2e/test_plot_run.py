"""Every perf run writes ``<ds>_plot.html``, even when the steady stage is not found."""

from __future__ import annotations

from pathlib import Path

from ais_bench.cli.main import main
from tests.support.configs import only_run_dir, write_model_config, write_synthetic_dataset
from tests.support.fixed_server import FixedServer, FixedTiming


def _run(tmp_path: Path, *extra: str) -> int:
    return main([
        "--models", "test_model", "--datasets", "tiny", "--mode", "perf", "--num-warmups", "0",
        "--config-dir", str(tmp_path / "cfg"), "--work-dir", str(tmp_path / "out"), *extra,
    ])


def _plot(tmp_path: Path) -> str:
    path = only_run_dir(tmp_path / "out") / "performances" / "test-model" / "tiny_plot.html"
    assert path.is_file()
    return path.read_text(encoding="utf-8")


def test_paced_run_writes_the_report(tmp_path: Path) -> None:
    with FixedServer(FixedTiming(ttft_s=0.02, itl_s=0.01, output_tokens=4)) as server:
        write_model_config(tmp_path / "cfg", "test_model", server.port, batch_size=2, request_rate=40)
        write_synthetic_dataset(tmp_path / "cfg", "tiny", 8)
        assert _run(tmp_path) == 0
    text = _plot(tmp_path)
    assert "<title>test-model/tiny</title>" in text
    assert "Common metrics (stage: total)" in text and "<td>Total Requests</td><td>8</td>" in text
    for name in ("TTFT (send", "Decode (first", "In flight (successful requests)", "Planned sends", "Actual sends"):
        assert name in text, name
    assert "steady window" not in text  # default_perf: no window


def test_no_steady_stage_still_writes_the_report(tmp_path: Path) -> None:
    # batch_size 4 but only 3 requests: in flight never reaches 4, so there is no steady stage
    with FixedServer(FixedTiming(ttft_s=0.02, itl_s=0.01, output_tokens=3)) as server:
        write_model_config(tmp_path / "cfg", "test_model", server.port, batch_size=4)
        write_synthetic_dataset(tmp_path / "cfg", "tiny", 3)
        assert _run(tmp_path, "--summarizer", "stable_stage") == 2
    text = _plot(tmp_path)
    assert "Metrics not available" in text
    assert "TTFT (send" in text and "In flight (successful requests)" in text
