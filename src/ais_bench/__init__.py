"""ais_bench: service-oriented LLM inference performance benchmark."""

__version__ = "0.1.0"
