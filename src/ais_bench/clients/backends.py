"""Backend classes named by model configs (``type=...``) and what each one means for the engine.

AISBench model configs pass a class object as ``type``; that object is the key of ``BACKENDS``.
The classes have no behaviour: the behaviour is the ``BackendSpec`` (endpoint, default streaming
mode, and the adapter's pure functions). One adapter module per API: ``openai_chat``,
``openai_completions``, ``tgi``, ``triton``, ``mindie``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol
from urllib.parse import quote

from ais_bench.clients import mindie, openai_chat, openai_completions, tgi, triton
from ais_bench.clients.response import ResponseState
from ais_bench.datasets.item import Prompt, RequestItem
from ais_bench.errors import ConfigError


class VLLMCustomAPIChat:
    """OpenAI chat API (``v1/chat/completions``) of vLLM / SGLang; ``stream`` from the config."""


class VLLMCustomAPIChatStream:
    """Deprecated AISBench alias of ``VLLMCustomAPIChat`` that streams by default."""


class VLLMCustomAPI:
    """OpenAI completions API (``v1/completions``) of vLLM / SGLang; ``stream`` from the config."""


class VLLMCustomAPIStream:
    """Deprecated AISBench alias of ``VLLMCustomAPI`` that streams by default."""


class TGICustomAPI:
    """Hugging Face TGI (``generate`` / ``generate_stream``); ``stream`` from the config."""


class TGICustomAPIStream:
    """Deprecated AISBench alias of ``TGICustomAPI`` that streams by default."""


class TritonCustomAPI:
    """Triton generate extension (``v2/models/{model_name}/generate[_stream]``); ``stream`` from the config."""


class TritonCustomAPIStream:
    """Deprecated AISBench alias of ``TritonCustomAPI`` that streams by default."""


class MindieStreamApi:
    """MindIE native API (``infer``); streams by default."""


#: ``BackendSpec.end_marker`` values and how they read in messages and docs.
END_DONE = "done"
END_FINAL_EVENT = "final_event"
END_BODY = "body_end"
END_MARKER_NAMES = {
    END_DONE: "data: [DONE]",
    END_FINAL_EVENT: "the final event (generated_text)",
    END_BODY: "the end of the chunked body",
}


class BuildBody(Protocol):
    def __call__(
        self,
        item: RequestItem,
        *,
        model: str,
        stream: bool,
        max_out_len: int,
        generation_kwargs: Mapping[str, Any],
    ) -> dict[str, Any]: ...


class ParseStreamEvent(Protocol):
    def __call__(self, data: str, state: ResponseState) -> None: ...


class ParseFullBody(Protocol):
    def __call__(self, body: bytes, state: ResponseState) -> None: ...


def _text_prompt(item: RequestItem) -> Prompt:
    """A text API's prompt: chat messages flattened as the completions adapter does."""
    return openai_completions.build_prompt(item.prompt, item.index)


@dataclass(frozen=True, slots=True)
class BackendSpec:
    """How to talk to one API.

    ``name``: the config class name. ``endpoint``: path joined to the base URL for the POST.
    ``default_stream``: streaming mode when the config gives no ``stream``. ``build_body``,
    ``parse_stream_event``, ``parse_full_body``: the adapter's pure functions.
    ``models_endpoint``: path of the model list used to discover ``model`` when it is empty.
    ``deprecated``: the class is an old alias (the config loader may warn).
    ``stream_endpoint``: the path when streaming, if it differs from ``endpoint``; either path may
    hold ``{model_name}`` (Triton). ``needs_model_name``: the body or URL uses the served model name
    (so an empty ``model`` is discovered). ``sent_prompt``: the prompt of an item as the API
    receives it (messages for chat APIs, a string otherwise), which the tokenizer counts.
    ``end_marker``: what ends a complete stream (``END_DONE``: ``data: [DONE]``; ``END_FINAL_EVENT``:
    the adapter's final event, which sets ``ResponseState.ended``; ``END_BODY``: the body's own end,
    chunked or with a length, since the API has no in-band marker). A stream that ends without it was
    cut and fails.
    """

    name: str
    endpoint: str
    default_stream: bool
    build_body: BuildBody
    parse_stream_event: ParseStreamEvent
    parse_full_body: ParseFullBody
    models_endpoint: str = "v1/models"
    deprecated: bool = False
    stream_endpoint: str | None = None
    needs_model_name: bool = True
    sent_prompt: Callable[[RequestItem], Prompt] = _text_prompt
    end_marker: str = "done"

    def url_path(self, *, stream: bool, model_name: str = "") -> str:
        """The path joined to the base URL: ``stream_endpoint`` when streaming (if set), else
        ``endpoint``, with ``{model_name}`` replaced by the URL-quoted model name."""
        path = self.stream_endpoint if stream and self.stream_endpoint else self.endpoint
        return path.replace("{model_name}", quote(model_name, safe=""))


