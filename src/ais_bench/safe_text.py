"""Text from outside the tool made safe to print and store: printable, bounded, secrets redacted.

Error messages carry bytes a server sent (a NUL, control characters, a megabyte of HTML, an
echoed ``Authorization`` header). Every writer of the tool must be able to store them (HDF5
strings cannot hold a NUL, JSON cannot hold a lone surrogate) and none may show a configured
secret. Used where such text enters (``clients/errors.py``), by the record and details writers
(defence for run folders written before), and by the log.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from urllib.parse import unquote, urlsplit

#: What a redacted secret is replaced with.
MASK = "***"
#: Secrets shorter than this are not replaced in free text (a 1-character password would turn
#: every digit of a log line into ``***``); in a URL's ``user:password@`` they always are.
MIN_FREE_TEXT_SECRET = 4
#: Header names whose values are secrets (lower case); see :func:`is_secret_header` for the patterns.
AUTH_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


def printable_text(text: str, limit: int | None = None, *, keep_newlines: bool = False) -> str:
    """``text`` with every unprintable character (NUL, controls, lone surrogates, ...) written as
    an escape (``\\x00``, ``\\ud800``), cut to ``limit`` characters plus ``...`` when longer.
    ``keep_newlines``: leave ``\\n`` as it is (multi-line log messages)."""
    cut = limit is not None and len(text) > limit
    if cut:
        text = text[:limit]
    if not text.isprintable():
        text = "".join(_escape(c, keep_newlines) for c in text)
        cut = cut or (limit is not None and len(text) > limit)
    return text[:limit] + "..." if cut else text


def utf8_text(text: str) -> str:
    """``text`` with the characters UTF-8 cannot encode (lone surrogates) written as ``\\ud800``."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _escape(char: str, keep_newlines: bool) -> str:
    if char.isprintable() or (keep_newlines and char == "\n"):
        return char
    if char in "\t\r\n":
        return " "
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


class Redactor:
    """Replaces every configured secret in a text with ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        for secret in secrets:
            if len(secret) >= MIN_FREE_TEXT_SECRET and secret not in self._secrets:
                self._secrets.append(secret)
        self._secrets.sort(key=len, reverse=True)  # a key inside "Bearer <key>" goes after it

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def redact(self, text: str) -> str:
        text = mask_url_password(text)
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text


def mask_url_password(text: str) -> str:
    """``scheme://user:password@host`` written as ``scheme://user:***@host`` (every URL of the text)."""
    if "@" not in text or "://" not in text:
        return text
    pieces = text.split("://")
    for i in range(1, len(pieces)):
        authority_end = min((pieces[i].find(c) for c in "/ ?#'\"" if c in pieces[i]), default=len(pieces[i]))
        authority = pieces[i][:authority_end]
        userinfo, at, host = authority.rpartition("@")
        if at and ":" in userinfo:
            user = userinfo.split(":", 1)[0]
            pieces[i] = f"{user}:{MASK}@{host}" + pieces[i][authority_end:]
    return "://".join(pieces)


def is_secret_header(name: str) -> bool:
    """Whether a header's value is a secret because of its name: ``Authorization``,
    ``Proxy-Authorization``, ``Cookie``, a name ending in ``-key`` or ``_key`` (``X-API-Key``,
    ``api-key``) or holding ``token``, ``secret`` or ``password`` (any case)."""
    lower = name.lower()
    return (
        lower in AUTH_HEADERS
        or lower.endswith(("-key", "_key"))
        or any(word in lower for word in ("token", "secret", "password"))
    )


def secrets_of(url: str, headers: Mapping[str, str]) -> list[str]:
    """The secrets a request to ``url`` with ``headers`` carries: secret header values (whole and
    without their scheme word, e.g. the key of ``Bearer <key>``), and the URL's password (as written,
    percent-decoded, and inside the Basic credentials an HTTP client derives from it)."""
    found: list[str] = []
    for name, value in headers.items():
        if is_secret_header(name) and value:
            found.append(value)
            scheme, _, token = value.partition(" ")
            if token and scheme.isalpha():
                found.append(token)
    try:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:
        user = password = None
    if password:
        found += [password, unquote(password)]
        basic = f"{unquote(user or '')}:{unquote(password)}".encode()
        found.append(base64.b64encode(basic).decode())
    return found
