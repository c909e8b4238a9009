"""A clock for the engine under test that moves only when the test moves it.

The lean client reads its clock (``ConnectionPool(clock=...)``) when a request's first byte goes to
the kernel, at every socket read that brings bytes (with kernel stamps off), and for the send
deadline. A scripted server sets the time and writes, then waits until the client has read those
bytes (the read calls the clock) before it moves the time again: every stamp is the time the script
chose, whatever the scheduling of the two threads.
"""

from __future__ import annotations

import asyncio
import threading

from tests.support.scripted_server import ScriptedConnection

#: Seconds a script waits for the client to read what it wrote (generous: a busy machine).
READ_LIMIT_S = 30.0


class FakeClock:
    """``clock()`` returns ``now``; ``reads`` counts the calls."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.reads = 0
        self._changed = threading.Condition()

    def __call__(self) -> float:
        with self._changed:
            self.reads += 1
            self._changed.notify_all()
            return self.now

    def set(self, now: float) -> int:
        """Move the time to ``now``; returns the reads so far (for :meth:`wait_read_after`)."""
        with self._changed:
            self.now = now
            return self.reads

    def wait_read_after(self, reads: int) -> None:
        """Block until the clock has been read again after ``reads`` reads."""
        with self._changed:
            if not self._changed.wait_for(lambda: self.reads > reads, READ_LIMIT_S):
                raise TimeoutError(f"the client did not read within {READ_LIMIT_S} s")


async def write_at(clock: FakeClock, now: float, conn: ScriptedConnection, data: bytes) -> None:
    """Write ``data`` at time ``now`` and return once the client has read it (its stamp is ``now``).
    One small write reaches a loopback socket whole, so the client reads it in one read."""
    reads = clock.set(now)
    await conn.write(data)
    await asyncio.to_thread(clock.wait_read_after, reads)
