"""Engine plans for tests that drive ``run_benchmark`` against a server of their own."""

from __future__ import annotations

from pathlib import Path

from ais_bench.clients.backends import OPENAI_CHAT, backend_for
from ais_bench.datasets.item import RequestItem
from ais_bench.engine.plan import RunPlan
from ais_bench.engine.preflight import encode_bodies

#: Seconds a test waits for a run that must end (generous: the machine may be busy).
RUN_LIMIT_S = 120


def chat_plan(url: str, record_dir: Path, requests: int, batch_size: int, **extra: object) -> RunPlan:
    """A streamed OpenAI chat load of ``requests`` short prompts to ``url`` (ending in ``/``), one
    worker, at most ``batch_size`` in flight; ``extra``: any other ``RunPlan`` field."""
    spec = backend_for(OPENAI_CHAT)
    items = [RequestItem(index=i, prompt=f"hi {i}", data_abbr="ds") for i in range(requests)]
    bodies = encode_bodies(spec, items, model="m", stream=True, max_out_len=4, generation_kwargs={})
    return RunPlan(
        backend=OPENAI_CHAT, url=url + "v1/chat/completions", headers={}, stream=True,
        items=items, bodies=bodies, batch_size=batch_size, workers=1,
        record_dir=record_dir, data_abbr="ds", **extra,  # type: ignore[arg-type]
    )
