"""Dataset names as AISBench dataset config files import them.

``GSM8KDataset``, ``SyntheticDataset``, ``ShareGPTDataset``, ``CustomDataset`` and
``MooncakeTraceDataset`` are the dataset types this tool can load (``type=`` of a dataset config);
``AISBENCH_DATASETS`` gives each one's own name in the tool (the key of
``ais_bench.datasets.LOADERS``), which the config loader translates ``type`` into. The evaluator and
post-processor names exist only so that accuracy-oriented config files (``eval_cfg=...``) import
unchanged; performance runs never call them.
"""

from __future__ import annotations

from ais_bench.datasets import CUSTOM, GSM8K, MOONCAKE_TRACE, SHAREGPT, SYNTHETIC


class GSM8KDataset:
    """GSM8K JSON lines (``question``, ``answer``) under ``<data root>/gsm8k/``."""


class SyntheticDataset:
    """Rows generated from a seeded length distribution or random token ids (no files needed)."""


class ShareGPTDataset:
    """ShareGPT conversations (JSON array of ``{id, conversations: [{from, value}]}``)."""


class CustomDataset:
    """A JSON-lines file of prompts (``prompt``/``question``/``messages``, optional ``max_out_len``,
    ``timestamp``); what ``--custom-dataset-path`` builds."""


class MooncakeTraceDataset:
    """A timestamped request trace (``timestamp`` ms, ``input_length``/``hash_ids`` or ``input_text``,
    ``output_length``)."""


#: Every dataset class a config may name and the tool's name of that dataset kind.
AISBENCH_DATASETS: dict[type, str] = {
    GSM8KDataset: GSM8K,
    SyntheticDataset: SYNTHETIC,
    ShareGPTDataset: SHAREGPT,
    CustomDataset: CUSTOM,
    MooncakeTraceDataset: MOONCAKE_TRACE,
}


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
    "AISBENCH_DATASETS",
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
