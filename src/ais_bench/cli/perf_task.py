"""One model x dataset performance task: prepare, warm up, send, summarise, write results."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ais_bench.cli.progress import ProgressPrinter
from ais_bench.cli.results import ResultJob, summarise_dataset
from ais_bench.cli.run_state import live_run_state, mark_running, mark_stopped
from ais_bench.cli.workdir import display, perf_dir
from ais_bench.clients.backends import BackendSpec, backend_for
from ais_bench.clients.headers import build_headers
from ais_bench.clients.loop import run_worker_loop
from ais_bench.clients.tls import TLSOptions, TLSSetupError, build_tls_context
from ais_bench.config import DatasetConfig, GlobalConsts, ModelConfig, SummarizerConfig
from ais_bench.datasets import load_items
from ais_bench.datasets.item import Prompt, RequestItem
from ais_bench.engine.health import build_self_check
from ais_bench.engine.plan import EnginePlan, RequestTemplate
from ais_bench.engine.preflight import (
    check_reachable,
    discover_model,
    encode_bodies,
    raise_open_file_limit,
    run_warmup,
)
from ais_bench.engine.runner import RunOutcome, run_benchmark
from ais_bench.errors import AllRequestsFailed, ConfigError, NoSteadyStage, OutputError, ServerUnreachable
from ais_bench.load.schedule import LOW_RATE_WARNING, TrafficShape, build_send_offsets, choose_worker_count
from ais_bench.metrics.summary import PerfSummary
from ais_bench.records.columns import RecordColumns
from ais_bench.tokens import TextTokenizer, load_tokenizer

log = logging.getLogger("ais_bench")


@dataclass(frozen=True)
class TaskOptions:
    """Command-line choices that apply to every task of the run."""

    debug: bool
    num_prompts: int | None
    num_warmups: int
    pressure_time_s: int | None  # None = normal mode
    dump_text: bool = False  # --dump-text: prompts and generated texts in <ds>_details.jsonl


@dataclass
class TaskResult:
    summary: PerfSummary | None
    outcome: RunOutcome
    partial: bool


def run_perf_task(
    run_dir: Path,
    model: ModelConfig,
    dataset: DatasetConfig,
    summarizer: SummarizerConfig,
    consts: GlobalConsts,
    options: TaskOptions,
) -> TaskResult:
    tokenizer = load_tokenizer(model.path) if model.path else None
    items = load_items(dataset, options.num_prompts, tokenizer=tokenizer)
    for warning in items.warnings:
        log.warning(warning)
    spec = backend_for(model.type)
    headers = build_headers(model.api_key or None)
    model_name = model.model
    url = model.base_url + spec.url_path(stream=model.stream, model_name=model.model_name or model_name)
    tls = _tls_options(model, url)
    check_reachable(url, tls)
    if not model_name and spec.needs_model_name and not model.model_name:
        model_name = run_worker_loop(discover_model(model.base_url, spec.models_endpoint, headers, tls))
        url = model.base_url + spec.url_path(stream=model.stream, model_name=model_name)
    template = RequestTemplate(
        backend_type=model.type,
        url=url,
        headers=headers,
        model=model_name,
        stream=model.stream,
        max_out_len=model.max_out_len,
        generation_kwargs=dict(model.generation_kwargs),
        tls=tls,
    )
    bodies = encode_bodies(
        spec, list(items), model=model_name, stream=model.stream,
        max_out_len=model.max_out_len, generation_kwargs=dict(model.generation_kwargs),
    )
    raise_open_file_limit(model.batch_size, _worker_count(model, consts, options), options.num_warmups)
    _warm_up(spec, template, bodies, model, consts, options.num_warmups)
    out_dir = perf_dir(run_dir, model.abbr)
    plan = _build_plan(model, dataset, list(items), bodies, template, consts, options, out_dir)
    log.info(
        "Sending %s to %s: %s, workers=%d, %s",
        f"{len(items)} requests" if not plan.pressure else f"requests for {options.pressure_time_s} s (pressure)",
        url, _concurrency_text(model, plan), plan.workers, pace_text(model, plan, _send_rate(model, consts, plan.pressure)),
    )
    label = f"[{model.abbr}/{dataset.abbr}]"
    progress = ProgressPrinter(label, plan.total_requests, options.pressure_time_s)
    mark_running(out_dir, dataset.abbr)
    outcome = run_benchmark(plan, debug=options.debug, progress=progress)
    progress.finish(outcome.totals, outcome.elapsed_s)
    for warning in outcome.warnings:
        log.warning(warning)
    if outcome.output_error is not None:
        mark_stopped(out_dir, dataset.abbr, f"its records could not be written: {outcome.output_error}")
        raise _records_not_written(outcome, out_dir)
    prompts = [spec.sent_prompt(item) for item in items]
    return _summarise(out_dir, model, dataset, summarizer, outcome, tokenizer, prompts, options.dump_text)


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


def _records_not_written(outcome: RunOutcome, out_dir: Path) -> OutputError:
    """The load stopped because its records could not be written (disk full, ...)."""
    records = out_dir / "records"
    kept = outcome.totals.finished - outcome.records_unwritten
    lost = f" ({outcome.records_unwritten} finished requests could not be written)" if outcome.records_unwritten else ""
    run_name = out_dir.parent.parent.name
    return OutputError(
        f"cannot write the run's records to {display(records)}: {outcome.output_error}; sending stopped after "
        f"{outcome.totals.sent} requests; the {kept} records on disk are kept{lost}",
        hint=f"free disk space (or pass -w/--work-dir on another disk), then summarise what was kept with "
        f"--mode perf_viz --reuse {run_name}",
    )


def _warm_up(
    spec: BackendSpec, template: RequestTemplate, bodies: list[bytes], model: ModelConfig, consts: GlobalConsts,
    count: int,
) -> None:
    if count <= 0:
        return
    result = run_worker_loop(
        run_warmup(
            spec, template.url, template.headers, bodies, count=count, concurrency=model.batch_size,
            stream=model.stream, max_chunk_bytes=consts.max_chunk_size_bytes, timeout_s=consts.request_time_out_s,
            tls=template.tls,
        )
    )
    log.info("Warm-up: %d sent, %d succeeded (excluded from results)", result.sent, result.succeeded)
    if result.succeeded == 0:
        raise ServerUnreachable(
            f"all {result.sent} warm-up request(s) to {template.url} failed: {result.first_error}",
            hint="check that the server serves this API and model (or pass --num-warmups 0 to skip warm-up); "
            "see docs/troubleshooting.md#the-server",
        )


def _build_plan(
    model: ModelConfig,
    dataset: DatasetConfig,
    items: list[RequestItem],
    bodies: list[bytes],
    template: RequestTemplate,
    consts: GlobalConsts,
    options: TaskOptions,
    out_dir: Path,
) -> EnginePlan:
    pressure = options.pressure_time_s is not None
    offsets = _send_offsets(model, items, _send_rate(model, consts, pressure), pressure)
    return EnginePlan(
        items=items,
        bodies=bodies,
        template=template,
        batch_size=model.batch_size,
        workers=_worker_count(model, consts, options),
        record_dir=out_dir,
        data_abbr=dataset.abbr,
        send_offsets_s=offsets,
        pressure_time_s=float(options.pressure_time_s) if pressure else None,
        retry=model.retry,
        request_timeout_s=consts.request_time_out_s,
        max_chunk_bytes=consts.max_chunk_size_bytes,
        use_timestamps=model.use_timestamp,
        open_loop=model.use_timestamp and not model.timestamp_batch_cap,
    )


def _worker_count(model: ModelConfig, consts: GlobalConsts, options: TaskOptions) -> int:
    return choose_worker_count(model.batch_size, consts.workers_num, os.cpu_count() or 1, options.debug)


def _send_offsets(model: ModelConfig, items: list[RequestItem], rate: float, pressure: bool):
    if model.use_timestamp:
        stamps = [item.timestamp_s for item in items]
        if any(s is None for s in stamps):
            raise ConfigError(
                f"{model.source}: use_timestamp=True but the dataset rows carry no timestamp",
                hint="use a trace dataset with a timestamp column, or set use_timestamp=False",
            )
        import numpy as np

        offsets = np.asarray(stamps, dtype=np.float64)
        return offsets - offsets.min()
    traffic = model.traffic_cfg
    shape = TrafficShape(
        burstiness=traffic.burstiness,
        ramp_up_strategy=traffic.ramp_up_strategy or None,
        ramp_up_start_rps=traffic.ramp_up_start_rps or 0.0,
        ramp_up_end_rps=traffic.ramp_up_end_rps or 0.0,
    )
    count = model.batch_size if pressure else len(items)
    if 0 < rate < LOW_RATE_WARNING and not pressure:
        log.warning("request_rate %.4g req/s is very low: %d requests will take about %.0f s", rate, count, count / rate)
    return build_send_offsets(count, rate, shape, model.seed)


def _send_rate(model: ModelConfig, consts: GlobalConsts, pressure: bool) -> float:
    """The rate the schedule is built from: pressure mode's ``CONNECTION_ADD_RATE`` when set, else
    the model's ``request_rate``."""
    if pressure and consts.connection_add_rate is not None:
        return float(consts.connection_add_rate)
    return float(model.request_rate)


