"""From validated configs to one ``RunPlan``: items, target URL (model discovery), bodies, schedule."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ais_bench.api.configs import dataset_config, model_config, summarizer_config
from ais_bench.clients.backends import BackendSpec, backend_for
from ais_bench.clients.headers import build_headers
from ais_bench.clients.loop import run_worker_loop
from ais_bench.clients.tls import TLSOptions, TLSSetupError, build_tls_context
from ais_bench.config import (
    DEFAULT_URL_MODEL_FILE,
    DatasetConfig,
    GlobalConsts,
    ModelConfig,
    RunOverrides,
    SummarizerConfig,
    apply_overrides,
    load_global_consts,
)
from ais_bench.datasets import load_items
from ais_bench.datasets.item import Prompt, RequestItem
from ais_bench.distributed.target import RayTarget, import_ray, ray_target
from ais_bench.engine.plan import RunPlan
from ais_bench.engine.preflight import check_reachable, discover_model, encode_bodies
from ais_bench.errors import ConfigError
from ais_bench.load.schedule import LOW_RATE_WARNING, build_send_offsets, choose_worker_count
from ais_bench.metrics.goodput import check_slo_stream
from ais_bench.server_metrics.scraper import DEFAULT_INTERVAL_S, ScrapePlan, default_metrics_url
from ais_bench.tokens import TextTokenizer, load_tokenizer

log = logging.getLogger("ais_bench")


@dataclass(frozen=True)
class PlannedRun:
    """One model x dataset ready to run: the engine's ``plan`` and what its results need (the
    validated configs, the model's tokenizer, the prompts as sent, ``dump_text``)."""

    plan: RunPlan
    model: ModelConfig
    dataset: DatasetConfig
    summarizer: SummarizerConfig
    consts: GlobalConsts
    tokenizer: TextTokenizer | None = None
    dump_text: bool = False
    #: The server metrics to scrape during the load (``--server-metrics``); None: none.
    scrape: ScrapePlan | None = None
    #: The Ray cluster the workers run on (``--ray``); None: worker processes on this machine.
    ray: RayTarget | None = None

    @property
    def out_dir(self) -> Path:
        """``<run_dir>/performances/<model_abbr>``: the results and records of this run."""
        return self.plan.record_dir

    @property
    def prompts(self) -> list[Prompt]:
        """Each item's prompt as the API receives it (by data index), for token counts and ``--dump-text``."""
        spec = backend_for(self.model.backend)
        return [spec.sent_prompt(item) for item in self.plan.items]


