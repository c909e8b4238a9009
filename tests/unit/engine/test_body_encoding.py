"""Request bodies are encoded once before the load; a row that cannot be sent is one clear error."""

from __future__ import annotations

import pytest

from ais_bench.clients.backends import OPENAI_CHAT, backend_for
from ais_bench.datasets.item import RequestItem
from ais_bench.engine.preflight import encode_bodies
from ais_bench.errors import DatasetError


def test_a_row_that_cannot_be_json_names_itself() -> None:
    spec = backend_for(OPENAI_CHAT)
    items = [RequestItem(0, "fine", "ds"), RequestItem(1, "bad \ud800", "ds")]
    with pytest.raises(DatasetError, match=r"dataset 'ds' row 1: .*cannot be written as JSON"):
        encode_bodies(spec, items, model="m", stream=True, max_out_len=8, generation_kwargs={})
    bodies = encode_bodies(spec, items[:1], model="m", stream=True, max_out_len=8, generation_kwargs={})
    assert b'"fine"' in bodies[0]
