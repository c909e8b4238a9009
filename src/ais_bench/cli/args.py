"""Command-line arguments of ``ais_bench``."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from typing import NoReturn

from ais_bench import __version__
from ais_bench.errors import ConfigError

PERF_MODES = ("perf", "perf_viz")
ACCURACY_MODES = ("all", "infer", "eval", "viz", "judge", "infer_judge")
MAX_PRESSURE_TIME_S = 86400

DESCRIPTION = """\
Measure the performance of an LLM inference service (AISBench-compatible service perf test).

Examples:
  ais_bench --url http://127.0.0.1:8000 --concurrency 16 --isl 128 --osl 128 --num-prompts 200 --mode perf
  ais_bench --models sim_api_stream_chat --datasets synthetic_demo --summarizer stable_stage --mode perf
  ais_bench --models vllm_api_stream_chat --datasets demo_gsm8k_gen_4_shot_cot_chat_prompt --mode perf
  ais_bench --models vllm_api_stream_chat --datasets demo_gsm8k_gen_4_shot_cot_chat_prompt \\
            --summarizer stable_stage --mode perf --pressure --pressure-time 30
  ais_bench --models vllm_api_stream_chat --datasets demo_gsm8k_gen_4_shot_cot_chat_prompt --search
  ais_bench compare RUN_A RUN_B --fail-if 'ttft.p99>+10%'   (is B faster than A? see ais_bench compare --help)

Documentation (in the source tree):
  README.md                     quick start, backends, datasets, reading the results
  docs/config.md                every config field, global constant and flag, with ranges
  docs/metrics.md               what each metric measures (ITL vs TPOT, clock, steady window)
  docs/outputs.md               the run folder and the schema of every file
  docs/troubleshooting.md       each error message and its fix
  docs/aisbench-differences.md  where results differ from AISBench, and why
"""


class ConfigErrorParser(argparse.ArgumentParser):
    """argparse, but a usage error is one ``ConfigError`` line (no usage block), like every other error."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{self.prog}: {message}", hint=f"see {self.prog} --help")


def build_parser() -> argparse.ArgumentParser:
    parser = ConfigErrorParser(
        prog="ais_bench", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "config", nargs="?", help="a Python config file defining `models`, `datasets` and `summarizer`"
    )
    _add_target_flags(parser.add_argument_group("what to hit (the server)"))
    _add_load_flags(parser.add_argument_group("how hard (the load)"))
    _add_request_flags(parser.add_argument_group("what to send (the requests)"))
    _add_report_flags(parser.add_argument_group("what to report (results and the run folder)"))
    _add_other_flags(parser.add_argument_group("configs and diagnostics"))
    return parser


def _add_target_flags(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--models", nargs="+", metavar="NAME",
        help="model config names (file stems; wildcards ok); optional with --url (OpenAI chat, streaming)",
    )
    group.add_argument(
        "--url", metavar="URL",
        help="the server's root URL, e.g. http://127.0.0.1:8000 (replaces host_ip/host_port/url of every model)",
    )
    group.add_argument(
        "--served-model-name", metavar="NAME", help="the `model` field of every request (default: asked from the server)"
    )
    group.add_argument(
        "--api-key-env", metavar="VAR",
        help="send the key held by environment variable VAR as 'Authorization: Bearer <key>' (api_key)",
    )
    group.add_argument(
        "--header", action="append", type=_header, metavar="'NAME: VALUE'",
        help="an HTTP header sent with every request of every model (load, warm-up, model discovery); "
        "repeatable; replaces the model config's header of the same name (and api_key's Authorization)",
    )
    group.add_argument("--ca-cert", metavar="PATH", help="check an https:// server against this CA (PEM file)")
    group.add_argument(
        "--insecure", action="store_true", help="do not check the TLS certificate of an https:// server (test servers)"
    )


