"""The live view of a running load, on stderr (docs/metrics.md#the-live-view).

Requests done, failed and in flight (the workers' shared counters), successful requests and output
tokens per second over the last few seconds, TTFT and ITL p50/p99 so far, elapsed and remaining
(requests, or pressure time), and whether the steady stage has started (``engine/live.py``). On a
terminal it is a small table redrawn every second (``rich``, imported only then); on a pipe or a
file (CI logs) one plain line every ``log_every_s`` seconds, and one at the end.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from ais_bench.engine.live import LiveFigures, LogHistogram, SteadyStartWatch
from ais_bench.engine.shared import LoadTotals

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.live import Live

#: (label, value) rows of one refresh of the view, in display order.
ViewRows = list[tuple[str, str]]


class ProgressPrinter:
    """The live view: a ``rich`` table redrawn every ``refresh_s`` on a terminal; on a pipe or a
    file a plain line every ``log_every_s`` seconds instead. ``clock``: seconds (monotonic), when
    the next refresh is due."""

    def __init__(
        self,
        label: str,
        total: int | None,
        batch_size: int,
        *,
        pressure_time_s: float | None = None,
        stream: TextIO | None = None,
        refresh_s: float = 1.0,
        log_every_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.total = total
        self.pressure_time_s = pressure_time_s
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self.interval_s = refresh_s if self.interactive else log_every_s
        self.steady = SteadyStartWatch(batch_size)
        self._clock = clock
        self._last_s: float | None = None
        self._live: Live | None = None

    def __call__(self, totals: LoadTotals, elapsed_s: float, live: LiveFigures) -> None:
        self.steady.observe(totals.sent, totals.in_flight, elapsed_s)
        now = self._clock()
        if self._last_s is not None and now - self._last_s < self.interval_s:
            return
        self._last_s = now
        self._show(self.rows(totals, elapsed_s, live))

    def finish(self, totals: LoadTotals, elapsed_s: float, live: LiveFigures) -> None:
        """Show the final figures (always, however recent the last refresh) and end the view."""
        self.steady.observe(totals.sent, totals.in_flight, elapsed_s)
        self._show(self.rows(totals, elapsed_s, live))
        self.close()

    def close(self) -> None:
        """End the terminal view (leaving its last frame on the screen); safe to call twice."""
        if self._live is not None:
            self._live.stop()
            self._live = None

    def rows(self, totals: LoadTotals, elapsed_s: float, live: LiveFigures) -> ViewRows:
        """What one refresh shows. ``elapsed_s``: seconds since the first planned send (negative just
        before it: shown as 0)."""
        elapsed_s = max(elapsed_s, 0.0)
        rates = live.rates()
        throughput = "-" if rates is None else (
            f"{rates.requests_per_s:.1f} req/s, {rates.output_tokens_per_s:.0f} output tok/s "
            f"(last {rates.window_s:g} s)"
        )
        return [
            ("elapsed", f"{elapsed_s:.1f} s"),
            ("remaining", self._remaining(totals, elapsed_s)),
            ("requests", self._requests(totals)),
            ("throughput", throughput),
            ("TTFT", percentiles_text(live.ttft)),
            ("ITL", percentiles_text(live.itl)),
            ("steady stage", self._steady_text(totals)),
        ]

    def _remaining(self, totals: LoadTotals, elapsed_s: float) -> str:
        if self.pressure_time_s is not None:
            if elapsed_s < self.pressure_time_s:
                return f"{self.pressure_time_s - elapsed_s:.1f} s of {self.pressure_time_s:g} s (pressure)"
            return f"pressure time over, waiting for {totals.in_flight} in flight"
        if self.total is None:
            return "-"
        return f"{max(self.total - totals.finished, 0)} of {self.total} requests"

    def _requests(self, totals: LoadTotals) -> str:
        goal = f"/{self.total}" if self.total is not None else ""
        text = f"done {totals.finished}{goal}, failed {totals.failed}, in flight {totals.in_flight}"
        if self.pressure_time_s is not None:
            text += f", clients {totals.clients}"
        return text

    def _steady_text(self, totals: LoadTotals) -> str:
        started_at_s = self.steady.started_at_s
        if started_at_s is not None:
            return f"started at {started_at_s:.1f} s"
        return f"not yet (in flight {totals.in_flight} of batch_size {self.steady.batch_size})"

    def _show(self, rows: ViewRows) -> None:
        if not self.interactive:
            self.stream.write(plain_line(self.label, rows) + "\n")
            self.stream.flush()
            return
        if self._live is None:
            self._live = _start_live(self.stream, render_table(self.label, rows))
        else:
            self._live.update(render_table(self.label, rows), refresh=True)


def percentiles_text(hist: LogHistogram) -> str:
    """``p50 41.2 ms, p99 80.3 ms`` (``-`` before the first value)."""
    p50_s, p99_s = hist.quantile_s(0.5), hist.quantile_s(0.99)
    if p50_s is None or p99_s is None:
        return "-"
    return f"p50 {duration_text(p50_s)}, p99 {duration_text(p99_s)}"


def duration_text(value_s: float) -> str:
    """Three significant digits in ms below one second (``41.2 ms``, ``0.512 ms``), else seconds."""
    if value_s < 1.0:
        return f"{value_s * 1000:#.3g} ms".replace(". ms", " ms")
    return f"{value_s:.2f} s"


def plain_line(label: str, rows: ViewRows) -> str:
    """One line for a pipe or a log file: ``[m/ds] elapsed 1.0 s | remaining ... | ...``."""
    return label + " " + " | ".join(f"{name} {value}" for name, value in rows)


def render_table(label: str, rows: ViewRows) -> RenderableType:
    """The terminal form: the label, then one row per figure."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for name, value in rows:
        table.add_row(Text(name), Text(value))
    return Group(Text(label, style="bold"), table)  # Text: no rich markup read into a model's name


def _start_live(stream: TextIO, first: RenderableType) -> Live:
    """A ``rich`` live display on ``stream`` redrawn only when told (no refresh thread: the view is
    driven by the main process's watch loop, and a thread would stop worker processes from being
    forked in a later run of the same process)."""
    from rich.console import Console
    from rich.live import Live

    live = Live(first, console=Console(file=stream), auto_refresh=False, redirect_stdout=False, redirect_stderr=False)
    live.start(refresh=True)
    return live
