"""Timing error: ais_bench's stamps against the simulator's ground truth (same host, same clock).

Usage: ``.venv/bin/python bench/timing_error.py [--concurrency 1 64 256] [--workers 1] [--tokens 64]
[--decode-base-ms 20] [--decode-per-seq-ms 0.1] [--repeat 1]``

The embedded simulator runs in a child process (pinned to CPU 0 when there are two cores or more; the
engine's workers use the others) in ground-truth mode: for every SSE event it records
``time.perf_counter()`` just before writing it to the socket, keyed by the ``X-Request-Id`` header
that the engine sends (``RunPlan.request_id_prefix``). ``perf_counter`` is CLOCK_MONOTONIC, one
clock for every process of the host, so the two sides compare directly.

Printed per concurrency (median, p99, max, in ms; events of one read share a stamp on both sides):
- ``event stamp delay``: client stamp − server write time, every event (kernel delivery + client);
- ``TTFT error``: client TTFT − server TTFT, where server TTFT = first event write − the arrival of
  the request's first bytes at the server (``arrival_s``: the sim's ground-truth mode serves
  kernel-stamped connections); it is the first event's stamp delay plus the
- ``send offset``: ``arrival_s`` − client send stamp (loopback delivery, and whatever the client
  did between its stamp and the write);
- ``ITL error``: every client gap − the matching server gap (pooled, as the ITL metric is);
- ``server queueing`` (not a client error; for context): the sim's handler start − ``arrival_s``,
  the time the request waited in the server before it was handled;
- the client's own self-check (``engine.health.build_self_check``): loop lag and schedule lag.

``--stamping loop`` turns the kernel stamps off for the client (``AIS_BENCH_KERNEL_STAMPS=0``: reads
stamped when the event loop reads them, sends before the request is handed to aiohttp), the way
ais_bench stamps where kernel stamps are unavailable; ``--stamping kernel loop`` measures both in one
run. A script that prints figures, not a test.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np
import orjson

from ais_bench.clients.backends import OPENAI_CHAT, backend_for
from ais_bench.clients.transport import KERNEL_STAMPS_ENV
from ais_bench.datasets.item import RequestItem
from ais_bench.engine.health import SelfCheck, build_self_check
from ais_bench.engine.plan import RunPlan
from ais_bench.engine.preflight import encode_bodies
from ais_bench.engine.runner import run_benchmark
from ais_bench.records.record import RequestRecord
from ais_bench.records.store import read_records
from ais_bench.sim import SimConfig, start_sim_process

PREFIX = "timing-"
#: Events the simulator writes before the first token event of a chat stream: the role chunk.
ROLE_EVENTS = 1


def _split_cpus() -> tuple[set[int], set[int]]:
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return set(cpus), set(cpus)
    return {cpus[0]}, set(cpus[1:])


def run_once(args: argparse.Namespace, concurrency: int, tmp: Path) -> tuple[dict[str, np.ndarray], dict]:
    truth_path = tmp / f"truth_{concurrency}_{os.urandom(4).hex()}.jsonl"
    cfg = SimConfig(
        max_num_seqs=concurrency, decode_base_ms=args.decode_base_ms, decode_per_seq_ms=args.decode_per_seq_ms,
        prefill_base_ms=args.prefill_base_ms, prefill_per_token_ms=0.0, seed=0, record_truth_path=str(truth_path),
    )
    requests = max(args.requests_per_slot * concurrency, args.min_requests)
    spec = backend_for(OPENAI_CHAT)
    items = [RequestItem(index=i, prompt=f"hello {i}", data_abbr="timing") for i in range(requests)]
    bodies = encode_bodies(
        spec, items, model="sim-model", stream=True, max_out_len=args.tokens, generation_kwargs={"ignore_eos": True}
    )
    sim_cpus, client_cpus = _split_cpus()
    with start_sim_process(cfg) as sim:
        assert sim.pid is not None
        os.sched_setaffinity(sim.pid, sim_cpus)
        os.sched_setaffinity(0, client_cpus if args.workers == 1 else sim_cpus | client_cpus)
        record_dir = Path(tempfile.mkdtemp(dir=tmp))
        plan = RunPlan(
            backend=OPENAI_CHAT, url=sim.url + "/v1/chat/completions",
            headers={"Content-Type": "application/json"}, stream=True,
            items=items, bodies=bodies, batch_size=concurrency,
            workers=min(args.workers, concurrency), record_dir=record_dir, data_abbr="timing",
            request_id_prefix=PREFIX,
        )
        outcome = run_benchmark(plan)
    records = read_records(record_dir, "timing")
    truth = {}
    for line in truth_path.read_bytes().splitlines():
        entry = orjson.loads(line)
        truth[int(entry["request_id"].removeprefix(PREFIX))] = entry
    return _errors(records, truth), build_self_check(outcome, records)


def _errors(records: list[RequestRecord], truth: dict[int, dict]) -> dict[str, np.ndarray]:
    delay, ttft, send, itl, queueing = [], [], [], [], []
    for rec in records:
        entry = truth.get(rec.request_id)
        if not rec.success or entry is None:
            continue
        tp = np.asarray(rec.time_points_s)
        events = len(tp) - 1
        # The sim's list holds every event it wrote: the chat role chunk (written with the first
        # token, not a token event, so not a client time point), the tokens, then the usage chunk and
        # [DONE]. The client's points are the token events only.
        server = np.asarray(entry["event_times_s"][ROLE_EVENTS : ROLE_EVENTS + events])
        if len(server) != events:
            continue
        delay.append(tp[1:] - server)
        send.append(entry["arrival_s"] - tp[0])
        ttft.append((tp[1] - tp[0]) - (server[0] - entry["arrival_s"]))
        itl.append(np.diff(tp[1:]) - np.diff(server))
        queueing.append(entry.get("handler_s", entry["arrival_s"]) - entry["arrival_s"])
    return {
        "event stamp delay": np.concatenate(delay),
        "TTFT error": np.asarray(ttft),
        "send offset": np.asarray(send),
        "ITL error": np.concatenate(itl),
        "server queueing": np.asarray(queueing),
    }


def _row(name: str, values_s: np.ndarray) -> str:
    ms = values_s * 1000
    p50, p99 = np.percentile(ms, [50, 99])
    worst = ms[np.argmax(np.abs(ms))]
    return f"    {name:18s} n={len(ms):7d}  median {p50:8.4f}  p99 {p99:8.4f}  max|.| {worst:8.4f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description="ais_bench stamps vs the simulator's ground truth.")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 64, 256])
    parser.add_argument("--workers", type=int, default=1, help="WORKERS_NUM")
    parser.add_argument("--tokens", type=int, default=64, help="output tokens per request")
    parser.add_argument("--decode-base-ms", type=float, default=20.0)
    parser.add_argument("--decode-per-seq-ms", type=float, default=0.1)
    parser.add_argument("--prefill-base-ms", type=float, default=5.0)
    parser.add_argument("--requests-per-slot", type=int, default=3)
    parser.add_argument("--min-requests", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--stamping", nargs="+", choices=["kernel", "loop"], default=["kernel"],
        help="client stamping: kernel receive stamps (the default where available) or loop-read stamps",
    )
    args = parser.parse_args()
    sim_cpus, client_cpus = _split_cpus()
    print(
        f"nproc {os.cpu_count()}, sim CPUs {sorted(sim_cpus)}, client CPUs {sorted(client_cpus)}, "
        f"python {sys.version.split()[0]}, WORKERS_NUM {args.workers}, tokens {args.tokens}, "
        f"decode step {args.decode_base_ms} + {args.decode_per_seq_ms} x running ms"
    )
    with tempfile.TemporaryDirectory(prefix="ais_bench_timing_") as tmp:
        for concurrency in args.concurrency:
            for rep in range(args.repeat):
                for stamping in args.stamping:
                    os.environ[KERNEL_STAMPS_ENV] = "1" if stamping == "kernel" else "0"
                    errors, check = run_once(args, concurrency, Path(tmp))
                    _print_run(concurrency, rep, stamping, errors, check)


def _print_run(concurrency: int, rep: int, stamping: str, errors: dict[str, np.ndarray], check: SelfCheck) -> None:
    print(f"== concurrency {concurrency} (run {rep + 1}, {stamping} stamps)")
    for name, values in errors.items():
        print(_row(name, values))
    facts = check.to_json_dict()
    print(f"    self-check: loop_lag {facts['loop_lag']}  schedule_lag {facts['schedule_lag']}")
    for warning in check.warnings:
        print(f"    warning: {warning}")


if __name__ == "__main__":
    main()
