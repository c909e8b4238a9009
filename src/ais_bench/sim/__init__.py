"""The embedded simulated inference service: an OpenAI-compatible continuous-batching server.

Public API: ``SimConfig``, ``serve(cfg, host, port) -> SimServer`` (in the running loop) and
``start_sim_process(cfg) -> SimHandle`` (in a child process). CLI: ``ais_bench_sim``.
"""

from __future__ import annotations

from ais_bench.sim.config import SimConfig
from ais_bench.sim.process import SimHandle, start_sim_process
from ais_bench.sim.server import SimServer, serve

__all__ = ["SimConfig", "SimHandle", "SimServer", "serve", "start_sim_process"]
