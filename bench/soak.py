"""Soak test: a long pressure run against the embedded simulator with faults switched on.

Runs the real CLI as a subprocess (pressure mode, stable_stage), samples the resident memory (RSS)
of the tool's process tree every few seconds from /proc, and at the end reports requests sent,
failed by reason, records on disk, and RSS over time (first, middle, last, max). The failed
requests' error bodies hold a NUL byte and echo the api_key (as hostile servers do): the run must
keep every result and the key must appear in no file of the run folder.

The simulator (its own faults: HTTP 500, resets, malformed events, stalls, streams cut cleanly
without their end marker) runs behind a misbehaving
gateway (``bench/fault_gateway.py``): interim 100 Continue responses, keep-alive connections dropped
after a response, redirects, gzip bodies, a connection limit of batch_size and an idle close after
5 s. The RSS reported is the tool's alone (the simulator is started by this script).

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
from fault_gateway import FaultGateway, GatewayFaults, GatewayLog

from ais_bench.sim import SimConfig, start_sim_process

MODEL_CONFIG = """\
from ais_bench.benchmark.models import VLLMCustomAPIChat

models = [
    dict(
        attr="service", type=VLLMCustomAPIChat, abbr="soak", path="", model="", stream=True,
        request_rate=50, retry=1, host_ip="127.0.0.1", host_port={port}, max_out_len=32, batch_size={batch},
        api_key="{api_key}",
    )
]
"""


def simulator_config(batch: int) -> SimConfig:
    """The server behind the gateway, with its own faults (HTTP 500 echoing the key, resets, ...)."""
    return SimConfig(
        max_num_seqs=batch, decode_base_ms=5.0, decode_per_seq_ms=0.02, prefill_base_ms=1.0,
        fail_rate=0.01, fail_message="bad{nul}request, got {authorization}", reset_rate=0.01,
        malformed_rate=0.01, stall_rate=0.001, stall_s=0.5, cut_rate=0.01, seed=7,
    )

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
    (work / "configs" / "datasets" / "soak.py").write_text(DATASET_CONFIG)
    seconds = max(1, int(args.minutes * 60))
    faults = GatewayFaults(max_connections=args.batch)
    with start_sim_process(simulator_config(args.batch)) as sim, FaultGateway(sim.port, faults) as gateway:
        model = MODEL_CONFIG.format(batch=args.batch, api_key=API_KEY, port=gateway.port)
        (work / "configs" / "models" / "soak.py").write_text(model)
        print(f"soak: {seconds} s pressure run, batch {args.batch}, simulator and gateway faults on; work dir {work}")
        output, samples = run_cli(work, seconds, args.sample_s)
        gateway_log = gateway.snapshot()
    report_records(work)
    report_gateway(work, gateway_log, args.batch)
    report_secret_leaks(work, output)
    report_rss(samples)
    tail = [line for line in output.splitlines() if "Common Metric" in line or "Steady window" in line]
    print("\n".join(tail))
    return 0


def run_cli(work: Path, seconds: int, sample_s: float) -> tuple[str, list[tuple[float, int]]]:
    """The CLI's pressure run as a subprocess; its output and the RSS samples of its process tree."""
    cmd = [sys.executable, "-m", "ais_bench.cli.main", "--models", "soak", "--datasets", "soak",
           "--summarizer", "stable_stage", "--mode", "perf", "--pressure", "--pressure-time", str(seconds)]
    started = time.monotonic()
    log_path = work / "soak_output.txt"  # a file, not a pipe: nobody reads a pipe while the run goes on
    log_file = log_path.open("w")
    proc = subprocess.Popen(cmd, cwd=work, stdout=log_file, stderr=subprocess.STDOUT)
    samples: list[tuple[float, int]] = []
    while proc.poll() is None:
        samples.append((time.monotonic() - started, tree_rss_bytes(proc.pid)))
        time.sleep(sample_s)
    log_file.close()
    print(f"exit code {proc.returncode} after {time.monotonic() - started:.0f} s")
    return log_path.read_text(), samples


def report_gateway(work: Path, log: GatewayLog, batch: int) -> None:
    """What the gateway injected, and whether each fault ended as it must: redirects and gzip bodies
    as failures that say so, one for one; 100 Continue and dropped keep-alive connections as nothing."""
    reasons: collections.Counter[str] = collections.Counter()
    perf = next(work.glob("outputs/default/*/performances/soak"))
    for line in (perf / "soak_details.jsonl").open("rb"):
        row = orjson.loads(line)
        error = row["error"] or ""
        if "server redirected to" in error:
            reasons["redirect"] += 1
        elif "gzip-compressed" in error:
            reasons["gzip"] += 1
    injected = log.injected
    print(f"gateway: {log.posts} POSTs over {log.connections} connections (at most {log.max_open} open at once, "
          f"limit {batch}); injected: " + ", ".join(f"{kind} {count}" for kind, count in sorted(injected.items())))
    for kind in ("redirect", "gzip"):
        verdict = "ok" if reasons[kind] == injected[kind] else "MISMATCH"
        print(f"  {kind}: {injected[kind]} injected, {reasons[kind]} failed with the reason naming it ({verdict})")


def report_records(work: Path) -> None:
    perf = next(work.glob("outputs/default/*/performances/soak"))
    on_disk = sum(1 for f in (perf / "records").glob("*.jsonl") for _ in f.open("rb"))
    reasons: collections.Counter[str] = collections.Counter()
    total = retried = 0
    for line in (perf / "soak_details.jsonl").open("rb"):
        row = orjson.loads(line)
        total += 1
        retried += row["attempts"] > 1
        if not row["success"]:
            reasons[(row["error_kind"] or "?") + ": " + (row["error"] or "")[:70]] += 1
    print(f"requests sent and recorded: {total} (records on disk: {on_disk}); failed: {sum(reasons.values())}; "
          f"retried (resets, cut streams): {retried}")
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
