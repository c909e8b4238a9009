"""``start_sim_process``: the simulated server in a child process, for a benchmark run or a test.

The child is started with the ``spawn`` context (safe with threads and event loops in the parent;
the caller's main module must be import-safe, i.e. guarded by ``if __name__ == "__main__"``). It
binds a free port on 127.0.0.1, reports it through a pipe, and the parent waits until ``/health``
answers. ``SimHandle.stop()`` sends SIGTERM (the child closes cleanly and writes its truth file),
then kills it if it has not exited within ``STOP_TIMEOUT_S``.
"""

from __future__ import annotations

import multiprocessing
import time
import urllib.error
import urllib.request
from multiprocessing.connection import Connection

from ais_bench.errors import AisBenchError, ConfigError, ServerUnreachable
from ais_bench.sim.config import SimConfig
from ais_bench.sim.runtime import run_event_loop, serve_until_signal
from ais_bench.sim.server import SimServer

SIM_HOST = "127.0.0.1"
STOP_TIMEOUT_S = 5.0
HEALTH_POLL_S = 0.05


class SimHandle:
    """A simulated server running in a child process. Usable as a context manager."""

    def __init__(self, process: multiprocessing.process.BaseProcess, port: int) -> None:
        self._process = process
        self.port = port
        self.url = f"http://{SIM_HOST}:{port}"
        self.base_url = self.url + "/"

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def is_alive(self) -> bool:
        return self._process.is_alive()

    def stop(self) -> None:
        """Terminate and join the child; safe to call more than once."""
        process = self._process
        if process.pid is None:
            return
        if process.is_alive():
            process.terminate()
            process.join(STOP_TIMEOUT_S)
        if process.is_alive():
            process.kill()
        process.join(STOP_TIMEOUT_S)

    def __enter__(self) -> SimHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_sim_process(cfg: SimConfig, startup_timeout_s: float = 20.0) -> SimHandle:
    """Start the server in a child process on a free 127.0.0.1 port; return once ``/health`` answers."""
    ctx = multiprocessing.get_context("spawn")
    reader, writer = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child_main, args=(cfg, writer), name="ais_bench-sim", daemon=True)
    process.start()
    writer.close()
    handle = SimHandle(process, 0)
    try:
        handle = SimHandle(process, _receive_port(reader, startup_timeout_s))
        _wait_for_health(handle.url + "/health", startup_timeout_s)
        return handle
    except BaseException:
        handle.stop()
        raise
    finally:
        reader.close()


def _receive_port(reader: Connection, timeout_s: float) -> int:
    if not reader.poll(timeout_s):
        raise ServerUnreachable(f"the simulated server did not start within {timeout_s:g} s")
    try:
        kind, value = reader.recv()
    except EOFError as exc:
        raise ServerUnreachable("the simulated server process exited during startup") from exc
    if kind == "config-error":
        raise ConfigError(value)
    if kind == "error":
        raise ServerUnreachable(f"the simulated server failed to start: {value}")
    return int(value)


def _wait_for_health(url: str, timeout_s: float) -> None:
    deadline_s = time.monotonic() + timeout_s
    last_error = "no answer"
    while time.monotonic() < deadline_s:
        try:
            with urllib.request.urlopen(url, timeout=1.0) as resp:
                if resp.status == 200:
                    return
                last_error = f"HTTP {resp.status}"
        except (urllib.error.URLError, OSError) as exc:
            last_error = str(exc)
        time.sleep(HEALTH_POLL_S)
    raise ServerUnreachable(
        f"the simulated server at {url} did not answer within {timeout_s:g} s ({last_error})"
    )


def _child_main(cfg: SimConfig, writer: Connection) -> None:
    """The simulator process: serve ``cfg`` (validated by the parent; unpickling does not re-check it)."""
    def on_ready(server: SimServer) -> None:
        writer.send(("port", server.port))
        writer.close()

    try:
        run_event_loop(serve_until_signal(cfg, SIM_HOST, 0, on_ready))
    except ConfigError as exc:
        _report(writer, "config-error", exc.message)
    except (AisBenchError, OSError) as exc:
        _report(writer, "error", str(exc))


def _report(writer: Connection, kind: str, message: str) -> None:
    if not writer.closed:
        writer.send((kind, message))
        writer.close()