def plan_run(
    model: ModelConfig | Mapping[str, Any] | str | None,
    dataset: DatasetConfig | Mapping[str, Any] | str | None,
    *,
    run_dir: Path,
    summarizer: SummarizerConfig | Mapping[str, Any] | str | None = None,
    consts: GlobalConsts | None = None,
    num_prompts: int | None = None,
    num_warmups: int = 1,
    pressure_time_s: int | None = None,
    debug: bool = False,
    dump_text: bool = False,
    overrides: RunOverrides | Mapping[str, Any] | None = None,
    server_metrics: Sequence[str] | None = None,
    server_metrics_interval_s: float = DEFAULT_INTERVAL_S,
    ray: RayTarget | str | bool | None = None,
    ray_workers_per_node: int | None = None,
) -> PlannedRun:
    """Plan one model x dataset run whose results go to ``run_dir/performances/<model abbr>``.

    ``model``, ``dataset``, ``summarizer``: a config object, the keywords of one config entry (a
    dict, as in a config file) or a config name (as ``--models`` / ``--datasets`` / ``--summarizer``
    take it); see ``ais_bench.api.configs``.

    Loads the dataset (its first ``num_prompts`` rows, all when None), checks that the server is
    reachable, discovers the served model when the config names none, encodes every request body and
    plans the sends. ``summarizer``: the stage and statistics (default: every request, the default
    statistics; ``slo``: goodput bounds, ``SummarizerConfig(slo=...)`` or ``dict(..., slo=dict(ttft=200))``);
    ``consts``: the global constants (default: ``load_global_consts()``);
    ``pressure_time_s``: pressure mode for that many seconds; ``num_warmups``: requests sent before
    the load and left out of the results; ``debug``: one worker in a thread of this process;
    ``dump_text``: prompts and generated texts in ``<ds>_details.jsonl``.

    ``overrides``: what the command-line flags override, as ``RunOverrides`` or its keywords (the
    flags' names: ``dict(url="http://127.0.0.1:8000", concurrency=16, isl=128, osl=128)``). With
    ``url``, ``model`` may be None (OpenAI chat, streaming); with ``isl`` and ``osl``, ``dataset``
    may be None (synthetic prompts, ``num_prompts`` of them).
    ``server_metrics``: Prometheus endpoints to scrape during the load every ``server_metrics_interval_s``
    seconds (an empty list: the server's ``<base>/metrics``); None scrapes nothing.
    ``ray``: run the workers as actors of a Ray cluster (``--ray``): True for ``RAY_ADDRESS`` or
    ``auto``, an address, or a ``RayTarget``; ``ray_workers_per_node``: workers on each node (default:
    ``WORKERS_NUM`` spread over the nodes, one per node when it is 0). Needs ``ais_bench[distributed]``.
    """
    consts = consts or load_global_consts()
    on_ray = _ray_target(ray, ray_workers_per_node, consts.workers_num, debug)
    model, dataset = _overridden_configs(model, dataset, RunOverrides.of(overrides), num_prompts)
    summarizer = summarizer_config(summarizer)
    check_slo_stream(summarizer.slo, model.stream)  # before anything is sent
    _check_simulator_started(model)
    tokenizer = load_tokenizer(model.path) if model.path else None
    loaded = load_items(dataset, num_prompts, tokenizer=tokenizer)
    for warning in loaded.warnings:
        log.warning(warning)
    items = list(loaded)
    spec = backend_for(model.backend)
    headers = build_headers(model.api_key or None, model.headers)
    model_name, url, tls = _resolve_endpoint(model, spec, headers)
    bodies = encode_bodies(
        spec, items, model=model_name, stream=model.stream,
        max_out_len=model.max_out_len, generation_kwargs=dict(model.generation_kwargs),
    )
    pressure = pressure_time_s is not None
    plan = RunPlan(
        backend=model.backend,
        url=url,
        headers=headers,
        stream=model.stream,
        items=items,
        bodies=bodies,
        batch_size=model.batch_size,
        workers=choose_worker_count(model.batch_size, consts.workers_num, os.cpu_count() or 1, debug),
        record_dir=Path(run_dir) / "performances" / model.abbr,
        data_abbr=dataset.abbr,
        send_offsets_s=_send_offsets(model, items, send_rate(model, consts, pressure), pressure),
        pressure_time_s=float(pressure_time_s) if pressure_time_s is not None else None,
        retry=model.retry,
        request_timeout_s=consts.request_time_out_s,
        max_chunk_bytes=consts.max_chunk_size_bytes,
        use_timestamps=model.use_timestamp,
        open_loop=model.use_timestamp and not model.timestamp_batch_cap,
        num_warmups=num_warmups,
        debug=debug,
        tls=tls,
    )
    scrape = _scrape_plan(server_metrics, server_metrics_interval_s, model.base_url, plan)
    return PlannedRun(plan, model, dataset, summarizer, consts, tokenizer, dump_text, scrape, on_ray)


def _ray_target(
    ray: RayTarget | str | bool | None, workers_per_node: int | None, workers_num: int, debug: bool
) -> RayTarget | None:
    """The Ray cluster of ``--ray``, checked before anything is loaded: Ray installed, no ``--debug``."""
    target = ray_target(ray, workers_per_node, workers_num)
    if target is not None:
        if debug:
            raise ConfigError("--debug runs one worker inside this process: it cannot be combined with --ray",
                              hint="drop --debug (or --ray)")
        import_ray()
    return target


def _scrape_plan(urls: Sequence[str] | None, interval_s: float, base_url: str, plan: RunPlan) -> ScrapePlan | None:
    """What ``--server-metrics`` scrapes: the URLs given (checked), else ``<base>/metrics``; with the
    requests' headers (but their ``Content-Type``) and TLS options."""
    if urls is None:
        return None
    if not (interval_s > 0 and np.isfinite(interval_s)):
        raise ConfigError(
            f"--server-metrics-interval {interval_s:g} is not a positive number of seconds",
            hint="pass e.g. --server-metrics-interval 1",
        )
    chosen = tuple(urls) or (default_metrics_url(base_url),)
    for url in chosen:
        if not url.startswith(("http://", "https://")) or len(url.split("/", 3)) < 3 or not url.split("/", 3)[2]:
            raise ConfigError(
                f"--server-metrics {url!r} is not an http:// or https:// URL",
                hint="pass the endpoint's full URL, e.g. --server-metrics http://127.0.0.1:8000/metrics",
            )
    headers = {name: value for name, value in plan.headers.items() if name.lower() != "content-type"}
    return ScrapePlan(chosen, float(interval_s), headers, plan.tls)


