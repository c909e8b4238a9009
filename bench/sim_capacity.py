"""Capacity of the simulated server: concurrent streams, SSE events/s and the sim's CPU share.

Usage: ``.venv/bin/python bench/sim_capacity.py [--streams 2000] [--duration-s 8] [--client raw|aiohttp]``

The sim runs in a child process pinned to CPU 0 (when the machine has more than one core); client
processes (pinned to the other cores) keep ``--streams`` streaming completions open back to back
(``ignore_eos``, ``--max-tokens`` each) until told to stop. The default client is a lean
asyncio-protocol HTTP/1.1 client that only counts events (so one client core can take the load);
``--client aiohttp`` uses aiohttp instead. Two scenarios are run:
- ``paced``: decode steps of ``--decode-base-ms`` with every stream in the batch (the load shape of a
  real engine; streams x 1000 / decode_base_ms token events/s are asked for). The window opens once
  the sim runs 95% of ``--streams`` sequences and lasts ``--duration-s``;
- ``zero-cost``: every cost 0, so steps run back to back and the clients' read speed sets the pace.
  The window opens when the clients start.
Printed per window: peak and mean running sequences (sim ``/health``, sampled every 0.2 s), token
events written by the sim per second, events the clients received per second, the sim's CPU time
(from /proc) as a share of one core, and token events per sim CPU-second (its capacity on one core).
A script that prints figures, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ais_bench.sim import SimConfig, start_sim_process

RESPONSE_END = b"\r\n0\r\n\r\n"  # the terminating chunk of a chunked response


@dataclass(frozen=True)
class ClientJob:
    port: int
    streams: int
    max_tokens: int
    client: str
    cpus: tuple[int, ...]


def client_main(job: ClientJob, stop: Any, results: Any) -> None:
    if job.cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(job.cpus))
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    run = _run_raw_client if job.client == "raw" else _run_aiohttp_client
    results.put(asyncio.run(run(job, stop)))


def _request_body(job: ClientJob) -> bytes:
    return orjson.dumps(
        {"prompt": "hello " * 8, "max_tokens": job.max_tokens, "ignore_eos": True, "stream": True}
    )


class _StreamCounter(asyncio.Protocol):
    """Keep-alive connection sending one streaming request after another; counts SSE events."""

    def __init__(self, request: bytes, stop: Any, counts: dict[str, int], closed: asyncio.Future) -> None:
        self._request, self._stop, self._counts, self._closed = request, stop, counts, closed
        self._tail = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        transport.write(self._request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        joined = self._tail + data
        self._counts["events"] += joined.count(b"\n\n") - self._tail.count(b"\n\n")
        self._tail = joined[-8:]
        if joined.endswith(RESPONSE_END):
            self._counts["streams_done"] += 1
            self._tail = b""
            assert self._transport is not None
            if self._stop.is_set():
                self._transport.close()
            else:
                self._transport.write(self._request)

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            self._counts["errors"] += 1
        if not self._closed.done():
            self._closed.set_result(None)


async def _run_raw_client(job: ClientJob, stop: Any) -> dict[str, int]:
    body = _request_body(job)
    head = (
        f"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1:{job.port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    request = head.encode() + body
    counts = {"events": 0, "streams_done": 0, "errors": 0}
    loop = asyncio.get_running_loop()
    closed = []
    for _ in range(job.streams):
        done = loop.create_future()
        await loop.create_connection(
            lambda d=done: _StreamCounter(request, stop, counts, d), "127.0.0.1", job.port
        )
        closed.append(done)
    await asyncio.gather(*closed)
    return counts


async def _run_aiohttp_client(job: ClientJob, stop: Any) -> dict[str, int]:
    import aiohttp

    counts = {"events": 0, "streams_done": 0, "errors": 0}
    body, url = _request_body(job), f"http://127.0.0.1:{job.port}/v1/completions"
    headers = {"Content-Type": "application/json"}
    timeout = aiohttp.ClientTimeout(total=None, sock_read=60)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as session:

        async def one_stream_loop() -> None:
            while not stop.is_set():
                try:
                    async with session.post(url, data=body, headers=headers) as resp:
                        tail = b""
                        async for chunk in resp.content.iter_any():
                            joined = tail + chunk
                            counts["events"] += joined.count(b"\n\n") - tail.count(b"\n\n")
                            tail = joined[-2:]
                    counts["streams_done"] += 1
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    counts["errors"] += 1

        await asyncio.gather(*(one_stream_loop() for _ in range(job.streams)))
    return counts


def _health(base_url: str) -> dict[str, Any]:
    with urllib.request.urlopen(base_url + "/health", timeout=120) as resp:
        return orjson.loads(resp.read())


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _split_cpus() -> tuple[tuple[int, ...], tuple[int, ...]]:
    if not hasattr(os, "sched_getaffinity"):
        return (), ()
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return (), ()
    return (cpus[0],), tuple(cpus[1:])


def run_scenario(name: str, cfg: SimConfig, args: argparse.Namespace, wait_for_full_batch: bool) -> None:
    sim_cpus, client_cpus = _split_cpus()
    ctx = multiprocessing.get_context("spawn")
    with start_sim_process(cfg) as handle:
        assert handle.pid is not None
        if sim_cpus:
            os.sched_setaffinity(handle.pid, set(sim_cpus))
        stop, results = ctx.Event(), ctx.Queue()
        per_client = -(-args.streams // args.clients)
        job = ClientJob(handle.port, per_client, args.max_tokens, args.client, client_cpus)
        procs = [ctx.Process(target=client_main, args=(job, stop, results)) for _ in range(args.clients)]
        for proc in procs:
            proc.start()
        if wait_for_full_batch:
            _wait_for_running(handle.url, int(0.95 * args.streams), timeout_s=60.0)
        window = _measure(handle.url, handle.pid, args.duration_s)
        stop.set()
        counts = [results.get(timeout=120) for _ in procs]
        for proc in procs:
            proc.join()
    _print(name, cfg, window, counts)


def _wait_for_running(base_url: str, running: int, timeout_s: float) -> None:
    deadline_s = time.perf_counter() + timeout_s
    while _health(base_url)["running"] < running and time.perf_counter() < deadline_s:
        time.sleep(0.1)


def _measure(base_url: str, pid: int, duration_s: float) -> dict[str, float]:
    start = _health(base_url)
    cpu0_s, t0_s = _cpu_s(pid), time.perf_counter()
    running: list[int] = []
    while time.perf_counter() - t0_s < duration_s:
        time.sleep(0.2)
        running.append(_health(base_url)["running"])
    end = _health(base_url)
    return {
        "elapsed_s": time.perf_counter() - t0_s,
        "sim_events": end["tokens_emitted"] - start["tokens_emitted"],
        "steps": end["steps"] - start["steps"],
        "cpu_s": _cpu_s(pid) - cpu0_s,
        "running_peak": max(running),
        "running_mean": sum(running) / len(running),
    }


def _print(name: str, cfg: SimConfig, window: dict[str, float], counts: list[dict[str, int]]) -> None:
    events = sum(c["events"] for c in counts)
    done = sum(c["streams_done"] for c in counts)
    errors = sum(c["errors"] for c in counts)
    elapsed_s, cpu_s = window["elapsed_s"], window["cpu_s"]
    print(f"== scenario {name}: decode_base_ms={cfg.decode_base_ms} max_num_seqs={cfg.max_num_seqs}")
    print(f"  window: {elapsed_s:.1f} s")
    print(
        f"  concurrent streams in the sim (peak / mean): {window['running_peak']} / {window['running_mean']:.0f}"
    )
    print(
        f"  token events written by the sim: {window['sim_events'] / elapsed_s:,.0f} /s "
        f"({window['steps'] / elapsed_s:.1f} steps/s)"
    )
    print(f"  sim CPU time: {cpu_s:.2f} s = {cpu_s / elapsed_s:.1%} of one core")
    if cpu_s > 0:
        print(f"  token events per sim CPU-second: {window['sim_events'] / cpu_s:,.0f}")
    print(f"  whole run, clients: {events:,} SSE events received, {done} streams completed, {errors} errors")


def main() -> None:
    parser = argparse.ArgumentParser(description="Capacity of the simulated server (prints figures).")
    parser.add_argument("--streams", type=int, default=2000, help="concurrent streaming requests")
    parser.add_argument("--clients", type=int, default=1, help="client processes")
    parser.add_argument("--client", choices=("raw", "aiohttp"), default="raw", help="client implementation")
    parser.add_argument("--max-tokens", type=int, default=100, help="tokens per stream")
    parser.add_argument(
        "--decode-base-ms", type=float, default=80.0, help="decode step of the paced scenario, ms"
    )
    parser.add_argument("--duration-s", type=float, default=8.0, help="measurement window, s")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, (sim CPUs, client CPUs): {_split_cpus()}, client: {args.client}")
    zero = {
        "prefill_base_ms": 0.0,
        "prefill_per_token_ms": 0.0,
        "decode_base_ms": 0.0,
        "decode_per_seq_ms": 0.0,
    }
    common = {"max_num_seqs": args.streams, "seed": 0}
    paced = SimConfig.from_dict({**common, **zero, "decode_base_ms": args.decode_base_ms})
    run_scenario("paced", paced, args, wait_for_full_batch=True)
    run_scenario("zero-cost", SimConfig.from_dict({**common, **zero}), args, wait_for_full_batch=False)


if __name__ == "__main__":
    main()