def _add_load_flags(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--concurrency", type=_sweep_values(integer=True), metavar="N",
        help="maximum requests in flight (batch_size of every model); a list 1,2,4,8 or a range START:END:xFACTOR "
        "(1:64:x2) runs a sweep, one run per value",
    )
    group.add_argument(
        "--request-rate", type=_sweep_values(integer=False), metavar="R",
        help="requests per second across all workers, 0 = as fast as --concurrency allows "
        "(request_rate; with --pressure: clients added per second); a list or START:END:xFACTOR runs a sweep",
    )
    group.add_argument(
        "--pressure", action="store_true",
        help="pressure mode: add clients at request_rate up to batch_size, each sending back-to-back",
    )
    group.add_argument(
        "--pressure-time", type=_pressure_time, default=15, metavar="SECONDS",
        help=f"how long pressure mode sends new requests, integer 1..{MAX_PRESSURE_TIME_S} (default 15)",
    )
    group.add_argument(
        "--num-warmups", type=_non_negative_int, default=1, metavar="N",
        help="warm-up requests sent before measuring, excluded from results (default 1; 0 disables)",
    )
    group.add_argument(
        "--ray", nargs="?", const=True, default=None, metavar="ADDRESS",
        help="run the workers as actors of a Ray cluster, spread over its nodes (ADDRESS: HOST:PORT, "
        "ray://HOST:PORT or auto; default: RAY_ADDRESS, else auto); needs pip install 'ais_bench[distributed]'",
    )
    group.add_argument(
        "--ray-workers-per-node", type=_positive_int, metavar="N",
        help="with --ray: N workers on each node (default: WORKERS_NUM spread over the nodes, one per node when 0)",
    )
    _add_sweep_flags(group)


def _add_sweep_flags(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--cool-down", type=_non_negative_number, metavar="SECONDS",
        help="idle time between the points of a sweep or an SLO search (default 0)",
    )
    group.add_argument(
        "--slo-search", choices=("concurrency", "request_rate"),
        help="find the highest concurrency (or request_rate) whose SLO attainment (--goodput) meets "
        "--slo-attainment: doubling from 1, then bisection; writes a sweep folder",
    )
    for flag, parse, metavar, text in SLO_SEARCH_ONLY_FLAGS:
        group.add_argument(flag, type=parse, metavar=metavar, help=text)


def _add_request_flags(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--datasets", nargs="+", metavar="NAME[/SUFFIX]", help="dataset config names; every model x dataset runs"
    )
    group.add_argument(
        "--custom-dataset-path", metavar="FILE",
        help="a JSONL file of prompts ('prompt'/'question'/'messages', optional 'max_out_len', 'timestamp' ms); "
        "runs as one more dataset, so --datasets may be omitted",
    )
    group.add_argument(
        "--num-prompts", type=_positive_int, metavar="N",
        help="use only the first N dataset rows (ignored when the dataset config sets test_range); "
        "with --isl/--osl and no dataset: the number of prompts (default 1000)",
    )
    group.add_argument(
        "--isl", type=_positive_int, metavar="N",
        help="synthetic prompts of N input tokens (with no dataset, or reshaping a synthetic one)",
    )
    group.add_argument(
        "--osl", type=_positive_int, metavar="N", help="exactly N output tokens per synthetic prompt (sets ignore_eos)"
    )
    group.add_argument("--isl-stddev", type=_non_negative_number, metavar="S", help="standard deviation of --isl (tokens)")
    group.add_argument("--osl-stddev", type=_non_negative_number, metavar="S", help="standard deviation of --osl (tokens)")
    group.add_argument(
        "--max-out-len", type=_positive_int, metavar="N", help="at most N output tokens per request (max_out_len)"
    )
    group.add_argument(
        "--seed", type=_non_negative_int, metavar="N",
        help="seed of every model's send schedule and every dataset's rows (same seed, same run)",
    )


