"""Starting and stopping a server process a test runs (the real model servers)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextlib.contextmanager
def serving(cmd: list[str], log: Path, ready_url: str, name: str, timeout_s: float) -> Iterator[None]:
    """Run ``cmd`` (its output in ``log``) until the block ends; enter the block once GET ``ready_url``
    answers 200. The test fails with the log's end if the server exits or is not ready in ``timeout_s``."""
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout_s
        while not _answers(ready_url):
            if proc.poll() is not None:
                pytest.fail(f"{name} exited ({proc.returncode}): {log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"{name} not ready after {timeout_s} s: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield
    finally:
        stop_process(proc)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:  # refused while starting, 503 while the model loads
        return False


def stop_process(proc: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """Ask ``proc`` to stop (SIGTERM), and kill it if it has not within ``grace_s`` seconds."""
    proc.terminate()
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
