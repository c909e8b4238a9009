"""Dataset names as AISBench dataset config files import them.

``GSM8KDataset``, ``SyntheticDataset``, ``ShareGPTDataset``, ``CustomDataset`` and
``MooncakeTraceDataset`` are the dataset types this tool can load. The evaluator and
post-processor names exist only so that accuracy-oriented config files (``eval_cfg=...``) import
unchanged; performance runs never call them.
"""

from ais_bench.datasets.dataset_types import (
    CustomDataset,
    GSM8KDataset,
    MooncakeTraceDataset,
    ShareGPTDataset,
    SyntheticDataset,
)


class Gsm8kEvaluator:
    """Accuracy evaluator placeholder (not used in performance mode)."""


def gsm8k_postprocess(text: str) -> str:
    """Accuracy post-processor placeholder: returns ``text`` unchanged."""
    return text


class ShareGPTEvaluator:
    """Accuracy evaluator placeholder (not used in performance mode)."""


class MooncakeTraceEvaluator:
    """Accuracy evaluator placeholder (not used in performance mode)."""


def math_postprocess_v2(text: str) -> str:
    """Accuracy post-processor placeholder: returns ``text`` unchanged."""
    return text


def gsm8k_dataset_postprocess(text: str) -> str:
    """Accuracy post-processor placeholder: returns ``text`` unchanged."""
    return text


__all__ = [
    "CustomDataset",
    "GSM8KDataset",
    "Gsm8kEvaluator",
    "MooncakeTraceDataset",
    "MooncakeTraceEvaluator",
    "ShareGPTDataset",
    "ShareGPTEvaluator",
    "SyntheticDataset",
    "gsm8k_dataset_postprocess",
    "gsm8k_postprocess",
    "math_postprocess_v2",
]
