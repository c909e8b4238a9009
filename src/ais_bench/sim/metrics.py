"""The simulator's ``GET /metrics``: Prometheus text with vLLM's names (``vllm:`` prefix), from the
engine's own state, rendered by ``prometheus-client``.

- ``vllm:num_requests_running`` / ``vllm:num_requests_waiting``: sequences in slots / in the queue;
- ``vllm:kv_cache_usage_perc``: the share of the ``max_num_seqs`` slots in use (the simulator's KV
  cache is its slots);
- ``vllm:prompt_tokens_total``: input tokens of the admitted sequences (counted at their prefill);
- ``vllm:generation_tokens_total``: tokens emitted (one per running sequence per step);
- ``vllm:time_to_first_token_seconds``: submission to first token, with vLLM's bucket bounds
  (``sim/histogram.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ais_bench.sim.engine import SimEngine

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _EngineCollector:
    def __init__(self, engine: SimEngine, model_name: str) -> None:
        self._engine = engine
        self._labels = {"engine": "0", "model_name": model_name}

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        engine, names, values = self._engine, list(self._labels), list(self._labels.values())
        load = engine.load()
        for name, doc, value in (
            ("vllm:num_requests_running", "Number of requests in model execution batches.", load["running"]),
            ("vllm:num_requests_waiting", "Number of requests waiting to be processed.", load["waiting"]),
            ("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", load["running"] / engine.max_num_seqs),
        ):
            gauge = GaugeMetricFamily(name, doc, labels=names)
            gauge.add_metric(values, float(value))
            yield gauge
        for name, doc, value in (
            ("vllm:prompt_tokens", "Number of prefill tokens processed.", engine.prompt_tokens),
            ("vllm:generation_tokens", "Number of generation tokens processed.", engine.tokens_emitted),
        ):
            counter = CounterMetricFamily(name, doc, labels=names)
            counter.add_metric(values, float(value))
            yield counter
        histogram = HistogramMetricFamily(
            "vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", labels=names
        )
        histogram.add_metric(values, engine.ttft.cumulative(), sum_value=engine.ttft.sum_s)
        yield histogram


def render_metrics(engine: SimEngine, model_name: str) -> bytes:
    """The ``/metrics`` body now."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_EngineCollector(engine, model_name))
    return generate_latest(registry)
