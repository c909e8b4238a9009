"""A local two-node Ray cluster on 127.0.0.1 for the ``--ray`` tests, in a process of its own (the
test process stays free of Ray's threads, so its local runs may still fork their workers).

Run as ``python -m tests.support.ray_cluster``: prints one JSON line ``{"address": ...}`` once both
nodes are up, then obeys lines on stdin: ``kill`` removes the second node at once (its raylet and
its actors die, as when a machine goes away) and prints ``killed``; end of input shuts the cluster
down. Every process binds 127.0.0.1 only: ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (``LOOPBACK_ENV``)
makes Ray's own address guess the loopback address, which it otherwise takes from the network.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

#: The environment every Ray process of a test needs (this cluster's and the driver's).
LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
#: CPUs each node offers (one per load worker, ``distributed/driver.py``).
NODE_CPUS = 2


def main() -> None:
    os.environ.update(LOOPBACK_ENV)
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True,
        head_node_args={"node_ip_address": "127.0.0.1", "num_cpus": NODE_CPUS, "include_dashboard": False},
    )
    second = cluster.add_node(node_ip_address="127.0.0.1", num_cpus=NODE_CPUS)
    cluster.wait_for_nodes()
    print(json.dumps({"address": cluster.address, "second_node_id": second.node_id}), flush=True)
    try:
        for line in sys.stdin:
            if line.strip() == "kill":
                _kill_node(cluster, second)
                print("killed", flush=True)
    finally:
        cluster.shutdown()


def _kill_node(cluster: Any, node: Any) -> None:
    """SIGKILL the node's worker processes (its actors) and its raylet, as when its machine goes
    away; removing the node alone leaves its actors running for a while without their raylet."""
    raylet_pids = [process.process.pid for process in node.all_processes.get("raylet", [])]
    workers = [child for pid in raylet_pids for child in _children(pid)]
    for pid in workers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    cluster.remove_node(node, allow_graceful=False)


def _children(pid: int) -> list[int]:
    """The process ids of ``pid``'s children (Linux's /proc)."""
    found: list[int] = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(child) for child in children.read_text().split()]
    return found


if __name__ == "__main__":
    main()
