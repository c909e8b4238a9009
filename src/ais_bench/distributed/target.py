"""Which Ray cluster a run uses and how many workers it puts there (``--ray``,
``--ray-workers-per-node``, ``api.plan_run(ray=...)``), and Ray's import, which only ``--ray`` makes."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from types import ModuleType

from ais_bench.errors import ConfigError

#: What installs Ray for ``--ray``.
INSTALL_HINT = "pip install 'ais_bench[distributed]' (in a clone: make distributed)"


@dataclass(frozen=True)
class RayTarget:
    """``address``: the cluster (Ray's conventions: ``auto``, ``HOST:PORT``, ``ray://HOST:PORT``);
    None means ``RAY_ADDRESS`` or ``auto``. ``workers_per_node``: load workers on each node (None:
    ``workers_num`` in all, spread over the nodes; 0 there: one per node)."""

    address: str | None = None
    workers_per_node: int | None = None
    workers_num: int = 0

    @property
    def resolved_address(self) -> str:
        return self.address or os.environ.get("RAY_ADDRESS") or "auto"

    def worker_count(self, nodes: int, batch_size: int) -> int:
        """Workers on ``nodes`` nodes: never more than ``batch_size`` (each needs a slot)."""
        if self.workers_per_node is not None:
            wanted = self.workers_per_node * nodes
        else:
            wanted = self.workers_num if self.workers_num > 0 else nodes
        return max(1, min(wanted, batch_size))


def ray_target(value: RayTarget | str | bool | None, workers_per_node: int | None, workers_num: int) -> RayTarget | None:
    """``api.plan_run``'s ``ray=``: None/False (a local run), True (the default address), an address,
    or a ``RayTarget``."""
    if value is None or value is False:
        if workers_per_node is not None:
            raise ConfigError("--ray-workers-per-node is given without --ray", hint="add --ray [ADDRESS]")
        return None
    if isinstance(value, RayTarget):
        return value
    if workers_per_node is not None and workers_per_node < 1:
        raise ConfigError(f"--ray-workers-per-node {workers_per_node} is not a positive integer", hint="pass e.g. 2")
    return RayTarget(None if value is True else str(value), workers_per_node, workers_num)


def import_ray() -> ModuleType:
    """Ray, or one line saying how to install it."""
    try:
        return importlib.import_module("ray")
    except ImportError:
        raise ConfigError("--ray needs Ray, which is not installed", hint=INSTALL_HINT) from None
