"""The engine loop: one scheduler coroutine per server that models continuous batching.

Model (all costs from ``SimConfig``):
- at most ``max_num_seqs`` sequences run; new requests wait in a FIFO queue;
- a step first admits waiting sequences into free slots. If it admits any, the step also pays their
  prefill, ``prefill_base_ms + prefill_per_token_ms * sum(admitted input tokens)`` (one batched
  prefill), before its decode part, so admissions delay the tokens of every running sequence, as in
  an engine that mixes prefill and decode in one step;
- the decode part costs ``decode_base_ms + decode_per_seq_ms * running`` where ``running`` counts the
  sequences in the step, admitted ones included;
- at the end of the step every running sequence emits exactly one token: the first token of a newly
  admitted sequence comes out at the end of its admission step (TTFT = queue wait + that step).

Steps are scheduled against absolute deadlines on ``time.perf_counter`` (deadline += step cost), so
sleep overshoot and event-loop jitter do not accumulate over long runs. After an idle period, or when
the loop has fallen more than ``MAX_CATCH_UP_S`` behind, the schedule restarts from now.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Protocol

from ais_bench.sim.config import SimConfig
from ais_bench.sim.histogram import LatencyHistogram

MAX_CATCH_UP_S = 0.05

log = logging.getLogger(__name__)


class TokenSink(Protocol):
    """Where a sequence's tokens go (an SSE stream or a full-body response)."""

    def is_alive(self) -> bool: ...

    def on_token(self, index: int, is_last: bool) -> bool:
        """Token ``index`` (0-based) was generated; return False when the client is gone."""

    def on_shutdown(self) -> None:
        """The server is closing: release whoever waits for this sequence."""


class Sequence:
    """One request inside the engine."""

    __slots__ = ("emitted_tokens", "input_tokens", "output_tokens", "sink", "submitted_s")

    def __init__(self, input_tokens: int, output_tokens: int, sink: TokenSink) -> None:
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.sink = sink
        self.emitted_tokens = 0
        self.submitted_s = 0.0


class SimEngine:
    """Queue, slots and the step loop. ``submit`` from handlers; ``run`` as one task."""

    def __init__(self, cfg: SimConfig) -> None:
        self._cfg = cfg
        self._waiting: deque[Sequence] = deque()
        self._running: list[Sequence] = []
        self._wake = asyncio.Event()
        self.steps = 0
        self.tokens_emitted = 0
        #: Input tokens of the sequences admitted so far (their prefill); ``/metrics``' prompt tokens.
        self.prompt_tokens = 0
        #: Seconds from submission to first token (``/metrics``' TTFT histogram).
        self.ttft = LatencyHistogram()

    @property
    def max_num_seqs(self) -> int:
        return self._cfg.max_num_seqs

    def load(self) -> dict[str, int]:
        """Sequences running and waiting, and the engine steps so far (the ``/health`` numbers)."""
        return {"running": len(self._running), "waiting": len(self._waiting), "steps": self.steps}

    def submit(self, seq: Sequence) -> None:
        seq.submitted_s = time.perf_counter()
        self._waiting.append(seq)
        self._wake.set()

    async def run(self) -> None:
        next_step_s = time.perf_counter()
        while True:
            if not self._running and not self._waiting:
                self._wake.clear()
                await self._wake.wait()
                next_step_s = time.perf_counter()
            admitted_tokens, admitted = self._admit()
            if not self._running:
                continue
            next_step_s += self._step_cost_s(admitted, admitted_tokens)
            now_s = time.perf_counter()
            if now_s - next_step_s > MAX_CATCH_UP_S:
                next_step_s = now_s
            await asyncio.sleep(max(0.0, next_step_s - now_s))
            self.tokens_emitted += len(self._running)
            self._emit_tokens()
            self.steps += 1

    def shutdown(self) -> None:
        """Release every waiting and running sequence (the loop task is cancelled by the owner)."""
        for seq in (*self._running, *self._waiting):
            seq.sink.on_shutdown()
        self._running.clear()
        self._waiting.clear()

    def _admit(self) -> tuple[int, int]:
        free_slots = self._cfg.max_num_seqs - len(self._running)
        admitted = admitted_tokens = 0
        while free_slots > 0 and self._waiting:
            seq = self._waiting.popleft()
            if not seq.sink.is_alive():
                continue
            self._running.append(seq)
            admitted += 1
            admitted_tokens += seq.input_tokens
            free_slots -= 1
        self.prompt_tokens += admitted_tokens
        return admitted_tokens, admitted

    def _step_cost_s(self, admitted: int, admitted_tokens: int) -> float:
        cfg = self._cfg
        cost_ms = cfg.decode_base_ms + cfg.decode_per_seq_ms * len(self._running)
        if admitted:
            cost_ms += cfg.prefill_base_ms + cfg.prefill_per_token_ms * admitted_tokens
        return cost_ms / 1000.0

    def _emit_tokens(self) -> None:
        still_running: list[Sequence] = []
        now_s = time.perf_counter()
        for seq in self._running:
            index = seq.emitted_tokens
            if index == 0:
                self.ttft.observe(now_s - seq.submitted_s)
            seq.emitted_tokens = index + 1
            is_last = index + 1 >= seq.output_tokens
            try:
                alive = seq.sink.on_token(index, is_last)
            except Exception:  # a broken connection must not stop the engine for everyone else
                log.exception("sim: dropping a sequence whose sink failed")
                seq.sink.on_shutdown()
                alive = False
            if alive and not is_last:
                still_running.append(seq)
        self._running = still_running
