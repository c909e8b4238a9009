"""Everything a worker process needs to send one dataset's requests (picklable)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ais_bench.datasets.item import RequestItem


@dataclass(frozen=True)
class RequestTemplate:
    """How to turn an item into an HTTP request for one backend."""

    backend_type: type  # key of ais_bench.clients.backends.BACKENDS
    url: str  # full endpoint URL
    headers: dict[str, str]
    model: str
    stream: bool
    max_out_len: int
    generation_kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EnginePlan:
    """One dataset's load: what to send, how fast, how many at once, where records go.

    ``send_offsets_s``: normal mode, the planned offset of each request from the first send;
    pressure mode, the offset at which each of the ``batch_size`` clients is added. None = unpaced.
    ``retry``: extra attempts after the first, on connection errors and timeouts only.
    ``open_loop``: every request is sent at its planned time whatever is in flight (a timestamp
    replay, as AISBench does); else at most ``batch_size`` requests are in flight and a request whose
    time has come waits for a free slot (that wait is recorded as ``slot_wait_s``).
    ``request_id_prefix``: when set, every request carries ``X-Request-Id: <prefix><request id>`` (for
    matching with server logs, and with the simulator's ground truth in ``bench/timing_error.py``).
    """

    items: list[RequestItem]
    bodies: list[bytes]  # encoded request body of each item, same order
    template: RequestTemplate
    batch_size: int
    workers: int
    record_dir: Path
    data_abbr: str
    send_offsets_s: np.ndarray | None = None
    pressure_time_s: float | None = None
    retry: int = 0
    request_timeout_s: float | None = None
    max_chunk_bytes: int = 65536
    use_timestamps: bool = False
    open_loop: bool = False
    request_id_prefix: str | None = None

    @property
    def pressure(self) -> bool:
        return self.pressure_time_s is not None

    @property
    def total_requests(self) -> int | None:
        """Requests to send in normal mode; None in pressure mode (time-bounded)."""
        return None if self.pressure else len(self.items)
