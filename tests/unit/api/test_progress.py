"""The live view: its figures with known numbers, the plain lines of a pipe, the terminal table."""

from __future__ import annotations

import io

import numpy as np
from rich.console import Console

from ais_bench.api.progress import ProgressPrinter, duration_text, percentiles_text, plain_line, render_table
from ais_bench.engine.live import LiveFigures, LogHistogram, SparseTally
from ais_bench.engine.shared import LoadTotals
from tests.support.fake_clock import FakeClock

TOTALS = LoadTotals()
LABEL = "[m/ds]"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _figures(ttft_s: list[float], itl_s: list[float], buckets: dict[int, int], tokens: dict[int, int],
             complete_until_s: float) -> LiveFigures:
    """One worker's figures, its first send at 10 s."""
    ttft, itl = LogHistogram(), LogHistogram()
    ttft.add(np.array(ttft_s))
    itl.add(np.array(itl_s))
    figures = LiveFigures(workers=1, start_at_s=10.0)
    figures.add(0, SparseTally(ttft.to_sparse(), itl.to_sparse(), buckets, tokens, complete_until_s))
    return figures


def test_durations_are_shown_with_three_significant_digits() -> None:
    assert duration_text(0.0412) == "41.2 ms"
    assert duration_text(0.0005) == "0.500 ms"
    assert duration_text(0.1004) == "100 ms"
    assert duration_text(0.04) == "40.0 ms"
    assert duration_text(1.5) == "1.50 s"


def test_the_view_shows_known_figures() -> None:
    # TTFT: 40 ms x 3 (p50 = p99 = 40 ms exactly: a single value is kept exact); ITL 12.5 ms x 5;
    # 6 requests and 600 tokens ended in the first 2 s (buckets 0..3), complete until 12.2 s
    figures = _figures([0.04] * 3, [0.0125] * 5, {0: 1, 1: 2, 3: 3}, {0: 100, 1: 200, 3: 300}, 12.2)
    printer = ProgressPrinter(LABEL, 20, batch_size=4, stream=io.StringIO())
    totals = LoadTotals(sent=10, finished=6, failed=1, in_flight=4)
    rows = printer.rows(totals, 2.25, figures)
    assert rows == [
        ("elapsed", "2.2 s"),
        ("remaining", "14 of 20 requests"),
        ("requests", "done 6/20, failed 1, in flight 4"),
        # buckets 0..3 (4 x 0.5 s): 6 requests / 2 s, 600 tokens / 2 s
        ("throughput", "3.0 req/s, 300 output tok/s (last 2 s)"),
        ("TTFT", "p50 40.0 ms, p99 40.0 ms"),
        ("ITL", "p50 12.5 ms, p99 12.5 ms"),
        ("steady stage", "not yet (in flight 4 of batch_size 4)"),
    ]


def test_percentiles_of_a_known_set_are_the_hand_computed_ones() -> None:
    hist = LogHistogram()
    hist.add(np.array([0.020] * 60 + [0.030] * 39 + [0.250]))
    # nearest rank over 100 values: p50 = the 50th = 20 ms, p99 = the 99th = 30 ms; each is shown as
    # the middle of its 4.7 %-wide bin, so as 20.x and 29.x/30.x ms
    text = percentiles_text(hist)
    p50_ms, p99_ms = (float(part.split()[1]) for part in text.split(", "))
    assert abs(p50_ms - 20) <= 20 * 0.047 and abs(p99_ms - 30) <= 30 * 0.047
    assert percentiles_text(LogHistogram()) == "-"


def test_pressure_mode_shows_the_time_left_then_the_requests_it_waits_for() -> None:
    printer = ProgressPrinter(LABEL, None, batch_size=8, pressure_time_s=30, stream=io.StringIO())
    figures = LiveFigures(workers=1)
    rows = dict(printer.rows(LoadTotals(sent=9, finished=1, in_flight=8, clients=8), 12.0, figures))
    assert rows["remaining"] == "18.0 s of 30 s (pressure)"
    assert rows["requests"] == "done 1, failed 0, in flight 8, clients 8"
    assert rows["throughput"] == "-"  # no complete bucket reported yet
    rows = dict(printer.rows(LoadTotals(sent=40, finished=37, in_flight=3, clients=8), 30.5, figures))
    assert rows["remaining"] == "pressure time over, waiting for 3 in flight"


