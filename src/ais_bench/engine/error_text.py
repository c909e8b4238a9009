"""The text of a failed request that the server answered: its HTTP status, an unusable body, a
response the backend adapter could not read. (A failed connection or stream is described by
``clients/client.py`` ``describe_failure``.)"""

from __future__ import annotations

from typing import Any

import orjson

from ais_bench.clients.errors import ResponseError


def http_status_text(status: int, reason: str, location: str | None, raw: bytes) -> str:
    """A non-200 answer. Redirects are not followed (a benchmark should measure the server it names,
    and a POST cannot be replayed safely): the text says where the server points instead."""
    message = f"HTTP {status} {reason.strip()}".rstrip()
    if 300 <= status < 400 and location:
        return f"{message}: server redirected to {location}; point url there"
    detail = server_message(raw)
    return f"{message}: {detail}" if detail else message


def unusable_body_text(problem: str, raw: bytes) -> str:
    """The reason of an unusable 200 body, with what the server said when it is readable JSON or text."""
    if raw[:2] == b"\x1f\x8b" or "compressed" in problem:
        return problem
    detail = server_message(raw)
    return f"{problem}; it sent: {detail}" if detail else problem


def server_message(raw: bytes) -> str:
    """What an error body says: its JSON ``error.message`` (or ``detail``), else its text; at most 200 characters."""
    try:
        payload: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace").strip()[:200]
    if isinstance(payload, dict):
        error = payload.get("error", payload)
        if isinstance(error, dict):
            return str(error.get("message") or error.get("detail") or error)[:200]
        return str(error)[:200]
    return str(payload)[:200]


def response_error_text(exc: ResponseError, received_bytes: int | None = None) -> str:
    """A response the adapter could not read: the problem, where in the body, and the bytes near it.
    ``received_bytes``: body bytes received when it was found (used when the error has no offset)."""
    parts = [str(exc)]
    offset = getattr(exc, "offset_bytes", None)
    if offset is not None and "byte" not in parts[0]:
        parts.append(f"at byte {offset} of the response body")
    if offset is None and received_bytes is not None:
        parts.append(f"in the response body before byte {received_bytes}")
    if exc.snippet and exc.snippet not in parts[0]:
        parts.append(f"near: {exc.snippet}")
    return "; ".join(parts)
