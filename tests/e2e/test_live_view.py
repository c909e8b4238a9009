"""The live view of a real run against the embedded simulator, its stderr a pipe (as in CI logs)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from ais_bench.api.progress import percentiles_text
from ais_bench.engine.live import LogHistogram
from ais_bench.records.store import read_records
from tests.support.configs import only_run_dir

LABEL = "[sim-api-stream-chat/synthetic] "
ROWS = ("elapsed", "remaining", "requests", "throughput", "TTFT", "ITL", "steady stage")


def _fields(line: str) -> dict[str, str]:
    """A plain line's rows by name."""
    fields = {}
    for part in line[len(LABEL):].split(" | "):
        name = next(name for name in ROWS if part.startswith(name + " "))
        fields[name] = part[len(name) + 1:]
    return fields


def test_a_piped_run_shows_plain_lines_ending_with_the_final_figures(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ais_bench.cli.main", "--models", "sim_api_stream_chat", "--datasets", "synthetic_demo",
         "--num-prompts", "40", "--mode", "perf", "--work-dir", str(tmp_path / "out")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith(LABEL)]
    # one line when the load starts (every 5 s after it on a long run) and one at its end
    assert len(lines) >= 2, result.stderr
    assert lines[0].startswith(LABEL + "elapsed ")
    assert "\x1b" not in result.stderr  # a pipe gets no escape codes
    last = _fields(lines[-1])
    assert last["remaining"] == "0 of 40 requests"
    assert last["requests"] == "done 40/40, failed 0, in flight 0"
    assert re.fullmatch(r"\d+\.\d req/s, \d+ output tok/s \(last [\d.]+ s\)", last["throughput"]), last
    # the final TTFT and ITL percentiles are those of every recorded request (the same histogram)
    perf = only_run_dir(tmp_path / "out") / "performances" / "sim-api-stream-chat"
    records = read_records(perf, "synthetic")
    assert len(records) == 40 and all(r.success for r in records)
    ttft, itl = LogHistogram(), LogHistogram()
    ttft.add(np.array([r.time_points_s[1] - r.time_points_s[0] for r in records]))
    itl.add(np.concatenate([np.diff(r.time_points_s[1:]) for r in records]))
    assert last["TTFT"] == percentiles_text(ttft)
    assert last["ITL"] == percentiles_text(itl)
    assert last["steady stage"].startswith(("started at ", "not yet "))
