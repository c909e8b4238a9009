"""Run a ``PlannedRun``: warm-up, the load (``engine.runner.run_benchmark``), then the results."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ais_bench.api.planning import PlannedRun, send_rate
from ais_bench.api.progress import ProgressPrinter
from ais_bench.api.results import ResultJob, details_paths, summarise_dataset, summary_json_path
from ais_bench.api.run_state import live_run_state, mark_running, mark_stopped
from ais_bench.api.workdir import display, mark_latest
from ais_bench.engine.health import build_self_check
from ais_bench.engine.plan import RunPlan
from ais_bench.engine.preflight import raise_open_file_limit
from ais_bench.engine.runner import BeforeLoadCallback, RunOutcome, run_benchmark
from ais_bench.engine.server_hints import SEE_SERVER_DOCS, status_hint
from ais_bench.engine.shared import LoadTotals
from ais_bench.engine.warmup import WarmupResult
from ais_bench.errors import AllRequestsFailed, NoSteadyStage, OutputError, ServerUnreachable
from ais_bench.metrics.summary import PerfSummary
from ais_bench.records.columns import RecordColumns
from ais_bench.records.server_series import server_metrics_csv_path
from ais_bench.records.token_counts import store_prompt_token_counts
from ais_bench.server_metrics.scraper import ScrapeReport, ServerScraper

log = logging.getLogger("ais_bench")


@dataclass(frozen=True)
class ResultPaths:
    """Where one run's results are (``docs/outputs.md``); a file may be missing when the run
    stopped before it was written (e.g. no csv/json when no request succeeded)."""

    out_dir: Path
    json: Path
    csv: Path
    details_jsonl: Path
    details_h5: Path
    plot: Path
    summary_json: Path
    #: The server's own metrics as scraped (``--server-metrics``; absent without it).
    server_metrics_csv: Path

    @classmethod
    def of(cls, out_dir: Path, data_abbr: str) -> ResultPaths:
        jsonl, h5 = details_paths(out_dir, data_abbr)
        return cls(
            out_dir, out_dir / f"{data_abbr}.json", out_dir / f"{data_abbr}.csv", jsonl, h5,
            out_dir / f"{data_abbr}_plot.html", summary_json_path(out_dir, data_abbr),
            server_metrics_csv_path(out_dir, data_abbr),
        )


@dataclass(frozen=True)
class RunResult:
    """What one model x dataset run gave.

    ``summary``: the metrics of the summarizer's stage (``stage``: "total" or "stable"), None when
    an interrupted run had nothing to summarise; ``totals``: requests sent, finished, failed;
    ``interrupted`` / ``stop_signal``: the run was stopped by SIGINT (Ctrl-C) or SIGTERM.
    """

    model_abbr: str
    data_abbr: str
    stage: str
    summary: PerfSummary | None
    totals: LoadTotals
    elapsed_s: float
    interrupted: bool
    stop_signal: str | None
    paths: ResultPaths


def run(planned: PlannedRun, *, progress: bool = True, wide: bool = False) -> RunResult:
    """Warm up, send the load, then write and print the results (details, tables, csv, json, plot).

    ``progress``: show the live view on stderr (``api/progress.py``); ``wide``: print the tables in
    AISBench's full layout (``<ds>.csv``'s) instead of the compact one that fits 120 columns. Raises an ``AisBenchError`` subclass on a
    user-caused problem (unreachable server, failed warm-up, every request failed, no steady
    stage, records that cannot be written); records already received stay on disk.
    """
    plan, model, dataset = planned.plan, planned.model, planned.dataset
    raise_open_file_limit(plan.batch_size, plan.workers)
    out_dir = planned.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    printer = None
    if progress:
        printer = ProgressPrinter(
            f"[{model.abbr}/{dataset.abbr}]", plan.total_requests, plan.batch_size, pressure_time_s=plan.pressure_time_s
        )
    scraping = _Scraping(planned)
    try:
        outcome = _run_load(planned, printer, before_load=scraping.start)
    except BaseException:  # the error (or Ctrl-C) is reported below the view's last frame
        if printer is not None:
            printer.close()
        raise
    finally:
        scrape_report = scraping.stop()
    if printer is not None:
        printer.finish(outcome.totals, outcome.elapsed_s, outcome.live)
    for warning in outcome.warnings:
        log.warning(warning)
    if outcome.output_error is not None:
        mark_stopped(out_dir, dataset.abbr, f"its records could not be written: {outcome.output_error}")
        raise _records_not_written(outcome, out_dir)
    summary = _summarise(planned, outcome, wide, scrape_report)
    return RunResult(
        model.abbr, dataset.abbr, planned.summarizer.stage, summary, outcome.totals, outcome.elapsed_s,
        outcome.interrupted, outcome.stop_signal, ResultPaths.of(out_dir, dataset.abbr),
    )


def _run_load(planned: PlannedRun, printer: ProgressPrinter | None, before_load: BeforeLoadCallback) -> RunOutcome:
    """The load on this machine's worker processes, or on a Ray cluster's actors (``--ray``; Ray is
    imported only then)."""
    if planned.ray is None:
        return run_benchmark(planned.plan, progress=printer, before_load=before_load)
    from ais_bench.distributed.driver import run_on_ray

    return run_on_ray(planned.plan, planned.ray, progress=printer, before_load=before_load)


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


class _Scraping:
    """The server-metrics scraper of a run (``--server-metrics``), started with the load, after the
    workers exist (a thread started before the workers fork would be copied into them)."""

    def __init__(self, planned: PlannedRun) -> None:
        self.planned = planned
        self.scraper: ServerScraper | None = None

    def start(self, warm_up: WarmupResult) -> None:
        _start_load(self.planned, warm_up)
        scrape, dataset = self.planned.scrape, self.planned.dataset
        if scrape is not None:
            log.info("Scraping server metrics from %s every %g s", ", ".join(scrape.urls), scrape.interval_s)
            csv_path = server_metrics_csv_path(self.planned.out_dir, dataset.abbr)
            self.scraper = ServerScraper(scrape, csv_path).start()

    def stop(self) -> ScrapeReport | None:
        return None if self.scraper is None else self.scraper.stop()


def _start_load(planned: PlannedRun, warm_up: WarmupResult) -> None:
    """Between the workers' warm-up and the load: stop when every warm-up request failed, else say
    what is sent, store the prompts' token counts, mark the run as running and as the work dir's
    latest (a run stopped by its warm-up leaves nothing in its folder and no link)."""
    plan, dataset = planned.plan, planned.dataset
    if warm_up.sent:
        log.info("Warm-up: %d sent, %d succeeded (excluded from results)", warm_up.sent, warm_up.succeeded)
        if warm_up.succeeded == 0:
            raise ServerUnreachable(
                f"all {warm_up.sent} warm-up request(s) to {plan.url} failed: {warm_up.first_error}",
                hint=_warm_up_hint(warm_up, plan.url),
            )
    log.info(
        "Sending %s to %s: %s, %s, %s",
        f"{len(plan.items)} requests" if not plan.pressure else f"requests for {plan.pressure_time_s:.0f} s (pressure)",
        plan.url, _concurrency_text(plan), f"workers={plan.workers}" if planned.ray is None else "Ray workers (above)",
        pace_text(planned, send_rate(planned.model, planned.consts, plan.pressure)),
    )
    if planned.tokenizer is not None:  # input counts go with the run: a recalculation needs no tokenizer
        store_prompt_token_counts(planned.out_dir, dataset.abbr, planned.tokenizer, planned.prompts)
    mark_running(planned.out_dir, dataset.abbr)
    mark_latest(planned.out_dir.parent.parent)  # <work_dir>/latest: the newest run that sent requests


def _warm_up_hint(warm_up: WarmupResult, url: str) -> str:
    """What to change when every warm-up request failed. Skipping the warm-up would only make the
    load's requests fail the same way, so no hint suggests it."""
    cause = status_hint(warm_up.first_status, url) if warm_up.first_status is not None else None
    return f"{cause or 'check that the server serves this API and model'}; {SEE_SERVER_DOCS}"


