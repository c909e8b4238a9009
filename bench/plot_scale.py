"""Size and cost of ``<ds>_plot.html`` as a run grows: 1k, 41k and 1M requests by default.

Usage: ``.venv/bin/python bench/plot_scale.py [--requests 1000 41000 1000000] [--events 64]
[--concurrency 16] [--browser] [--keep DIR]``

Each size is a synthetic ``RequestTable`` of streamed requests sent back to back on
``--concurrency`` lanes (TTFT uniform in 30-200 ms, decode 0.5-2 s, ``--events`` token events spread
evenly over the decode, one token each; at 16 lanes 1M requests last about 24 h, 41k about 1 h),
with its stable-stage summary. Printed per size: the run's span, whether the page is binned
(``PER_REQUEST_LIMIT``), the page's size, and the CPU seconds (``time.process_time``) and wall
seconds of ``write_plot`` alone. With ``--browser``, the page is opened in headless Chromium
(software WebGL, ``tests/support/browser.py``) and the wall time until the figure is drawn and a
pan is done is printed, with the page's own clock (load event, figure ready). A script that prints
figures, not a test.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support.browser

from ais_bench.metrics import compute_summary
from ais_bench.records.record import RequestTable
from ais_bench.reports.html_report import PLOT_DIV_ID, write_plot
from ais_bench.reports.plot_series import PER_REQUEST_LIMIT

PAN_JS = (
    "var r = gd._fullLayout.xaxis.range, w = r[1] - r[0];"
    "return Plotly.relayout(gd, {'xaxis.range': [r[0] + w / 4, r[1] - w / 4]}).then(function () { return w; });"
)


def synthetic_table(n: int, lanes: int, events: int, seed: int = 0) -> RequestTable:
    """``n`` streamed requests back to back on ``lanes`` lanes (request i on lane i % lanes)."""
    rng = np.random.default_rng(seed)
    ttft_s = rng.uniform(0.03, 0.2, n)
    decode_s = rng.uniform(0.5, 2.0, n)
    rows = -(-n // lanes)
    busy = np.zeros(rows * lanes)
    busy[:n] = ttft_s + decode_s + 0.001
    grid = busy.reshape(rows, lanes)
    start_s = (1000.0 + np.cumsum(grid, axis=0) - grid).reshape(-1)[:n]
    steps = np.linspace(0.0, 1.0, events)
    points = np.empty((n, events + 1))
    points[:, 0] = start_s
    points[:, 1:] = (start_s + ttft_s)[:, None] + decode_s[:, None] * steps[None, :]
    return RequestTable(
        start_s=start_s, end_s=points[:, -1].copy(), success=np.ones(n, dtype=bool),
        input_tokens=rng.integers(50, 500, n), output_tokens=np.full(n, events, dtype=np.int64),
        offsets=np.arange(n + 1, dtype=np.int64) * (events + 1), time_points_s=points.reshape(-1),
    )


def measure(n: int, args: argparse.Namespace, out_dir: Path) -> None:
    table = synthetic_table(n, args.concurrency, args.events)
    span_s = float(table.end_s.max() - table.start_s.min())
    summary = compute_summary(table, stage="stable", stats_list=("Average", "P99"), batch_size=args.concurrency,
                              stream=True)
    path = out_dir / f"scale_{n}_plot.html"
    cpu, wall = time.process_time(), time.perf_counter()
    write_plot(path, table, stream=True, summary=summary, title=f"plot_scale/{n}")
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    binned = "binned" if n > PER_REQUEST_LIMIT else "per-request"
    print(f"{n:>9,} requests x {args.events} events, span {span_s / 3600:6.2f} h, {binned:<11}: "
          f"{path.stat().st_size / 1e6:6.2f} MB, write {cpu:5.2f} CPU-s ({wall:5.2f} s wall)", flush=True)
    if args.browser:
        from tests.support.browser import load_page

        wall = time.perf_counter()
        page = load_page(path, out_dir / "browser", div_id=PLOT_DIV_ID, action_js=PAN_JS, budget_ms=5000,
                         timeout_s=600)
        wall = time.perf_counter() - wall
        print(f"{'':>9}  chromium (headless, software WebGL): load + draw + pan {wall:5.1f} s wall; page clock "
              f"{page.timing_ms}; JS errors {len(page.errors)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, nargs="+", default=[1_000, 41_000, 1_000_000])
    parser.add_argument("--events", type=int, default=64, help="token events per request")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--browser", action="store_true", help="also open each page in headless chromium")
    parser.add_argument("--keep", type=Path, help="write the pages here (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = args.keep or Path(tmp)
        (out_dir / "browser").mkdir(parents=True, exist_ok=True)
        for n in args.requests:
            measure(n, args, out_dir)


if __name__ == "__main__":
    main()
