"""Summarizer ``type=`` marker used by AISBench summarizer config files."""


class DefaultPerfSummarizer:
    """The performance summarizer; its ``calculator`` picks the stage (total or stable)."""


__all__ = ["DefaultPerfSummarizer"]
