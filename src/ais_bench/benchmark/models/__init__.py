"""Backend classes, as AISBench model config files import them (``type=VLLMCustomAPIChat``)."""

from ais_bench.clients.backends import (
    MindieStreamApi,
    TGICustomAPI,
    TGICustomAPIStream,
    TritonCustomAPI,
    TritonCustomAPIStream,
    VLLMCustomAPI,
    VLLMCustomAPIChat,
    VLLMCustomAPIChatStream,
    VLLMCustomAPIStream,
)

__all__ = [
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
