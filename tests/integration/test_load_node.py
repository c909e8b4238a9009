"""``distributed/node.py``'s ``LoadNode`` driven in this process, as a Ray actor is by the driver:
the local worker loop in a thread, polled for its counters, committed records and requests in flight
(no Ray needed)."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import web

from ais_bench.distributed import node as node_module
from ais_bench.distributed.node import LoadNode, NodeReport
from ais_bench.engine.messages import WorkerReady
from ais_bench.engine.shared import FINISHED, IN_FLIGHT, SENT
from tests.support.fixed_server import FixedServer
from tests.support.plans import RUN_LIMIT_S, chat_plan


class HeldServer(FixedServer):
    """Sends each stream's first token, then holds it until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.held = 0
        self.release = threading.Event()

    async def _stream(self, request: web.Request, body: dict[str, Any], chat: bool) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(self._chunk(chat, None, role=True) + self._chunk(chat, " tok"))
        self.held += 1
        while not self.release.is_set():
            await asyncio.sleep(0.01)
        await resp.write(self._chunk(chat, " tok") + b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp


def _poll_until(node: LoadNode, reports: list[NodeReport], condition: Any) -> None:
    deadline = time.monotonic() + RUN_LIMIT_S
    while True:
        reports.append(node.poll())
        if condition(reports[-1]):
            return
        assert time.monotonic() < deadline, reports[-1]
        time.sleep(0.02)


def test_a_load_node_runs_its_share_and_reports_in_flight_requests_and_records(
    tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setattr(node_module.tempfile, "gettempdir", lambda: str(tmp_path))
    with HeldServer() as server:
        # 8 requests, batch_size 4 over 2 workers: this node is worker 1 (ids 1, 3, 5, 7), 2 slots
        plan = replace(chat_plan(server.base_url, tmp_path / "driver", 8, 4), workers=2)
        node = LoadNode(plan, worker_id=1, slots=2, run_name="run-1")
        reports: list[NodeReport] = []
        node.start()
        _poll_until(node, reports, lambda report: any(isinstance(m, WorkerReady) for m in report.ready))
        node.go(node.clock() + 0.01)
        _poll_until(node, reports, lambda report: len(report.in_flight) == 2 and server.held == 2)
        in_flight = reports[-1]
        assert sorted(in_flight.in_flight) == [1, 3]
        assert all(stamp is not None and stamp <= in_flight.now_s for stamp in in_flight.in_flight.values())
        assert in_flight.counters[SENT] == 2 and in_flight.counters[IN_FLIGHT] == 2
        server.release.set()
        _poll_until(node, reports, lambda report: report.done)
    gathered = [int(i) for report in reports for i in report.records.rows["request_id"]]
    assert sorted(gathered) == [1, 3, 5, 7]  # each committed record handed over once
    assert reports[-1].counters[FINISHED] == 4 and not reports[-1].in_flight
    # the node's own record files, in its temp folder, not in the driver's run folder
    assert (tmp_path / "ais_bench-ray" / "run-1" / "records" / "ds.worker1.rows").exists()
    assert not (tmp_path / "driver").exists()
