"""Model (service backend) configs: validated into ``ModelConfig`` at load time.

Fields, types and ranges follow AISBench's model table (behaviour spec §2). Defaults live here.
Three fields are ours: ``seed`` (makes the send schedule reproducible), ``timestamp_batch_cap``
(a timestamp replay capped at ``batch_size``) and ``simulator`` (the embedded simulated server's
settings, validated into ``ais_bench.sim.SimConfig``).
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ais_bench.config.loader import load_config_file
from ais_bench.config.validation import (
    NO_SURROGATE,
    check_bool,
    check_choice,
    check_dict,
    check_int,
    check_known_keys,
    check_name,
    check_number,
    check_path_text,
    check_str,
    display_path,
    dotted_name,
    is_unicode_text,
    missing,
    not_allowed,
    show,
    show_key,
    unknown_field,
)
from ais_bench.datasets.item import MAX_OUT_TOKENS
from ais_bench.errors import ConfigError
from ais_bench.load.schedule import TrafficShape

if TYPE_CHECKING:
    from ais_bench.benchmark.models import AisbenchBackend
    from ais_bench.sim.config import SimConfig

MAX_BATCH_SIZE = 100_000
MAX_REQUEST_RATE = 64_000
MAX_RETRY = 1000
#: Largest ``max_out_len`` (tokens): what a server's 32-bit signed token count can hold.
MAX_OUT_LEN = MAX_OUT_TOKENS
RAMP_UP_STRATEGIES = ("linear", "exponential", None, "")

#: Fields AISBench model configs may carry that do not matter for performance runs (accepted, dropped).
IGNORED_FIELDS = frozenset(
    {
        "meta_template",
        "pred_postprocessor",
        "returns_tool_calls",
        "min_out_len",
        "summarizer_abbr",
        "run_cfg",
        "verbose",
        "response_anomaly",
    }
)

_TRAFFIC_FIELDS = ("burstiness", "ramp_up_strategy", "ramp_up_start_rps", "ramp_up_end_rps")

#: ``generation_kwargs`` keys that would replace what the tool itself puts in the request body.
RESERVED_GENERATION_KEYS = {
    "stream": "the streaming mode is the model config's stream= (or the backend class)",
    "messages": "the prompt comes from the dataset",
    "prompt": "the prompt comes from the dataset",
}


@dataclass(frozen=True)
class ModelConfig:
    """One validated ``models[i]`` entry.

    ``type``: the AISBench class the config named (kept for the config dump); ``backend``: what it
    means, our backend name (``ais_bench.clients.backends.BACKENDS``), which the run uses.
    ``request_rate`` in requests/s (0 = send as fast as ``batch_size`` allows); ``retry`` = extra
    attempts after the first (our decision 5; AISBench counts total attempts);
    ``batch_size`` = maximum concurrency across all workers, except in a timestamp replay
    (``use_timestamp``), which is open loop unless ``timestamp_batch_cap``; ``max_out_len`` in tokens;
    ``host_port`` 0 only with ``simulator`` (filled in at run time, see ``with_port``).
    ``model_name``: Triton only, the model in the URL path (``v2/models/{model_name}/generate``);
    empty = ``model``, else the first id of ``GET /v1/models``. ``path``: tokenizer folder used to
    count tokens the server does not report, and by datasets that generate prompts from token ids.
    """

    type: type
    abbr: str
    backend: str
    stream: bool
    attr: str = "service"
    path: str = ""
    model: str = ""
    model_name: str = ""
    request_rate: float = 0.0
    use_timestamp: bool = False
    timestamp_batch_cap: bool = False
    traffic_cfg: TrafficShape = field(default_factory=TrafficShape)
    retry: int = 2
    api_key: str = field(default="", repr=False)
    host_ip: str = "localhost"
    host_port: int = 8080
    url: str = ""
    enable_ssl: bool = False
    ca_cert: str = ""
    insecure: bool = False
    client_cert: str = ""
    client_key: str = ""
    max_out_len: int = 4096
    batch_size: int = 1
    trust_remote_code: bool = False
    generation_kwargs: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    simulator: SimConfig | None = None
    #: The ``simulator`` keys the config file gave, in its order: the config dump shows only those.
    simulator_keys: tuple[str, ...] = ()
    source: str = ""

    @property
    def base_url(self) -> str:
        """Root URL ending in ``/``: ``url`` (scheme added if missing) or ``http(s)://host:port/``."""
        scheme = "https" if self.enable_ssl else "http"
        if self.url:
            url = self.url if "://" in self.url else f"{scheme}://{self.url}"
            return url if url.endswith("/") else url + "/"
        host = self.host_ip
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"{scheme}://{host}:{self.host_port}/"

    def with_port(self, port: int) -> ModelConfig:
        """A copy pointing at ``port`` (used once the embedded simulator has picked its port)."""
        return replace(self, host_port=port)

    def to_dump_dict(self) -> dict[str, Any]:
        """Plain dict for the config dump: ``type`` as a dotted name, a non-empty ``api_key`` as ``***``."""
        out = asdict(self)
        out.pop("source")
        out.pop("backend")
        out.pop("simulator_keys")
        if self.simulator is not None:
            out["simulator"] = {key: out["simulator"][key] for key in self.simulator_keys}
        out["type"] = dotted_name(self.type)
        if out["api_key"]:
            out["api_key"] = "***"
        return out