def _concurrency_text(plan: RunPlan) -> str:
    if plan.pressure:
        return f"{plan.batch_size} clients"
    if plan.open_loop:
        return (
            f"open loop (batch_size={plan.batch_size} does not cap a timestamp replay; "
            "timestamp_batch_cap=True caps it)"
        )
    capped = " (timestamp_batch_cap=True)" if plan.use_timestamps else ""
    return f"at most batch_size={plan.batch_size} in flight{capped}"


def pace_text(planned: PlannedRun, rate: float) -> str:
    """The schedule the run really follows, for the line printed before sending."""
    plan, traffic = planned.plan, planned.model.traffic_cfg
    offsets = plan.send_offsets_s
    if offsets is None:
        return "unpaced (as fast as batch_size allows)" if not plan.pressure else "clients added at once"
    if plan.use_timestamps:
        span_s = float(offsets[-1] - offsets[0]) if len(offsets) else 0.0
        mean = f", mean {(len(offsets) - 1) / span_s:.3g} req/s" if span_s > 0 else ""
        return f"on the dataset's timestamps ({len(offsets)} sends over {span_s:.3g} s{mean})"
    what = "clients added" if plan.pressure else "requests"
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
    planned: PlannedRun, outcome: RunOutcome, wide: bool, scrape_report: ScrapeReport | None
) -> PerfSummary | None:
    def run_facts(columns: RecordColumns) -> dict[str, Any]:
        facts = _client_self_check(outcome, columns)
        if scrape_report is not None:
            facts["server_metrics_scrape"] = scrape_report.to_json_dict()
            facts["warnings"] += scrape_report.warnings()
        return facts

    job = ResultJob(
        planned.out_dir, planned.model, planned.dataset, planned.summarizer, from_h5=False, write_details=True,
        tokenizer=planned.tokenizer, prompts=planned.prompts, dump_text=planned.dump_text,
        run_facts=run_facts, wide=wide,
    )
    try:
        return summarise_dataset(job)
    except (AllRequestsFailed, NoSteadyStage) as exc:
        if not outcome.interrupted:
            raise
        log.warning("No result tables for the interrupted run: %s", exc.message)
        return None


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
    if check.clocks:
        worst_ms = max(_ms(clock.offset.uncertainty_s) for clock in check.clocks)
        text += f", clocks of {len(check.clocks)} load node(s) known to ±{worst_ms:.3f} ms or better"
    log.info(text + (" -- see the warnings below" if check.warnings else ": the client kept up"))
    return {
        **live_run_state(outcome.stop_signal), "client_self_check": check.to_json_dict(), "warnings": list(check.warnings),
    }


def _ms(seconds: float) -> float:
    """Milliseconds as the json shows them (rounded to 0.1 µs), so the log line matches the json."""
    return round(seconds * 1000, 4)
