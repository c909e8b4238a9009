"""Client capacity: SSE events per CPU-second that ais_bench ingests and stamps, against a raw floor.

Usage: ``.venv/bin/python bench/client_capacity.py [--concurrency 1 64 256 1024] [--workers 1 2]
[--events 60000] [--tokens 100] [--repeat 2] [--rate 0]``

Server: the embedded simulator in a child process (pinned to CPU 0 when the machine has more than one
core), chat completions with ``ignore_eos`` and ``--tokens`` tokens per request, usage chunk included.
With ``--rate 0`` (default) every cost is zero, so decode steps run back to back and the client's
read speed sets the pace (the sim writes ~100k events/s per core, ``bench/sim_capacity.py``); with
``--rate R`` one event per running stream is written every ``concurrency / R`` seconds (the shape of
a real engine: R events/s in all, about one event per socket read when the client keeps up, so both
clients are compared at the same read pattern).

Clients, each run in turn against the same server, for every (concurrency, WORKERS_NUM):
- ``raw``: the physical floor on this machine: WORKERS_NUM processes of aiohttp + uvloop, the same
  bodies, ``concurrency`` closed-loop lanes in all, ``readany()`` and ``bytes.count(b"\\n\\n")`` per read;
  no SSE decoding, no JSON, no time stamps, no records;
- ``raw-socket``: a stricter floor: the same processes with uvloop and a bare ``asyncio.Protocol``
  per connection, each request written as one pre-built byte string, ``bytes.count(b"\\n\\n")``
  per read and the end of the response found by its chunked terminator: no HTTP parsing at all;
- ``ais_bench``: the real engine (``engine.runner.run_benchmark``: worker processes, shared counters,
  stamping, SSE decoder, backend JSON parser, record files).
With one worker the client processes share CPU 1 (the sim keeps CPU 0); with two they may use both.

Printed per client: events (SSE events except ``[DONE]``, for every client: ais_bench's are its token
events plus the role and usage chunks of each stream), wall seconds of the load, client CPU
seconds (``time.process_time`` of every client process over its load), events per CPU-second, events
per wall-second, events per read (how many events the client found per socket read: a slower client
finds more, which flatters it), busy (CPU seconds per wall second per client process: near 100 %
the client was the bottleneck and its capacity is what is measured; well below, the server set the
pace and the figure depends on how many events each read found), and the ratio ais_bench / raw of
events per CPU-second. The median of ``--repeat`` runs is printed last (also ais_bench /
raw-socket). A script that prints figures, not a test.

On a busy machine the figures move with the neighbours' load (they change how many events each
read finds). ``--realtime`` runs the sim and the clients under SCHED_FIFO: the figures then repeat
within a few per cent whatever else runs, but each client reads as soon as bytes arrive (about one
event per read), which is the regime of a real server that the client keeps up with.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np

from ais_bench.clients.backends import OPENAI_CHAT, backend_for
from ais_bench.datasets.item import RequestItem
from ais_bench.engine.plan import RunPlan
from ais_bench.engine.preflight import encode_bodies
from ais_bench.engine.runner import run_benchmark
from ais_bench.records.store import read_records
from ais_bench.sim import SimConfig, start_sim_process

CHAT_PATH = "/v1/chat/completions"
#: Events of every simulated chat stream that carry no token (the role chunk and the usage chunk);
#: ``[DONE]`` is not counted, by any client.
NON_TOKEN_EVENTS = 2


@dataclass(frozen=True)
class Load:
    url: str
    bodies: list[bytes]
    concurrency: int
    workers: int


@dataclass
class Figures:
    events: int
    wall_s: float
    cpu_s: float
    reads: int
    workers: int = 1

    @property
    def per_cpu_s(self) -> float:
        return self.events / self.cpu_s if self.cpu_s > 0 else float("nan")

    @property
    def per_wall_s(self) -> float:
        return self.events / self.wall_s if self.wall_s > 0 else float("nan")

    @property
    def busy(self) -> float:
        """CPU seconds per wall second of the load, per worker: near 100 % the client was the
        bottleneck (its capacity is measured); well below, the server set the pace."""
        return self.cpu_s / self.wall_s / self.workers if self.wall_s > 0 else float("nan")

    @property
    def events_per_read(self) -> float:
        return self.events / self.reads if self.reads else float("nan")


# ---- raw floor: aiohttp, no parsing, no records ---------------------------------------------------


def _raw_main(url: str, bodies: list[bytes], lanes: int, results: Any, go: Any) -> None:
    import uvloop

    uvloop.install()
    results.put(asyncio.run(_raw_run(url, bodies, lanes, go)))


async def _raw_run(url: str, bodies: list[bytes], lanes: int, go: Any) -> tuple[int, int, float, float]:
    import aiohttp

    counts = [0, 0]  # events ([DONE] excluded), reads
    queue = list(reversed(bodies))
    connector = aiohttp.TCPConnector(limit=lanes + 8, limit_per_host=0)
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(connector=connector, headers=headers, trust_env=False) as session:

        async def lane() -> None:
            while queue:
                body = queue.pop()
                async with session.post(url, data=body) as resp:
                    readany = resp.content.readany
                    events = reads = 0
                    while chunk := await readany():
                        events += chunk.count(b"\n\n")
                        reads += 1
                counts[0] += events - 1
                counts[1] += reads

        while not go.is_set():
            await asyncio.sleep(0.002)
        cpu0_s, wall0_s = time.process_time(), time.perf_counter()
        await asyncio.gather(*(lane() for _ in range(lanes)))
        return counts[0], counts[1], time.perf_counter() - wall0_s, time.process_time() - cpu0_s


# ---- raw socket floor: uvloop + a bare asyncio.Protocol, pre-built requests, no HTTP parsing ------


class _CountingProtocol(asyncio.Protocol):
    """Counts ``\n\n`` per read; the response ends with the chunked terminator (the sim's framing)."""

    def __init__(self) -> None:
        self.done: asyncio.Future[None] | None = None
        self.events = self.reads = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.reads += 1
        self.events += data.count(b"\n\n")
        if data.endswith(b"0\r\n\r\n") and self.done is not None and not self.done.done():
            self.done.set_result(None)


def _raw_socket_main(url: str, bodies: list[bytes], lanes: int, results: Any, go: Any) -> None:
    import uvloop

    uvloop.install()
    results.put(asyncio.run(_raw_socket_run(url, bodies, lanes, go)))


async def _raw_socket_run(url: str, bodies: list[bytes], lanes: int, go: Any) -> tuple[int, int, float, float]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    head = f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
    requests = [head.encode() + f"Content-Length: {len(b)}\r\n\r\n".encode() + b for b in bodies]
    queue = list(reversed(requests))
    loop = asyncio.get_running_loop()
    counts = [0, 0]

    async def lane() -> None:
        _, proto = await loop.create_connection(_CountingProtocol, parts.hostname, parts.port)
        while queue:
            proto.done = loop.create_future()
            proto.events = proto.reads = 0
            proto.transport.write(queue.pop())
            await proto.done
            counts[0] += proto.events - 1  # [DONE]
            counts[1] += proto.reads
        proto.transport.close()

    while not go.is_set():
        await asyncio.sleep(0.002)
    cpu0_s, wall0_s = time.process_time(), time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(lanes)))
    return counts[0], counts[1], time.perf_counter() - wall0_s, time.process_time() - cpu0_s


