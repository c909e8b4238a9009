"""Dataset ``type=`` markers used in dataset config files.

They carry no behaviour: a dataset config names one of these classes and
``ais_bench.datasets.load_items`` picks the loader keyed by that class. AISBench config files import
them as ``from ais_bench.benchmark.datasets import GSM8KDataset``.
"""

from __future__ import annotations


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


#: Every dataset type a config may name, by class name (for messages and dotted-name lookups).
DATASET_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (GSM8KDataset, SyntheticDataset, ShareGPTDataset, CustomDataset, MooncakeTraceDataset)
}
