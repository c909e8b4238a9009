"""Resident memory of the worker processes over a long pressure run: does it stay flat?

Usage: ``.venv/bin/python bench/long_run_memory.py [--requests 1000000] [--batch 32] [--output-tokens 4]``

Starts the simulator (``ais_bench_sim``, every cost 0, so it answers as fast as it can) on a free
port of 127.0.0.1 and the real CLI as a subprocess in pressure mode (``--pressure-time 86400``)
against it. Every second it reads the number of finished requests from the workers' record files
(``.rows`` size / row size) and each worker's RSS (``VmRSS`` in /proc). The worker RSS is noted
when 10 % of ``--requests`` have finished and when all have; then the run is stopped with SIGINT
(it summarises what finished). Prints the samples, both RSS figures per worker and their ratio
(flat = within 10 %). A script that prints figures, not a test: 1M requests take a while.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROW_BYTES = 90  # ais_bench.records.store.ROW_DTYPE.itemsize
REPO = Path(__file__).resolve().parents[1]

MODEL = """from ais_bench.benchmark.models import VLLMCustomAPIChatStream
models = [dict(attr="service", type=VLLMCustomAPIChatStream, abbr="mem", path="", model="sim-model",
    request_rate=0, retry=0, host_ip="127.0.0.1", host_port={port}, max_out_len={out}, batch_size={batch},
    generation_kwargs=dict(ignore_eos=True))]
"""
DATASET = """from ais_bench.benchmark.datasets import SyntheticDataset
mem_datasets = [dict(abbr="mem", type=SyntheticDataset, seed=0, config={{"Type": "string", "RequestCount": 200,
    "StringConfig": {{"Input": {{"Method": "uniform", "Params": {{"MinValue": 16, "MaxValue": 64}}}},
                     "Output": {{"Method": "uniform", "Params": {{"MinValue": {out}, "MaxValue": {out}}}}}}}}})]
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def worker_pids(cli_pid: int) -> list[int]:
    """The CLI's spawned worker processes (not multiprocessing's resource tracker)."""
    pids = []
    for pid in children(cli_pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
            pids.append(pid)
    return sorted(pids)


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def finished(records_dir: Path) -> int:
    return sum(p.stat().st_size for p in records_dir.glob("*.rows")) // ROW_BYTES if records_dir.is_dir() else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--output-tokens", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the run folder (default: removed)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ais_bench_mem_"))
    port = free_port()
    (root / "cfg" / "models").mkdir(parents=True)
    (root / "cfg" / "datasets").mkdir(parents=True)
    (root / "cfg" / "models" / "mem.py").write_text(MODEL.format(port=port, out=args.output_tokens, batch=args.batch))
    (root / "cfg" / "datasets" / "mem.py").write_text(DATASET.format(out=args.output_tokens))
    (root / "consts.py").write_text(f"WORKERS_NUM = {args.workers}\n")
    sim = subprocess.Popen(
        [sys.executable, "-m", "ais_bench.sim.cli", "--port", str(port), "--max-num-seqs", str(args.batch),
         "--prefill-base-ms", "0", "--prefill-per-token-ms", "0", "--decode-base-ms", "0",
         "--decode-per-seq-ms", "0"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    time.sleep(2)
    env = {**os.environ, "AIS_BENCH_GLOBAL_CONSTS": str(root / "consts.py")}
    log = (root / "cli.log").open("wb")
    cli = subprocess.Popen(
        [sys.executable, "-m", "ais_bench.cli.main", "--models", "mem", "--datasets", "mem", "--mode", "perf",
         "--pressure", "--pressure-time", "86400", "--num-warmups", "0", "--config-dir", str(root / "cfg"),
         "--work-dir", str(root / "out")],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    print(f"run folder under {root / 'out'}; sim on 127.0.0.1:{port}; target {args.requests:,} requests", flush=True)
    marks: dict[str, tuple[int, list[int]]] = {}
    started = time.monotonic()
    try:
        records_dir = None
        while cli.poll() is None:
            time.sleep(1.0)
            if records_dir is None:
                found = list((root / "out").glob("*/performances/mem/records"))
                records_dir = found[0] if found else None
                continue
            done = finished(records_dir)
            pids = worker_pids(cli.pid)
            rss = [rss_kib(pid) for pid in pids]
            elapsed = time.monotonic() - started
            if int(elapsed) % 10 == 0:
                print(f"  {elapsed:7.0f} s  finished {done:>9,}  ({done / elapsed:6.0f}/s)  worker RSS KiB {rss}",
                      flush=True)
            if "10%" not in marks and done >= args.requests // 10:
                marks["10%"] = (done, rss)
            if done >= args.requests:
                marks["100%"] = (done, rss)
                break
    finally:
        if cli.poll() is None:
            cli.send_signal(signal.SIGINT)
            try:
                cli.wait(300)
            except subprocess.TimeoutExpired:
                cli.kill()
        sim.terminate()
        sim.wait(10)
    for name, (done, rss) in marks.items():
        print(f"at {name:>4}: {done:,} requests finished, worker RSS {[f'{r / 1024:.1f} MiB' for r in rss]}")
    if len(marks) == 2:
        ratios = [b / a for a, b in zip(marks["10%"][1], marks["100%"][1], strict=False) if a]
        print("RSS ratio (100% / 10%) per worker: " + ", ".join(f"{r:.3f}" for r in ratios))
        print("flat (within 10%)" if all(r <= 1.10 for r in ratios) else "NOT flat")
    print(f"CLI exit code {cli.returncode} (130 = stopped with SIGINT, as intended)")
    if args.keep:
        print(f"kept: {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
