"""The record of a request: its last attempt turned into the ``RequestRecord`` written to disk."""

from __future__ import annotations

from time import perf_counter

from ais_bench.clients.errors import clean_error_text
from ais_bench.clients.transport import Clock
from ais_bench.engine.attempt import Attempt, fail
from ais_bench.records.record import RequestRecord


def build_record(
    attempt: Attempt,
    attempts: int,
    request_id: int,
    data_index: int,
    data_abbr: str,
    worker_id: int,
    clock: Clock = perf_counter,
) -> RequestRecord:
    """Turn the last attempt into the record written to disk. A complete response without any token
    event gets its end as its one time point (it stands for the first token); one without any event
    at all fails. A failed request ends now (on ``clock``), a successful one at its last stamp."""
    points = attempt.points
    state = attempt.state
    if attempt.error_kind is None and len(points) < 2 and state.ended and attempt.end_s is not None:
        points.append(attempt.end_s)  # complete, but no token event: the end stands for the first token
    if attempt.error_kind is None and len(points) < 2:
        fail(attempt, "protocol", "response ended without any event")
    success = attempt.error_kind is None
    start_s = points[0] if points else float("nan")
    last_s = points[-1] if points else start_s
    if success and attempt.end_s is not None:
        last_s = max(last_s, attempt.end_s)
    return RequestRecord(  # the identity first, in field order
        request_id,
        data_index,
        data_abbr,
        worker_id,
        success=success,
        start_s=start_s,
        end_s=clock() if not success else last_s,
        time_points_s=points,
        usage_input_tokens=state.usage_input_tokens,
        usage_output_tokens=state.usage_output_tokens,
        content_events=state.content_events,
        output_text=state.text,
        reasoning_text="".join(state.reasoning_parts),
        attempts=attempts,
        error_kind=attempt.error_kind,
        error_message=attempt.error_message,
        http_status=attempt.http_status,
        finish_reason=None if state.finish_reason is None else clean_error_text(state.finish_reason)[:32],
    )
