"""The sockets of a worker: read with the kernel's receive time stamps.

Why: a Python client learns that bytes arrived only when its event loop gets round to the socket.
When hundreds of streams are busy that can be milliseconds after the fact, and every TTFT and ITL
would carry the client's own delay. Linux stamps each received packet as it enters the network stack
(``SO_TIMESTAMPNS``) and hands the stamp over with ``recvmsg``. :class:`KernelStampedTransport` reads
that way, so a read's stamp is the arrival time of its newest bytes however late the loop reads
them: the client's load no longer shapes the numbers (``bench/timing_error.py`` measures it). On the
sending side it records the time the first byte of a request is handed to the kernel (``write_s``),
so a request's send stamp does not include the time it waited in the client behind other requests.

The run's HTTP client (``clients/http1.py``) runs on this transport, ``https://`` included
(``clients/tls.py`` decrypts each stamped read in memory). The loop that drives it:
``clients/loop.py``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import sys
from collections.abc import Callable
from time import perf_counter, perf_counter_ns, time_ns
from typing import Any

#: ``SO_TIMESTAMPNS`` (Linux; Python's socket module does not export it): a ``struct timespec`` of
#: CLOCK_REALTIME per ``recvmsg``: the arrival of the newest packet that the call returned bytes of.
SO_TIMESTAMPNS = 35
_TIMESPEC = struct.Struct("@qq")
_ANCILLARY_BYTES = socket.CMSG_SPACE(_TIMESPEC.size) if hasattr(socket, "CMSG_SPACE") else 0
#: Bytes one read takes at most (asyncio's transports read 256 KiB).
READ_BYTES = 256 * 1024
#: Write buffer levels at which the protocol is paused / resumed (asyncio's defaults).
WRITE_HIGH_WATER = 64 * 1024
WRITE_LOW_WATER = WRITE_HIGH_WATER // 4


#: Environment variable that turns kernel stamps off for the client when set to ``0`` (then reads are
#: stamped when the loop reads them): for comparing the two, or for a kernel whose stamps are wrong.
KERNEL_STAMPS_ENV = "AIS_BENCH_KERNEL_STAMPS"


def kernel_stamps_supported() -> bool:
    """True when sockets here can carry kernel receive stamps (Linux with ``recvmsg``)."""
    return sys.platform.startswith("linux") and hasattr(socket.socket, "recvmsg_into") and _ANCILLARY_BYTES > 0


def kernel_stamps_enabled() -> bool:
    """True when the client's connections will be kernel-stamped (supported and not turned off)."""
    return kernel_stamps_supported() and os.environ.get(KERNEL_STAMPS_ENV, "1").strip() != "0"


#: A clock in ``perf_counter`` seconds: what the transports and the request code read for stamps.
Clock = Callable[[], float]


