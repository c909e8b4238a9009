"""The scraper against a real server on 127.0.0.1 (a thread of the test): stamps on the records'
clock, the first scrape done before start() returns, the requests' headers sent, one more scrape at
stop(), a failing URL counted and the others kept. No assertion depends on how many scrapes fit in
the time: only on their order and on the server's own count of them."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ais_bench.records.server_series import read_server_series_csv
from ais_bench.server_metrics.scraper import ScrapePlan, ServerScraper


class _MetricsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.scrapes = 0
        self.authorizations: list[str | None] = []
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    server: _MetricsServer

    def do_GET(self) -> None:
        if self.path != "/metrics":
            self.send_error(500, "broken exporter")
            return
        with self.server.lock:
            self.server.scrapes += 1
            count = self.server.scrapes
            self.server.authorizations.append(self.headers.get("Authorization"))
        body = f"# TYPE scrapes_total counter\nscrapes_total {count}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def metrics_server() -> Iterator[_MetricsServer]:
    server = _MetricsServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_scrapes_are_stamped_in_order_first_before_start_returns(metrics_server: _MetricsServer, tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{metrics_server.server_address[1]}"
    good, bad = f"{base}/metrics", f"{base}/broken"
    plan = ScrapePlan((good, bad), 0.05, {"Authorization": "Bearer secret"})
    csv_path = tmp_path / "ds_server_metrics.csv"
    before_s = time.perf_counter()
    scraper = ServerScraper(plan, csv_path).start()
    assert len(read_server_series_csv(csv_path)) >= 1  # the first scrape is on disk when start() returns
    started_s = time.perf_counter()
    while metrics_server.scrapes < 3:
        time.sleep(0.01)
    report = scraper.stop()
    after_s = time.perf_counter()

    series = read_server_series_csv(csv_path)
    assert series.t_s[0] < started_s
    assert before_s < series.t_s.min() and series.t_s.max() < after_s
    assert list(series.t_s) == sorted(series.t_s)
    assert series.value.tolist() == list(range(1, metrics_server.scrapes + 1))  # every answer kept, in order
    assert set(series.labels.tolist()) == {f'instance="{good}"'}
    assert metrics_server.authorizations == ["Bearer secret"] * metrics_server.scrapes
    assert report.tried == 2 * metrics_server.scrapes and report.failed == {bad: metrics_server.scrapes}
    assert "HTTP 500" in report.first_errors[bad]
    assert report.warnings() == [
        f"server metrics: {metrics_server.scrapes} of {metrics_server.scrapes} scrapes of {bad} failed "
        f"(first: {report.first_errors[bad]}); the derived server metrics miss those moments"
    ]
    assert report.to_json_dict()["samples"] == metrics_server.scrapes
