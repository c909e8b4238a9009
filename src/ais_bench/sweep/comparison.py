"""What a comparison of sweeps holds (``ais_bench compare SWEEP_A SWEEP_B``): the sweeps as read, each
paired point's dataset comparisons, the sweep-level answers and the broken ``--fail-if`` rules. Data
only: ``api/compare_sweeps.py`` fills it, ``reports/compare_sweep_report.py`` writes it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ais_bench.metrics.comparison import DatasetComparison, Violation

#: The values of a sweep point that its curve in ``compare.json`` / ``compare.html`` keeps.
CURVE_FIELDS = (
    "request_throughput", "output_token_throughput", "ttft_p50_ms", "ttft_p99_ms", "tpot_p50_ms", "tpot_p99_ms",
    "itl_p50_ms", "itl_p99_ms", "e2el_p50_ms", "e2el_p99_ms", "goodput_req_s", "attainment",
)


@dataclass(frozen=True)
class SweepResults:
    """One sweep folder given: ``label`` (its folder name, made unique), ``path`` (as given), its
    ``sweep.json`` as read (``document``) and the run folder of each point with results by value."""

    label: str
    path: Path
    document: dict[str, Any]
    points: dict[float, Path]

    @property
    def axis(self) -> str:
        return str(self.document["axis"])

    @property
    def knee(self) -> float | None:
        return number_or_none(self.document.get("knee"))

    def curve(self) -> list[dict[str, Any]]:
        """The points with results, ascending by value: ``value`` and the ``CURVE_FIELDS`` (None when
        the sweep did not measure one) as its ``sweep.json`` reports them."""
        measured = [p for p in self.document.get("points", []) if isinstance(p, dict) and p.get("status") == "ok"]
        return [
            {"value": float(p["value"]), **{name: number_or_none(p.get(name)) for name in CURVE_FIELDS}}
            for p in sorted(measured, key=lambda p: float(p["value"]))
        ]


@dataclass(frozen=True)
class PointComparison:
    """The point ``value`` of sweep ``run`` (label) against the baseline sweep's point of that value:
    one ``DatasetComparison`` per dataset the two point runs have (as ``compare_runs`` makes them)."""

    value: float
    run: str
    pairs: list[DatasetComparison]


@dataclass(frozen=True)
class SweepLevel:
    """The sweep-level answers of sweep ``run`` against the baseline: ``knee_a``/``knee_b`` (None: no
    knee found), ``max_passing_a``/``_b`` (None: no point passed) with ``max_passing_source``
    ``slo_search`` (both sweeps searched: their ``max_passing``), ``points`` (both have goodput: the
    highest measured point whose SLO attainment reached ``target``) or None (no SLO on one side);
    ``passed_all_a``/``_b`` (source ``points``): every measured point passed, so the highest load
    meeting the SLO lies beyond the sweep."""

    run: str
    knee_a: float | None
    knee_b: float | None
    max_passing_a: float | None = None
    max_passing_b: float | None = None
    max_passing_source: str | None = None
    target: float | None = None
    passed_all_a: bool = False
    passed_all_b: bool = False


@dataclass(frozen=True)
class PointViolation:
    """A ``--fail-if`` rule broken at the point ``value`` of ``axis``."""

    axis: str
    value: float
    violation: Violation


@dataclass
class SweepComparison:
    """Every sweep against the baseline (``sweeps[0]``), point by point; ``notes``: points not
    compared (measured by one sweep only, or without results in one) and datasets one side lacks."""

    sweeps: list[SweepResults]
    points: list[PointComparison] = field(default_factory=list)
    levels: list[SweepLevel] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def baseline(self) -> SweepResults:
        return self.sweeps[0]

    @property
    def axis(self) -> str:
        return self.baseline.axis


def number_or_none(value: Any) -> float | None:
    """A JSON number as a float; None for null, a bool or anything else."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
