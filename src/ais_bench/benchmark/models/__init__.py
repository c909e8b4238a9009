"""AISBench's model config classes (``type=VLLMCustomAPIChat``), as AISBench config files import them.

The classes have no behaviour. ``AISBENCH_BACKENDS`` says what each one means: our backend name
(``ais_bench.clients.backends.BACKENDS``) and the streaming mode when the config gives no ``stream``;
the config loader translates ``type`` with it, and nothing else in the tool knows these classes.
"""

from __future__ import annotations

from typing import NamedTuple

from ais_bench.clients.backends import MINDIE, OPENAI_CHAT, OPENAI_COMPLETIONS, TGI, TRITON


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


class AisbenchBackend(NamedTuple):
    """What an AISBench class stands for: our ``backend`` name and its ``default_stream``."""

    backend: str
    default_stream: bool


#: Every AISBench model class and its meaning; the ``*Stream`` aliases stream by default.
AISBENCH_BACKENDS: dict[type, AisbenchBackend] = {
    VLLMCustomAPIChat: AisbenchBackend(OPENAI_CHAT, False),
    VLLMCustomAPIChatStream: AisbenchBackend(OPENAI_CHAT, True),
    VLLMCustomAPI: AisbenchBackend(OPENAI_COMPLETIONS, False),
    VLLMCustomAPIStream: AisbenchBackend(OPENAI_COMPLETIONS, True),
    TGICustomAPI: AisbenchBackend(TGI, False),
    TGICustomAPIStream: AisbenchBackend(TGI, True),
    TritonCustomAPI: AisbenchBackend(TRITON, False),
    TritonCustomAPIStream: AisbenchBackend(TRITON, True),
    MindieStreamApi: AisbenchBackend(MINDIE, True),
}

__all__ = [
    "AISBENCH_BACKENDS",
    "AisbenchBackend",
    "MindieStreamApi",
    "TGICustomAPI",
    "TGICustomAPIStream",
    "TritonCustomAPI",
    "TritonCustomAPIStream",
    "VLLMCustomAPI",
    "VLLMCustomAPIChat",
    "VLLMCustomAPIChatStream",
    "VLLMCustomAPIStream",
]
