"""The user's own HTTP headers: a model config's ``headers=dict(...)`` and the ``--header 'Name: value'``
flag, checked into a plain ``dict[str, str]`` (the checks themselves live in ``clients/headers.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ais_bench.clients.headers import header_name_problem, header_value_problem
from ais_bench.config.validation import check_dict, check_str, not_allowed, show
from ais_bench.errors import ConfigError
from ais_bench.safe_text import is_secret_header


def check_headers(source: str, where: str, value: Any, *, api_key: str = "") -> dict[str, str]:
    """``headers=dict(...)`` of a model config: string names that are HTTP tokens and not written by
    the tool, each name once (in any case), string values without control characters (the value of
    a secret-looking name is never shown); not ``Authorization`` together with ``api_key``."""
    d = check_dict(source, where, value)
    seen: dict[str, str] = {}
    for name, text in d.items():
        if not isinstance(name, str):
            raise not_allowed(source, f"{where} key {show(name)}", name, "header names as strings")
        field = f"{where}[{name!r}]"
        secret = is_secret_header(name)
        problem = header_name_problem(name)
        if problem:
            raise ConfigError(f"{source}: {where} has the header name {show(name)}: {problem}")
        text = check_str(source, field, text, secret=secret)
        problem = header_value_problem(text)
        if problem:
            raise not_allowed(source, field, text, f"a header value ({problem})", secret=secret)
        if name.lower() in seen:
            raise ConfigError(
                f"{source}: {where} sets the header {seen[name.lower()]!r} twice (as {name!r} too; names ignore case)"
            )
        seen[name.lower()] = name
    if api_key and "authorization" in seen:
        raise ConfigError(
            f"{source}: {where} sets Authorization and api_key is set too: both are the Authorization header",
            hint="keep one: api_key='<key>' (sent as 'Bearer <key>') or headers={'Authorization': '...'}",
        )
    return dict(d)


def parse_header_flag(text: str) -> tuple[str, str]:
    """``--header 'Name: value'`` as ``(name, value)`` (spaces around the value dropped); ``ValueError``
    says what is wrong without showing the text after the name (it may be a secret)."""
    name, colon, value = text.partition(":")
    if not colon:
        words = text.split()
        # Only the first of several words is shown: a lone word may be the secret value itself.
        which = f" (starting {show(words[0][:40])})" if len(words) > 1 else ""
        raise ValueError(f"expected 'Name: value', a header name, ':' and its value; this one{which} has no ':'")
    name, value = name.strip(), value.strip()
    problem = header_name_problem(name) or header_value_problem(value)
    if problem:
        raise ValueError(f"{show(name)}: {problem}")
    return name, value


def flag_headers(texts: list[str]) -> dict[str, str]:
    """Every ``--header`` flag as one dict; a name given twice (in any case) keeps the last value."""
    headers: dict[str, str] = {}
    for text in texts:
        name, value = parse_header_flag(text)
        for old in [old for old in headers if old.lower() == name.lower()]:
            del headers[old]
        headers[name] = value
    return headers


def masked_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` with the value of every secret-looking name (and not empty) written as ``***``."""
    return {name: "***" if value and is_secret_header(name) else value for name, value in headers.items()}