def _concurrency_text(model: ModelConfig, plan: EnginePlan) -> str:
    if plan.pressure:
        return f"{model.batch_size} clients"
    if plan.open_loop:
        return (
            f"open loop (batch_size={model.batch_size} does not cap a timestamp replay; "
            "timestamp_batch_cap=True caps it)"
        )
    capped = " (timestamp_batch_cap=True)" if plan.use_timestamps else ""
    return f"at most batch_size={model.batch_size} in flight{capped}"


def pace_text(model: ModelConfig, plan: EnginePlan, rate: float) -> str:
    """The schedule the run really follows, for the line printed before sending."""
    offsets = plan.send_offsets_s
    if offsets is None:
        return "unpaced (as fast as batch_size allows)" if not plan.pressure else "clients added at once"
    if model.use_timestamp:
        span_s = float(offsets[-1] - offsets[0]) if len(offsets) else 0.0
        mean = f", mean {(len(offsets) - 1) / span_s:.3g} req/s" if span_s > 0 else ""
        return f"on the dataset's timestamps ({len(offsets)} sends over {span_s:.3g} s{mean})"
    what = "clients added" if plan.pressure else "requests"
    traffic = model.traffic_cfg
    shape = _arrivals_text(traffic.burstiness)
    start, end = traffic.ramp_up_start_rps or 0.0, traffic.ramp_up_end_rps or 0.0
    if traffic.ramp_up_strategy == "exponential" and start <= 0:
        return f"{what} at {end:g}/s (exponential ramp-up from 0 means the end rate throughout; {shape})"
    if traffic.ramp_up_strategy:
        return f"{what} on a {traffic.ramp_up_strategy} ramp from {start:g}/s to {end:g}/s ({shape})"
    return f"{what} at {rate:g}/s ({shape})"