def _add_report_flags(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--summarizer", metavar="NAME[/KEY]", help="summarizer config: default_perf (default) or stable_stage"
    )
    group.add_argument(
        "--goodput", nargs="+", metavar="KEY:MS",
        help="SLO bounds of goodput, e.g. --goodput ttft:200 tpot:50 e2el:5000 (ms; any of ttft, tpot, e2el): "
        "report the requests that met all of them per second and their share (replaces the summarizer's slo)",
    )
    group.add_argument(
        "-m", "--mode", choices=PERF_MODES + ACCURACY_MODES,
        help="perf (default): send the load and compute performance results; "
        "perf_viz: recompute the results of a finished or killed run from its records (see --reuse)",
    )
    group.add_argument(
        "--reuse", nargs="?", const="latest", metavar="TIMESTAMP",
        help="recalculate the run folder <work_dir>/TIMESTAMP (bare --reuse: the latest run) from its records, "
        "with the summarizer and models given now; implies --mode perf_viz",
    )
    group.add_argument("-w", "--work-dir", default="outputs/default", help="output root (default: outputs/default)")
    group.add_argument(
        "--dump-text", action="store_true",
        help="also write each request's prompt and generated text into <ds>_details.jsonl",
    )
    group.add_argument(
        "--server-metrics", nargs="*", metavar="URL",
        help="scrape the server's Prometheus metrics during the run (default URL: <base>/metrics; more URLs: a "
        "GPU exporter, a router) and derive running/waiting requests, KV-cache usage, token rates per stage, "
        "cross-checked against the client",
    )
    group.add_argument(
        "--server-metrics-interval", type=_positive_number, default=1.0, metavar="S",
        help="seconds between two scrapes of --server-metrics (default: 1)",
    )
    group.add_argument(
        "--wide", action="store_true",
        help="print the result tables in AISBench's full layout (a unit in every cell, as <ds>.csv); "
        "default: compact tables that fit 120 columns (--debug prints the full layout too)",
    )


