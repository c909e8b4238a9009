"""HTTP request headers for the OpenAI-compatible backends."""

from __future__ import annotations


def build_headers(api_key: str | None) -> dict[str, str]:
    """``Content-Type: application/json``, plus ``Authorization: Bearer <api_key>`` when the key is
    set and not empty.
    """
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers
