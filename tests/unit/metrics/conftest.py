from __future__ import annotations

import pytest
from metrics_helpers import build_hand_table

from ais_bench.records.record import RequestTable


@pytest.fixture
def hand_table() -> RequestTable:
    return build_hand_table()
