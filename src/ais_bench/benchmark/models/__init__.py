"""Backend classes, as AISBench model config files import them (``type=VLLMCustomAPIChat``)."""

from ais_bench.clients.backends import (
    VLLMCustomAPI,
    VLLMCustomAPIChat,
    VLLMCustomAPIChatStream,
    VLLMCustomAPIStream,
)

__all__ = ["VLLMCustomAPI", "VLLMCustomAPIChat", "VLLMCustomAPIChatStream", "VLLMCustomAPIStream"]
