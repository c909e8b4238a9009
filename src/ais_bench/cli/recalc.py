"""``--mode perf_viz --reuse [TS]``: recompute every result of a run folder from its records.

Models, datasets and the summarizer come from the current command line (behaviour spec §8): the
same ``--models`` / ``--datasets`` abbrs as the run are needed, while the summarizer, its
``stats_list`` and the model's ``batch_size`` (for the steady stage) may differ. The records are
read from ``<ds>_details.h5`` when the run finished, else straight from the workers' record files
(a killed run; the details files are then written too). Token counts come from what the run stored
(``records.token_counts``): neither the dataset nor the tokenizer is read, except the dataset's
prompts for ``--dump-text``. Nothing is sent to any server.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ais_bench.api.results import ResultJob, details_paths, summarise_dataset
from ais_bench.api.run_state import ended_early, reused_facts
from ais_bench.api.workdir import LATEST_LINK, RUN_DIR_PATTERN, display, has_records, latest_run_dir
from ais_bench.cli.configs import RunConfigs
from ais_bench.cli.main import EXIT_PARTIAL
from ais_bench.config import DatasetConfig, ModelConfig
from ais_bench.errors import ConfigError
from ais_bench.records.columns import RecordColumns
from ais_bench.records.store import RECORDS_DIRNAME, record_files

log = logging.getLogger("ais_bench")

LATEST = LATEST_LINK


def run_recalculation(args: argparse.Namespace, configs: RunConfigs) -> int:
    """Recalculate every (model, dataset) of the command line in the reused run folder."""
    run_dir = find_run_dir(Path(args.work_dir), args.reuse or LATEST)
    jobs = [
        (model, dataset, _checked_perf_dir(run_dir, model, dataset))
        for model in configs.models
        for dataset in configs.datasets
    ]
    log.info(
        "Recalculating the results of %s (summarizer stage '%s', stats %s)",
        display(run_dir), configs.summarizer.stage, ", ".join(configs.summarizer.stats_list),
    )
    outcomes = RunEndings()
    for model, dataset, out_dir in jobs:
        h5_exists = details_paths(out_dir, dataset.abbr)[1].is_file()
        job = ResultJob(
            out_dir, model, dataset, configs.summarizer, from_h5=True,
            write_details=args.dump_text or not h5_exists,
            prompts=_dumped_prompts(model, dataset, args) if args.dump_text else None, dump_text=args.dump_text,
            run_facts=outcomes.note, wide=args.wide or args.debug,
        )
        summarise_dataset(job)
    return EXIT_PARTIAL if outcomes.partial else 0


@dataclass
class RunEndings:
    """What the recalculated runs were: any failed request, or a run interrupted or killed, makes
    the recalculation exit with ``EXIT_PARTIAL``, as the run itself would (or should) have."""

    partial: bool = False

    def note(self, columns: RecordColumns) -> dict[str, Any]:
        facts = reused_facts(columns)
        failed = bool(len(columns)) and not bool(columns.rows["success"].all())
        self.partial = self.partial or failed or ended_early(facts)
        return facts


def find_run_dir(work_dir: Path, reuse: str) -> Path:
    """The run folder to recalculate: ``work_dir/reuse``, or for ``latest`` the folder the work dir's
    ``latest`` link names (a folder whose run stopped before sending anything is never linked)."""
    if reuse != LATEST:
        candidate = Path(reuse) if Path(reuse).is_absolute() else work_dir / reuse
        if not candidate.is_dir():
            latest = _latest_run(work_dir)
            hint = f"pass --reuse with a run folder name under {display(work_dir)}"
            hint += f" (latest: {latest.name}), or a bare --reuse for the latest" if latest else " (-w sets it)"
            raise ConfigError(f"run folder {display(candidate)} does not exist", hint=hint)
        return candidate
    latest = _latest_run(work_dir)
    if latest is None:
        raise ConfigError(
            f"no run folder to recalculate under {display(work_dir)}",
            hint="run --mode perf first, or pass -w/--work-dir of an earlier run (and --reuse TIMESTAMP)",
        )
    return latest


def _latest_run(work_dir: Path) -> Path | None:
    """The run folder the work dir's ``latest`` link (or ``LATEST`` marker) names, when it holds
    records; else (a work dir from before the link, or a link to a run killed before any record)
    the newest run folder holding records."""
    if not work_dir.is_dir():
        return None
    linked = latest_run_dir(work_dir)
    if linked is not None and has_records(linked):
        return linked
    runs = [p for p in work_dir.iterdir() if p.is_dir() and RUN_DIR_PATTERN.match(p.name) and has_records(p)]
    if not runs:
        return None
    return max(runs, key=lambda p: (p.name[:15], int(RUN_DIR_PATTERN.match(p.name).group(1) or 0)))  # type: ignore[union-attr]


def _checked_perf_dir(run_dir: Path, model: ModelConfig, dataset: DatasetConfig) -> Path:
    """``performances/<model_abbr>`` when it holds records of the dataset; else a one-line error."""
    performances = run_dir / "performances"
    out_dir = performances / model.abbr
    if not out_dir.is_dir():
        found = sorted(p.name for p in performances.iterdir() if p.is_dir()) if performances.is_dir() else []
        raise ConfigError(
            f"no results of model '{model.abbr}' in {display(performances)}",
            hint=f"pass the --models of that run (model abbrs there: {', '.join(found) or 'none'})",
        )
    if not details_paths(out_dir, dataset.abbr)[1].is_file() and not record_files(out_dir, dataset.abbr):
        raise ConfigError(
            f"no records of dataset '{dataset.abbr}' in {display(out_dir)} "
            f"(neither {dataset.abbr}_details.h5 nor {RECORDS_DIRNAME}/{dataset.abbr}.worker*.jsonl)",
            hint=f"pass the --datasets of that run (datasets there: {', '.join(_datasets_in(out_dir)) or 'none'})",
        )
    return out_dir


def _datasets_in(out_dir: Path) -> list[str]:
    names = {p.name.removesuffix("_details.h5") for p in out_dir.glob("*_details.h5")}
    names |= {p.name.rsplit(".worker", 1)[0] for p in (out_dir / RECORDS_DIRNAME).glob("*.worker*.jsonl")}
    return sorted(names)


def _dumped_prompts(model: ModelConfig, dataset: DatasetConfig, args: argparse.Namespace) -> list[Any]:
    """The prompts as sent, for ``--dump-text`` (the one recalculation that reads the dataset)."""
    from ais_bench.clients.backends import backend_for
    from ais_bench.datasets import load_items
    from ais_bench.tokens import load_tokenizer

    tokenizer = load_tokenizer(model.path) if model.path else None
    items = load_items(dataset, args.num_prompts, tokenizer=tokenizer)
    spec = backend_for(model.backend)
    return [spec.sent_prompt(item) for item in items]
