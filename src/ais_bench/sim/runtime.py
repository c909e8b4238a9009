"""Running the simulated server until a signal: shared by the CLI and the child process."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ais_bench.sim.config import SimConfig
from ais_bench.sim.server import SimServer, serve

T = TypeVar("T")


def run_event_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion on uvloop when it is installed, else on the default loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    if sys.version_info < (3, 11):  # no asyncio.Runner
        uvloop.install()
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


async def serve_until_signal(
    cfg: SimConfig, host: str, port: int, on_ready: Callable[[SimServer], None]
) -> None:
    """Serve until SIGINT or SIGTERM, then close cleanly (which writes the truth file if asked)."""
    server = await serve(cfg, host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        on_ready(server)
        await stop.wait()
    finally:
        await server.close()
