"""Retriever markers: performance runs always behave as zero-shot retrieval of the template."""


class ZeroRetriever:
    """No in-context examples retrieved (the template carries any fixed examples)."""


class FixKRetriever:
    """Fixed in-context examples (accepted, not used in performance mode)."""


__all__ = ["FixKRetriever", "ZeroRetriever"]
