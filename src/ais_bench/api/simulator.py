"""Model configs with ``simulator=dict(...)`` talk to the embedded simulated server, started here."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from ais_bench.config import ModelConfig

log = logging.getLogger("ais_bench")


@contextlib.contextmanager
def serve_simulator(model: ModelConfig) -> Iterator[ModelConfig]:
    """Yield the model config to plan with: unchanged, or, for a config with ``simulator=dict(...)``,
    pointed at a freshly started simulator process (stopped on exit)."""
    if model.simulator is None:
        yield model
        return
    from ais_bench.sim import start_sim_process

    sim_cfg = model.simulator
    handle = start_sim_process(sim_cfg)
    log.info("Embedded simulator for '%s' serving on %s (max_num_seqs=%d)", model.abbr, handle.url, sim_cfg.max_num_seqs)
    try:
        yield model.with_port(handle.port)
    finally:
        handle.stop()
