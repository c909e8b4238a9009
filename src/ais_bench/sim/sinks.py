"""Token sinks: what happens to the tokens the engine emits for one request.

``StreamSink`` writes SSE events straight to the connection's transport, synchronously from the
engine loop (no per-token task wake-up, no awaited drain). aiohttp has already sent the response
headers with chunked transfer encoding, so each event is written as one pre-framed HTTP chunk; the
handler lets aiohttp write the terminating chunk once ``done`` resolves.
``FullSink`` only counts tokens; the handler writes the whole JSON body at the end.
Both apply the request's fault (see ``faults.py``) and optionally stamp event write times.
"""

from __future__ import annotations

import asyncio
import time

from ais_bench.sim.faults import FAULT_CUT, FAULT_MALFORMED, FAULT_RESET, FAULT_STALL, RequestPlan
from ais_bench.sim.responses import (
    DONE_EVENT,
    KIND_CHAT,
    EventTemplates,
    RequestInfo,
    frame_chunk,
    last_token_event,
    malformed_event,
    role_event,
    usage_event,
)


def finish_reason_of(plan: RequestPlan, max_tokens: int) -> str:
    return "length" if plan.output_tokens >= max_tokens else "stop"


class _SinkBase:
    """Completion future, client liveness and fault bookkeeping shared by both sinks."""

    def __init__(self, transport: asyncio.Transport, plan: RequestPlan, record_times: bool) -> None:
        self.transport = transport
        self.plan = plan
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.aborted = False
        self.completion_tokens = 0
        self.event_times_s: list[float] | None = [] if record_times else None

    def is_alive(self) -> bool:
        return not self.transport.is_closing()

    def on_shutdown(self) -> None:
        self._resolve()

    def _resolve(self) -> None:
        if not self.done.done():
            self.done.set_result(None)

    def _reset(self) -> bool:
        self.aborted = True
        self.transport.abort()
        self._resolve()
        return False


class StreamSink(_SinkBase):
    """Writes one SSE event per token, plus role, usage and ``[DONE]`` events as asked."""

    def __init__(
        self,
        transport: asyncio.Transport,
        info: RequestInfo,
        plan: RequestPlan,
        max_tokens: int,
        stall_s: float,
        record_times: bool = False,
    ) -> None:
        super().__init__(transport, plan, record_times)
        self._info = info
        self._templates = EventTemplates(info)
        self._finish_reason = finish_reason_of(plan, max_tokens)
        self._stall_s = stall_s
        self._held: list[bytes] | None = None
        self._finished = False

    def on_token(self, index: int, is_last: bool) -> bool:
        if self.transport.is_closing():
            self._resolve()
            return False
        if is_last:
            data = frame_chunk(last_token_event(self._info, index, self._finish_reason))
        else:
            data = self._templates.token(index)
        if index == 0 and self._info.kind == KIND_CHAT:
            data = frame_chunk(role_event(self._info)) + data
        self._send(data, 2 if index == 0 and self._info.kind == KIND_CHAT else 1)
        self.completion_tokens = index + 1
        if self.completion_tokens == self.plan.fault_at_tokens and not self._apply_fault():
            return False
        if is_last:
            self._finish()
        return True

    def _apply_fault(self) -> bool:
        fault = self.plan.fault
        if fault == FAULT_RESET:
            return self._reset()
        if fault == FAULT_CUT:  # the handler then ends the chunked body cleanly: no finish, usage, [DONE]
            self._finished = True
            if self._held is None:
                self._resolve()
            return False
        if fault == FAULT_MALFORMED:
            self._send(frame_chunk(malformed_event(self._info)), 1)
        elif fault == FAULT_STALL:
            self._held = []
            asyncio.get_running_loop().call_later(self._stall_s, self._release)
        return True

    def _finish(self) -> None:
        tail = b""
        if self._info.include_usage:
            tail = frame_chunk(usage_event(self._info, self.completion_tokens))
        self._send(tail + frame_chunk(DONE_EVENT), 2 if tail else 1)
        self._finished = True
        if self._held is None:
            self._resolve()

    def _send(self, data: bytes, num_events: int) -> None:
        if self._held is not None:
            self._held.append(data)
            return
        if self.event_times_s is not None:
            self.event_times_s.extend([time.perf_counter()] * num_events)
        self.transport.write(data)

    def _release(self) -> None:
        held, self._held = self._held or [], None
        if not self.transport.is_closing():
            num_events = sum(chunk.count(b"\n\n") for chunk in held)
            self._send(b"".join(held), num_events)
        if self._finished or self.transport.is_closing():
            self._resolve()


class FullSink(_SinkBase):
    """Counts tokens for a non-streaming response; faults act on the whole response."""

    def __init__(
        self, transport: asyncio.Transport, plan: RequestPlan, stall_s: float, record_times: bool = False
    ) -> None:
        super().__init__(transport, plan, record_times)
        self._stall_s = stall_s

    def on_token(self, index: int, is_last: bool) -> bool:
        if self.transport.is_closing():
            self._resolve()
            return False
        self.completion_tokens = index + 1
        if self.completion_tokens == self.plan.fault_at_tokens and self.plan.fault == FAULT_RESET:
            return self._reset()
        if is_last:
            if self.plan.fault == FAULT_STALL:
                asyncio.get_running_loop().call_later(self._stall_s, self._resolve)
            else:
                self._resolve()
        return True
