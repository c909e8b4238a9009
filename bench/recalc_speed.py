"""Speed of recalculation: N requests x E events from disk to summary (default 1,000,000 x 128).

Usage: ``.venv/bin/python bench/recalc_speed.py [--requests 1000000] [--events 128] [--workers 2]
[--batch-size 64] [--keep DIR]``

1. Writes a synthetic run folder in the on-disk format of a real run: per worker ``records/
   <ds>.worker<i>.{rows,points,jsonl}`` in completion order (closed-loop lanes of ``--batch-size``
   back-to-back requests, ``--events`` SSE events each, 0.1 % failures), plus model/dataset configs.
   Not timed.
2. Times the steps a live run does after its workers stop (read the worker files, token counts,
   details jsonl + h5, summary), then the recalculation of the finished run through the CLI,
   ``ais_bench --mode perf_viz --reuse`` (reads ``<ds>_details.h5``), for default_perf and
   stable_stage, and finally the recalculation of a *killed* run (no details files: worker files
   read directly, details written). Prints seconds per step and the peak RSS.
A script that prints figures, not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ais_bench.cli.main import EXIT_PARTIAL, main
from ais_bench.metrics.summary import compute_summary
from ais_bench.records.columns import read_record_columns
from ais_bench.records.details import write_details_jsonl
from ais_bench.records.details_h5 import RunAttributes, read_details_h5, write_details_h5
from ais_bench.records.store import ROW_DTYPE, ROWS_HEADER, error_kind_code, worker_record_path
from ais_bench.records.table import resolve_token_counts, table_from_columns

DS = "bench"
MODEL = "bench-model"


def generate(run_dir: Path, n: int, events: int, workers: int, batch: int, seed: int = 0) -> Path:
    """Write the worker files of a synthetic run; return ``performances/<model>``."""
    rng = np.random.default_rng(seed)
    perf = run_dir / "performances" / MODEL
    (perf / "records").mkdir(parents=True)
    (run_dir / "configs").mkdir()
    (run_dir / "configs" / "dump.py").write_text("models = []\n")
    lane = np.arange(n) % batch
    ttft = 0.05 + 0.01 * rng.random(n)
    itl = 0.02 + 0.002 * rng.random(n)
    duration = ttft + (events - 1) * itl
    # Back-to-back per lane: start of the j-th request of a lane = sum of the lane's earlier durations.
    start = np.empty(n)
    for lane_id in range(batch):
        idx = np.flatnonzero(lane == lane_id)
        start[idx] = 1000.0 + lane_id * 1e-3 + np.concatenate(([0.0], np.cumsum(duration[idx][:-1] + 1e-4)))
    ids = np.argsort(start, kind="stable")  # request ids follow send order
    request_id = np.empty(n, dtype=np.int64)
    request_id[ids] = np.arange(n)
    end = start + duration
    failed = rng.random(n) < 0.001
    worker = lane % workers
    for w in range(workers):
        rows_idx = np.flatnonzero(worker == w)
        rows_idx = rows_idx[np.argsort(end[rows_idx], kind="stable")]  # completion order
        count = np.where(failed[rows_idx], 1, events + 1)
        rows = np.zeros(rows_idx.shape[0], dtype=ROW_DTYPE)
        rows["request_id"] = request_id[rows_idx]
        rows["data_index"] = request_id[rows_idx] % 1000
        rows["start_s"] = start[rows_idx]
        rows["end_s"] = end[rows_idx]
        rows["scheduled_s"] = np.nan
        rows["tp_count"] = count
        rows["tp_offset"] = np.concatenate(([0], np.cumsum(count)[:-1]))
        rows["worker_id"] = w
        rows["usage_input_tokens"] = np.where(failed[rows_idx], -1, 128)
        rows["usage_output_tokens"] = np.where(failed[rows_idx], -1, events - 1)
        rows["content_events"] = np.where(failed[rows_idx], 0, events - 1)
        rows["attempts"] = 1
        rows["http_status"] = np.where(failed[rows_idx], 503, -1)
        rows["success"] = ~failed[rows_idx]
        rows["error_kind"] = np.where(failed[rows_idx], error_kind_code("http_status"), 0)
        text_path = worker_record_path(perf, DS, w)
        with text_path.with_name(f"{DS}.worker{w}.points").open("wb") as handle:
            for lo in range(0, rows_idx.shape[0], 65536):
                part = rows_idx[lo : lo + 65536]
                steps = np.zeros((part.shape[0], events + 1))
                steps[:, 1] = ttft[part]
                steps[:, 2:] = itl[part, None]
                points = start[part, None] + np.cumsum(steps, axis=1)
                points[:, 2] = points[:, 1]  # role chunk and first token read together
                keep = np.arange(events + 1)[None, :] < np.where(failed[part], 1, events + 1)[:, None]
                handle.write(points[keep].tobytes())
        with text_path.open("wb") as handle:
            for rid, bad in zip(rows["request_id"].tolist(), (~rows["success"].astype(bool)).tolist(), strict=True):
                if bad:
                    handle.write(b'{"request_id":%d,"error_kind":"http_status","error_message":"HTTP 503: busy",'
                                 b'"output_text":"","reasoning_text":""}\n' % rid)
                else:
                    handle.write(b'{"request_id":%d,"error_kind":null,"error_message":null,'
                                 b'"output_text":"x","reasoning_text":""}\n' % rid)
        with text_path.with_name(f"{DS}.worker{w}.rows").open("wb") as handle:
            handle.write(ROWS_HEADER + rows.tobytes())
    return perf


def write_configs(config_dir: Path, batch: int) -> None:
    (config_dir / "models").mkdir(parents=True)
    (config_dir / "datasets").mkdir(parents=True)
    (config_dir / "models" / "bench_model.py").write_text(
        "from ais_bench.benchmark.models import VLLMCustomAPIChatStream\n"
        f"models = [dict(attr='service', type=VLLMCustomAPIChatStream, abbr='{MODEL}', path='', model='m',\n"
        f"    request_rate=0, retry=0, host_ip='127.0.0.1', host_port=9, max_out_len=128, batch_size={batch})]\n"
    )
    (config_dir / "datasets" / "bench_ds.py").write_text(
        "from ais_bench.benchmark.datasets import SyntheticDataset\n"
        f"bench_ds_datasets = [dict(abbr='{DS}', type=SyntheticDataset, config={{'Type': 'string', "
        "'RequestCount': 4, 'StringConfig': {'Input': {'Method': 'uniform', 'Params': {'MinValue': 1, "
        "'MaxValue': 1}}, 'Output': {'Method': 'uniform', 'Params': {'MinValue': 1, 'MaxValue': 1}}}}, seed=0)]\n"
    )


class Timer:
    def __init__(self) -> None:
        self.rows: list[tuple[str, float]] = []

    @contextlib.contextmanager
    def step(self, name: str):
        started = time.perf_counter()
        yield
        elapsed = time.perf_counter() - started
        self.rows.append((name, elapsed))
        print(f"  {name:<58s} {elapsed:7.2f} s", flush=True)


def cli(config_dir: Path, work_dir: Path, *extra: str) -> None:
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink):
        code = main(["--models", "bench_model", "--datasets", "bench_ds", "--config-dir", str(config_dir),
                     "--work-dir", str(work_dir), "--mode", "perf_viz", "--reuse", *extra])
    if code not in (0, EXIT_PARTIAL):  # EXIT_PARTIAL: the run has failed requests (0.1 % here)
        raise SystemExit(f"recalculation failed with exit code {code}")


def run(args: argparse.Namespace) -> None:
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ais_bench_recalc_"))
    work_dir = root / "out"
    run_dir = work_dir / "20260101_000000"
    config_dir = root / "cfg"
    n, events = args.requests, args.events
    print(f"Generating {n:,} requests x {events} events ({args.workers} workers) under {root} ...", flush=True)
    started = time.perf_counter()
    perf = generate(run_dir, n, events, args.workers, args.batch_size)
    write_configs(config_dir, args.batch_size)
    size = sum(p.stat().st_size for p in (perf / "records").iterdir())
    print(f"  generated in {time.perf_counter() - started:.1f} s, worker files {size / 1e9:.2f} GB", flush=True)
    timer = Timer()
    print("End of a live run (in-process steps):")
    with timer.step("read worker files (rows + points, sort by id)"):
        columns = read_record_columns(perf, DS)
    with timer.step("resolve_token_counts (columns) + failures"):
        counts = resolve_token_counts(columns, stream=True)
        failures = columns.failures()
    with timer.step("write <ds>_details.jsonl"):
        write_details_jsonl(perf / f"{DS}_details.jsonl", columns, counts, failures)
    with timer.step("write <ds>_details.h5"):
        write_details_h5(perf / f"{DS}_details.h5", columns, counts, failures,
                         RunAttributes(MODEL, DS, True, args.batch_size, ""))
    table = table_from_columns(columns, counts)
    with timer.step("compute_summary (total stage)"):
        compute_summary(table, stage="total", batch_size=args.batch_size, stream=True)
    del columns, counts, failures, table
    with timer.step("read <ds>_details.h5 (columns + time points)"):
        read_details_h5(perf / f"{DS}_details.h5")
    print("Recalculation through the CLI (ais_bench --mode perf_viz --reuse), from disk to tables, csv, json:")
    with timer.step("finished run, default_perf (reads details.h5)"):
        cli(config_dir, work_dir)
    with timer.step("finished run, stable_stage (reads details.h5)"):
        cli(config_dir, work_dir, "--summarizer", "stable_stage")
    (perf / f"{DS}_details.h5").unlink()
    (perf / f"{DS}_details.jsonl").unlink()
    with timer.step("killed run, default_perf (worker files; writes details)"):
        cli(config_dir, work_dir)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(f"Peak RSS of this process: {peak_gb:.2f} GB")
    if not args.keep:
        shutil.rmtree(root)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=128, help="SSE events per request (time points - 1)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--keep", metavar="DIR", help="generate into DIR and keep it (default: a temp dir, removed)")
    return parser.parse_args()


if __name__ == "__main__":
    run(parse_args())
