"""The backends (one per server API) and what each one means for the engine.

``BACKENDS`` maps our name of an API (``openai-chat``, ``openai-completions``, ``tgi``, ``triton``,
``mindie``) to its ``BackendSpec``: endpoint, default streaming mode, and the adapter's pure
functions. One adapter module per API: ``openai_chat``, ``openai_completions``, ``tgi``, ``triton``,
``mindie``. AISBench's config classes (``type=VLLMCustomAPIChat``) live in ``ais_bench.benchmark``
and are translated to these names when a config is loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol
from urllib.parse import quote

from ais_bench.clients import mindie, openai_chat, openai_completions, tgi, triton
from ais_bench.clients.body import BodyOptions
from ais_bench.clients.response import ResponseState
from ais_bench.datasets.item import Prompt, RequestItem
from ais_bench.errors import ConfigError

#: The backends, by our own names (AISBench's class names are translated to these when a model
#: config is loaded: ``ais_bench.benchmark.models.AISBENCH_BACKENDS``).
OPENAI_CHAT = "openai-chat"
OPENAI_COMPLETIONS = "openai-completions"
TGI = "tgi"
TRITON = "triton"
MINDIE = "mindie"


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
    def __call__(self, item: RequestItem, options: BodyOptions) -> dict[str, Any]: ...


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

    ``name``: our name of the API (the key of ``BACKENDS``). ``endpoint``: path joined to the base URL for the POST.
    ``default_stream``: streaming mode when the config gives no ``stream``. ``build_body``,
    ``parse_stream_event``, ``parse_full_body``: the adapter's pure functions.
    ``models_endpoint``: path of the model list used to discover ``model`` when it is empty.
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


def _spec(name: str, adapter: ModuleType, endpoint: str, **options: Any) -> BackendSpec:
    """A registry entry: the spec wiring ``adapter``'s three pure functions."""
    options.setdefault("default_stream", False)
    return BackendSpec(
        name=name,
        endpoint=endpoint,
        build_body=adapter.build_body,
        parse_stream_event=adapter.parse_stream_event,
        parse_full_body=adapter.parse_full_body,
        **options,
    )


def build_registry(specs: Iterable[BackendSpec]) -> dict[str, BackendSpec]:
    """A dict by name; a name given twice is an error."""
    registry: dict[str, BackendSpec] = {}
    for spec in specs:
        if spec.name in registry:
            raise ValueError(f"backend {spec.name} is registered twice")
        registry[spec.name] = spec
    return registry


_SPECS: list[BackendSpec] = [
    _spec(OPENAI_CHAT, openai_chat, "v1/chat/completions", sent_prompt=_chat_prompt),
    _spec(OPENAI_COMPLETIONS, openai_completions, "v1/completions"),
    _spec(TGI, tgi, "generate", stream_endpoint="generate_stream", needs_model_name=False, end_marker=END_FINAL_EVENT),
    _spec(
        TRITON, triton, triton.ENDPOINT, stream_endpoint=triton.STREAM_ENDPOINT,
        models_endpoint=triton.MODELS_ENDPOINT, end_marker=END_BODY,
    ),
    _spec(MINDIE, mindie, "infer", default_stream=True, needs_model_name=False, end_marker=END_FINAL_EVENT),
]

#: Every supported backend by name; assembled here and only here.
BACKENDS: dict[str, BackendSpec] = build_registry(_SPECS)


def backend_for(name: str) -> BackendSpec:
    """The spec of a backend name; ``ConfigError`` naming the supported backends otherwise."""
    spec = BACKENDS.get(name)
    if spec is None:
        raise ConfigError(
            f"{name!r} is not a supported backend; supported: {', '.join(sorted(BACKENDS))}",
            hint="a model config names its backend with type=, e.g. "
            "`from ais_bench.benchmark.models import VLLMCustomAPIChat` and type=VLLMCustomAPIChat",
        )
    return spec
