"""Ground-truth recording: when the server wrote each SSE event, for checking client-side stamps.

With ``record_truth_path`` set, the server keeps one entry per finished request and writes them to
that JSONL file when it closes, one line per request:
``{"request_id": str, "arrival_s": float, "handler_s": float, "event_times_s": [float, ...],
"status": int, "completion_tokens": int, "fault": str}``. Times are ``time.perf_counter()`` seconds
(comparable with client stamps of processes on the same host): event times are taken just before
the transport write; ``arrival_s`` is the kernel's arrival stamp of the request's first bytes (on
Linux the ground-truth server serves kernel-stamped connections, ``server.StampedListener``; else
it is ``handler_s``), ``handler_s`` the moment the request handler started.
``request_id`` is the ``X-Request-Id`` header when given, else ``"sim-<n>"`` from a per-server counter.
Non-streaming requests get one event time: when the body was written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson


class TruthRecorder:
    """Collects per-request event write times in memory; ``write`` appends them to the JSONL file."""

    def __init__(self, path: str) -> None:
        self._path = Path(path)
        self._entries: list[dict[str, Any]] = []

    def add(self, entry: dict[str, Any]) -> None:
        self._entries.append(entry)

    def write(self) -> None:
        if not self._entries:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with self._path.open("ab") as out:
            for entry in self._entries:
                out.write(orjson.dumps(entry) + b"\n")
        self._entries.clear()