_FIELDS = {f for f in ModelConfig.__dataclass_fields__ if f not in ("backend", "source", "simulator_keys")}


def load_models(path: str | Path) -> list[ModelConfig]:
    """Load the ``models`` list of a model config file and validate each entry."""
    source = display_path(path)
    namespace = load_config_file(path)
    if "models" not in namespace:
        raise ConfigError(f"{source}: no variable 'models' (a list of model dicts) in this file")
    return build_models(namespace["models"], source)


def build_models(entries: Any, source: str) -> list[ModelConfig]:
    """Validate an already-loaded ``models`` value (a list of dicts)."""
    if isinstance(entries, dict):
        entries = [entries]
    if not isinstance(entries, (list, tuple)) or not entries:
        raise not_allowed(source, "models", entries, "a non-empty list of dicts")
    return [validate_model(entry, source, index=i) for i, entry in enumerate(entries)]


def _aisbench_backend(source: str, where: str, value: Any) -> tuple[type, AisbenchBackend]:
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


def validate_model(d: dict[str, Any], source: str, *, index: int = 0) -> ModelConfig:
    """Validate one model dict into a ``ModelConfig``; the first problem raises a one-line ``ConfigError``."""
    where = f"models[{index}]"
    if not isinstance(d, dict):
        raise not_allowed(source, where, d, "a dict of model fields")
    for key in d:
        if key not in _FIELDS and key not in IGNORED_FIELDS:
            raise unknown_field(source, f"{where}.{show_key(key)}", key, _FIELDS)
    if "type" not in d:
        raise missing(source, f"{where}.type", "a backend class such as VLLMCustomAPIChat")
    cls, meaning = _aisbench_backend(source, where, d["type"])
    if "abbr" not in d:
        raise missing(source, f"{where}.abbr", "a non-empty string (the results folder name)")
    values: dict[str, Any] = {"type": cls, "backend": meaning.backend, "source": source}
    values["abbr"] = check_name(source, f"{where}.abbr", d["abbr"])
    values["attr"] = check_choice(source, f"{where}.attr", d.get("attr", "service"), ["service"])
    for key in ("model", "model_name"):
        if key in d:
            values[key] = check_str(source, f"{where}.{key}", d[key])
    if "api_key" in d:
        values["api_key"] = _check_api_key(source, f"{where}.api_key", d["api_key"])
    if "url" in d:
        values["url"] = _check_url(source, f"{where}.url", d["url"])
    for key in ("use_timestamp", "timestamp_batch_cap", "enable_ssl", "insecure", "trust_remote_code"):
        if key in d:
            values[key] = check_bool(source, f"{where}.{key}", d[key])
    for key in ("ca_cert", "client_cert", "client_key"):
        if key in d:
            values[key] = _check_pem_file(source, f"{where}.{key}", d[key])
    if values.get("client_key") and not values.get("client_cert"):
        raise ConfigError(
            f"{source}: {where}.client_key is set without client_cert",
            hint="set client_cert to the PEM file of the client's certificate (or remove client_key)",
        )
    stream = d.get("stream", meaning.default_stream)
    values["stream"] = check_bool(source, f"{where}.stream", stream)
    _check_numbers(d, source, where, values)
    if "path" in d:
        values["path"] = _check_path(source, f"{where}.path", d["path"])
    if "host_ip" in d:
        values["host_ip"] = _check_host(source, f"{where}.host_ip", d["host_ip"])
    if d.get("generation_kwargs") is not None:
        values["generation_kwargs"] = _check_generation_kwargs(
            source, f"{where}.generation_kwargs", d["generation_kwargs"]
        )
    if d.get("traffic_cfg") is not None:
        values["traffic_cfg"] = _check_traffic(source, f"{where}.traffic_cfg", d["traffic_cfg"])
    if d.get("simulator") is not None:
        values["simulator"], values["simulator_keys"] = _check_simulator(source, f"{where}.simulator", d["simulator"])
    port_lo_ok = values.get("simulator") is not None  # 0 = let the embedded simulator pick a port
    if "host_port" in d:
        values["host_port"] = check_int(
            source, f"{where}.host_port", d["host_port"], 0, 65536, lo_open=not port_lo_ok, hi_open=True
        )
    return ModelConfig(**values)


def _check_numbers(d: dict[str, Any], source: str, where: str, values: dict[str, Any]) -> None:
    if "request_rate" in d:
        values["request_rate"] = check_number(
            source, f"{where}.request_rate", d["request_rate"], 0, MAX_REQUEST_RATE
        )
    if "retry" in d:
        values["retry"] = check_int(source, f"{where}.retry", d["retry"], 0, MAX_RETRY)
    if "batch_size" in d:
        values["batch_size"] = check_int(
            source, f"{where}.batch_size", d["batch_size"], 0, MAX_BATCH_SIZE, lo_open=True
        )
    if "max_out_len" in d:
        values["max_out_len"] = check_int(source, f"{where}.max_out_len", d["max_out_len"], 1, MAX_OUT_LEN)
    if d.get("seed") is not None:
        values["seed"] = check_int(source, f"{where}.seed", d["seed"], 0, 2**32 - 1)


