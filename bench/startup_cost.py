"""Fixed CPU cost of a run: what ``ais_bench`` spends besides sending the requests.

Usage: ``.venv/bin/python bench/startup_cost.py [--requests 1000] [--tokens 16] [--concurrency 64]
[--workers 1] [--repeat 3]``

Server: the embedded simulator with every cost at zero, in its own process (not counted), started
once. Client: the real command line (``ais_bench.cli.main.main``: config loading, model discovery,
warm-up, worker processes, the load, the results tables, csv/json/html reports, the record files)
in a fresh interpreter, run over a JSON-lines dataset of ``--requests`` prompts and again over twice
as many. CPU seconds of the run = the interpreter's own (``RUSAGE_SELF``, interpreter start and
imports included) + its finished children's (``RUSAGE_CHILDREN``: the workers, multiprocessing's
resource tracker). A first run is not counted: it writes the bytecode caches (``__pycache__``) that
an installed ais_bench has after its first run (unless ``PYTHONDONTWRITEBYTECODE`` is set, when
every run compiles the modules it imports). With C(n) the CPU of an n-request run, the per-request cost is C(2n) − C(n) over n
requests and the fixed cost is C(n) minus n of those: 2·C(n) − C(2n).

Also printed, for the n-request run: the main process's CPU for its imports (``import
ais_bench.cli.main`` and what a run imports later), and main / children CPU. Medians of ``--repeat``
pairs. A script that prints figures, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ais_bench.sim import SimConfig, start_sim_process

MODEL_CONFIG = """\
from ais_bench.benchmark.models import VLLMCustomAPIChat

models = [
    dict(
        attr="service",
        type=VLLMCustomAPIChat,
        abbr="startup",
        path="",
        model="",
        stream=True,
        request_rate=0,
        retry=2,
        host_ip="127.0.0.1",
        host_port={port},
        max_out_len={tokens},
        batch_size={concurrency},
        generation_kwargs=dict(ignore_eos=True),
    )
]
"""

#: Runs one ``ais_bench`` command in this interpreter and prints its CPU seconds as JSON.
RUNNER = """\
import json, resource, sys, time
sys.argv = ["ais_bench", *sys.argv[1:]]
from ais_bench.cli.main import main
imported_s = time.process_time()
code = main()
own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
modules = len(sys.modules)
print(json.dumps({
    "code": code, "import_s": imported_s, "modules": modules,
    "main_s": own.ru_utime + own.ru_stime, "children_s": children.ru_utime + children.ru_stime,
}))
"""


def _write_dataset(path: Path, requests: int) -> None:
    path.write_text("".join(json.dumps({"prompt": f"hello {i}"}) + "\n" for i in range(requests)))


def _run(work: Path, dataset: Path, workers: int) -> dict[str, float]:
    consts = work / "global_consts.py"
    consts.write_text(f"WORKERS_NUM = {workers}\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"), "AIS_BENCH_GLOBAL_CONSTS": str(consts)}
    args = [
        sys.executable, "-c", RUNNER, "--models", "startup", "--custom-dataset-path", str(dataset),
        "--mode", "perf", "--work-dir", str(work / "outputs"), "--config-dir", str(work / "configs"),
    ]
    done = subprocess.run(args, cwd=work, env=env, capture_output=True, text=True, check=False)
    try:
        figures = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        sys.exit(f"the run failed:\n{done.stdout}\n{done.stderr}")
    if figures["code"] != 0:
        sys.exit(f"the run exited with {figures['code']}:\n{done.stdout}\n{done.stderr}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description="Fixed CPU cost of an ais_bench run.")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--tokens", type=int, default=16, help="output tokens per request")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    zero = {"prefill_base_ms": 0.0, "prefill_per_token_ms": 0.0, "decode_per_seq_ms": 0.0, "decode_base_ms": 0.0}
    fixed, per_request, totals, mains, children, imports = [], [], [], [], [], []
    with tempfile.TemporaryDirectory(prefix="ais_bench_startup_") as tmp, start_sim_process(
        SimConfig(max_num_seqs=args.concurrency, seed=0, **zero)
    ) as sim:
        work = Path(tmp)
        (work / "configs" / "models").mkdir(parents=True)
        port = int(sim.url.rsplit(":", 1)[1])
        (work / "configs" / "models" / "startup.py").write_text(
            MODEL_CONFIG.format(port=port, tokens=args.tokens, concurrency=args.concurrency)
        )
        small, large = work / "small.jsonl", work / "large.jsonl"
        _write_dataset(small, args.requests)
        _write_dataset(large, 2 * args.requests)
        print(f"python {sys.version.split()[0]}, {args.requests} and {2 * args.requests} requests, "
              f"{args.tokens} tokens each, concurrency {args.concurrency}, WORKERS_NUM {args.workers}")
        _run(work, small, args.workers)  # not counted: leaves the bytecode caches a normal install has
        for rep in range(args.repeat):
            one = _run(work, small, args.workers)
            two = _run(work, large, args.workers)
            cost_one = one["main_s"] + one["children_s"]
            cost_two = two["main_s"] + two["children_s"]
            per_request.append((cost_two - cost_one) / args.requests)
            fixed.append(2 * cost_one - cost_two)
            totals.append(cost_one)
            mains.append(one["main_s"])
            children.append(one["children_s"])
            imports.append(one["import_s"])
            print(
                f"  run {rep + 1}: {args.requests} requests {cost_one:.2f} CPU-s (main {one['main_s']:.2f}, "
                f"children {one['children_s']:.2f}, main's import of the CLI {one['import_s']:.2f}, "
                f"{one['modules']} modules); {2 * args.requests} requests {cost_two:.2f} CPU-s; "
                f"per request {1e3 * per_request[-1]:.3f} ms; fixed {fixed[-1]:.2f} CPU-s"
            )
    median = statistics.median
    print(
        f"== medians: fixed cost {median(fixed):.2f} CPU-s; {args.requests}-request run {median(totals):.2f} CPU-s "
        f"(main {median(mains):.2f}, children {median(children):.2f}, CLI import {median(imports):.2f}); "
        f"per request {1e3 * median(per_request):.3f} ms"
    )


if __name__ == "__main__":
    main()
