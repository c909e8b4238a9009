"""``ais_bench`` entry point: one run end to end; the only place that exits or shows tracebacks."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ais_bench.errors import (
    AisBenchError,
    ConfigError,
    RunInterrupted,
    Terminated,
    exit_code_of_signal,
    stop_signal_of,
)
from ais_bench.safe_text import Redactor, printable_text, secrets_of

if TYPE_CHECKING:
    from ais_bench.api import RunResult
    from ais_bench.cli.configs import RunConfigs

log = logging.getLogger("ais_bench")

#: Exit code when the run finished but some requests failed or it was cut short.
EXIT_PARTIAL = 3
#: The configured secrets (api_key, secret-looking headers, a URL's password), hidden in every log
#: line and traceback.
SECRETS = Redactor()


class _SafeLogText(logging.Filter):
    """Every log line printable (a NUL from a server becomes ``\\x00``) and without secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = printable_text(record.getMessage(), keep_newlines=True)
        record.msg, record.args = SECRETS.redact(text), None
        return True


def main(argv: list[str] | None = None) -> int:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    _setup_logging(debug)
    previous_handlers = _enable_stop_signals()
    try:
        arguments = list(argv if argv is not None else sys.argv[1:])
        if arguments[:1] == ["compare"]:
            from ais_bench.cli.compare import run_compare

            return run_compare(arguments[1:])
        from ais_bench.cli.args import parse_args

        args = parse_args(arguments)
        return _run(args)
    except AisBenchError as exc:
        if debug:
            sys.stderr.write(SECRETS.redact(traceback.format_exc()))
        log.error(exc.one_line())
        return exc.exit_code
    except KeyboardInterrupt as exc:
        stop_signal = stop_signal_of(exc)
        log.error("interrupted (%s)", stop_signal)
        return exit_code_of_signal(stop_signal)
    finally:
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)


