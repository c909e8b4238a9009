"""The metric names of the common LLM servers, by what they measure.

Looked up in each project's sources (docs/metrics.md lists them with what is derived from each):
vLLM ``vllm/v1/metrics/loggers.py`` (and the v0 names of ``vllm/engine/metrics.py``), SGLang
``python/sglang/srt/metrics/collector.py``, TGI ``router/src`` (``docs/source/reference/metrics.md``),
Triton's TensorRT-LLM backend (``nv_trt_llm_*`` families) and Triton core (``nv_inference_*``),
llama.cpp ``tools/server/server.cpp`` (``llamacpp:`` prefix, served with ``--metrics``).
Names not listed here are kept raw in the outputs and derive nothing.

A :class:`Selector` is a sample name, optionally with one label that must have a given value (Triton
puts several gauges in one family). For each quantity the first selector present in the scraped
series is used, so a newer name listed first wins over an older one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Selector:
    """Samples named ``name`` (with ``label`` = (key, value) when given)."""

    name: str
    label: tuple[str, str] | None = None


def _s(*names: str) -> tuple[Selector, ...]:
    return tuple(Selector(name) for name in names)


@dataclass(frozen=True)
class ServerNames:
    """What one server calls each quantity (empty: the server does not expose it).

    Gauges: ``running`` / ``waiting`` (requests), ``kv_usage`` (fraction 0..1 of the KV cache in
    use), ``prefix_hit_rate`` (fraction), ``spec_accept_rate`` (fraction), ``spec_accept_length``
    (tokens per step). Counters: ``prompt_tokens``, ``generation_tokens``, ``prefix_hits`` /
    ``prefix_queries`` (tokens), ``spec_drafts`` (draft rounds), ``spec_draft_tokens``,
    ``spec_accepted_tokens``. Histograms (base names, without ``_bucket``): ``ttft``, ``itl``.
    """

    server: str
    prefix: str
    running: tuple[Selector, ...] = ()
    waiting: tuple[Selector, ...] = ()
    kv_usage: tuple[Selector, ...] = ()
    prompt_tokens: tuple[Selector, ...] = ()
    generation_tokens: tuple[Selector, ...] = ()
    prefix_hits: tuple[Selector, ...] = ()
    prefix_queries: tuple[Selector, ...] = ()
    prefix_hit_rate: tuple[Selector, ...] = ()
    spec_drafts: tuple[Selector, ...] = ()
    spec_draft_tokens: tuple[Selector, ...] = ()
    spec_accepted_tokens: tuple[Selector, ...] = ()
    spec_accept_rate: tuple[Selector, ...] = ()
    spec_accept_length: tuple[Selector, ...] = ()
    ttft: tuple[str, ...] = ()
    itl: tuple[str, ...] = ()


#: What each server calls each quantity (a ``ServerNames`` field), grouped by quantity: (quantity,
#: server, name). A quantity with two rows for one server was renamed: the newer name stands first.
#: Triton's gauges carry labels: ``TRITON`` below.
_NAMES: tuple[tuple[str, str, str], ...] = (
    ("running", "vllm", "vllm:num_requests_running"),
    ("running", "sglang", "sglang:num_running_reqs"),
    ("running", "tgi", "tgi_batch_current_size"),
    ("running", "llamacpp", "llamacpp:requests_processing"),
    ("waiting", "vllm", "vllm:num_requests_waiting"),
    ("waiting", "sglang", "sglang:num_queue_reqs"),
    ("waiting", "tgi", "tgi_queue_size"),
    ("waiting", "llamacpp", "llamacpp:requests_deferred"),
    ("kv_usage", "vllm", "vllm:kv_cache_usage_perc"),
    ("kv_usage", "vllm", "vllm:gpu_cache_usage_perc"),
    ("kv_usage", "sglang", "sglang:token_usage"),
    ("kv_usage", "llamacpp", "llamacpp:kv_cache_usage_ratio"),
    # TGI's token counts: the sums of its per-request histograms grow by each finished request's tokens
    ("prompt_tokens", "vllm", "vllm:prompt_tokens_total"),
    ("prompt_tokens", "sglang", "sglang:prompt_tokens_total"),
    ("prompt_tokens", "tgi", "tgi_request_input_length_sum"),
    ("prompt_tokens", "llamacpp", "llamacpp:prompt_tokens_total"),
    ("generation_tokens", "vllm", "vllm:generation_tokens_total"),
    ("generation_tokens", "sglang", "sglang:generation_tokens_total"),
    ("generation_tokens", "tgi", "tgi_request_generated_tokens_sum"),
    ("generation_tokens", "llamacpp", "llamacpp:tokens_predicted_total"),
    ("prefix_hits", "vllm", "vllm:prefix_cache_hits_total"),
    ("prefix_hits", "sglang", "sglang:cached_tokens_total"),
    ("prefix_queries", "vllm", "vllm:prefix_cache_queries_total"),
    ("prefix_queries", "sglang", "sglang:prompt_tokens_total"),
    ("prefix_hit_rate", "vllm", "vllm:gpu_prefix_cache_hit_rate"),
    ("prefix_hit_rate", "sglang", "sglang:cache_hit_rate"),
    ("spec_drafts", "vllm", "vllm:spec_decode_num_drafts_total"),
    ("spec_draft_tokens", "vllm", "vllm:spec_decode_num_draft_tokens_total"),
    ("spec_accepted_tokens", "vllm", "vllm:spec_decode_num_accepted_tokens_total"),
    ("spec_accept_rate", "sglang", "sglang:spec_accept_rate"),
    ("spec_accept_length", "sglang", "sglang:spec_accept_length"),
    ("ttft", "vllm", "vllm:time_to_first_token_seconds"),
    ("ttft", "sglang", "sglang:time_to_first_token_seconds"),
    ("itl", "vllm", "vllm:inter_token_latency_seconds"),
    ("itl", "vllm", "vllm:time_per_output_token_seconds"),
    ("itl", "sglang", "sglang:inter_token_latency_seconds"),
    ("itl", "sglang", "sglang:time_per_output_token_seconds"),
    ("itl", "tgi", "tgi_request_mean_time_per_token_duration"),
)
#: The quantities that are histograms: their names are base names (without ``_bucket``), not selectors.
_HISTOGRAMS = ("ttft", "itl")


def _from_table(server: str, prefix: str) -> ServerNames:
    """``server``'s rows of ``_NAMES`` as its ``ServerNames``."""
    names: dict[str, list[str]] = {}
    for quantity, row_server, name in _NAMES:
        if row_server == server:
            names.setdefault(quantity, []).append(name)
    quantities: dict[str, Any] = {
        quantity: tuple(found) if quantity in _HISTOGRAMS else _s(*found) for quantity, found in names.items()
    }
    return ServerNames(server, prefix, **quantities)


