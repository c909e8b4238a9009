"""Errors raised while reading one response, grouped by the stage that failed.

These are *per-request* failures: the engine catches them and stores them in the request's record as
data (``kind``, ``message``); they never end a run. That is why they do not derive from
``ais_bench.errors.AisBenchError`` (which is for run-ending, user-fixable problems). The one
run-level error of this package, ``ModelDiscoveryError``, does.

``kind`` matches the record's error kinds (``ais_bench.records.record.ERROR_KINDS``), except
``server_error``, which the server sent inside a 200 response.
"""

from __future__ import annotations

from ais_bench.errors import AisBenchError
from ais_bench.safe_text import printable_text

#: Longest snippet (characters) of offending input kept in an error.
SNIPPET_CHARS = 120
#: Longest error message (characters) kept for a failed request; the rest is cut ("...").
ERROR_TEXT_CHARS = 600


def clean_error_text(text: str) -> str:
    """A failed request's error message as stored and shown: every unprintable character (a NUL
    sent by the server, a control character, a lone surrogate) escaped (``\\x00``), at most
    ``ERROR_TEXT_CHARS`` characters. Applied once, where the message is made from what the
    server sent (``engine/request.py``)."""
    return printable_text(text, ERROR_TEXT_CHARS)


def make_snippet(raw: bytes | str, limit: int = SNIPPET_CHARS) -> str:
    """A short printable excerpt; invalid UTF-8 bytes are shown as ``\\xNN``."""
    text = raw.decode("utf-8", "backslashreplace") if isinstance(raw, bytes) else raw
    return text if len(text) <= limit else text[:limit] + "..."


class ResponseError(Exception):
    """The server's response could not be used. ``snippet``: a short excerpt of what was received."""

    kind = "protocol"

    def __init__(self, message: str, *, snippet: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.snippet = snippet


class StreamProtocolError(ResponseError):
    """The byte stream is not a valid event stream (bad UTF-8, a line over the limit).

    ``offset_bytes``: position in the response body (0 = first body byte) of the offending byte or of
    the start of the offending line.
    """

    kind = "protocol"

    def __init__(self, message: str, *, offset_bytes: int, snippet: str = "") -> None:
        super().__init__(message, snippet=snippet)
        self.offset_bytes = offset_bytes


class SSELineTooLong(StreamProtocolError):
    """One line of the event stream is longer than ``max_line_bytes``.

    ``line_bytes``: the line's length seen so far (the line may still be incomplete).
    """

    def __init__(self, *, offset_bytes: int, line_bytes: int, max_line_bytes: int, snippet: str) -> None:
        super().__init__(
            f"SSE line at byte {offset_bytes} is longer than the limit of {max_line_bytes} bytes "
            f"(at least {line_bytes} bytes); raise MAX_CHUNK_SIZE in global_consts.py "
            f"(valid up to {2**24})",
            offset_bytes=offset_bytes,
            snippet=snippet,
        )
        self.line_bytes = line_bytes
        self.max_line_bytes = max_line_bytes


class DecodeError(ResponseError):
    """An event (or a full body) is not valid JSON or does not have the expected shape."""

    kind = "decode"


class ServerStreamError(ResponseError):
    """The server sent an error object (``{"error": {...}}``) instead of a result.

    ``server_message``: the server's own message; ``error_type`` and ``error_code``: its ``type`` and
    ``code`` fields when given (else None).
    """

    kind = "server_error"

    def __init__(
        self, server_message: str, *, error_type: str | None, error_code: object, snippet: str
    ) -> None:
        label = f" ({error_type})" if error_type else ""
        super().__init__(f"server reported an error{label}: {server_message}", snippet=snippet)
        self.server_message = server_message
        self.error_type = error_type
        self.error_code = error_code


class ModelDiscoveryError(AisBenchError):
    """``GET /v1/models`` did not name a model, so the request body cannot be built."""

    code = "AIS-MODEL-DISCOVERY"