def _add_other_flags(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--config-dir", default="configs",
        help="extra config root searched before the built-in configs (default: ./configs)",
    )
    group.add_argument("-s", "--search", action="store_true", help="print the config files that would be used and exit")
    group.add_argument("--debug", action="store_true", help="logs to the terminal, one worker, tracebacks shown")
    group.add_argument("--version", action="version", version=f"ais_bench {__version__}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    if args.mode in ACCURACY_MODES:
        raise ConfigError(
            f"--mode {args.mode} is an accuracy mode; this tool implements performance testing only",
            hint="use --mode perf",
        )
    args.mode = _mode(args.mode, args.reuse)
    _split_sweep(args)
    if not args.config and not args.models and args.url is None:
        raise ConfigError("no model given", hint="pass --url URL, --models NAME (see --search) or a config file")
    if not args.config and not args.datasets and not args.custom_dataset_path and args.isl is None and args.osl is None:
        raise ConfigError(
            "no dataset given",
            hint="pass --isl N --osl N, --datasets NAME (see --search), --custom-dataset-path FILE or a config file",
        )
    return args


def _mode(given: str | None, reuse: str | None) -> str:
    """``--mode`` as given, else ``perf_viz`` with ``--reuse`` and ``perf`` without; an explicit
    ``--mode perf`` with ``--reuse`` switches to ``perf_viz`` with a warning."""
    if given is None:
        return "perf_viz" if reuse is not None else "perf"
    if given == "perf" and reuse is not None:
        logging.getLogger("ais_bench").warning("--reuse given with --mode perf: switching to --mode perf_viz")
        return "perf_viz"
    return given


def _int_value(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def _positive_int(text: str) -> int:
    value = _int_value(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is too small: expected an integer >= 1")
    return value


def _non_negative_int(text: str) -> int:
    value = _int_value(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is too small: expected an integer >= 0")
    return value


def _non_negative_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is out of range: expected a finite number >= 0")
    return value


def _positive_number(text: str) -> float:
    value = _non_negative_number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is out of range: expected a number > 0")
    return value


def _header(text: str) -> str:
    """A ``--header`` flag checked now (one clear line when it is malformed), kept as written."""
    from ais_bench.config.headers import parse_header_flag

    try:
        parse_header_flag(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _pressure_time(text: str) -> int:
    value = _int_value(text)
    if not 1 <= value <= MAX_PRESSURE_TIME_S:
        raise argparse.ArgumentTypeError(f"{value} is out of range: expected an integer in [1, {MAX_PRESSURE_TIME_S}]")
    return value


def _sweep_values(*, integer: bool) -> Callable[[str], list[float]]:
    """The type of ``--concurrency`` (``integer``) and ``--request-rate``: one value, a list or a range."""

    def parse(text: str) -> list[float]:
        from ais_bench.sweep.values import parse_sweep_values

        try:
            return parse_sweep_values(text, integer=integer)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def _share(text: str) -> float:
    value = _non_negative_number(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is out of range: expected a share in (0, 1], e.g. 0.99")
    return value


#: The flags that tune ``--slo-search`` and mean nothing without it (refused then): (flag, type,
#: metavar, help).
SLO_SEARCH_ONLY_FLAGS: tuple[tuple[str, Callable[[str], float], str, str], ...] = (
    ("--slo-attainment", _share, "SHARE",
     "the share of requests that must meet every --goodput bound in --slo-search (default 0.99)"),
    ("--slo-search-resolution", _positive_number, "STEP",
     "--slo-search stops when the passing and failing values are this close "
     "(default: 1 for concurrency, 0.25 req/s for request_rate)"),
    ("--slo-search-max-points", _positive_int, "N", "at most N runs in --slo-search (default 12)"),
)


def _split_sweep(args: argparse.Namespace) -> None:
    """``--concurrency``/``--request-rate``: one value stays the flag's value; a list becomes the sweep
    (``args.sweep_axis``, ``args.sweep_values``). Sweep flags that cannot have an effect are refused."""
    args.sweep_axis, args.sweep_values = None, None
    for name in ("concurrency", "request_rate"):
        values = getattr(args, name)
        if values is None:
            continue
        if len(values) > 1:
            if args.sweep_axis is not None:
                raise ConfigError(
                    "--concurrency and --request-rate are both lists: a sweep varies one of them",
                    hint="give one of them a single value",
                )
            args.sweep_axis, args.sweep_values = name, values
            setattr(args, name, None)
        else:
            setattr(args, name, int(values[0]) if name == "concurrency" else values[0])
    _check_sweep_flags(args)


def _check_sweep_flags(args: argparse.Namespace) -> None:
    searching = args.slo_search is not None
    if searching and args.sweep_axis is not None:
        raise ConfigError(
            f"--slo-search and a list of {args.sweep_axis.replace('_', '-')} values: the search picks its own values",
            hint="keep the list (a sweep) or --slo-search (a search), not both",
        )
    if searching and getattr(args, args.slo_search) is not None:
        flag = "--" + args.slo_search.replace("_", "-")
        raise ConfigError(f"--slo-search {args.slo_search} and {flag}: the search picks the {flag} values",
                          hint=f"leave {flag} out")
    for flag, *_ in SLO_SEARCH_ONLY_FLAGS:
        given = getattr(args, flag.removeprefix("--").replace("-", "_")) is not None  # argparse's dest
        if given and not searching:
            raise ConfigError(f"{flag} has no effect without --slo-search", hint=f"add --slo-search, or leave {flag} out")
    if args.slo_search == "concurrency" and args.slo_search_resolution is not None \
            and args.slo_search_resolution != int(args.slo_search_resolution):
        raise ConfigError(
            f"--slo-search-resolution {args.slo_search_resolution:g}: concurrency is a whole number",
            hint="give an integer resolution, e.g. 1",
        )
    if args.cool_down is not None and args.sweep_axis is None and not searching:
        raise ConfigError("--cool-down has no effect on a single run",
                          hint="give --concurrency or --request-rate a list of values, or --slo-search")
    if (args.sweep_axis is not None or searching) and args.mode != "perf":
        raise ConfigError("a sweep or an SLO search sends load: it cannot be recalculated with --reuse/--mode perf_viz",
                          hint="recalculate one point with -w <sweep folder> --reuse <point folder>, or drop the list")
