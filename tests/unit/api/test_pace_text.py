"""The traffic line printed before sending describes the schedule the run really follows."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from ais_bench.api.running import pace_text
from ais_bench.load.schedule import TrafficShape


def _planned(
    offsets: np.ndarray | None, pressure: bool = False, use_timestamp: bool = False, **traffic: object
) -> Any:
    plan = SimpleNamespace(send_offsets_s=offsets, pressure=pressure, use_timestamps=use_timestamp)
    return SimpleNamespace(plan=plan, model=SimpleNamespace(traffic_cfg=TrafficShape(**traffic)))  # type: ignore[arg-type]


def test_a_ramp_is_described_by_its_start_and_end_rates_not_by_request_rate() -> None:
    planned = _planned(np.zeros(3), ramp_up_strategy="linear", ramp_up_start_rps=2.0, ramp_up_end_rps=8.0, burstiness=0.0)
    text = pace_text(planned, 0.0)
    assert text == "requests on a linear ramp from 2/s to 8/s (evenly spaced)"


def test_pressure_mode_shows_the_client_rate_actually_used() -> None:
    text = pace_text(_planned(np.zeros(3), pressure=True), 2.5)  # CONNECTION_ADD_RATE = 2.5, request_rate 5
    assert text == "clients added at 2.5/s (Poisson arrivals)"


def test_a_timestamp_replay_shows_its_span_and_mean_rate() -> None:
    text = pace_text(_planned(np.array([0.0, 0.5, 2.0]), use_timestamp=True), 0.0)
    assert text == "on the dataset's timestamps (3 sends over 2 s, mean 1 req/s)"
