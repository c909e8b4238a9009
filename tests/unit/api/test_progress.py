"""The live progress line."""

from __future__ import annotations

import io

from ais_bench.api.progress import ProgressPrinter
from ais_bench.engine.shared import LoadTotals

TOTALS = LoadTotals()


def test_elapsed_before_the_first_send_is_shown_as_zero() -> None:
    """The run's clock starts at the first planned send, a few ms after the workers are released."""
    printer = ProgressPrinter("[m/ds]", 10, stream=io.StringIO())
    line = printer.format(TOTALS, -0.04)
    assert "elapsed    0.0 s" in line and "-0.0" not in line
    pressure = ProgressPrinter("[m/ds]", None, pressure_time_s=30, stream=io.StringIO())
    assert "   0.0/30 s" in pressure.format(TOTALS, -0.001)