def _check_path(source: str, field_name: str, value: Any) -> str:
    value = check_path_text(source, field_name, value)
    try:
        exists = not value or Path(value).expanduser().exists()
    except (OSError, RuntimeError, ValueError):  # unknown ~user, name too long, ...
        exists = False
    if not exists:
        raise not_allowed(source, field_name, value, "an existing tokenizer folder, or '' for none")
    return value


def _check_pem_file(source: str, field_name: str, value: Any) -> str:
    """'' or an existing file (a PEM certificate or key; ``~`` expanded)."""
    value = check_path_text(source, field_name, value)
    if not value:
        return value
    try:
        path = Path(value).expanduser()
        is_file = path.is_file()
    except (OSError, RuntimeError, ValueError):  # unknown ~user, name too long, ...
        is_file = False
    if not is_file:
        raise not_allowed(source, field_name, value, "an existing PEM file, or '' for none")
    return str(path)


def _check_api_key(source: str, field_name: str, value: Any) -> str:
    """A string without line breaks (it goes into an HTTP header); never shown in an error."""
    value = check_str(source, field_name, value, secret=True)
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise not_allowed(source, field_name, value, "a string without control characters", secret=True)
    return value


def _check_url(source: str, field_name: str, value: Any) -> str:
    """'' (use host_ip/host_port) or an http(s) URL with a host, e.g. 'http://server:8080/'."""
    value = check_str(source, field_name, value).strip()
    if not value:
        return value
    expected = "'' or an http(s) URL such as 'http://127.0.0.1:8080/'"
    try:
        parts = urlsplit(value if "://" in value else f"http://{value}")
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port is None or parts.port > 0)
    except ValueError:  # bad port, unbalanced [ ] around an IPv6 address
        ok = False
    if not ok or any(ord(c) <= 32 for c in value):
        raise not_allowed(source, field_name, value, expected)
    return value


def _check_generation_kwargs(source: str, where: str, value: Any) -> dict[str, Any]:
    """A dict of JSON values that does not replace the body fields the tool writes itself."""
    d = check_dict(source, where, value)
    for key, reason in RESERVED_GENERATION_KEYS.items():
        if key in d:
            raise ConfigError(
                f"{source}: {where}.{key} is not allowed in generation_kwargs: {reason}",
                hint=f"remove '{key}' from generation_kwargs",
            )
    for key in _SEQUENCE_COUNT_KEYS:
        count = d.get(key)
        if isinstance(count, int) and not isinstance(count, bool) and count > 1:
            raise ConfigError(
                f"{source}: {where}.{key}={count} asks for several sequences per request, which ais_bench "
                "does not measure (their tokens interleave in one stream and TPOT/ITL would be wrong)",
                hint=f"remove '{key}' from generation_kwargs (or set it to 1); to send each prompt several "
                "times, repeat the dataset rows",
            )
    _check_json(source, where, d)
    return dict(d)


#: ``generation_kwargs`` keys that ask the server for several sequences per request (OpenAI ``n``,
#: vLLM ``best_of``).
_SEQUENCE_COUNT_KEYS = ("n", "best_of")


def _check_json(source: str, where: str, value: Any, depth: int = 0) -> None:
    """Every value can be sent as JSON: str, bool, None, int (64-bit), finite float, list, dict."""
    expected = "JSON data: a string, bool, None, 64-bit integer, finite number, list or dict with string keys"
    if depth > 64:
        raise not_allowed(source, where, value, "at most 64 levels of nested lists and dicts")
    if isinstance(value, str) and not is_unicode_text(value):
        raise not_allowed(source, where, value, NO_SURROGATE)
    if value is None or isinstance(value, (str, bool)):
        return
    if isinstance(value, int):
        if not -(2**63) <= value < 2**64:
            raise not_allowed(source, where, value, expected)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise not_allowed(source, where, value, expected)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_json(source, f"{where}[{i}]", item, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or not is_unicode_text(key):
                raise not_allowed(source, f"{where} key {show(key)}", key, "string keys of Unicode text")
            _check_json(source, f"{where}.{key}", item, depth + 1)
    else:
        raise not_allowed(source, where, value, expected)


def _check_simulator(source: str, where: str, value: Any) -> tuple[SimConfig, tuple[str, ...]]:
    """The embedded simulator's settings as a ``SimConfig`` (a mistake names the file) and the keys given."""
    from ais_bench.sim.config import SimConfig  # only for simulator configs: ais_bench.sim imports aiohttp

    d = dict(check_dict(source, where, value))
    try:
        return SimConfig.from_dict(d), tuple(d)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {where}: {exc.message}", hint=exc.hint) from None


def _check_host(source: str, field_name: str, value: Any) -> str:
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


def _check_traffic(source: str, where: str, value: Any) -> TrafficShape:
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
