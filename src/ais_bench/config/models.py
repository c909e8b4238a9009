"""Model (service backend) configs: validated into ``ModelConfig`` at load time.

Fields, types and ranges follow AISBench's model table (behaviour spec §2). Defaults live here.
Three fields are ours: ``seed`` (makes the send schedule reproducible), ``timestamp_batch_cap``
(a timestamp replay capped at ``batch_size``) and ``simulator`` (the embedded simulated server's
settings, validated into ``ais_bench.sim.SimConfig``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ais_bench.clients.headers import merge_headers
from ais_bench.config.generation_kwargs import check_generation_kwargs
from ais_bench.config.headers import check_headers, masked_headers
from ais_bench.config.loader import load_config_file
from ais_bench.config.model_fields import (
    aisbench_backend,
    check_api_key,
    check_host,
    check_path,
    check_pem_file,
    check_simulator,
    check_traffic,
    check_url,
)
from ais_bench.config.validation import (
    check_bool,
    check_choice,
    check_int,
    check_known_keys,
    check_name,
    check_number,
    check_str,
    display_path,
    dotted_name,
    missing,
    not_allowed,
)
from ais_bench.datasets.item import MAX_OUT_TOKENS
from ais_bench.errors import ConfigError
from ais_bench.load.schedule import TrafficShape

if TYPE_CHECKING:
    from ais_bench.sim.config import SimConfig

MAX_BATCH_SIZE = 100_000
MAX_REQUEST_RATE = 64_000
MAX_RETRY = 1000
#: Largest ``max_out_len`` (tokens): what a server's 32-bit signed token count can hold.
MAX_OUT_LEN = MAX_OUT_TOKENS

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
    headers: dict[str, str] = field(default_factory=dict, repr=False)
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

    def with_headers(self, headers: dict[str, str]) -> ModelConfig:
        """A copy whose ``headers`` also hold ``headers`` (the ``--header`` flags), which replace the
        config's header of the same name in any case."""
        return replace(self, headers=merge_headers(self.headers, headers))

    def with_port(self, port: int) -> ModelConfig:
        """A copy pointing at ``port`` (used once the embedded simulator has picked its port)."""
        return replace(self, host_port=port)

    def to_dump_dict(self) -> dict[str, Any]:
        """Plain dict for the config dump: ``type`` as a dotted name, a non-empty ``api_key`` and the
        value of a secret-looking header (``Authorization``, ``*-key``, ``*token*``, ...) as ``***``."""
        out = asdict(self)
        out.pop("source")
        out.pop("backend")
        out.pop("simulator_keys")
        if self.simulator is not None:
            out["simulator"] = {key: out["simulator"][key] for key in self.simulator_keys}
        out["type"] = dotted_name(self.type)
        if out["api_key"]:
            out["api_key"] = "***"
        if self.headers:
            out["headers"] = masked_headers(self.headers)
        else:  # dumps stay as they were before the field existed
            del out["headers"]
        return out


_FIELDS = {f for f in ModelConfig.__dataclass_fields__ if f not in ("backend", "source", "simulator_keys")}


def load_models(path: str | Path, *, tokenizer_must_exist: bool = True) -> list[ModelConfig]:
    """Load the ``models`` list of a model config file and validate each entry.

    ``tokenizer_must_exist``: a ``path`` must name an existing folder (False for a recalculation,
    which reads the token counts stored with the run and never the tokenizer)."""
    source = display_path(path)
    namespace = load_config_file(path)
    if "models" not in namespace:
        raise ConfigError(f"{source}: no variable 'models' (a list of model dicts) in this file")
    return build_models(namespace["models"], source, tokenizer_must_exist=tokenizer_must_exist)


def build_models(entries: Any, source: str, *, tokenizer_must_exist: bool = True) -> list[ModelConfig]:
    """Validate an already-loaded ``models`` value (a list of dicts)."""
    if isinstance(entries, dict):
        entries = [entries]
    if not isinstance(entries, (list, tuple)) or not entries:
        raise not_allowed(source, "models", entries, "a non-empty list of dicts")
    return [
        validate_model(entry, source, index=i, tokenizer_must_exist=tokenizer_must_exist)
        for i, entry in enumerate(entries)
    ]


def validate_model(
    d: dict[str, Any], source: str, *, index: int = 0, tokenizer_must_exist: bool = True
) -> ModelConfig:
    """Validate one model dict into a ``ModelConfig``; the first problem raises a one-line ``ConfigError``."""
    where = f"models[{index}]"
    if not isinstance(d, dict):
        raise not_allowed(source, where, d, "a dict of model fields")
    check_known_keys(source, where, d, _FIELDS, IGNORED_FIELDS)
    if "type" not in d:
        raise missing(source, f"{where}.type", "a backend class such as VLLMCustomAPIChat")
    cls, meaning = aisbench_backend(source, where, d["type"])
    if "abbr" not in d:
        raise missing(source, f"{where}.abbr", "a non-empty string (the results folder name)")
    values: dict[str, Any] = {"type": cls, "backend": meaning.backend, "source": source}
    values["abbr"] = check_name(source, f"{where}.abbr", d["abbr"])
    values["attr"] = check_choice(source, f"{where}.attr", d.get("attr", "service"), ["service"])
    for key in ("model", "model_name"):
        if key in d:
            values[key] = check_str(source, f"{where}.{key}", d[key])
    if "api_key" in d:
        values["api_key"] = check_api_key(source, f"{where}.api_key", d["api_key"])
    if d.get("headers") is not None:
        values["headers"] = check_headers(source, f"{where}.headers", d["headers"], api_key=values.get("api_key", ""))
    if "url" in d:
        values["url"] = check_url(source, f"{where}.url", d["url"])
    for key in ("use_timestamp", "timestamp_batch_cap", "enable_ssl", "insecure", "trust_remote_code"):
        if key in d:
            values[key] = check_bool(source, f"{where}.{key}", d[key])
    for key in ("ca_cert", "client_cert", "client_key"):
        if key in d:
            values[key] = check_pem_file(source, f"{where}.{key}", d[key])
    if values.get("client_key") and not values.get("client_cert"):
        raise ConfigError(
            f"{source}: {where}.client_key is set without client_cert",
            hint="set client_cert to the PEM file of the client's certificate (or remove client_key)",
        )
    stream = d.get("stream", meaning.default_stream)
    values["stream"] = check_bool(source, f"{where}.stream", stream)
    _check_numbers(d, source, where, values)
    if "path" in d:
        values["path"] = check_path(source, f"{where}.path", d["path"], must_exist=tokenizer_must_exist)
    if "host_ip" in d:
        values["host_ip"] = check_host(source, f"{where}.host_ip", d["host_ip"])
    if d.get("generation_kwargs") is not None:
        values["generation_kwargs"] = check_generation_kwargs(
            source, f"{where}.generation_kwargs", d["generation_kwargs"]
        )
    if d.get("traffic_cfg") is not None:
        values["traffic_cfg"] = check_traffic(source, f"{where}.traffic_cfg", d["traffic_cfg"])
    if d.get("simulator") is not None:
        values["simulator"], values["simulator_keys"] = check_simulator(source, f"{where}.simulator", d["simulator"])
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


