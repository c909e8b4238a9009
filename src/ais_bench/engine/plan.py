"""``RunPlan``: everything one model x dataset load needs, resolved and picklable (workers get a copy)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ais_bench.clients.tls import DEFAULT_TLS, TLSOptions
from ais_bench.datasets.item import RequestItem

#: Seconds the requests of a worker may all go without progress (no event, no finished request)
#: before the stall watchdog fails them and the worker stops sending; REQUEST_TIME_OUT turns it off.
STALL_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class RunPlan:
    """One dataset's load against one server: what to send, where, how fast, how many at once,
    where the records go.

    Target: ``backend`` (key of ``ais_bench.clients.backends.BACKENDS``), the full endpoint
    ``url``, the ``headers`` of every request, ``stream``, ``tls`` (how an https:// server is checked). Requests: ``items`` and their encoded
    ``bodies`` (same order, by data index).

    ``send_offsets_s``: normal mode, the planned offset of each request from the first send;
    pressure mode, the offset at which each of the ``batch_size`` clients is added. None = unpaced.
    ``pressure_time_s``: pressure mode's duration (None: normal mode).
    ``retry``: extra attempts after the first, on connection errors and timeouts only.
    ``open_loop``: every request is sent at its planned time whatever is in flight (a timestamp
    replay, as AISBench does); else at most ``batch_size`` requests are in flight and a request whose
    time has come waits for a free slot (that wait is recorded as ``slot_wait_s``).
    ``use_timestamps``: the offsets come from the dataset's timestamps.
    ``request_id_prefix``: when set, every request carries ``X-Request-Id: <prefix><request id>`` (for
    matching with server logs, and with the simulator's ground truth in ``bench/timing_error.py``).
    ``stall_timeout_s``: see :attr:`stall_limit_s`. ``num_warmups``: requests sent before the load
    (not recorded). ``debug``: the single worker runs in a thread of the main process.
    """

    backend: str
    url: str
    headers: dict[str, str]
    stream: bool
    items: list[RequestItem]
    bodies: list[bytes]
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
    stall_timeout_s: float | None = STALL_TIMEOUT_S
    num_warmups: int = 0
    debug: bool = False
    tls: TLSOptions = DEFAULT_TLS  # how an https:// server is checked

    @property
    def stall_limit_s(self) -> float | None:
        """Seconds without progress after which a worker fails its in-flight requests: only when
        REQUEST_TIME_OUT is None (a request timeout already ends every request in time)."""
        return self.stall_timeout_s if self.request_timeout_s is None else None

    @property
    def pressure(self) -> bool:
        return self.pressure_time_s is not None

    @property
    def total_requests(self) -> int | None:
        """Requests to send in normal mode; None in pressure mode (time-bounded)."""
        return None if self.pressure else len(self.items)
