"""The engine against the simulator's ground truth: request ids, stamp order, and the self-check."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import orjson
import pytest

from ais_bench.clients import backends
from ais_bench.clients.backends import OPENAI_CHAT, backend_for
from ais_bench.datasets.item import RequestItem
from ais_bench.engine.health import build_self_check
from ais_bench.engine.plan import RunPlan
from ais_bench.engine.preflight import encode_bodies
from ais_bench.engine.runner import run_benchmark
from ais_bench.records.store import read_records
from ais_bench.sim import SimConfig, start_sim_process

FAST = {"prefill_base_ms": 0.0, "prefill_per_token_ms": 0.0, "decode_per_seq_ms": 0.0}


def _plan(url: str, record_dir: Path, requests: int, concurrency: int, tokens: int, **extra) -> RunPlan:
    spec = backend_for(OPENAI_CHAT)
    items = [RequestItem(index=i, prompt=f"hi {i}", data_abbr="ds") for i in range(requests)]
    bodies = encode_bodies(
        spec, items, model="sim-model", stream=True, max_out_len=tokens, generation_kwargs={"ignore_eos": True}
    )
    return RunPlan(
        backend=OPENAI_CHAT, url=url + "/v1/chat/completions", headers={}, stream=True,
        items=items, bodies=bodies, batch_size=concurrency, workers=1,
        record_dir=record_dir, data_abbr="ds", **extra,
    )


def test_every_stamp_follows_the_servers_write_and_requests_carry_their_id(tmp_path: Path):
    truth_path = tmp_path / "truth.jsonl"
    cfg = SimConfig(max_num_seqs=8, decode_base_ms=2.0, record_truth_path=str(truth_path), **FAST)
    with start_sim_process(cfg) as sim:
        plan = _plan(sim.url, tmp_path / "out", requests=16, concurrency=8, tokens=12, request_id_prefix="run7-")
        outcome = run_benchmark(plan)
    records = read_records(tmp_path / "out", "ds")
    truth = {}
    for line in truth_path.read_bytes().splitlines():
        entry = orjson.loads(line)
        truth[entry["request_id"]] = entry
    assert sorted(truth) == sorted(f"run7-{i}" for i in range(16))
    assert outcome.totals.finished == 16 and set(outcome.worker_cpu_s) == {0}
    for rec in records:
        assert rec.success
        entry = truth[f"run7-{rec.request_id}"]
        points = rec.time_points_s
        # the sim stamps every event it writes: role, 12 tokens, usage, [DONE]; only token events
        # become time points
        server_s = entry["event_times_s"][1:13]
        assert len(points) - 1 == len(server_s) == 12
        assert points[0] <= entry["arrival_s"]
        assert points == sorted(points)
        # a stamp is the time of the socket read that completed the event: never before the write
        assert all(client >= server for client, server in zip(points[1:], server_s, strict=True))


def test_a_blocked_event_loop_shows_in_the_self_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    spec = backends.BACKENDS[OPENAI_CHAT]
    original = spec.parse_stream_event

    def slow_parse(data, state):  # a hot path that blocks the worker's loop for 3 ms per event
        time.sleep(0.003)
        original(data, state)

    monkeypatch.setitem(
        backends.BACKENDS, OPENAI_CHAT, dataclasses.replace(spec, parse_stream_event=slow_parse)
    )
    with start_sim_process(SimConfig(max_num_seqs=4, decode_base_ms=2.0, **FAST)) as sim:
        plan = _plan(sim.url, tmp_path, requests=8, concurrency=4, tokens=20, debug=True)
        outcome = run_benchmark(plan)  # in-process (debug), so the patched parser is used
    records = read_records(tmp_path, "ds")
    assert all(rec.success for rec in records)
    check = build_self_check(outcome, records)
    assert check.loop_lag.p99_s > 1e-3
    assert any("event-loop lag" in warning and "WORKERS_NUM" in warning for warning in check.warnings)