VLLM = _from_table("vllm", "vllm:")
SGLANG = _from_table("sglang", "sglang:")
TGI = _from_table("tgi", "tgi_")
LLAMACPP = _from_table("llamacpp", "llamacpp:")
TRITON = ServerNames(
    "triton", "nv_",
    running=(Selector("nv_trt_llm_request_metrics", ("request_type", "scheduled")),),
    waiting=(
        Selector("nv_trt_llm_request_metrics", ("request_type", "waiting")),
        Selector("nv_inference_pending_request_count"),
    ),
    kv_usage=(Selector("nv_trt_llm_kv_cache_block_metrics", ("kv_cache_block_type", "fraction")),),
)

#: Every known server, in the order a mixed scrape (e.g. Triton serving vLLM) reports them.
KNOWN_SERVERS: tuple[ServerNames, ...] = (VLLM, SGLANG, TGI, LLAMACPP, TRITON)
#: Gauges whose label sets are averaged (fractions); counts of requests are added up over label sets.
FRACTION_GAUGES = ("kv_usage", "prefix_hit_rate", "spec_accept_rate", "spec_accept_length")


def servers_present(names: set[str]) -> list[ServerNames]:
    """The known servers with at least one sample name of their prefix in ``names``."""
    return [server for server in KNOWN_SERVERS if any(name.startswith(server.prefix) for name in names)]
