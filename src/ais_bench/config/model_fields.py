"""Checks of single model config fields (``type``, addresses, files, ``traffic_cfg``, ``simulator``):
each returns the typed value the run uses or raises a one-line ``ConfigError`` naming the field."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ais_bench.config.validation import (
    check_choice,
    check_dict,
    check_known_keys,
    check_number,
    check_path_text,
    check_str,
    not_allowed,
)
from ais_bench.errors import ConfigError
from ais_bench.load.schedule import TrafficShape

if TYPE_CHECKING:
    from ais_bench.benchmark.models import AisbenchBackend
    from ais_bench.sim.config import SimConfig

RAMP_UP_STRATEGIES = ("linear", "exponential", None, "")
_TRAFFIC_FIELDS = ("burstiness", "ramp_up_strategy", "ramp_up_start_rps", "ramp_up_end_rps")


def aisbench_backend(source: str, where: str, value: Any) -> tuple[type, AisbenchBackend]:
    """The AISBench class of ``type`` (the class, or its name as a config dump writes it) and what
    it means (our backend name, default streaming mode)."""
    from ais_bench.benchmark.models import AISBENCH_BACKENDS

    allowed = "one of " + ", ".join(sorted(cls.__name__ for cls in AISBENCH_BACKENDS))
    if isinstance(value, str):  # a dotted name, as written in a config dump (older dumps: ais_bench.clients.backends)
        for cls in AISBENCH_BACKENDS:
            if value.rsplit(".", 1)[-1] == cls.__name__:
                value = cls
                break
    if not isinstance(value, type) or value not in AISBENCH_BACKENDS:
        raise not_allowed(source, f"{where}.type", value, allowed)
    return value, AISBENCH_BACKENDS[value]


def check_path(source: str, field_name: str, value: Any, *, must_exist: bool = True) -> str:
    """'' or an existing folder (the tokenizer of the served model); any path text when not
    ``must_exist`` (a recalculation, which never reads the tokenizer)."""
    text: str = check_path_text(source, field_name, value)
    if not must_exist:
        return text
    try:
        exists = not text or Path(text).expanduser().exists()
    except (OSError, RuntimeError, ValueError):  # unknown ~user, name too long, ...
        exists = False
    if not exists:
        raise not_allowed(source, field_name, text, "an existing tokenizer folder, or '' for none")
    return text


def check_pem_file(source: str, field_name: str, value: Any) -> str:
    """'' or an existing file (a PEM certificate or key; ``~`` expanded)."""
    text: str = check_path_text(source, field_name, value)
    if not text:
        return text
    try:
        path = Path(text).expanduser()
        is_file = path.is_file()
    except (OSError, RuntimeError, ValueError):  # unknown ~user, name too long, ...
        is_file = False
    if not is_file:
        raise not_allowed(source, field_name, text, "an existing PEM file, or '' for none")
    return str(path)


def check_api_key(source: str, field_name: str, value: Any) -> str:
    """A string without line breaks (it goes into an HTTP header); never shown in an error."""
    key: str = check_str(source, field_name, value, secret=True)
    if any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise not_allowed(source, field_name, key, "a string without control characters", secret=True)
    return key


def check_url(source: str, field_name: str, value: Any) -> str:
    """'' (use host_ip/host_port) or an http(s) URL with a host, e.g. 'http://server:8080/'."""
    url: str = check_str(source, field_name, value).strip()
    if not url:
        return url
    expected = "'' or an http(s) URL such as 'http://127.0.0.1:8080/'"
    try:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port is None or parts.port > 0)
    except ValueError:  # bad port, unbalanced [ ] around an IPv6 address
        ok = False
    if not ok or any(ord(c) <= 32 for c in url):
        raise not_allowed(source, field_name, url, expected)
    return url


def check_simulator(source: str, where: str, value: Any) -> tuple[SimConfig, tuple[str, ...]]:
    """The embedded simulator's settings as a ``SimConfig`` (a mistake names the file) and the keys given."""
    from ais_bench.sim.config import SimConfig  # only for simulator configs: ais_bench.sim imports aiohttp

    d = dict(check_dict(source, where, value))
    try:
        return SimConfig.from_dict(d), tuple(d)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {where}: {exc.message}", hint=exc.hint) from None


def check_host(source: str, field_name: str, value: Any) -> str:
    """'localhost' or an IP address (IPv6 without its brackets)."""
    if isinstance(value, str):
        if value == "localhost":
            return value
        try:
            ipaddress.ip_address(value.strip("[]"))
            return value.strip("[]")
        except ValueError:
            pass
    raise not_allowed(
        source, field_name, value, "'localhost' or an IPv4/IPv6 address (use url= for a host name)"
    )


def check_traffic(source: str, where: str, value: Any) -> TrafficShape:
    """``traffic_cfg`` as the schedule's ``TrafficShape``."""
    d = check_dict(source, where, value)
    check_known_keys(source, where, d, _TRAFFIC_FIELDS)
    out: dict[str, Any] = {}
    if d.get("burstiness") is not None:
        out["burstiness"] = check_number(source, f"{where}.burstiness", d["burstiness"], 0)
    strategy = check_choice(
        source, f"{where}.ramp_up_strategy", d.get("ramp_up_strategy"), RAMP_UP_STRATEGIES
    )
    out["ramp_up_strategy"] = strategy or None
    for key in ("ramp_up_start_rps", "ramp_up_end_rps"):
        if d.get(key) is not None:
            out[key] = check_number(source, f"{where}.{key}", d[key], 0)
    return TrafficShape(**out)
