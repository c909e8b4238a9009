"""Scrape Prometheus endpoints during the load, from a thread of the main process.

The worker processes never scrape: the thread runs in the main process (which only watches the
workers) with its own event loop, and asks every URL through the run's one client
(``clients.client.fetch``: the requests' headers and TLS options) every ``interval_s``. Each answer's
samples are stamped with the midpoint of its request and answer on ``time.perf_counter`` (the clock
of the records) and appended to ``<ds>_server_metrics.csv`` at once. A scrape that fails is a warning
(the first of each URL; later ones are counted) and the run goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ais_bench.clients.client import describe_failure, fetch
from ais_bench.clients.http1 import HTTPExchangeError
from ais_bench.clients.tls import DEFAULT_TLS, TLSOptions
from ais_bench.records.server_series import ServerSeriesWriter
from ais_bench.server_metrics.exposition import ExpositionError, parse_exposition

log = logging.getLogger("ais_bench")

DEFAULT_INTERVAL_S = 1.0
#: The shortest time a scrape may take before it counts as failed, seconds (longer intervals allow their length).
MIN_SCRAPE_TIMEOUT_S = 2.0
_ERROR_TEXT_CHARS = 200


def default_metrics_url(base_url: str) -> str:
    """``<scheme>://<host:port>/metrics`` of the server's base URL."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}/metrics"


@dataclass(frozen=True)
class ScrapePlan:
    """What to scrape: ``urls``, every ``interval_s``, with the requests' ``headers`` and ``tls``."""

    urls: tuple[str, ...]
    interval_s: float = DEFAULT_INTERVAL_S
    headers: dict[str, str] = field(default_factory=dict)
    tls: TLSOptions = DEFAULT_TLS


@dataclass
class ScrapeReport:
    """What the scraper did: scrapes tried and failed per URL, samples written, CPU seconds of its thread."""

    urls: tuple[str, ...]
    interval_s: float
    tried: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    first_errors: dict[str, str] = field(default_factory=dict)
    samples: int = 0
    cpu_s: float = 0.0

    def to_json_dict(self) -> dict[str, Any]:
        """The run fact ``server_metrics_scrape`` (kept with the run, shown in ``<ds>.json``)."""
        return {
            "urls": list(self.urls),
            "interval_s": self.interval_s,
            "scrapes": self.tried,
            "failed_scrapes": {url: self.failed.get(url, 0) for url in self.urls},
            "first_errors": dict(self.first_errors),
            "samples": self.samples,
            "cpu_s_per_scrape": self.cpu_s / self.tried if self.tried else None,
        }

    def warnings(self) -> list[str]:
        return [
            f"server metrics: {self.failed[url]} of {self.tried // max(len(self.urls), 1)} scrapes of {url} failed "
            f"(first: {self.first_errors[url]}); the derived server metrics miss those moments"
            for url in self.urls if self.failed.get(url)
        ]


class ServerScraper:
    """Start with :meth:`start` once the workers exist; :meth:`stop` scrapes once more and returns the report."""

    def __init__(self, plan: ScrapePlan, csv_path: Path) -> None:
        self.plan = plan
        self.report = ScrapeReport(plan.urls, plan.interval_s)
        self._writer = ServerSeriesWriter(csv_path)
        self._thread = threading.Thread(target=self._run, name="ais_bench-server-metrics", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()

    def start(self) -> ServerScraper:
        """Start scraping; returns once the first scrape is done (or failed), so that it precedes the
        load: the counters' increases then cover the first request."""
        self._thread.start()
        self._ready.wait(timeout=3 * self._scrape_timeout_s())
        return self

    def stop(self) -> ScrapeReport:
        """End the scraping after one last scrape (the end of the load is then bracketed)."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(stop.set)
        self._thread.join(timeout=max(30.0, 3 * self._scrape_timeout_s()))
        self._writer.close()
        return self.report

    def _scrape_timeout_s(self) -> float:
        return max(MIN_SCRAPE_TIMEOUT_S, self.plan.interval_s)

    def _run(self) -> None:
        cpu_start_s = time.thread_time()
        try:
            asyncio.run(self._scrape_until_stopped())
        finally:
            self.report.cpu_s = time.thread_time() - cpu_start_s
            self._ready.set()

    async def _scrape_until_stopped(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        next_s = time.perf_counter()
        while not self._stop.is_set():
            await self._scrape_all()
            self._ready.set()
            next_s += self.plan.interval_s
            now_s = time.perf_counter()
            if next_s < now_s:  # a scrape outlasted the interval: skip the missed ones
                next_s = now_s + self.plan.interval_s
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), next_s - now_s)
        await self._scrape_all()

    async def _scrape_all(self) -> None:
        await asyncio.gather(*(self._scrape(url) for url in self.plan.urls))

    async def _scrape(self, url: str) -> None:
        self.report.tried += 1
        sent_s = time.perf_counter()
        try:
            answer = await fetch(url, self.plan.headers, timeout_s=self._scrape_timeout_s(), tls=self.plan.tls)
        except HTTPExchangeError as exc:
            self._failed(url, describe_failure(exc, url, None).message)
            return
        t_s = (sent_s + time.perf_counter()) / 2
        if answer.status != 200:
            self._failed(url, f"{url}: HTTP {answer.status} {answer.reason}".rstrip())
            return
        try:
            instance = {"instance": url} if len(self.plan.urls) > 1 else None  # several URLs: whose sample it is
            samples = parse_exposition(bytes(answer.body).decode("utf-8", "replace"), instance)
        except ExpositionError as exc:
            self._failed(url, f"{url}: {exc}"[:_ERROR_TEXT_CHARS])
            return
        self._writer.append(t_s, samples)
        self.report.samples += len(samples)

    def _failed(self, url: str, message: str) -> None:
        count = self.report.failed.get(url, 0) + 1
        self.report.failed[url] = count
        if count == 1:
            self.report.first_errors[url] = message
            log.warning("server metrics: scrape failed: %s; the run goes on without these samples", message)