def _overridden_configs(
    model: ModelConfig | Mapping[str, Any] | str | None,
    dataset: DatasetConfig | Mapping[str, Any] | str | None,
    overrides: RunOverrides,
    num_prompts: int | None,
) -> tuple[ModelConfig, DatasetConfig]:
    """The validated model and dataset with ``overrides`` applied (``config/overrides.py``)."""
    if model is None:
        if overrides.url is None:
            raise ConfigError("no model given", hint="pass a model config (or name), or overrides=dict(url=...)")
        model = str(DEFAULT_URL_MODEL_FILE)
    if dataset is None and not overrides.shapes_synthetic:
        raise ConfigError("no dataset given", hint="pass a dataset config (or name), or overrides=dict(isl=N, osl=N)")
    datasets = [dataset_config(dataset)] if dataset is not None else []
    overridden = apply_overrides([model_config(model)], datasets, overrides, num_prompts=num_prompts)
    for warning in overridden.warnings:
        log.warning(warning)
    return overridden.models[0], overridden.datasets[0]


def _check_simulator_started(model: ModelConfig) -> None:
    """A config with ``simulator=dict(...)`` and port 0 names a simulator that is not running yet."""
    if model.simulator is not None and model.host_port == 0 and not model.url:
        raise ConfigError(
            f"model '{model.abbr}' talks to the embedded simulator, which is not started",
            hint="plan and run inside `with ais_bench.api.serve_simulator(model) as target:`, passing target",
        )


def _resolve_endpoint(model: ModelConfig, spec: BackendSpec, headers: dict[str, str]) -> tuple[str, str, TLSOptions]:
    """(served model name, endpoint URL, TLS options): the name from the config, else discovered
    from the server."""
    model_name = model.model
    url = model.base_url + spec.url_path(stream=model.stream, model_name=model.model_name or model_name)
    tls = _tls_options(model, url)
    check_reachable(url, tls)
    if not model_name and spec.needs_model_name and not model.model_name:
        model_name = run_worker_loop(discover_model(model.base_url, spec.models_endpoint, headers, tls))
        url = model.base_url + spec.url_path(stream=model.stream, model_name=model_name)
    return model_name, url, tls


def _tls_options(model: ModelConfig, url: str) -> TLSOptions:
    """The model's TLS fields, their files loaded once here (a ConfigError names one that cannot be),
    with the warning of ``insecure``."""
    tls = TLSOptions(model.ca_cert, model.insecure, model.client_cert, model.client_key)
    if not url.startswith("https://"):
        return tls
    try:
        build_tls_context(tls)
    except TLSSetupError as exc:
        raise ConfigError(f"{model.source}: model '{model.abbr}': {exc}", hint="point it at a readable PEM file") from None
    if model.insecure:
        log.warning("insecure=True: the TLS certificate of %s is not checked (anyone on the way can pose as it)", url)
    return tls


def _send_offsets(model: ModelConfig, items: list[RequestItem], rate: float, pressure: bool) -> np.ndarray | None:
    if model.use_timestamp:
        stamps = [item.timestamp_s for item in items]
        if any(s is None for s in stamps):
            raise ConfigError(
                f"{model.source}: use_timestamp=True but the dataset rows carry no timestamp",
                hint="use a trace dataset with a timestamp column, or set use_timestamp=False",
            )
        offsets: np.ndarray = np.asarray(stamps, dtype=np.float64)
        return offsets - float(offsets.min())
    count = model.batch_size if pressure else len(items)
    if 0 < rate < LOW_RATE_WARNING and not pressure:
        log.warning("request_rate %.4g req/s is very low: %d requests will take about %.0f s", rate, count, count / rate)
    return build_send_offsets(count, rate, model.traffic_cfg, model.seed)


def send_rate(model: ModelConfig, consts: GlobalConsts, pressure: bool) -> float:
    """The rate the schedule is built from: pressure mode's ``CONNECTION_ADD_RATE`` when set, else
    the model's ``request_rate``."""
    if pressure and consts.connection_add_rate is not None:
        return float(consts.connection_add_rate)
    return float(model.request_rate)
