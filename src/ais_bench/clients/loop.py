"""The event loop of a process that talks to a server: uvloop when available, else asyncio's selector
loop (both can watch sockets with ``add_reader``, which ``clients/transport.py`` needs)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

_T = TypeVar("_T")


def _loop_class() -> type[asyncio.AbstractEventLoop]:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return asyncio.SelectorEventLoop
    return uvloop.Loop


def run_worker_loop(main: Coroutine[Any, Any, _T]) -> _T:
    """Run ``main`` to completion on a new loop: uvloop when available, else asyncio's selector loop
    (both can watch sockets for :class:`KernelStampedTransport`)."""
    loop_class = _loop_class()
    if sys.version_info >= (3, 11):
        with asyncio.Runner(loop_factory=loop_class) as runner:
            return runner.run(main)
    loop = loop_class()  # pragma: no cover - Python 3.10
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(main)
    finally:
        asyncio.set_event_loop(None)
        loop.close()
