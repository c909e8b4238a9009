"""HTTP request headers: the ones every request carries, the user's own (``headers=`` and ``--header``),
and the checks that keep a user's header from breaking the request."""

from __future__ import annotations

import string
from collections.abc import Mapping

#: Headers the HTTP client writes itself (the body's framing, the connection's lifetime, the host
#: from the URL), with what to do instead of setting them.
TOOL_OWNED = {
    "host": "it is taken from the URL: set url= (or host_ip/host_port) in the model config",
    "content-length": "it is the length of each request body",
    "transfer-encoding": "request bodies are sent with a Content-Length",
    "connection": "ais_bench keeps connections open and reuses them itself",
}

#: The characters of an HTTP header name (RFC 9110 ``token``).
_TOKEN_CHARS = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~")


def build_headers(api_key: str | None, custom: Mapping[str, str] | None = None) -> dict[str, str]:
    """``Content-Type: application/json``, ``Authorization: Bearer <api_key>`` when the key is set and
    not empty, then the user's ``custom`` headers, which replace a header of the same name (names
    compare case-insensitively), so an ``Authorization`` of ``custom`` wins over the key's."""
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return merge_headers(headers, custom or {})


def merge_headers(base: Mapping[str, str], override: Mapping[str, str]) -> dict[str, str]:
    """``base`` with every header of ``override`` set, replacing one of the same name in any case."""
    replaced = {name.lower() for name in override}
    merged = {name: value for name, value in base.items() if name.lower() not in replaced}
    merged.update(override)
    return merged


def header_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a header the user sets (not an HTTP token, or one the tool writes), or None."""
    if not name or not set(name) <= _TOKEN_CHARS:
        return "a header name is letters, digits and !#$%&'*+-.^_`|~ only (no spaces, no ':')"
    reason = TOOL_OWNED.get(name.lower())
    return f"{name} is written by ais_bench itself: {reason}" if reason else None


def header_value_problem(value: str) -> str | None:
    """Why ``value`` cannot be sent as a header value (a line break or other control character), or None."""
    if "\r" in value or "\n" in value:
        return "a header value cannot hold a line break (CR or LF)"
    if any((ord(c) < 32 and c != "\t") or ord(c) == 127 for c in value):
        return "a header value cannot hold control characters"
    return None
