"""Dataset sources to lists of ``RequestItem``.

``load_items(dataset_cfg, num_prompts)`` dispatches on the config's ``kind`` (``gsm8k``,
``synthetic``, ``sharegpt``, ``custom``, ``mooncake-trace``) through ``LOADERS``, an explicit dict
assembled here. (AISBench's dataset classes are translated to these kinds when a config is loaded:
``ais_bench.benchmark.datasets.AISBENCH_DATASETS``.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ais_bench.datasets.custom import load_custom_items
from ais_bench.datasets.gsm8k import load_gsm8k_items, messages_to_text
from ais_bench.datasets.item import Prompt, RequestItem
from ais_bench.datasets.sharegpt import load_sharegpt_items
from ais_bench.datasets.synthetic import load_synthetic_items
from ais_bench.datasets.trace import load_trace_items
from ais_bench.errors import DatasetError

if TYPE_CHECKING:
    from ais_bench.config.datasets import DatasetConfig
    from ais_bench.tokens import TextTokenizer

#: The dataset kinds, by the tool's own names.
GSM8K = "gsm8k"
SYNTHETIC = "synthetic"
SHAREGPT = "sharegpt"
CUSTOM = "custom"
MOONCAKE_TRACE = "mooncake-trace"


class LoadedItems(list[RequestItem]):
    """A ``list[RequestItem]`` that also carries ``warnings`` (text for the CLI to print)."""

    def __init__(self, items: list[RequestItem], warnings: list[str] | None = None) -> None:
        super().__init__(items)
        self.warnings: list[str] = list(warnings or [])


def _gsm8k(cfg: DatasetConfig, selection: slice, tokenizer: TextTokenizer | None) -> list[RequestItem]:
    return load_gsm8k_items(cfg.path, cfg.abbr, selection, cfg.template, cfg.input_columns or ("question",))


def _synthetic(cfg: DatasetConfig, selection: slice, tokenizer: TextTokenizer | None) -> list[RequestItem]:
    assert cfg.synthetic is not None  # guaranteed by config validation
    return load_synthetic_items(cfg.synthetic, cfg.abbr, selection, tokenizer)


def _sharegpt(cfg: DatasetConfig, selection: slice, tokenizer: TextTokenizer | None) -> list[RequestItem]:
    return load_sharegpt_items(
        cfg.path, cfg.abbr, selection, tokenizer=tokenizer, infer_mode=cfg.infer_mode,
        shuffle=not cfg.disable_shuffle, shuffle_seed=cfg.seed,
    )


def _custom(cfg: DatasetConfig, selection: slice, tokenizer: TextTokenizer | None) -> list[RequestItem]:
    return load_custom_items(cfg.path, cfg.abbr, selection)


def _trace(cfg: DatasetConfig, selection: slice, tokenizer: TextTokenizer | None) -> list[RequestItem]:
    assert cfg.trace is not None  # guaranteed by config validation
    return load_trace_items(cfg.path, cfg.abbr, selection, cfg.trace, tokenizer)


Loader = Callable[["DatasetConfig", slice, "TextTokenizer | None"], list[RequestItem]]

#: Loader per dataset kind: ``(config, row selection, tokenizer or None) -> items``.
LOADERS: dict[str, Loader] = {
    GSM8K: _gsm8k,
    SYNTHETIC: _synthetic,
    SHAREGPT: _sharegpt,
    CUSTOM: _custom,
    MOONCAKE_TRACE: _trace,
}


def load_items(
    dataset_cfg: DatasetConfig, num_prompts: int | None = None, tokenizer: TextTokenizer | None = None
) -> LoadedItems:
    """Items of one dataset config: its ``test_range`` rows, else the first ``num_prompts`` rows,
    else all. ``--num-prompts`` is ignored (with a warning) when the config sets ``test_range``.
    ``tokenizer``: the model's (``path``), for datasets that generate prompts from token ids
    (synthetic ``tokenid``, traces with ``input_length``) or size outputs (ShareGPT)."""
    warnings: list[str] = []
    if dataset_cfg.rows is not None:
        selection = dataset_cfg.rows
        if num_prompts is not None:
            warnings.append(
                f"--num-prompts {num_prompts} ignored for dataset '{dataset_cfg.abbr}': "
                f"its config sets test_range={dataset_cfg.test_range!r}"
            )
    else:
        selection = slice(None, num_prompts)
    loader = LOADERS.get(dataset_cfg.kind)
    if loader is None:
        raise DatasetError(f"no loader for dataset kind {dataset_cfg.kind!r}")
    items = loader(dataset_cfg, selection, tokenizer)
    if not items:
        raise DatasetError(f"dataset '{dataset_cfg.abbr}' has no rows in the selected range")
    if num_prompts is not None and dataset_cfg.rows is None and len(items) < num_prompts:
        warnings.append(
            f"dataset '{dataset_cfg.abbr}' has only {len(items)} rows (--num-prompts {num_prompts})"
        )
    return LoadedItems(items, warnings)


def prompt_text(prompt: Prompt) -> str:
    """A prompt as a string (chat messages joined) for completions-style APIs."""
    return prompt if isinstance(prompt, str) else messages_to_text(prompt)


__all__ = [
    "CUSTOM", "GSM8K", "LOADERS", "MOONCAKE_TRACE", "SHAREGPT", "SYNTHETIC", "LoadedItems", "RequestItem", "load_items",
    "prompt_text",
]
