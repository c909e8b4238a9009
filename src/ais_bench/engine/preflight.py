"""Before the load: is the server there, which model does it serve, and the warm-up requests."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
import orjson

from ais_bench.clients.backends import BackendSpec
from ais_bench.clients.tls import DEFAULT_TLS, TLSOptions, build_tls_context
from ais_bench.datasets.item import RequestItem
from ais_bench.engine.client import HttpClient, open_http_client
from ais_bench.engine.request import send_request
from ais_bench.errors import ConfigError, DatasetError, ServerUnreachable
from ais_bench.load.schedule import split_concurrency

CONNECT_TIMEOUT_S = 5.0
DISCOVERY_TIMEOUT_S = 5.0
#: File descriptors a process needs besides its connections (record files, pipes, the event loop,
#: libraries), a generous margin.
FD_RESERVE = 128


def raise_open_file_limit(batch_size: int, workers: int, warmups: int) -> None:
    """Make room for the connections of the run: each worker process opens up to its share of
    ``batch_size`` sockets and this process up to ``min(warmups, batch_size)`` for the warm-up (the
    workers inherit this process's limit). Raises the soft RLIMIT_NOFILE (up to the hard limit) when
    it is too low, or raises ConfigError, before anything is sent, when even the hard limit is."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows: no such limit
        return
    connections = max(max(split_concurrency(batch_size, workers)), min(warmups, batch_size))
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


def check_reachable(url: str) -> None:
    """Open (and close) a TCP connection to the URL's host and port, or raise ServerUnreachable."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except TimeoutError:
        raise ServerUnreachable(
            f"cannot reach {url}: no answer within {CONNECT_TIMEOUT_S:.0f} s",
            hint="check host_ip/host_port (or url) in the model config and that the server is running; "
            "see docs/troubleshooting.md#the-server",
        ) from None
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise ServerUnreachable(
            f"cannot reach {url}: {reason}",
            hint="start the inference server, or fix host_ip/host_port (or url) in the model config; "
            "see docs/troubleshooting.md#the-server",
        ) from None


async def discover_model(
    base_url: str, models_endpoint: str, headers: dict[str, str], tls: TLSOptions = DEFAULT_TLS
) -> str:
    """The served model: the first id of ``GET <base>/v1/models``, or, for Triton's index
    (``POST <base>/v2/repository/index``), its one ready model."""
    from ais_bench.clients.model_discovery import (
        TRITON_INDEX_BODY,
        TRITON_INDEX_ENDPOINT,
        parse_models_list,
        parse_triton_index,
    )

    url = base_url + models_endpoint
    triton = models_endpoint == TRITON_INDEX_ENDPOINT
    method = "POST" if triton else "GET"
    hint = (
        "set model_name='<Triton model>' in the model config" if triton
        else "set `model` in the model config to the served model name"
    )
    timeout = aiohttp.ClientTimeout(total=DISCOVERY_TIMEOUT_S)
    try:
        async with (
            aiohttp.ClientSession(
                timeout=timeout, headers=headers, trust_env=False,
                connector=aiohttp.TCPConnector(ssl=build_tls_context(tls) if url.startswith("https://") else True),
            ) as session,
            session.request(method, url, data=TRITON_INDEX_BODY if triton else None) as resp,
        ):
            body = await resp.read()
            if resp.status != 200:
                raise ServerUnreachable(
                    f"model auto-detection failed: {method} {url} returned HTTP {resp.status}", hint=hint
                )
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        raise ServerUnreachable(
            f"model auto-detection failed: {method} {url}: {type(exc).__name__}: {exc}", hint=hint
        ) from None
    return parse_triton_index(body) if triton else parse_models_list(body)


@dataclass
class WarmupResult:
    sent: int
    succeeded: int
    first_error: str | None


async def run_warmup(
    spec: BackendSpec,
    url: str,
    headers: dict[str, str],
    bodies: list[bytes],
    *,
    count: int,
    concurrency: int,
    stream: bool,
    max_chunk_bytes: int,
    timeout_s: float | None,
    tls: TLSOptions = DEFAULT_TLS,
) -> WarmupResult:
    """Send ``count`` warm-up requests (``bodies[i % len]``), at most ``concurrency`` at once, through
    the same client as the load (``engine/client.py``), so a response the load cannot use fails the
    warm-up too. Results are not recorded; only successes are counted."""
    semaphore = asyncio.Semaphore(max(1, concurrency))
    errors: list[str] = []

    async def one(session: HttpClient, body: bytes) -> bool:
        async with semaphore:
            attempt, _ = await send_request(session, spec, url, body, stream, 0, max_chunk_bytes)
        if attempt.error_kind is None and len(attempt.points) >= 2:
            return True
        errors.append(attempt.error_message or "response ended without any event")
        return False

    async with open_http_client(url, headers, timeout_s, max(1, min(count, concurrency)), tls=tls) as session:
        results = await asyncio.gather(*(one(session, bodies[i % len(bodies)]) for i in range(count)))
    return WarmupResult(sent=count, succeeded=sum(results), first_error=errors[0] if errors else None)


def encode_bodies(spec: BackendSpec, items: list[RequestItem], **kwargs: object) -> list[bytes]:
    """Every item's request body as JSON bytes; ``DatasetError`` names the first row that cannot be
    sent (text UTF-8 cannot encode, a number JSON cannot hold) instead of a traceback."""
    try:
        return [orjson.dumps(spec.build_body(item, **kwargs)) for item in items]
    except (TypeError, ValueError):
        for item in items:
            try:
                orjson.dumps(spec.build_body(item, **kwargs))
            except (TypeError, ValueError) as exc:
                raise DatasetError(
                    f"dataset '{item.data_abbr}' row {item.index}: its request body cannot be written as JSON ({exc})",
                    hint="fix that row of the dataset (or the model config's generation_kwargs)",
                ) from None
        raise
