"""Seeded per-request draws: output length and the injected fault.

One ``random.Random(seed)`` per server; each accepted request takes exactly three draws in arrival
order (length, fault kind, fault position), whatever the config, so the k-th request of a run gets
the same plan in every run with the same seed and the same arrival order.

Faults are mutually exclusive; ``u < fail_rate`` fails, the next ``reset_rate`` resets, and so on.
``fault_at_tokens`` in [1, output_tokens] is the number of token events written before the fault acts:
- ``reset``: the connection is aborted right after that many token events (no ``[DONE]``);
- ``stall``: output is held back for ``stall_s`` after that many token events, then flushed;
- ``malformed``: one extra event whose data is not valid JSON is written after that many tokens;
- ``cut``: the stream ends cleanly (the chunked body's last chunk) right after that many token
  events, without finish_reason, usage or ``[DONE]`` (streams only).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ais_bench.sim.config import SimConfig

FAULT_NONE = "none"
FAULT_FAIL = "fail"
FAULT_RESET = "reset"
FAULT_STALL = "stall"
FAULT_MALFORMED = "malformed"
FAULT_CUT = "cut"


@dataclass(frozen=True, slots=True)
class RequestPlan:
    """What the server will do with one request."""

    output_tokens: int
    fault: str
    fault_at_tokens: int


class PlanDrawer:
    """Draws ``RequestPlan`` values from one seeded RNG."""

    def __init__(self, cfg: SimConfig) -> None:
        self._cfg = cfg
        self._rng = random.Random(cfg.seed)

    def draw(self, max_tokens: int, ignore_eos: bool) -> RequestPlan:
        u_len, u_fault, u_pos = self._rng.random(), self._rng.random(), self._rng.random()
        if ignore_eos or self._cfg.output_len_dist == "max":
            output_tokens = max_tokens
        else:
            output_tokens = 1 + min(int(u_len * max_tokens), max_tokens - 1)
        fault_at_tokens = 1 + min(int(u_pos * output_tokens), output_tokens - 1)
        return RequestPlan(output_tokens, self._pick_fault(u_fault), fault_at_tokens)

    def _pick_fault(self, u: float) -> str:
        cfg = self._cfg
        edge = 0.0
        for kind, rate in (
            (FAULT_FAIL, cfg.fail_rate),
            (FAULT_RESET, cfg.reset_rate),
            (FAULT_STALL, cfg.stall_rate),
            (FAULT_MALFORMED, cfg.malformed_rate),
            (FAULT_CUT, cfg.cut_rate),
        ):
            edge += rate
            if u < edge:
                return kind
        return FAULT_NONE
