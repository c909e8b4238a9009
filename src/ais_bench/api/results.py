"""From the records on disk to the results: details files, metrics, tables, csv, json, summary json
(and the plot).

One function for both a live run (right after the workers stop) and a recalculation
(``--mode perf_viz --reuse``), so that recalculating a finished run reproduces its csv and json.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ais_bench.api.server_report import SCRAPE_FACT, load_server_series, server_metrics_result
from ais_bench.api.workdir import display
from ais_bench.clients.errors import ERROR_TEXT_CHARS
from ais_bench.clients.headers import build_headers
from ais_bench.config import DatasetConfig, ModelConfig, SummarizerConfig
from ais_bench.errors import AllRequestsFailed, NoSteadyStage, OutputError
from ais_bench.metrics.summary import PerfSummary, compute_summary
from ais_bench.records.columns import RecordColumns, load_texts, read_record_columns, write_run_facts
from ais_bench.records.details import DetailTexts, write_details_jsonl
from ais_bench.records.details_h5 import RunAttributes, read_details_h5, write_details_h5
from ais_bench.records.record import RECORD_FORMAT, RequestTable
from ais_bench.records.server_series import ServerSeries
from ais_bench.records.table import (
    TokenCounts,
    early_stop_warning,
    failure_reasons,
    finish_reason_mix,
    resolve_token_counts,
    store_output_token_counts,
    table_from_columns,
)
from ais_bench.reports.console import format_headline, format_tables, format_title
from ais_bench.reports.csv_writer import write_csv
from ais_bench.reports.json_writer import write_json
from ais_bench.reports.summary_json import SummaryContext, write_summary_json
from ais_bench.safe_text import Redactor, printable_text, secrets_of

if TYPE_CHECKING:
    from ais_bench.tokens import TextTokenizer

log = logging.getLogger("ais_bench")

#: Errors of a disk that cannot take more (full, over quota, file too large, read-only).
OUTPUT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})


@dataclass(frozen=True)
class ResultJob:
    """One (model, dataset) to summarise.

    ``from_h5``: read the columns from ``<ds>_details.h5`` when it exists (recalculation), else from
    the worker record files. ``write_details``: (re)write ``<ds>_details.jsonl`` and ``.h5``.
    ``tokenizer``: the model's tokenizer in a live run, which counts the outputs after the run and
    stores them with its prompt counts (``records.token_counts``); None in a recalculation, which
    reads the stored counts. ``prompts``: the prompt of each dataset row as sent (indexed by data
    index), for ``--dump-text`` only. ``dump_text``: put prompts and generated texts into
    ``<ds>_details.jsonl``. ``wide``: print AISBench's full table layout instead of the compact tables.
    ``run_facts``: called with the columns once read (e.g. the live run's client self-check); its
    entries join the json's ``"_ais_bench"`` key, and its ``"warnings"`` join the summary's warnings.
    They are kept in ``<ds>_details.h5`` so that a recalculation reproduces the json exactly.
    """

    out_dir: Path
    model: ModelConfig
    dataset: DatasetConfig
    summarizer: SummarizerConfig
    from_h5: bool = False
    write_details: bool = True
    tokenizer: TextTokenizer | None = None
    prompts: Sequence[Any] | None = None
    dump_text: bool = False
    run_facts: Callable[[RecordColumns], dict[str, Any]] | None = None
    wide: bool = False


def record_format_warning(record_format: int) -> list[str]:
    """Say so when the records predate token-event stamping (their TTFT/ITL follow the old rule)."""
    if record_format >= RECORD_FORMAT:
        return []
    return [
        f"these records were written by an older ais_bench (record format {record_format}): every SSE "
        "event was a time point (role-only, finish-only and usage-only chunks too), so TTFT and ITL are "
        "recalculated with that rule and no finish reasons are known; rerun the benchmark for today's numbers"
    ]


def details_paths(out_dir: Path, data_abbr: str) -> tuple[Path, Path]:
    return out_dir / f"{data_abbr}_details.jsonl", out_dir / f"{data_abbr}_details.h5"


def summary_json_path(out_dir: Path, data_abbr: str) -> Path:
    """``<ds>_summary.json``: the results for scripts, in base units (``reports/summary_json.py``)."""
    return out_dir / f"{data_abbr}_summary.json"


def load_columns(job: ResultJob) -> RecordColumns:
    _, h5_path = details_paths(job.out_dir, job.dataset.abbr)
    if job.from_h5 and h5_path.is_file():
        return read_details_h5(h5_path)
    return read_record_columns(job.out_dir, job.dataset.abbr)


def summarise_dataset(job: ResultJob) -> PerfSummary:
    """Read the records, write the details (when asked), compute, print and write the results.

    Raises ``AllRequestsFailed`` / ``NoSteadyStage`` after the details files are written, and
    ``OutputError`` when a file cannot be written (disk full, ...): the records stay as they were.
    """
    try:
        return _summarise(job)
    except OSError as exc:
        if exc.errno not in OUTPUT_ERRNOS:
            raise
        for partial in job.out_dir.glob("*.tmp"):
            partial.unlink(missing_ok=True)
        where = f" {display(Path(exc.filename))}" if exc.filename else f" in {display(job.out_dir)}"
        raise OutputError(
            f"cannot write the results{where}: {exc.strerror or exc}; the run's records are kept",
            hint="free disk space, then summarise them with --mode perf_viz --reuse "
            f"{job.out_dir.parent.parent.name}",
        ) from exc


def _summarise(job: ResultJob) -> PerfSummary:
    model, dataset = job.model, job.dataset
    columns = load_columns(job)
    log.info("Read %d request records from %s", len(columns), _source_text(job, columns))
    if job.run_facts is not None:
        facts = dict(job.run_facts(columns))
        write_run_facts(job.out_dir, dataset.abbr, facts)
    else:
        facts = dict(columns.run_facts)
    failures = _shown_failures(columns, _model_redactor(model))
    texts = load_texts(job.out_dir, dataset.abbr) if job.tokenizer is not None or job.dump_text else None
    if job.tokenizer is not None:
        store_output_token_counts(job.out_dir, columns, job.tokenizer, texts or {})
    counts = resolve_token_counts(columns, stream=model.stream)
    h5_path = details_paths(job.out_dir, dataset.abbr)[1]
    series = load_server_series(job.out_dir, dataset.abbr, h5_path, job.from_h5)
    if job.write_details:
        _write_details(job, columns, counts, failures, texts if job.dump_text else None, facts, series)
    reasons = failure_reasons(failures.values())
    if reasons:
        log.warning("Failed reasons:\n%s", _reasons_table(reasons))
    finish_reasons = finish_reason_mix(columns)
    table = table_from_columns(columns, counts)
    try:
        summary = compute_summary(
            table,
            stage=job.summarizer.stage,
            stats_list=list(job.summarizer.stats_list),
            batch_size=model.batch_size,
            stream=model.stream,
            slo=job.summarizer.slo,
        )
    except AllRequestsFailed as exc:
        _write_plot(job, table, columns, None, series)  # failures are drawn too
        first = reasons[0][0] if reasons else "no request was sent"
        raise AllRequestsFailed(f"{exc.message}; most frequent reason: {first}", hint=exc.hint) from None
    except NoSteadyStage:
        _write_plot(job, table, columns, None, series)  # the timeline still helps to see why
        raise
    _drop_placeholder_output_metrics(summary, counts, table.success)
    _drop_placeholder_input_metrics(summary, counts, table.success)
    summary.warnings.extend(counts.warnings)
    summary.warnings.extend(early_stop_warning(finish_reasons, model.generation_kwargs.get("ignore_eos") is True))
    summary.warnings.extend(facts.pop("warnings", []))
    summary.warnings.extend(record_format_warning(columns.record_format))
    scrape = facts.pop(SCRAPE_FACT, None)
    server = server_metrics_result(series, table, summary, model.batch_size, scrape) if series is not None else None
    if server is not None:
        summary.warnings.extend(server.warnings)
    headline = format_headline(summary)  # doubts about the steady window come first
    if headline:
        print(headline)
    print(format_title(model.abbr, dataset.abbr, wide=job.wide))
    print(format_tables(summary, headline=False, wide=job.wide))
    retries = retry_counts(columns)
    if retries["requests_retried"]:
        print(_retries_line(retries, len(columns)))
    for line in server.lines if server is not None else []:
        print(line)
    write_csv(summary, job.out_dir / f"{dataset.abbr}.csv")
    failed = [{"reason": reason, "count": count} for reason, count in reasons]
    extra = {"failed_reasons": failed, "finish_reasons": finish_reasons, "retries": retries, **facts}
    if server is not None:
        extra["server_metrics"] = server.entry
    write_json(summary, job.out_dir / f"{dataset.abbr}.json", extra=extra)
    context = SummaryContext(model.abbr, dataset.abbr, _config_text(job.out_dir), extra)
    write_summary_json(summary, context, summary_json_path(job.out_dir, dataset.abbr))
    _write_plot(job, table, columns, summary, series)
    print(f"Performance Result files located in {display(job.out_dir)}.")
    return summary


def retry_counts(columns: RecordColumns) -> dict[str, int]:
    """``requests_retried``: requests sent more than once (``attempts`` > 1); ``extra_attempts``:
    the sends beyond each request's first, over the whole run."""
    attempts = columns.rows["attempts"].astype(np.int64)
    return {
        "requests_retried": int((attempts > 1).sum()),
        "extra_attempts": int(np.maximum(attempts - 1, 0).sum()),
    }


def _retries_line(retries: dict[str, int], requests: int) -> str:
    extra = retries["extra_attempts"]
    return (
        f"Retries: {retries['requests_retried']} of {requests} requests were retried "
        f"({extra} extra attempt{'' if extra == 1 else 's'}); their E2EL and TTFT count from the first attempt"
    )


def _model_redactor(model: ModelConfig) -> Redactor:
    """Hides the model's secrets (api_key, the URL's password) in any text."""
    return Redactor(secrets_of(model.base_url, build_headers(model.api_key or None, model.headers)))


def _shown_failures(columns: RecordColumns, redactor: Redactor) -> dict[int, tuple[str | None, str | None]]:
    """row -> (error kind, message) of the failed rows, messages as every output shows them:
    printable, bounded, secrets redacted. Live runs store them so already; this also covers run
    folders written before (``--reuse``)."""
    return {
        row: (kind, printable_text(redactor.redact(message), ERROR_TEXT_CHARS) if message else message)
        for row, (kind, message) in columns.failures().items()
    }


#: Rows and common metrics computed from the output token count.
_OUTPUT_COUNT_ROWS = ("TPOT", "OutputTokens", "OutputTokenThroughput")
_OUTPUT_COUNT_COMMON = ("Total Generated Tokens", "Output Token Throughput", "Total Token Throughput")


def _drop_placeholder_output_metrics(summary: PerfSummary, counts: TokenCounts, success: np.ndarray) -> None:
    """When no successful request has a measured output count (every one is ``unknown``: not
    streamed, no count from the server, no tokenizer), leave out what was computed from the
    placeholder instead of showing it as measured; the token-count warning says what to set."""
    sources = counts.output_source[success]
    if not sources.size or (sources != "unknown").any():
        return
    summary.rows[:] = [row for row in summary.rows if row.name not in _OUTPUT_COUNT_ROWS]
    summary.common[:] = [metric for metric in summary.common if metric.name not in _OUTPUT_COUNT_COMMON]


_INPUT_COUNT_ROWS = ("InputTokens", "PrefillTokenThroughput")
_INPUT_COUNT_COMMON = ("Total Input Tokens", "Input Token Throughput", "Total Token Throughput")


def _drop_placeholder_input_metrics(summary: PerfSummary, counts: TokenCounts, success: np.ndarray) -> None:
    """When no successful request has an input count (every one is ``none``: no count from the
    server, no tokenizer), its 0 is a placeholder: leave out the input-token rows and throughputs
    instead of printing 0 as measured; the token-count warning says what to set."""
    sources = counts.input_source[success]
    if not sources.size or (sources != "none").any():
        return
    summary.rows[:] = [row for row in summary.rows if row.name not in _INPUT_COUNT_ROWS]
    summary.common[:] = [metric for metric in summary.common if metric.name not in _INPUT_COUNT_COMMON]


def _source_text(job: ResultJob, columns: RecordColumns) -> str:
    if columns.source == "details.h5":
        return display(details_paths(job.out_dir, job.dataset.abbr)[1])
    return display(job.out_dir / "records")


def _write_details(
    job: ResultJob, columns: RecordColumns, counts: TokenCounts, failures: dict[int, tuple[str | None, str | None]],
    outputs: dict[int, tuple[str, str]] | None, facts: dict[str, Any], series: ServerSeries | None = None,
) -> None:
    jsonl_path, h5_path = details_paths(job.out_dir, job.dataset.abbr)
    texts = None
    if outputs is not None:
        texts = DetailTexts(job.prompts or [], outputs)
    write_details_jsonl(jsonl_path, columns, counts, failures, texts)
    if columns.source != "details.h5" or not h5_path.is_file():
        run = RunAttributes(
            model_abbr=job.model.abbr,
            data_abbr=job.dataset.abbr,
            stream=job.model.stream,
            batch_size=job.model.batch_size,
            config_text=_config_text(job.out_dir),
            run_facts=facts,
            server_series=series,
        )
        write_details_h5(h5_path, columns, counts, failures, run)
    log.info("Details of %d requests written to %s and %s", len(columns), display(jsonl_path), h5_path.name)


def _config_text(out_dir: Path) -> str:
    """The run's merged config dump (``<run>/configs/*.py``, newest), "" when there is none."""
    dumps = sorted((out_dir.parent.parent / "configs").glob("*.py"))
    return dumps[-1].read_text(encoding="utf-8") if dumps else ""


def _write_plot(
    job: ResultJob, table: RequestTable, columns: RecordColumns, summary: PerfSummary | None,
    series: ServerSeries | None,
) -> None:
    """``<ds>_plot.html`` through ``reports/html_report.write_plot``: the only call site, for live
    runs and recalculation alike (imported here: plotly is slow to import and only needed now);
    with the scraped server gauges when the run has them."""
    from ais_bench.reports.html_report import write_plot
    from ais_bench.server_metrics.derive import gauge_series

    path = job.out_dir / f"{job.dataset.abbr}_plot.html"
    write_plot(
        path, table, stream=job.model.stream, summary=summary, scheduled_s=columns.rows["scheduled_s"].copy(),
        title=f"{job.model.abbr}/{job.dataset.abbr}", server=gauge_series(series) if series is not None else None,
    )
    log.info("Plot written to %s", display(path))


def _reasons_table(reasons: list[tuple[str, int]]) -> str:
    from tabulate import tabulate

    return tabulate(reasons, headers=["Failed reason", "Count"], tablefmt="fancy_grid")
