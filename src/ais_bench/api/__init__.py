"""The public Python API: plan one model x dataset benchmark run, run it, get a typed result.

::

    from ais_bench import api

    model = dict(type=VLLMCustomAPIChat, abbr="my-server", host_port=8080, batch_size=16)
    planned = api.plan_run(model, "synthetic_gen", run_dir=api.new_run_dir("outputs/default"), num_prompts=200)
    result = api.run(planned)  # RunResult: summary (PerfSummary), totals, paths of the outputs

The command line's flags are keywords of ``overrides`` (``api.RunOverrides``)::

    planned = api.plan_run(None, None, run_dir=..., num_prompts=200,
                           overrides=dict(url="http://127.0.0.1:8000", concurrency=16, isl=128, osl=128))

A model config with ``simulator=dict(...)`` needs its simulator running while planning and running:
``with api.serve_simulator(model) as target: api.run(api.plan_run(target, ...))``. The command line
(``cli/main.py``) is a caller of these functions; so are sweeps and distributed runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ais_bench.api.configs import dataset_config, model_config, summarizer_config
from ais_bench.api.planning import PlannedRun, plan_run
from ais_bench.api.running import ResultPaths, RunResult, run
from ais_bench.api.simulator import serve_simulator
from ais_bench.api.workdir import create_run_dir as new_run_dir
from ais_bench.config import RunOverrides
from ais_bench.engine.plan import RunPlan

if TYPE_CHECKING:
    from ais_bench.api.sweep import PointSettings, SweepResult, new_sweep_dir, run_slo_search, run_sweep

#: Names of ``api/sweep.py``, imported on first use: a single run does not pay for the sweep and its
#: report modules.
_SWEEP_NAMES = frozenset({"PointSettings", "SweepResult", "new_sweep_dir", "run_slo_search", "run_sweep"})


def __getattr__(name: str) -> Any:
    if name in _SWEEP_NAMES:
        from ais_bench.api import sweep

        return getattr(sweep, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "PlannedRun",
    "PointSettings",
    "ResultPaths",
    "RunOverrides",
    "RunPlan",
    "RunResult",
    "SweepResult",
    "dataset_config",
    "model_config",
    "new_run_dir",
    "new_sweep_dir",
    "plan_run",
    "run",
    "run_slo_search",
    "run_sweep",
    "serve_simulator",
    "summarizer_config",
]
