from __future__ import annotations

from ais_bench.records.table import failure_reasons


def _failed(message: str) -> tuple[str, str]:
    return ("protocol", message)


def test_reasons_group_messages_that_differ_only_in_positions() -> None:
    records = [
        _failed("stream ended early after 3 events: Response payload is not completed"),
        _failed("stream ended early after 17 events: Response payload is not completed"),
        _failed("invalid JSON in event; in the response body before byte 120; near: {'a"),
        _failed("invalid JSON in event; in the response body before byte 9120; near: {'zz"),
        _failed("HTTP 503 Service Unavailable: overloaded"),
        _failed("HTTP 500 Internal Server Error: boom"),
    ]
    assert failure_reasons(records) == [
        ("invalid JSON in event; in the response body before byte N", 2),
        ("stream ended early after N events: Response payload is not completed", 2),
        ("HTTP 500 Internal Server Error: boom", 1),  # status codes name the fault: kept
        ("HTTP 503 Service Unavailable: overloaded", 1),
    ]


def test_a_line_over_the_limit_is_one_reason_whatever_its_length() -> None:
    """The SSE line-limit message says how long the line was seen so far ("at least N bytes"): one
    fault, one row of the table."""
    records = [
        _failed(f"SSE line at byte {offset} is longer than the limit of 40 bytes (at least {seen} bytes); "
                "raise MAX_CHUNK_SIZE in global_consts.py (valid up to 16777216)")
        for offset, seen in ((0, 41), (0, 65), (120, 1024))
    ]
    assert failure_reasons(records) == [
        ("SSE line at byte N is longer than the limit of 40 bytes (at least N bytes); raise MAX_CHUNK_SIZE in "
         "global_consts.py (valid up to 16777216)", 3),
    ]


def test_a_failure_without_a_message_is_named_by_its_kind() -> None:
    assert failure_reasons([("read_timeout", None), (None, None), ("read_timeout", "")]) == [
        ("read_timeout", 2), ("unknown error", 1),
    ]
