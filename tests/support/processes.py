"""Stopping a server process a test started."""

from __future__ import annotations

import subprocess


def stop_process(proc: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """Ask ``proc`` to stop (SIGTERM), and kill it if it has not within ``grace_s`` seconds."""
    proc.terminate()
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
