"""Calculator ``type=`` markers used by AISBench summarizer config files."""


class DefaultPerfMetricCalculator:
    """Metrics over every request of the run (stage ``total``)."""


class StablePerfMetricCalculator:
    """Metrics over the steady stage only (stage ``stable``)."""


__all__ = ["DefaultPerfMetricCalculator", "StablePerfMetricCalculator"]
