"""Whether a run finished, was interrupted (Ctrl-C, SIGTERM) or was killed, kept beside its records.

Before the load starts, ``records/<ds>.run_facts.json`` says ``"run_state": "running"``; the
summary of a live run replaces it with ``finished`` or ``interrupted`` (and the signal); a load
stopped by an error it cannot summarise (a full disk) says ``stopped`` and why. A run killed
outright (SIGKILL, power loss) never gets that far, so a recalculation that finds ``running`` knows
the run was killed. ``<ds>.json`` carries the state under ``"_ais_bench"."run_state"``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from ais_bench.records.columns import RecordColumns, write_run_facts

RUNNING, FINISHED, INTERRUPTED, STOPPED, KILLED = "running", "finished", "interrupted", "stopped", "killed"


def mark_running(out_dir: Path, data_abbr: str) -> None:
    """Say the load has started. Best effort: a disk that cannot take this line is reported by the
    record writers, with what to do."""
    with contextlib.suppress(OSError):
        write_run_facts(out_dir, data_abbr, {"run_state": RUNNING})


def mark_stopped(out_dir: Path, data_abbr: str, reason: str) -> None:
    """Say the load stopped early on an error (e.g. a full disk): best effort, as ``mark_running``."""
    with contextlib.suppress(OSError):
        write_run_facts(out_dir, data_abbr, {"run_state": STOPPED, "stop_reason": reason})


def live_run_state(stop_signal: str | None) -> dict[str, Any]:
    """The facts a live run records about how it ended."""
    if stop_signal is None:
        return {"run_state": FINISHED}
    return {"run_state": INTERRUPTED, "stop_signal": stop_signal}


def reused_facts(columns: RecordColumns) -> dict[str, Any]:
    """The stored facts of a run being recalculated, with its state resolved (``running`` = killed)
    and a warning first when the run did not finish."""
    facts = dict(columns.run_facts)
    if facts.get("run_state") == RUNNING:
        facts["run_state"] = KILLED
    warnings = [w for w in facts.get("warnings", []) if not w.startswith(_ENDED_EARLY_PREFIX)]
    if facts.get("run_state") == KILLED:
        warnings.insert(0, f"{_ENDED_EARLY_PREFIX} killed before it finished (no summary was written): the "
                        "results cover only the requests whose records reached the disk")
    elif facts.get("run_state") == STOPPED:
        warnings.insert(0, f"{_ENDED_EARLY_PREFIX} stopped early ({facts.get('stop_reason', 'an error')}): the "
                        "results cover only the requests whose records reached the disk")
    elif facts.get("run_state") == INTERRUPTED:
        warnings.insert(0, f"{_ENDED_EARLY_PREFIX} interrupted ({facts.get('stop_signal', 'SIGINT')}): sending "
                        "stopped early, and the results cover only the requests that finished")
    facts["warnings"] = warnings
    return facts


_ENDED_EARLY_PREFIX = "this run was"


def ended_early(facts: dict[str, Any]) -> bool:
    return facts.get("run_state") in (INTERRUPTED, STOPPED, KILLED)