def _arrivals_text(burstiness: float) -> str:
    if burstiness == 0:
        return "evenly spaced"
    if burstiness == 1:
        return "Poisson arrivals"
    return f"gamma-distributed gaps, burstiness {burstiness:g}"


def _summarise(
    out_dir: Path, model: ModelConfig, dataset: DatasetConfig, summarizer: SummarizerConfig, outcome: RunOutcome,
    tokenizer: TextTokenizer | None, prompts: list[Prompt], dump_text: bool = False,
) -> TaskResult:
    job = ResultJob(
        out_dir, model, dataset, summarizer, from_h5=False, write_details=True,
        tokenizer=tokenizer, prompts=prompts, dump_text=dump_text,
        run_facts=lambda columns: _client_self_check(outcome, columns),
    )
    try:
        summary = summarise_dataset(job)
    except (AllRequestsFailed, NoSteadyStage) as exc:
        if not outcome.interrupted:
            raise
        log.warning("No result tables for the interrupted run: %s", exc.message)
        summary = None
    return TaskResult(summary, outcome, outcome.interrupted)


def _client_self_check(outcome: RunOutcome, columns: RecordColumns) -> dict[str, Any]:
    """The run's client health facts for the json (``"client_self_check"``) and its warnings."""
    check = build_self_check(outcome, columns)
    loop, schedule, slot = check.loop_lag, check.schedule_lag, check.slot_wait
    text = (
        f"Client self-check: {check.stamping} time stamps, event-loop lag p99 {_ms(loop.p99_s):.3f} ms "
        f"(max {_ms(loop.max_s):.3f} ms)"
    )
    if schedule.samples:
        text += f", send-schedule lag p99 {_ms(schedule.p99_s):.1f} ms"
    if slot.waited:
        text += (
            f", {slot.waited} of {slot.lag.samples} paced requests waited for a free batch_size slot "
            f"(mean {_ms(slot.mean_s):.1f} ms, p99 {_ms(slot.lag.p99_s):.1f} ms, max {_ms(slot.lag.max_s):.1f} ms)"
        )
    log.info(text + (" -- see the warnings below" if check.warnings else ": the client kept up"))
    return {
        **live_run_state(outcome.stop_signal), "client_self_check": check.to_json_dict(), "warnings": list(check.warnings),
    }


def _ms(seconds: float) -> float:
    """Milliseconds as the json shows them (rounded to 0.1 µs), so the log line matches the json."""
    return round(seconds * 1000, 4)
