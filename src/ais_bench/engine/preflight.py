"""Before the load: is the server there, which model does it serve, room for its connections (the
warm-up is sent by the workers: ``engine/warmup.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ais_bench.clients.backends import BackendSpec
from ais_bench.clients.body import BodyOptions
from ais_bench.clients.client import CONNECT_KINDS, check_connect, describe_failure, fetch
from ais_bench.clients.http1 import HTTPExchangeError
from ais_bench.clients.loop import run_worker_loop
from ais_bench.clients.tls import DEFAULT_TLS, TLSOptions
from ais_bench.datasets.item import RequestItem
from ais_bench.engine.error_text import http_status_text
from ais_bench.engine.server_hints import SEE_SERVER_DOCS, WRONG_PATH_STATUSES, status_hint, unreachable_hint
from ais_bench.errors import ConfigError, DatasetError, ServerUnreachable
from ais_bench.load.schedule import split_concurrency

CONNECT_TIMEOUT_S = 5.0
DISCOVERY_TIMEOUT_S = 5.0
#: File descriptors a process needs besides its connections (record files, pipes, the event loop,
#: libraries), a generous margin.
FD_RESERVE = 128


def raise_open_file_limit(batch_size: int, workers: int) -> None:
    """Make room for the connections of the run: each worker process opens up to its share of
    ``batch_size`` sockets, its warm-up included (the workers inherit this process's limit). Raises the soft RLIMIT_NOFILE (up to the hard limit) when
    it is too low, or raises ConfigError, before anything is sent, when even the hard limit is."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows: no such limit
        return
    connections = max(split_concurrency(batch_size, workers))
    needed = connections + FD_RESERVE
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise ConfigError(
            f"batch_size {batch_size} needs about {needed} open files per process ({connections} connections "
            f"+ {FD_RESERVE}), but this shell's hard limit is {hard}",
            hint="raise it (ulimit -Hn, or nofile in /etc/security/limits.conf), lower batch_size, or spread "
            "the connections over more worker processes (WORKERS_NUM); see docs/troubleshooting.md#the-server",
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def check_reachable(url: str, tls: TLSOptions = DEFAULT_TLS) -> None:
    """Open (and close) one connection to the URL's host and port through the run's client (the TLS
    handshake included for ``https://``), or raise ServerUnreachable."""
    try:
        run_worker_loop(check_connect(url, timeout_s=CONNECT_TIMEOUT_S, tls=tls))
    except HTTPExchangeError as exc:
        failure = describe_failure(exc, url, None)
        raise ServerUnreachable(failure.message, hint=unreachable_hint(failure.kind, failure.message)) from None


async def discover_model(
    base_url: str, models_endpoint: str, headers: dict[str, str], tls: TLSOptions = DEFAULT_TLS
) -> str:
    """The served model: the first id of ``GET <base>/v1/models``, or, for Triton's index
    (``POST <base>/v2/repository/index``), its one ready model; through the run's client."""
    from ais_bench.clients.model_discovery import (
        TRITON_INDEX_BODY,
        TRITON_INDEX_ENDPOINT,
        parse_models_list,
        parse_triton_index,
    )

    url = base_url + models_endpoint
    triton = models_endpoint == TRITON_INDEX_ENDPOINT
    method = "POST" if triton else "GET"
    try:
        answer = await fetch(
            url, headers, method=method, body=TRITON_INDEX_BODY if triton else b"", timeout_s=DISCOVERY_TIMEOUT_S,
            tls=tls,
        )
    except HTTPExchangeError as exc:
        failure = describe_failure(exc, url, None)
        if failure.kind in CONNECT_KINDS:
            raise ServerUnreachable(
                f"model auto-detection failed: {failure.message}", hint=unreachable_hint(failure.kind, failure.message)
            ) from None
        raise ServerUnreachable(
            f"model auto-detection failed: {method} {failure.message}", hint=_set_model_hint(triton)
        ) from None
    if answer.status != 200:
        text = http_status_text(answer.status, answer.reason, answer.headers.get("location"), bytes(answer.body))
        raise ServerUnreachable(f"model auto-detection failed: {method} {url} returned {text}", hint=_discovery_status_hint(answer.status, url, triton))
    body = bytes(answer.body)
    return parse_triton_index(body) if triton else parse_models_list(body)


def _discovery_status_hint(status: int, url: str, triton: bool) -> str:
    cause = status_hint(status, url)
    if cause is None:
        return _set_model_hint(triton)
    if status in WRONG_PATH_STATUSES:  # a server may serve the API but no model list
        return f"{cause}; or, if the server lists no models, {_set_model_hint(triton)}; {SEE_SERVER_DOCS}"
    return f"{cause}; {SEE_SERVER_DOCS}"


def _set_model_hint(triton: bool) -> str:
    if triton:
        return "set model_name='<Triton model>' in the model config (or --served-model-name)"
    return "set `model` in the model config (or --served-model-name) to the served model name"


def encode_bodies(
    spec: BackendSpec,
    items: list[RequestItem],
    *,
    model: str,
    stream: bool,
    max_out_len: int,
    generation_kwargs: Mapping[str, Any],
) -> list[bytes]:
    """Every item's request body as JSON bytes; ``DatasetError`` names the first row that cannot be
    sent (text UTF-8 cannot encode, a number JSON cannot hold) instead of a traceback."""
    options = BodyOptions(model, stream, max_out_len, generation_kwargs)
    try:
        return [orjson.dumps(spec.build_body(item, options)) for item in items]
    except (TypeError, ValueError):
        for item in items:
            try:
                orjson.dumps(spec.build_body(item, options))
            except (TypeError, ValueError) as exc:
                raise DatasetError(
                    f"dataset '{item.data_abbr}' row {item.index}: its request body cannot be written as JSON ({exc})",
                    hint="fix that row of the dataset (or the model config's generation_kwargs)",
                ) from None
        raise