def test_elapsed_before_the_first_send_is_shown_as_zero() -> None:
    """The run's clock starts at the first planned send, a few ms after the workers are released."""
    printer = ProgressPrinter(LABEL, 10, batch_size=2, stream=io.StringIO())
    assert dict(printer.rows(TOTALS, -0.04, LiveFigures(workers=1)))["elapsed"] == "0.0 s"


def test_the_steady_stage_is_shown_once_started() -> None:
    printer = ProgressPrinter(LABEL, 10, batch_size=2, stream=io.StringIO())
    figures = LiveFigures(workers=1)
    printer(LoadTotals(sent=2, in_flight=2), 0.1, figures)
    printer(LoadTotals(sent=3, finished=1, in_flight=2), 0.35, figures)
    assert dict(printer.rows(LoadTotals(sent=3, finished=1, in_flight=2), 0.4, figures))["steady stage"] == (
        "started at 0.3 s"  # 0.35 shown with one decimal
    )


def test_on_a_pipe_a_plain_line_every_interval_and_one_at_the_end() -> None:
    clock = FakeClock(100.0)
    stream = io.StringIO()
    printer = ProgressPrinter(LABEL, 10, batch_size=2, stream=stream, log_every_s=5.0, clock=clock)
    figures = LiveFigures(workers=1)
    printer(TOTALS, 0.0, figures)  # the first call shows at once
    for _ in range(19):  # every 0.25 s up to 4.75 s: nothing new
        clock.set(clock.now + 0.25)
        printer(TOTALS, clock() - 100.0, figures)
    clock.set(clock.now + 0.25)
    printer(LoadTotals(sent=4, finished=2, in_flight=2), 5.0, figures)  # 5 s after the first line
    clock.set(clock.now + 0.1)
    printer.finish(LoadTotals(sent=10, finished=10), 5.1, figures)  # the end: always shown
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("[m/ds] elapsed 0.0 s | remaining 10 of 10 requests | requests done 0/10, ")
    assert "elapsed 5.0 s | remaining 8 of 10 requests" in lines[1]
    assert lines[2] == plain_line(LABEL, printer.rows(LoadTotals(sent=10, finished=10), 5.1, figures))
    assert "\x1b" not in stream.getvalue()  # no escape codes in a log


def test_a_plain_line_joins_the_rows() -> None:
    assert plain_line("[a/b]", [("elapsed", "1.0 s"), ("TTFT", "-")]) == "[a/b] elapsed 1.0 s | TTFT -"


def test_the_terminal_table_holds_every_row() -> None:
    rows = [("elapsed", "2.2 s"), ("TTFT", "p50 40.0 ms, p99 40.0 ms")]
    console = Console(file=io.StringIO(), width=100, color_system=None)
    with console.capture() as capture:
        console.print(render_table(LABEL, rows))
    lines = [line.rstrip() for line in capture.get().splitlines()]
    assert lines == ["[m/ds]", "elapsed  2.2 s", "TTFT     p50 40.0 ms, p99 40.0 ms"]


def test_on_a_terminal_the_view_is_redrawn_at_most_every_second_and_ends_with_its_last_frame() -> None:
    clock = FakeClock(0.0)
    terminal = _Terminal()
    printer = ProgressPrinter(LABEL, 10, batch_size=2, stream=terminal, clock=clock)
    figures = LiveFigures(workers=1)
    printer(LoadTotals(sent=2, in_flight=2), 0.0, figures)
    clock.set(clock.now + 0.5)
    printer(LoadTotals(sent=3, finished=1, in_flight=2), 0.5, figures)  # too soon: not drawn
    assert "done 1/10" not in terminal.getvalue()
    clock.set(clock.now + 0.5)
    printer(LoadTotals(sent=4, finished=2, in_flight=2), 1.0, figures)
    assert "done 2/10" in terminal.getvalue()
    printer.finish(LoadTotals(sent=10, finished=10), 2.0, figures)
    assert "done 10/10" in terminal.getvalue()
    printer.close()  # a second close does nothing