class KernelStampedTransport(asyncio.Transport):
    """A plain-TCP transport over a non-blocking socket that reads with ``recvmsg`` and keeps the
    connection's stamps (``perf_counter`` seconds, 0.0 until known):

    - ``read_s``: the kernel's arrival stamp of the newest bytes read;
    - ``message_read_s``: that of the first read after a write (a server: a request's first bytes);
    - ``write_s``: taken just before the first write after a read (a client: a request's first bytes).

    It serves any protocol: the load's HTTP client (``clients/http1.py``) and, in the simulator's
    ground-truth mode, its server connections.

    The stamp is CLOCK_REALTIME; it is moved to the ``perf_counter`` clock (CLOCK_MONOTONIC) with the
    two clocks' offset read at the same moment, and never placed later than that moment (so a step
    of the wall clock cannot produce a stamp from the future).
    """

    # Slots: a read touches this object's fields; one allocation keeps them in fewer cache lines than
    # an instance dict when a thousand connections take turns.
    __slots__ = (
        "_clock", "_closing", "_fd", "_high_water", "_loop", "_lost", "_low_water", "_protocol", "_protocol_paused",
        "_read_since_write", "_reading", "_received", "_sock", "_write_buffer", "_write_since_read", "kernel",
        "message_read_s", "read_s", "write_s",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        protocol: Any,
        kernel: bool = True,
        clock: Clock = perf_counter,
    ):
        super().__init__()
        #: False: the kernel is not asked for stamps; a read is stamped when the loop reads it.
        self.kernel = kernel
        #: The stamps' clock where the kernel gives none (``perf_counter``; tests pass a fake one).
        self._clock = clock
        self._loop = loop
        self._sock = sock
        self._fd = sock.fileno()
        self._protocol = protocol
        self._received: Any = None
        self._set_receiver()
        self.read_s = 0.0
        self.message_read_s = 0.0
        self.write_s = 0.0
        self._extra: dict[str, Any] = {"socket": sock, "sockname": sock.getsockname()}
        try:
            self._extra["peername"] = sock.getpeername()
        except OSError:
            self._extra["peername"] = None
        self._write_buffer = bytearray()
        self._high_water, self._low_water = WRITE_HIGH_WATER, WRITE_LOW_WATER
        self._protocol_paused = False
        self._closing = False
        self._reading = False
        self._lost = False
        self._read_since_write = True
        self._write_since_read = True

    # --- set-up --------------------------------------------------------------------------------
    def _set_receiver(self) -> None:
        """Where the bytes of a read go: the protocol (``clients/tls.py`` decrypts them first)."""
        self._received = self._protocol.data_received

    def start(self) -> None:
        """Tell the protocol and start reading (called once, by whoever made the transport)."""
        self._protocol.connection_made(self)
        if not self._closing:
            self.resume_reading()

    # --- reading -------------------------------------------------------------------------------
    def _on_readable(self) -> None:
        # Read until the socket has nothing more: a read that fills less than the buffer emptied the
        # receive queue. (A reset that arrives together with data is found by :meth:`check_error`.)
        sock = self._sock
        while self._reading:
            try:
                if self.kernel:
                    nbytes, ancillary, _flags, _addr = sock.recvmsg_into(_READ_BUFFERS, _ANCILLARY_BYTES)
                else:
                    nbytes, ancillary = sock.recv_into(_READ_BUFFER), None
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._fatal_error(exc)
                return
            if nbytes == 0:
                self._on_eof()
                return
            self.read_s = arrival_s = _arrival_s(ancillary) if ancillary else self._clock()
            if self._write_since_read:
                self._write_since_read = False
                self.message_read_s = arrival_s
            self._read_since_write = True
            try:
                self._received(_READ_BUFFER[:nbytes].tobytes())
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:  # as asyncio's transports do: the connection is lost, with why
                self._fatal_error(exc)
                return
            if nbytes < READ_BYTES:
                return

    def check_error(self) -> None:
        """End the connection if its socket holds an error (a reset). uvloop (libuv) reports a socket
        whose peer reset it (EPOLLERR) by calling the reader once and then dropping it for good: when
        that one read returned the data queued ahead of the reset, the reset itself is never read, and
        a request would wait forever. The connection pool calls this on its busy connections now and
        then (reading ``SO_ERROR`` after every read cost a system call per read)."""
        if self._closing or self._lost:
            return
        try:
            error = self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        except OSError as exc:
            error = exc.errno or 0
        if error:  # reading it cleared it: the error the next read would have raised
            self._fatal_error(OSError(error, os.strerror(error)))

    def _on_eof(self) -> None:
        self.pause_reading()
        if not self._protocol.eof_received():
            self.close()

    def pause_reading(self) -> None:
        if self._reading:
            self._reading = False
            self._loop.remove_reader(self._fd)

    def resume_reading(self) -> None:
        if not self._reading and not self._closing:
            self._reading = True
            self._loop.add_reader(self._fd, self._on_readable)

    def is_reading(self) -> bool:
        return self._reading

    # --- writing -------------------------------------------------------------------------------
    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data or self._closing:
            return
        if self._read_since_write:
            self._read_since_write = False
            self.write_s = self._clock()
        self._write_since_read = True
        if not self._write_buffer:
            try:
                sent = self._sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as exc:
                self._fatal_error(exc)
                return
            if sent == len(data):
                return
            data = memoryview(data)[sent:]
            self._loop.add_writer(self._fd, self._on_writable)
        self._write_buffer.extend(data)
        self._pause_protocol_if_full()

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def _on_writable(self) -> None:
        try:
            sent = self._sock.send(self._write_buffer)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._fatal_error(exc)
            return
        del self._write_buffer[:sent]
        if self._write_buffer:
            return
        self._loop.remove_writer(self._fd)
        self._resume_protocol_if_drained()
        if self._closing:
            self._connection_lost_soon(None)

    def _pause_protocol_if_full(self) -> None:
        if not self._protocol_paused and len(self._write_buffer) > self._high_water:
            self._protocol_paused = True
            self._protocol.pause_writing()

    def _resume_protocol_if_drained(self) -> None:
        if self._protocol_paused and len(self._write_buffer) <= self._low_water:
            self._protocol_paused = False
            self._protocol.resume_writing()

    def get_write_buffer_size(self) -> int:
        return len(self._write_buffer)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._low_water, self._high_water

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._high_water = WRITE_HIGH_WATER if high is None else high
        self._low_water = self._high_water // 4 if low is None else low

    def can_write_eof(self) -> bool:
        return False

    # --- closing -------------------------------------------------------------------------------
    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self.pause_reading()
        if not self._write_buffer:
            self._connection_lost_soon(None)

    def abort(self) -> None:
        self._force_close(None)

    def _fatal_error(self, exc: BaseException) -> None:
        self._force_close(exc)

    def _force_close(self, exc: BaseException | None) -> None:
        if self._lost:
            return
        self._closing = True
        self.pause_reading()
        if self._write_buffer:
            self._write_buffer.clear()
            self._loop.remove_writer(self._fd)
        self._connection_lost_soon(exc)

    def _connection_lost_soon(self, exc: BaseException | None) -> None:
        if not self._lost:
            self._lost = True
            self._loop.call_soon(self._call_connection_lost, exc)

    def _call_connection_lost(self, exc: BaseException | None) -> None:
        try:
            self._protocol.connection_lost(exc)
        finally:
            self._sock.close()

    # --- the rest of the Transport interface ---------------------------------------------------
    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._extra.get(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol
        self._set_receiver()

    def get_protocol(self) -> asyncio.BaseProtocol:
        protocol: asyncio.BaseProtocol = self._protocol
        return protocol


#: The read buffer of every transport of the process (reads never overlap: one loop thread), and the
#: one-buffer list ``recvmsg_into`` takes. Pages are only touched when a read fills them.
_READ_BUFFER = memoryview(bytearray(READ_BYTES))
_READ_BUFFERS = [_READ_BUFFER]


class _ClockOffset:
    """CLOCK_REALTIME minus the ``perf_counter`` clock, re-read every ``REFRESH_S``: ``offset_ns``,
    and the same split into whole seconds and the nanoseconds left (``whole_s``, ``part_ns``), so a
    stamp is moved with small-integer arithmetic and one float product.

    One reading brackets ``time_ns()`` between two ``perf_counter_ns()`` and keeps the tightest of a
    few tries: reading the two clocks one after the other would be off by however long the process
    was interrupted in between (seen here: up to 15 µs). Re-reading follows the wall clock's slewing
    (seen here: 13 µs in 5 s) and steps.
    """

    REFRESH_S = 0.05
    TRIES = 5

    def __init__(self) -> None:
        self.offset_ns = 0
        self.whole_s = 0
        self.part_ns = 0
        self.read_at_s = -self.REFRESH_S

    def refresh(self, now_s: float) -> None:
        best_width = None
        for _ in range(self.TRIES):
            before = perf_counter_ns()
            wall = time_ns()
            after = perf_counter_ns()
            width = after - before
            if best_width is None or width < best_width:
                best_width = width
                self.offset_ns = wall - (before + after) // 2
        self.whole_s, self.part_ns = divmod(self.offset_ns, 1_000_000_000)
        self.read_at_s = now_s


_clock_offset = _ClockOffset()


def _arrival_s(ancillary: list[tuple[int, int, bytes]]) -> float:
    """The kernel's arrival stamp of a read on the ``perf_counter`` clock (now, if there is none).
    ``SO_TIMESTAMPNS`` is the only ancillary message the client asks for, so it is the first."""
    now_s = perf_counter()
    if not ancillary:
        return now_s
    level, kind, data = ancillary[0]
    if kind != SO_TIMESTAMPNS or level != _SOL_SOCKET or len(data) < _TIMESPEC_BYTES:
        return now_s
    clock = _clock_offset
    if now_s - clock.read_at_s >= _REFRESH_S:
        clock.refresh(now_s)
    seconds, nanoseconds = _unpack_timespec(data)
    arrival_s = (seconds - clock.whole_s) + (nanoseconds - clock.part_ns) * 1e-9
    return arrival_s if arrival_s < now_s else now_s


_TIMESPEC_BYTES = _TIMESPEC.size
_SOL_SOCKET = socket.SOL_SOCKET
_REFRESH_S = _ClockOffset.REFRESH_S
_unpack_timespec = _TIMESPEC.unpack_from


def enable_kernel_stamps(sock: socket.socket) -> bool:
    """Ask the kernel to stamp what ``sock`` receives; False when it refuses."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True