def _enable_stop_signals() -> dict[int, Any]:
    """Ctrl-C (SIGINT) and SIGTERM always mean "stop sending, summarise what finished" (exit 130 and
    143): Python leaves SIGINT ignored when the tool was started with it ignored (e.g. as a
    background job of a script), so its handler is installed explicitly; SIGTERM, which would kill
    the process without a summary (and leak its semaphores), raises ``Terminated``, a
    ``KeyboardInterrupt``. Only possible from the main thread. Returns the handlers replaced."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {
        signal.SIGINT: signal.signal(signal.SIGINT, signal.default_int_handler),
        signal.SIGTERM: signal.signal(signal.SIGTERM, _raise_terminated),
    }


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


def _setup_logging(debug: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s - AISBench - %(levelname)s - %(message)s", "%m/%d %H:%M:%S"))
    handler.addFilter(_SafeLogText())
    for old in log.handlers:
        old.close()
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG if debug else logging.INFO)
    log.propagate = False


class _RunLogFile(logging.FileHandler):
    """The run's log file. A line it cannot write (disk full) is dropped without the traceback
    ``logging`` prints by default: the terminal shows every line anyway."""

    def handleError(self, record: logging.LogRecord) -> None:
        return None


def _log_to_file(path: Path) -> logging.Handler:
    handler = _RunLogFile(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s - AISBench - %(levelname)s - %(message)s"))
    handler.setLevel(logging.DEBUG)
    handler.addFilter(_SafeLogText())
    log.addHandler(handler)
    return handler


def _run(args: argparse.Namespace) -> int:
    from ais_bench.cli.configs import load_run_configs

    if args.search:
        return _search(args)
    if args.pressure and args.config is None and not args.models and args.url is None:
        raise ConfigError("--pressure needs a model config", hint="pass --models NAME")
    configs = load_run_configs(args)
    _register_secrets(configs)
    if not args.debug:
        log.setLevel(configs.consts.log_level)
    for warning in configs.warnings:
        log.warning(warning)
    if args.sweep_axis is not None or args.slo_search is not None:
        from ais_bench.cli.sweep import run_sweep_command

        return run_sweep_command(args, configs, _cli_args(args), log_to=_log_to_file)
    if args.mode == "perf_viz":
        from ais_bench.cli.recalc import run_recalculation

        return run_recalculation(args, configs)
    return _run_tasks(args, configs)


def _register_secrets(configs: RunConfigs) -> None:
    from ais_bench.clients.headers import build_headers

    for model in configs.models:
        SECRETS.add(secrets_of(model.base_url, build_headers(model.api_key or None, model.headers)))


def _search(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from ais_bench.cli.configs import resolve_names
    from ais_bench.config import SEARCH_HEADER, search_rows

    log.info("Searching configs...")
    resolved = resolve_names(args)
    for warning in resolved.warnings:
        log.warning(warning)
    print(tabulate(search_rows(resolved), headers=list(SEARCH_HEADER), tablefmt="fancy_grid"))
    return 0


def _run_tasks(args: argparse.Namespace, configs: RunConfigs) -> int:
    from ais_bench.api.workdir import create_run_dir, display, has_records
    from ais_bench.config import dump_config

    run_dir = create_run_dir(args.work_dir)
    log_handler = _log_to_file(run_dir / "logs" / "ais_bench.log")
    log.info("Current exp folder: %s", display(run_dir))
    try:
        dump_config(run_dir, configs.models, configs.datasets, configs.summarizer, _cli_args(args))
        return _run_models(run_dir, configs, args)
    except BaseException:
        if not has_records(run_dir):
            _remove_unused_run_dir(run_dir, log_handler)
        raise


def _remove_unused_run_dir(run_dir: Path, log_handler: logging.Handler) -> None:
    """A run that failed before any request was sent (config, data, server check, warm-up) leaves
    no folder behind, so that a later bare ``--reuse`` does not pick it as the latest run."""
    import shutil

    from ais_bench.api.workdir import display

    log.removeHandler(log_handler)
    log_handler.close()
    shutil.rmtree(run_dir, ignore_errors=True)
    log.debug("removed %s: nothing was sent", display(run_dir))


def _run_models(run_dir: Path, configs: RunConfigs, args: argparse.Namespace) -> int:
    """Plan and run every model x dataset through the public API (``ais_bench.api``)."""
    from ais_bench import api

    pressure_time_s = None
    if args.pressure:
        pressure_time_s = configs.consts.pressure_time_s or args.pressure_time
    exit_code = 0
    for model in configs.models:
        with api.serve_simulator(model) as target:
            for dataset in configs.datasets:
                planned = api.plan_run(
                    target, dataset, run_dir=run_dir, summarizer=configs.summarizer, consts=configs.consts,
                    num_prompts=args.num_prompts, num_warmups=args.num_warmups, pressure_time_s=pressure_time_s,
                    debug=args.debug, dump_text=args.dump_text, server_metrics=args.server_metrics,
                    server_metrics_interval_s=args.server_metrics_interval,
                    ray=args.ray, ray_workers_per_node=args.ray_workers_per_node,
                )
                result = api.run(planned, wide=args.wide or args.debug)
                if result.interrupted:
                    raise _interrupted(result, run_dir)
                if result.totals.failed:
                    exit_code = EXIT_PARTIAL
    return exit_code


def _interrupted(result: RunResult, run_dir: Path) -> RunInterrupted:
    from ais_bench.api.workdir import display

    totals = result.totals
    stop_signal = result.stop_signal or "SIGINT"
    what = "the results above cover them" if result.summary is not None else "no result tables: none succeeded"
    return RunInterrupted(
        f"run interrupted ({stop_signal}): sending stopped; {totals.succeeded} of the {totals.sent} requests sent "
        f"succeeded, {totals.failed} failed or were cut in flight; {what}",
        hint=f"results and details are in {display(run_dir)}",
        stop_signal=stop_signal,
    )


def _cli_args(args: argparse.Namespace) -> dict[str, Any]:
    """The flags for the config dump; a ``--header`` with a secret-looking name as ``Name: ***``."""
    from ais_bench.config import flag_headers, masked_headers

    values = {key: value for key, value in vars(args).items() if value is not None}
    if "header" in values:
        values["header"] = [f"{name}: {value}" for name, value in masked_headers(flag_headers(values["header"])).items()]
    return values


if __name__ == "__main__":
    sys.exit(main())
