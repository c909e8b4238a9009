"""The metric names of the common LLM servers, by what they measure.

Looked up in each project's sources (docs/metrics.md lists them with what is derived from each):
vLLM ``vllm/v1/metrics/loggers.py`` (and the v0 names of ``vllm/engine/metrics.py``), SGLang
``python/sglang/srt/metrics/collector.py``, TGI ``router/src`` (``docs/source/reference/metrics.md``),
Triton's TensorRT-LLM backend (``nv_trt_llm_*`` families) and Triton core (``nv_inference_*``),
llama.cpp ``tools/server/server-task.cpp`` / ``server-context.cpp`` (``llamacpp:`` prefix, served with
``--metrics``; ``server.cpp`` in older builds). Names not listed here are kept raw in the outputs and
derive nothing.

Each server's token counters also say *when* they move (:data:`Counting`), read in the same sources,
so that the cross-check builds the client's figure the same way (docs/metrics.md says what was read where).

A :class:`Selector` is a sample name, optionally with one label that must have a given value (Triton
puts several gauges in one family). For each quantity the first selector present in the scraped
series is used, so a newer name listed first wins over an older one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

#: When a token counter grows: ``per_step`` as the tokens are produced (each engine step);
#: ``at_first_token`` by a request's whole prompt when its first token comes out (its prefill done);
#: ``at_end`` by a request's whole count when it finishes; ``at_arrival`` when the server accepts it.
Counting = Literal["per_step", "at_first_token", "at_end", "at_arrival"]


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
    (tokens per step). Counters: ``prompt_tokens`` (every prompt token, prefix-cache hits included),
    ``prompt_tokens_computed`` (only the prompt tokens the server evaluated: a server that counts no
    cached token), ``prompt_tokens_cached`` (prompt tokens reused from a cache), ``generation_tokens``,
    ``prefix_hits`` / ``prefix_queries`` (tokens), ``spec_drafts`` (draft rounds), ``spec_draft_tokens``,
    ``spec_accepted_tokens``. Histograms (base names, without ``_bucket``): ``ttft``, ``itl``.
    ``prompt_counted`` / ``generation_counted``: when the prompt and generation counters move.
    """

    server: str
    prefix: str
    running: tuple[Selector, ...] = ()
    waiting: tuple[Selector, ...] = ()
    kv_usage: tuple[Selector, ...] = ()
    prompt_tokens: tuple[Selector, ...] = ()
    prompt_tokens_computed: tuple[Selector, ...] = ()
    prompt_tokens_cached: tuple[Selector, ...] = ()
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
    prompt_counted: Counting | None = None
    generation_counted: Counting | None = None


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
    # TGI's token counts: the sums of its per-request histograms (input length observed when the router
    # validates a request, generated tokens when it sends the last answer)
    ("prompt_tokens", "vllm", "vllm:prompt_tokens_total"),
    ("prompt_tokens", "sglang", "sglang:prompt_tokens_total"),
    ("prompt_tokens", "tgi", "tgi_request_input_length_sum"),
    # llama.cpp counts only the prompt tokens it evaluated: a prefix reused from the slot's cache is not
    # counted (newer builds count it in prompt_tokens_cached_total)
    ("prompt_tokens_computed", "llamacpp", "llamacpp:prompt_tokens_total"),
    ("prompt_tokens_cached", "vllm", "vllm:prompt_tokens_cached_total"),
    ("prompt_tokens_cached", "sglang", "sglang:cached_tokens_total"),
    ("prompt_tokens_cached", "llamacpp", "llamacpp:prompt_tokens_cached_total"),
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


def _from_table(server: str, prefix: str, prompt_counted: Counting, generation_counted: Counting) -> ServerNames:
    """``server``'s rows of ``_NAMES`` as its ``ServerNames``, with when its token counters move."""
    names: dict[str, list[str]] = {}
    for quantity, row_server, name in _NAMES:
        if row_server == server:
            names.setdefault(quantity, []).append(name)
    quantities: dict[str, Any] = {
        quantity: tuple(found) if quantity in _HISTOGRAMS else _s(*found) for quantity, found in names.items()
    }
    return ServerNames(
        server, prefix, **quantities, prompt_counted=prompt_counted, generation_counted=generation_counted
    )


# vllm/v1/metrics/stats.py IterationStats.update_from_output: each engine output's new tokens; a
# request's whole prompt length in the output that ends its prefill
VLLM = _from_table("vllm", "vllm:", "at_first_token", "per_step")
# TokenizerMetricsCollector.observe_one_finished_request, called when a request finishes
SGLANG = _from_table("sglang", "sglang:", "at_end", "at_end")
# router/src/validation.rs (input length, at arrival), server.rs (generated tokens, after the last token)
TGI = _from_table("tgi", "tgi_", "at_arrival", "at_end")
# server-context.cpp: a slot's decoded tokens are added when it is released, after the request's last
# answer; its evaluated prompt tokens per decode batch (older builds: when the prompt is done)
LLAMACPP = _from_table("llamacpp", "llamacpp:", "at_first_token", "at_end")
TRITON = ServerNames(
    "triton", "nv_",
    running=(Selector("nv_trt_llm_request_metrics", ("request_type", "scheduled")),),
    waiting=(
        Selector("nv_trt_llm_request_metrics", ("request_type", "waiting")),
        Selector("nv_inference_pending_request_count"),
    ),
    kv_usage=(Selector("nv_trt_llm_kv_cache_block_metrics", ("kv_cache_block_type", "fraction")),),
    # no token counter: the backend's token figures (nv_trt_llm_inflight_batcher_metrics
    # {inflight_batcher_specific_metric="total_context_tokens"}, the V1 model's total_generation_tokens)
    # are gauges of the current iteration, not cumulative counts
)

#: Every known server, in the order a mixed scrape (e.g. Triton serving vLLM) reports them.
KNOWN_SERVERS: tuple[ServerNames, ...] = (VLLM, SGLANG, TGI, LLAMACPP, TRITON)
#: Gauges whose label sets are averaged (fractions); counts of requests are added up over label sets.
FRACTION_GAUGES = ("kv_usage", "prefix_hit_rate", "spec_accept_rate", "spec_accept_length")


def servers_present(names: set[str]) -> list[ServerNames]:
    """The known servers with at least one sample name of their prefix in ``names``."""
    return [server for server in KNOWN_SERVERS if any(name.startswith(server.prefix) for name in names)]
