"""Backend registry, headers and model discovery."""

from __future__ import annotations

import dataclasses
import re

import pytest

from ais_bench.benchmark.models import (
    AISBENCH_BACKENDS,
    MindieStreamApi,
    TGICustomAPIStream,
    TritonCustomAPI,
    VLLMCustomAPI,
    VLLMCustomAPIChat,
    VLLMCustomAPIChatStream,
    VLLMCustomAPIStream,
)
from ais_bench.clients import openai_chat, openai_completions
from ais_bench.clients.backends import (
    BACKENDS,
    MINDIE,
    OPENAI_CHAT,
    OPENAI_COMPLETIONS,
    TGI,
    TRITON,
    BackendSpec,
    backend_for,
    build_registry,
)
from ais_bench.clients.errors import ModelDiscoveryError
from ais_bench.clients.headers import build_headers
from ais_bench.clients.model_discovery import parse_models_list, parse_triton_index
from ais_bench.errors import AisBenchError, ConfigError


@pytest.mark.parametrize(
    ("name", "endpoint", "adapter"),
    [
        (OPENAI_CHAT, "v1/chat/completions", openai_chat),
        (OPENAI_COMPLETIONS, "v1/completions", openai_completions),
    ],
)
def test_backend_specs(name: str, endpoint: str, adapter: object) -> None:
    spec = backend_for(name)
    assert spec is BACKENDS[name]
    assert spec.name == name
    assert spec.endpoint == endpoint
    assert spec.default_stream is False
    assert spec.models_endpoint == "v1/models"
    assert spec.build_body is adapter.build_body  # type: ignore[attr-defined]
    assert spec.parse_stream_event is adapter.parse_stream_event  # type: ignore[attr-defined]
    assert spec.parse_full_body is adapter.parse_full_body  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("cls", "backend", "default_stream"),
    [
        (VLLMCustomAPIChat, OPENAI_CHAT, False),
        (VLLMCustomAPIChatStream, OPENAI_CHAT, True),
        (VLLMCustomAPI, OPENAI_COMPLETIONS, False),
        (VLLMCustomAPIStream, OPENAI_COMPLETIONS, True),
        (TGICustomAPIStream, TGI, True),
        (TritonCustomAPI, TRITON, False),
        (MindieStreamApi, MINDIE, True),
    ],
)
def test_aisbench_classes_stand_for_a_backend_and_a_default_stream(cls: type, backend: str, default_stream: bool) -> None:
    assert AISBENCH_BACKENDS[cls] == (backend, default_stream)
    assert backend in BACKENDS


def test_every_backend_has_an_aisbench_class() -> None:
    assert {meaning.backend for meaning in AISBENCH_BACKENDS.values()} == set(BACKENDS)


def test_spec_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        BACKENDS[OPENAI_CHAT].endpoint = "x"  # type: ignore[misc]


@pytest.mark.parametrize("bad", ["VLLMCustomAPIChat", "openai", ""])
def test_unknown_backend_lists_supported(bad: str) -> None:
    with pytest.raises(ConfigError) as info:
        backend_for(bad)
    message = info.value.message
    for name in ("openai-chat", "openai-completions", "tgi", "triton", "mindie"):
        assert name in message
    assert "VLLMCustomAPIChat" in (info.value.hint or "")


def test_duplicate_registration_is_an_error() -> None:
    spec = BACKENDS[OPENAI_CHAT]
    with pytest.raises(ValueError, match="twice"):
        build_registry([spec, spec])


def test_spec_fields() -> None:
    assert [f.name for f in dataclasses.fields(BackendSpec)] == [
        "name",
        "endpoint",
        "default_stream",
        "build_body",
        "parse_stream_event",
        "parse_full_body",
        "models_endpoint",
        "stream_endpoint",
        "needs_model_name",
        "sent_prompt",
        "end_marker",
    ]


def test_headers() -> None:
    assert build_headers(None) == {"Content-Type": "application/json"}
    assert build_headers("") == {"Content-Type": "application/json"}
    assert build_headers("sk-1") == {"Content-Type": "application/json", "Authorization": "Bearer sk-1"}


def test_models_list_first_id() -> None:
    body = (
        b'{"object":"list","data":[{"id":"Qwen2.5-7B","object":"model","owned_by":"vllm"},'
        b'{"id":"lora-1","object":"model"}]}'
    )
    assert parse_models_list(body) == "Qwen2.5-7B"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"object":"list","data":[]}', "no models"),
        (b"<html>", "not JSON"),
        (b'{"models": []}', "no 'data' list"),
        (b'{"data": [{"name": "x"}]}', "no 'id'"),
        (b"[]", "no 'data' list"),
    ],
)
def test_models_list_errors(body: bytes, words: str) -> None:
    with pytest.raises(ModelDiscoveryError, match=words) as info:
        parse_models_list(body)
    assert isinstance(info.value, AisBenchError)
    assert "model=" in (info.value.hint or "")


def test_triton_discovery_uses_its_model_index_not_v1_models() -> None:
    """Triton has no ``/v1/models``: its index (``POST v2/repository/index``) lists the models."""
    assert BACKENDS[TRITON].models_endpoint == "v2/repository/index"
    body = b'[{"name":"vllm_model","version":"1","state":"READY"},{"name":"old","version":"1","state":"UNAVAILABLE"}]'
    assert parse_triton_index(body) == "vllm_model"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (
            b'[{"name":"ensemble","state":"READY"},{"name":"preprocessing","state":"READY"},'
            b'{"name":"tensorrt_llm","state":"READY"},{"name":"postprocessing","state":"READY"}]',
            "serves 4 models (ensemble, postprocessing, preprocessing, tensorrt_llm)",
        ),
        (b"[]", "no ready model"),
        (b'{"models": []}', "not a list"),
        (b"<html>", "not JSON"),
    ],
)
def test_triton_index_errors_name_the_models_and_the_fix(body: bytes, words: str) -> None:
    with pytest.raises(ModelDiscoveryError, match=re.escape(words)) as info:
        parse_triton_index(body)
    assert "model_name=" in (info.value.hint or "")
