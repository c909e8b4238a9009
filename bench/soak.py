"""Soak test: a long pressure run against the embedded simulator with faults switched on.

Runs the real CLI as a subprocess (pressure mode, stable_stage), samples the resident memory (RSS)
of the tool's process tree every few seconds from /proc, and at the end reports requests sent,
failed by reason, records on disk, and RSS over time (first, middle, last, max). The failed
requests' error bodies hold a NUL byte and echo the api_key (as hostile servers do): the run must
keep every result and the key must appear in no file of the run folder.

    .venv/bin/python bench/soak.py --minutes 10
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

MODEL_CONFIG = """\
from ais_bench.benchmark.models import VLLMCustomAPIChat

models = [
    dict(
        attr="service", type=VLLMCustomAPIChat, abbr="soak", path="", model="", stream=True,
        request_rate=50, retry=1, host_ip="127.0.0.1", host_port=0, max_out_len=32, batch_size={batch},
        api_key="{api_key}",
        simulator=dict(
            max_num_seqs={batch}, decode_base_ms=5.0, decode_per_seq_ms=0.02, prefill_base_ms=1.0,
            fail_rate=0.01, fail_message="bad{{nul}}request, got {{authorization}}", reset_rate=0.01,
            malformed_rate=0.01, stall_rate=0.001, stall_s=0.5, seed=7,
        ),
    )
]
"""

API_KEY = "sk-soak-SECRET-0123456789"

DATASET_CONFIG = """\
from ais_bench.benchmark.datasets import SyntheticDataset

soak_datasets = [
    dict(
        abbr="soak", type=SyntheticDataset, seed=0,
        config={"Type": "string", "RequestCount": 500, "StringConfig": {
            "Input": {"Method": "uniform", "Params": {"MinValue": 32, "MaxValue": 256}},
            "Output": {"Method": "uniform", "Params": {"MinValue": 4, "MaxValue": 32}}}},
    )
]
"""


def tree_rss_bytes(root_pid: int) -> int:
    """RSS of a process and all its descendants (Linux /proc)."""
    children: dict[int, list[int]] = collections.defaultdict(list)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children[parent].append(int(entry.name))
    total, stack = 0, [root_pid]
    page = os.sysconf("SC_PAGE_SIZE")
    while stack:
        pid = stack.pop()
        with contextlib.suppress(OSError):
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
        stack.extend(children.get(pid, []))
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--sample-s", type=float, default=5.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ais_bench_soak_"))
    (work / "configs" / "models").mkdir(parents=True)
    (work / "configs" / "datasets").mkdir(parents=True)
    (work / "configs" / "models" / "soak.py").write_text(MODEL_CONFIG.format(batch=args.batch, api_key=API_KEY))
    (work / "configs" / "datasets" / "soak.py").write_text(DATASET_CONFIG)
    seconds = max(1, int(args.minutes * 60))
    cmd = [sys.executable, "-m", "ais_bench.cli.main", "--models", "soak", "--datasets", "soak",
           "--summarizer", "stable_stage", "--mode", "perf", "--pressure", "--pressure-time", str(seconds)]
    print(f"soak: {seconds} s pressure run, batch {args.batch}, faults on; work dir {work}")
    started = time.monotonic()
    log_path = work / "soak_output.txt"  # a file, not a pipe: nobody reads a pipe while the run goes on
    log_file = log_path.open("w")
    proc = subprocess.Popen(cmd, cwd=work, stdout=log_file, stderr=subprocess.STDOUT)
    samples: list[tuple[float, int]] = []
    while proc.poll() is None:
        samples.append((time.monotonic() - started, tree_rss_bytes(proc.pid)))
        time.sleep(args.sample_s)
    log_file.close()
    output = log_path.read_text()
    print(f"exit code {proc.returncode} after {time.monotonic() - started:.0f} s")
    report_records(work)
    report_secret_leaks(work, output)
    report_rss(samples)
    tail = [line for line in output.splitlines() if "Common Metric" in line or "Steady window" in line]
    print("\n".join(tail))
    return 0


def report_records(work: Path) -> None:
    perf = next(work.glob("outputs/default/*/performances/soak"))
    on_disk = sum(1 for f in (perf / "records").glob("*.jsonl") for _ in f.open("rb"))
    reasons: collections.Counter[str] = collections.Counter()
    total = 0
    for line in (perf / "soak_details.jsonl").open("rb"):
        row = orjson.loads(line)
        total += 1
        if not row["success"]:
            reasons[(row["error_kind"] or "?") + ": " + (row["error"] or "")[:70]] += 1
    print(f"requests sent and recorded: {total} (records on disk: {on_disk}); failed: {sum(reasons.values())}")
    for reason, count in reasons.most_common(10):
        print(f"  {count:7d}  {reason}")


def report_secret_leaks(work: Path, output: str) -> None:
    """The api_key the simulator echoes in its error bodies must be nowhere: not in the terminal
    output, not in any file of the run folder."""
    leaks = [str(p) for p in (work / "outputs").rglob("*") if p.is_file() and API_KEY.encode() in p.read_bytes()]
    if API_KEY in output:
        leaks.append("terminal output")
    print(f"api_key found in: {', '.join(leaks)}" if leaks else "api_key found in no output (echoed by the server)")


def report_rss(samples: list[tuple[float, int]]) -> None:
    if not samples:
        return
    mib = [(t, rss / 2**20) for t, rss in samples]
    warm = [m for t, m in mib if t > 30] or [m for _, m in mib]
    print("RSS of the tool's process tree (MiB) over time:")
    step = max(1, len(mib) // 12)
    for t, m in mib[::step]:
        print(f"  t={t:7.0f} s  {m:8.1f}")
    print(f"after warm-up: first {warm[0]:.1f}, last {warm[-1]:.1f}, max {max(warm):.1f} "
          f"(last/first = {warm[-1] / warm[0]:.3f})")


if __name__ == "__main__":
    sys.exit(main())
