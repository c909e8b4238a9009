"""One HTTP attempt's outcome as the engine builds it (``engine/request.py``), and how it fails."""

from __future__ import annotations

from dataclasses import dataclass

from ais_bench.clients.errors import clean_error_text
from ais_bench.clients.response import ResponseState


@dataclass(slots=True)
class Attempt:
    """Outcome of one HTTP attempt.

    ``points``: ``perf_counter`` seconds: the send, then one stamp per token event (or the end of a
    body that is not streamed). ``events``: events received (token events or not; ``[DONE]``
    excluded); ``end_s``: the stamp of the last read that brought an event or ``[DONE]`` (the end of
    a complete stream)."""

    points: list[float]
    state: ResponseState
    error_kind: str | None = None
    error_message: str | None = None
    http_status: int | None = None
    retryable: bool = False
    events: int = 0
    end_s: float | None = None

    @property
    def events_so_far(self) -> int:
        """Events received, for messages (a body not streamed is one event once read)."""
        return max(self.events, len(self.points) - 1)


def fail(attempt: Attempt, kind: str, message: str, retryable: bool = False) -> None:
    """Mark ``attempt`` failed with ``kind`` and a printable ``message``."""
    attempt.error_kind = kind
    attempt.error_message = clean_error_text(message)
    attempt.retryable = retryable