def _chat_prompt(item: RequestItem) -> Prompt:
    return openai_chat.build_messages(item.prompt, item.index)


def _spec(
    cls: type, adapter: ModuleType, endpoint: str, *, alias: bool = False, **options: Any
) -> tuple[type, BackendSpec]:
    """A registry entry: the config class and the spec wiring ``adapter``'s three pure functions.
    An ``alias`` (the deprecated ``*Stream`` classes) streams by default and is marked deprecated."""
    options.setdefault("default_stream", alias)
    return cls, BackendSpec(
        name=cls.__name__,
        endpoint=endpoint,
        build_body=adapter.build_body,
        parse_stream_event=adapter.parse_stream_event,
        parse_full_body=adapter.parse_full_body,
        deprecated=alias,
        **options,
    )


def build_registry(entries: Iterable[tuple[type, BackendSpec]]) -> dict[type, BackendSpec]:
    """A dict from entries; a class given twice (or a spec named after another class) is an error."""
    registry: dict[type, BackendSpec] = {}
    for cls, spec in entries:
        if cls in registry:
            raise ValueError(f"backend class {cls.__name__} is registered twice")
        if spec.name != cls.__name__:
            raise ValueError(f"backend spec {spec.name!r} is registered for class {cls.__name__}")
        registry[cls] = spec
    return registry


_CHAT = {"endpoint": "v1/chat/completions", "sent_prompt": _chat_prompt}
_TGI = {
    "endpoint": "generate", "stream_endpoint": "generate_stream", "needs_model_name": False,
    "end_marker": END_FINAL_EVENT,
}
_TRITON = {
    "endpoint": triton.ENDPOINT, "stream_endpoint": triton.STREAM_ENDPOINT,
    "models_endpoint": triton.MODELS_ENDPOINT, "end_marker": END_BODY,
}

_ENTRIES: list[tuple[type, BackendSpec]] = [
    _spec(VLLMCustomAPIChat, openai_chat, **_CHAT),
    _spec(VLLMCustomAPIChatStream, openai_chat, alias=True, **_CHAT),
    _spec(VLLMCustomAPI, openai_completions, "v1/completions"),
    _spec(VLLMCustomAPIStream, openai_completions, "v1/completions", alias=True),
    _spec(TGICustomAPI, tgi, **_TGI),
    _spec(TGICustomAPIStream, tgi, alias=True, **_TGI),
    _spec(TritonCustomAPI, triton, **_TRITON),
    _spec(TritonCustomAPIStream, triton, alias=True, **_TRITON),
    _spec(MindieStreamApi, mindie, "infer", default_stream=True, needs_model_name=False, end_marker=END_FINAL_EVENT),
]

#: Every supported backend class and its spec; assembled here and only here.
BACKENDS: dict[type, BackendSpec] = build_registry(_ENTRIES)


def backend_for(cls: object) -> BackendSpec:
    """The spec of a config's ``type``; ``ConfigError`` naming the supported classes otherwise."""
    spec = BACKENDS.get(cls) if isinstance(cls, type) else None
    if spec is None:
        supported = ", ".join(sorted(spec.name for spec in BACKENDS.values()))
        given = cls.__name__ if isinstance(cls, type) else repr(cls)
        raise ConfigError(
            f"model type {given} is not a supported backend; supported: {supported}",
            hint="use e.g. `from ais_bench.benchmark.models import VLLMCustomAPIChat` and "
            "type=VLLMCustomAPIChat",
        )
    return spec
