"""Live progress on the terminal: sent, finished, failed, in flight, elapsed."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from ais_bench.engine.shared import LoadTotals


class ProgressPrinter:
    """Redraws one status line on a terminal (at most ``refresh_s`` apart); on a pipe or file
    prints a plain line every ``log_every_s`` seconds instead."""

    def __init__(
        self,
        label: str,
        total: int | None,
        pressure_time_s: float | None = None,
        stream: TextIO | None = None,
        refresh_s: float = 0.25,
        log_every_s: float = 5.0,
    ) -> None:
        self.label = label
        self.total = total
        self.pressure_time_s = pressure_time_s
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self.interval_s = refresh_s if self.interactive else log_every_s
        self._last_s = 0.0
        self._drawn = False

    def __call__(self, totals: LoadTotals, elapsed_s: float) -> None:
        now = time.monotonic()
        if now - self._last_s < self.interval_s:
            return
        self._last_s = now
        line = self.format(totals, elapsed_s)
        if self.interactive:
            self.stream.write("\r\x1b[2K" + line)
            self._drawn = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def format(self, totals: LoadTotals, elapsed_s: float) -> str:
        """``elapsed_s``: seconds since the first planned send (negative just before it: shown as 0)."""
        elapsed_s = max(elapsed_s, 0.0)
        done = totals.finished
        parts = [self.label]
        if self.pressure_time_s is not None:
            shown = min(elapsed_s, self.pressure_time_s)
            parts.append(f"{shown:6.1f}/{self.pressure_time_s:.0f} s")
            parts.append(f"clients {totals.clients}")
            if elapsed_s >= self.pressure_time_s and totals.in_flight:
                parts.append(f"waiting for {totals.in_flight} in-flight requests")
        else:
            goal = f"/{self.total}" if self.total is not None else ""
            parts.append(f"elapsed {elapsed_s:6.1f} s")
            parts.append(f"finished {done}{goal}")
        parts.append(f"sent {totals.sent}")
        parts.append(f"done {done}")
        parts.append(f"failed {totals.failed}")
        parts.append(f"in flight {totals.in_flight}")
        return " | ".join(parts)

    def finish(self, totals: LoadTotals, elapsed_s: float) -> None:
        self._last_s = 0.0
        self(totals, elapsed_s)
        if self.interactive and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
