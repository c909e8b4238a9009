"""derive() on the recorded /metrics samples of each server (tests/data/server_metrics/): every
number is computed by hand from the values written in the sample files."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from ais_bench.records.server_series import ServerSeries
from ais_bench.server_metrics import StageWindow, derive
from ais_bench.server_metrics.derive import bucket_quantile
from ais_bench.server_metrics.exposition import ExpositionError, parse_exposition

SAMPLES = Path(__file__).parents[2] / "data" / "server_metrics"
_SCRAPE = re.compile(r"^# ais_bench scrape t_s=([0-9.]+)$", re.MULTILINE)


def recorded_series(server: str) -> ServerSeries:
    """The scrapes of a sample file as the scraper stores them."""
    text = (SAMPLES / f"{server}.txt").read_text(encoding="utf-8")
    parts = _SCRAPE.split(text)[1:]
    rows = []
    for t_text, body in zip(parts[::2], parts[1::2], strict=True):
        rows += [(float(t_text), name, labels, value) for name, labels, value in parse_exposition(body)]
    return ServerSeries.of(rows)


def only_server(series: ServerSeries, start_s: float, end_s: float) -> dict:
    summary = derive(series, StageWindow("total", start_s, end_s))
    assert len(summary.servers) == 1
    return summary.servers[0].to_json_dict()


def test_vllm_derived_from_counters_gauges_and_histogram() -> None:
    got = only_server(recorded_series("vllm"), 100.0, 110.0)
    assert got["running_requests"] == {"mean": 6.0, "max": 8.0, "samples": 2}
    assert got["waiting_requests"] == {"mean": 1.0, "max": 2.0, "samples": 2}
    assert got["kv_cache_usage"]["mean"] == pytest.approx(0.6)
    assert got["kv_cache_usage"]["max"] == pytest.approx(0.7)
    assert got["prefix_cache_hit_rate"] == pytest.approx(600 / 2000)
    assert got["spec_decode_acceptance_rate"] == pytest.approx(450 / 600)
    assert got["spec_decode_mean_accepted_length"] == pytest.approx(1 + 450 / 200)
    assert (got["prompt_tokens"], got["prompt_tokens_per_s"]) == (2000.0, 200.0)
    assert (got["generation_tokens"], got["generation_tokens_per_s"]) == (4000.0, 400.0)
    assert got["counter_span_s"] == [100.0, 110.0]
    ttft = got["ttft"]
    assert ttft["count"] == 80.0 and ttft["mean_s"] == pytest.approx(40 / 80)
    # increases per bucket: <=0.1: 0, <=0.5: 40, <=1.0: 80; ranks 40, 72, 79.2
    assert ttft["p50_s"] == pytest.approx(0.1 + 0.4 * 40 / 40)
    assert ttft["p90_s"] == pytest.approx(0.5 + 0.5 * 32 / 40)
    assert ttft["p99_s"] == pytest.approx(0.5 + 0.5 * 39.2 / 40)
    assert got["itl"] is None


def test_sglang_prefix_hits_from_cached_tokens_and_itl_histogram() -> None:
    got = only_server(recorded_series("sglang"), 200.0, 210.0)
    assert got["running_requests"] == {"mean": 4.0, "max": 5.0, "samples": 2}
    assert got["waiting_requests"] == {"mean": 2.0, "max": 4.0, "samples": 2}
    assert got["kv_cache_usage"]["mean"] == pytest.approx(0.3)
    assert got["prefix_cache_hit_rate"] == pytest.approx(500 / 1000)  # the counters win over the gauge
    assert got["spec_decode_mean_accepted_length"] == pytest.approx(2.5)
    assert got["spec_decode_acceptance_rate"] is None
    assert got["generation_tokens_per_s"] == 100.0
    itl = got["itl"]
    assert itl["count"] == 400.0 and itl["mean_s"] == pytest.approx(8.0 / 400)
    assert itl["p50_s"] == pytest.approx(0.01)
    assert itl["p90_s"] == pytest.approx(0.01 + 0.04 * 160 / 200)
    assert itl["p99_s"] == pytest.approx(0.01 + 0.04 * 196 / 200)


def test_tgi_tokens_from_histogram_sums() -> None:
    got = only_server(recorded_series("tgi"), 300.0, 310.0)
    assert got["running_requests"]["mean"] == 3.0 and got["waiting_requests"]["mean"] == 2.0
    assert got["kv_cache_usage"] is None
    assert got["prompt_tokens_per_s"] == 200.0 and got["generation_tokens_per_s"] == 100.0
    itl = got["itl"]
    assert itl["count"] == 20.0 and itl["mean_s"] == pytest.approx(0.6 / 20)
    assert itl["p50_s"] == pytest.approx(0.02)
    assert itl["p90_s"] == pytest.approx(0.02 + 0.02 * 8 / 10)


def test_triton_gauges_picked_by_label() -> None:
    got = only_server(recorded_series("triton"), 400.0, 410.0)
    assert got["running_requests"] == {"mean": 8.0, "max": 10.0, "samples": 2}
    assert got["waiting_requests"] == {"mean": 2.0, "max": 3.0, "samples": 2}
    assert got["kv_cache_usage"]["mean"] == pytest.approx(0.2)
    assert got["generation_tokens"] is None


def test_llamacpp_counter_reset_counts_from_zero() -> None:
    got = only_server(recorded_series("llamacpp"), 500.0, 510.0)
    # llama.cpp's prompt_tokens_total counts only the prompt tokens it evaluated
    assert got["prompt_tokens"] is None and got["prompt_tokens_computed"] == 400 + 100
    assert got["prompt_tokens_cached"] == 300 + 50
    assert got["prompt_cache_share"] == pytest.approx(350 / (500 + 350))
    assert got["generation_tokens"] == 300 + 200
    assert got["generation_tokens_per_s"] == 50.0
    assert got["running_requests"] == {"mean": 3.0, "max": 4.0, "samples": 3}
    assert got["waiting_requests"] == {"mean": 1.0, "max": 2.0, "samples": 3}


def test_counter_span_brackets_the_window_and_gauges_stay_inside() -> None:
    series = recorded_series("llamacpp")
    got = only_server(series, 502.0, 507.0)  # scrapes at 500, 505, 510
    assert got["counter_span_s"] == [500.0, 510.0]
    assert got["running_requests"] == {"mean": 2.0, "max": 2.0, "samples": 1}
    assert derive(series, StageWindow("stable", 502.0, 507.0)).scrapes == 1


def test_unknown_names_derive_nothing() -> None:
    series = ServerSeries.of([(1.0, "DCGM_FI_DEV_GPU_UTIL", 'gpu="0"', 93.0), (2.0, "DCGM_FI_DEV_GPU_UTIL", 'gpu="0"', 95.0)])
    summary = derive(series, StageWindow("total", 1.0, 2.0))
    assert summary.servers == () and summary.scrapes == 2


def test_parse_drops_created_samples_and_refuses_garbage() -> None:
    samples = parse_exposition('# TYPE x_total counter\nx_total{b="2",a="1"} 3\nx_created 1.7e9\n')
    assert samples == [("x_total", 'a="1",b="2"', 3.0)]
    with pytest.raises(ExpositionError):
        parse_exposition("<html>not metrics</html>\n")


def test_bucket_quantile_in_the_inf_bucket_is_the_largest_bound() -> None:
    bounds = np.array([0.1, 0.2, np.inf])
    assert bucket_quantile(0.99, bounds, np.array([0.0, 1.0, 10.0])) == 0.2
    assert bucket_quantile(0.5, bounds, np.array([0.0, 0.0, 0.0])) is None


def test_gauge_series_over_the_whole_run() -> None:
    from ais_bench.server_metrics.derive import gauge_series

    (gauges,) = gauge_series(recorded_series("llamacpp"))
    assert gauges.server == "llamacpp" and gauges.kv_usage is None
    assert gauges.running is not None and gauges.waiting is not None
    assert gauges.running[0].tolist() == [500.0, 505.0, 510.0] and gauges.running[1].tolist() == [4.0, 2.0, 3.0]
    assert gauges.waiting[1].tolist() == [0.0, 1.0, 2.0]
