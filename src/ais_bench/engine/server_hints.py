"""What to change when the server check, the model discovery or the warm-up fails: one hint per
cause (the connection, the URL's path, the credentials), so no error suggests a fix for another cause."""

from __future__ import annotations

from urllib.parse import urlsplit

SEE_SERVER_DOCS = "see docs/troubleshooting.md#the-server"
#: Statuses that mean "no such path here": the URL's prefix or the backend type is wrong.
WRONG_PATH_STATUSES = frozenset({404, 405})
#: Statuses that mean the request's credentials were refused.
CREDENTIAL_STATUSES = frozenset({401, 403})


def unreachable_hint(kind: str, message: str) -> str:
    """A connection that failed before any request was sent (``kind`` and message of
    ``clients.client.describe_failure``)."""
    if kind == "connect_timeout":
        hint = "check --url (or host_ip/host_port, url in the model config) and that the server is running"
    elif "TLS" in message:
        hint = "the message names the fix (ca_cert, insecure, client_cert in the model config, or http://)"
    else:
        hint = "start the inference server, or fix --url (or host_ip/host_port, url in the model config)"
    return f"{hint}; {SEE_SERVER_DOCS}"


def status_hint(status: int, url: str) -> str | None:
    """The cause and fix a non-200 answer to ``url`` points at (without the pointer to the
    documents), or None when the status names no cause the configuration can fix."""
    if status in WRONG_PATH_STATUSES:
        return wrong_path_hint(url)
    if status in CREDENTIAL_STATUSES:
        return (
            "the server refused the request's credentials: set api_key in the model config "
            "(or --api-key-env VAR, or --header 'Authorization: ...')"
        )
    return None


def wrong_path_hint(url: str) -> str:
    """``url`` does not exist on the server: the URL's prefix is wrong (e.g. it already ends in
    ``/v1``) or the model config's ``type`` is not this server's API."""
    path = urlsplit(url).path
    if "/v1/v1/" in path:
        return f"the path {path} holds v1/ twice: give --url (or url) as the server's root, without /v1"
    return (
        f"the server has no {path}: --url (or url, host_ip/host_port) must be the root the server's API paths "
        "start from (e.g. http://host:8000, without /v1), and the model config's type the server's API"
    )
