"""The traffic line printed before sending describes the schedule the run really follows."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from ais_bench.cli.perf_task import pace_text
from ais_bench.config.models import TrafficConfig


def _model(request_rate: float = 0.0, use_timestamp: bool = False, **traffic: object) -> SimpleNamespace:
    return SimpleNamespace(request_rate=request_rate, use_timestamp=use_timestamp, traffic_cfg=TrafficConfig(**traffic))


def _plan(offsets: np.ndarray | None, pressure: bool = False) -> SimpleNamespace:
    return SimpleNamespace(send_offsets_s=offsets, pressure=pressure)


def test_a_ramp_is_described_by_its_start_and_end_rates_not_by_request_rate() -> None:
    model = _model(0.0, ramp_up_strategy="linear", ramp_up_start_rps=2.0, ramp_up_end_rps=8.0, burstiness=0.0)
    text = pace_text(model, _plan(np.zeros(3)), model.request_rate)
    assert text == "requests on a linear ramp from 2/s to 8/s (evenly spaced)"


def test_pressure_mode_shows_the_client_rate_actually_used() -> None:
    text = pace_text(_model(5.0), _plan(np.zeros(3), pressure=True), 2.5)  # CONNECTION_ADD_RATE = 2.5
    assert text == "clients added at 2.5/s (Poisson arrivals)"


def test_a_timestamp_replay_shows_its_span_and_mean_rate() -> None:
    text = pace_text(_model(use_timestamp=True), _plan(np.array([0.0, 0.5, 2.0])), 0.0)
    assert text == "on the dataset's timestamps (3 sends over 2 s, mean 1 req/s)"
