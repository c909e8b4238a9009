"""Prometheus text exposition to samples, with ``prometheus-client``'s parser (imported on first use)."""

from __future__ import annotations

from collections.abc import Mapping

from ais_bench.records.server_series import labels_text


class ExpositionError(ValueError):
    """The answer is not Prometheus text."""


def parse_exposition(text: str, extra_labels: Mapping[str, str] | None = None) -> list[tuple[str, str, float]]:
    """(sample name, labels text, value) of every sample in ``text``, in the order given;
    ``extra_labels`` are added to every sample's (e.g. ``instance``: which URL answered).

    ``*_created`` samples (the creation time of a counter or histogram, a Unix time) are left out: they
    describe the server's start, not its state. Raises :class:`ExpositionError` on text the parser refuses.
    """
    from prometheus_client.parser import text_string_to_metric_families

    samples: list[tuple[str, str, float]] = []
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name.endswith("_created"):
                    continue
                labels = {**sample.labels, **extra_labels} if extra_labels else sample.labels
                samples.append((sample.name, labels_text(labels), float(sample.value)))
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        raise ExpositionError(f"not Prometheus text: {exc}") from None
    return samples
