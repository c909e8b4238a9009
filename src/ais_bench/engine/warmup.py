"""The warm-up: requests each worker sends before the load, through the connection pool the load
then uses, so the first measured requests find warm connections. They are not recorded.

``num_warmups`` requests are dealt over the workers as ``batch_size`` is (``split_concurrency``):
a worker sends its share, at most as many at once as it has lanes. So with ``--num-warmups`` equal
to ``batch_size`` every lane of every worker finds a connection opened (and a server path warmed)
before the run's clock starts; with the default 1, worker 0 warms one connection. The rows sent are
the dataset's first ``num_warmups`` (cycling when it is shorter), in worker order.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ais_bench.clients.backends import BackendSpec
from ais_bench.clients.http1 import ConnectionPool
from ais_bench.engine.request import send_request
from ais_bench.load.schedule import split_concurrency


@dataclass(frozen=True)
class WarmupResult:
    """Warm-up requests sent, how many succeeded, and the first failure's message (None: none
    failed) and HTTP status (None: none failed, or it failed without an answer)."""

    sent: int = 0
    succeeded: int = 0
    first_error: str | None = None
    first_status: int | None = None

    def plus(self, other: WarmupResult) -> WarmupResult:
        """Both results together (this one's first error first)."""
        first = self if self.first_error is not None else other
        return WarmupResult(
            self.sent + other.sent, self.succeeded + other.succeeded, first.first_error, first.first_status
        )


def warm_up_rows(num_warmups: int, workers: int, worker_id: int, rows: int) -> list[int]:
    """The data indexes worker ``worker_id`` warms up with: its share of ``num_warmups``."""
    if rows <= 0:
        return []
    shares = split_concurrency(num_warmups, workers)
    first = sum(shares[:worker_id])
    return [(first + k) % rows for k in range(shares[worker_id])]


async def run_warmup(
    pool: ConnectionPool,
    spec: BackendSpec,
    url: str,
    bodies: list[bytes],
    *,
    concurrency: int,
    stream: bool,
    max_chunk_bytes: int,
) -> WarmupResult:
    """Send every body of ``bodies``, at most ``concurrency`` at once, through ``pool`` (no retry):
    a response the load could not use fails the warm-up too. Only successes are counted."""
    semaphore = asyncio.Semaphore(max(1, concurrency))
    errors: list[tuple[str, int | None]] = []

    async def one(body: bytes) -> bool:
        async with semaphore:
            attempt, _ = await send_request(pool, spec, url, body, stream, 0, max_chunk_bytes)
        if attempt.error_kind is None and len(attempt.points) >= 2:
            return True
        errors.append((attempt.error_message or "response ended without any event", attempt.http_status))
        return False

    results = await asyncio.gather(*(one(body) for body in bodies))
    first_error, first_status = errors[0] if errors else (None, None)
    return WarmupResult(len(bodies), sum(results), first_error, first_status)