def run_raw(load: Load, target: Any = None) -> Figures:
    target = target or _raw_main
    ctx = multiprocessing.get_context("spawn")
    results, go = ctx.Queue(), ctx.Event()
    processes = min(load.workers, load.concurrency)
    share = [load.concurrency // processes + (i < load.concurrency % processes) for i in range(processes)]
    parts = np.array_split(np.arange(len(load.bodies)), processes)
    procs = [
        ctx.Process(target=target, args=(load.url, [load.bodies[i] for i in part], lanes, results, go))
        for part, lanes in zip(parts, share, strict=True)
    ]
    for proc in procs:
        proc.start()
    time.sleep(1.0)  # let them import and connect
    go.set()
    outs = [results.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join()
    return Figures(
        events=sum(o[0] for o in outs),
        wall_s=max(o[2] for o in outs),
        cpu_s=sum(o[3] for o in outs),
        reads=sum(o[1] for o in outs),
        workers=processes,
    )


# ---- ais_bench: the real engine ------------------------------------------------------------------


def run_ais_bench(load: Load, record_root: Path) -> Figures:
    items = [RequestItem(index=i, prompt="hello", data_abbr="capacity") for i in range(len(load.bodies))]
    record_dir = Path(tempfile.mkdtemp(dir=record_root))
    plan = RunPlan(
        backend=OPENAI_CHAT, url=load.url, headers={"Content-Type": "application/json"},
        stream=True, items=items, bodies=load.bodies, batch_size=load.concurrency,
        workers=min(load.workers, load.concurrency), record_dir=record_dir, data_abbr="capacity",
    )
    outcome = run_benchmark(plan)
    records = read_records(record_dir, "capacity")
    failed = sum(not r.success for r in records)
    if failed:
        print(f"    ! {failed} failed requests, first: {next(r.error_message for r in records if not r.success)}")
    # A record's time points are its token events; the sim's role and usage chunks, which every client
    # reads and ais_bench parses too, are counted as the raw clients count them.
    events = sum(len(r.time_points_s) - 1 + NON_TOKEN_EVENTS for r in records if r.success)
    reads = sum(len(set(r.time_points_s[1:])) for r in records if r.success)
    return Figures(
        events=events,
        wall_s=max(r.end_s for r in records) - min(r.start_s for r in records),
        cpu_s=sum(cpu for cpu, _wall in outcome.worker_cpu_s.values()),
        reads=reads,
        workers=plan.workers,
    )


def _run_client(name: str, load: Load, record_root: Path) -> Figures:
    if name == "raw":
        return run_raw(load)
    if name == "raw-socket":
        return run_raw(load, _raw_socket_main)
    return run_ais_bench(load, record_root)


# ---- driver --------------------------------------------------------------------------------------


def _split_cpus() -> tuple[set[int], set[int]]:
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return set(cpus), set(cpus)
    return {cpus[0]}, set(cpus[1:])


def _bodies(count: int, tokens: int) -> list[bytes]:
    spec = backend_for(OPENAI_CHAT)
    items = [RequestItem(index=i, prompt=f"hello {i}", data_abbr="capacity") for i in range(count)]
    kwargs = {"ignore_eos": True}
    return encode_bodies(spec, items, model="sim-model", stream=True, max_out_len=tokens, generation_kwargs=kwargs)


def _line(name: str, fig: Figures) -> str:
    return (
        f"    {name:9s} events {fig.events:8,d}  wall {fig.wall_s:6.2f} s  cpu {fig.cpu_s:6.2f} s  "
        f"{fig.per_cpu_s:9,.0f} ev/CPU-s  {fig.per_wall_s:9,.0f} ev/s  {fig.events_per_read:5.2f} ev/read  "
        f"busy {fig.busy:4.0%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="SSE events per CPU-second: ais_bench vs a raw aiohttp loop.")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 64, 256, 1024])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--events", type=int, default=60_000, help="approximate events per run")
    parser.add_argument("--tokens", type=int, default=100, help="output tokens per request")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--rate", type=float, default=0.0,
        help="events/s the sim writes in all (decode step = concurrency / rate); 0 = steps back to back",
    )
    parser.add_argument(
        "--clients", nargs="+", default=["raw", "raw-socket", "ais_bench"], choices=["raw", "raw-socket", "ais_bench"]
    )
    parser.add_argument(
        "--realtime", action="store_true",
        help="run the sim and the clients under SCHED_FIFO (root): other processes cannot take their CPU, "
        "so the figures repeat on a busy machine; each client then reads as soon as bytes arrive",
    )
    args = parser.parse_args()
    if args.realtime:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(20))  # inherited by the sim and the clients

    sim_cpus, client_cpus = _split_cpus()
    print(f"nproc {os.cpu_count()}, sim CPUs {sorted(sim_cpus)}, client CPUs (1 worker) {sorted(client_cpus)}, "
          f"python {sys.version.split()[0]}, rate {args.rate or 'saturated'}, tokens/request {args.tokens}")
    zero = {"prefill_base_ms": 0.0, "prefill_per_token_ms": 0.0, "decode_per_seq_ms": 0.0}
    summary: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ais_bench_capacity_") as tmp:
        for concurrency in args.concurrency:
            decode_ms = 1000.0 * concurrency / args.rate if args.rate > 0 else 0.0
            cfg = SimConfig(max_num_seqs=max(concurrency, 1), decode_base_ms=decode_ms, seed=0, **zero)
            requests = max(args.events // args.tokens, 3 * concurrency)
            bodies = _bodies(requests, args.tokens)
            with start_sim_process(cfg) as sim:
                assert sim.pid is not None
                os.sched_setaffinity(sim.pid, sim_cpus)
                url = sim.url + CHAT_PATH
                for workers in args.workers:
                    load = Load(url, bodies, concurrency, workers)
                    os.sched_setaffinity(0, client_cpus if workers == 1 else sim_cpus | client_cpus)
                    ratios, socket_ratios, per_cpu = [], [], {name: [] for name in args.clients}
                    print(f"== concurrency {concurrency}, WORKERS_NUM {workers}, {requests} requests")
                    for rep in range(args.repeat):
                        figs = {}
                        for name in args.clients:
                            figs[name] = _run_client(name, load, Path(tmp))
                            per_cpu[name].append(figs[name].per_cpu_s)
                            print(f"  run {rep + 1} " + _line(name, figs[name])[4:])
                        if "ais_bench" in figs and "raw" in figs:
                            ratio = figs["ais_bench"].per_cpu_s / figs["raw"].per_cpu_s
                            ratios.append(ratio)
                            print(f"    ratio ais_bench/raw (events per CPU-s): {ratio:.2f}")
                        if "ais_bench" in figs and "raw-socket" in figs:
                            ratio = figs["ais_bench"].per_cpu_s / figs["raw-socket"].per_cpu_s
                            socket_ratios.append(ratio)
                            print(f"    ratio ais_bench/raw-socket (events per CPU-s): {ratio:.2f}")
                    medians = "  ".join(f"{k} {statistics.median(v):,.0f} ev/CPU-s" for k, v in per_cpu.items())
                    ratio_text = f"  ratio {statistics.median(ratios):.2f}" if ratios else ""
                    if socket_ratios:
                        ratio_text += f"  vs raw-socket {statistics.median(socket_ratios):.2f}"
                    summary.append(f"  c={concurrency:5d} W={workers}: {medians}{ratio_text}")
    print("== medians")
    print("\n".join(summary))


if __name__ == "__main__":
    main()
