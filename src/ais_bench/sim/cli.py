"""``ais_bench_sim``: run the simulated inference service standalone.

Every ``SimConfig`` field is a flag (``max_num_seqs`` -> ``--max-num-seqs``); the help text gives units.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import MISSING, fields

from ais_bench.errors import AisBenchError
from ais_bench.sim.config import FIELD_KINDS, SimConfig
from ais_bench.sim.runtime import run_event_loop, serve_until_signal
from ais_bench.sim.server import SimServer

log = logging.getLogger("ais_bench.sim")

_ARG_TYPES = {"int": int, "float": float, "str": str, "str?": str}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ais_bench_sim",
        description="Simulated OpenAI-compatible continuous-batching inference server.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    parser.add_argument("--port", type=int, default=8080, help="TCP port to bind (0 = any free port)")
    for f in fields(SimConfig):
        default = None if f.default is MISSING else f.default
        parser.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            type=_ARG_TYPES[FIELD_KINDS[f.name]],
            default=default,
            help=f.metadata.get("help", ""),
        )
    return parser


def config_from_args(args: argparse.Namespace) -> SimConfig:
    return SimConfig.from_dict({f.name: getattr(args, f.name) for f in fields(SimConfig)})


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        cfg = config_from_args(args)
        run_event_loop(serve_until_signal(cfg, args.host, args.port, _announce))
    except AisBenchError as exc:
        print(exc.one_line(), file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        print(f"ais_bench_sim: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    return 0


def _announce(server: SimServer) -> None:
    log.info("serving on %s", server.url)


if __name__ == "__main__":
    sys.exit(main())
