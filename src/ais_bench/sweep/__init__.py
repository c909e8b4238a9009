"""Sweeps over load (``--concurrency 1,2,4`` / ``--request-rate 1:8:x2``) and the search for the highest
load that meets an SLO (``--slo-search``): the grammar of the swept values, one row per point, the knee,
the search's bisection. The runs themselves go through ``ais_bench.api`` (``api/sweep.py``)."""

from ais_bench.sweep.rows import KNEE_ELASTICITY, SweepRow, find_knee, row_from_summary, unmeasured_row
from ais_bench.sweep.search import SearchOutcome, SearchPoint, search_max_passing
from ais_bench.sweep.values import AXES, SweepAxis, parse_sweep_values

__all__ = [
    "AXES",
    "KNEE_ELASTICITY",
    "SearchOutcome",
    "SearchPoint",
    "SweepAxis",
    "SweepRow",
    "find_knee",
    "parse_sweep_values",
    "row_from_summary",
    "search_max_passing",
    "unmeasured_row",
]
