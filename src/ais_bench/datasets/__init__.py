"""Dataset sources to lists of ``RequestItem``.

``load_items(dataset_cfg, num_prompts)`` dispatches on the config's ``type`` (a marker class of
``ais_bench.datasets.dataset_types``) through ``LOADERS``, an explicit dict assembled here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ais_bench.datasets.dataset_types import GSM8KDataset, SyntheticDataset
from ais_bench.datasets.gsm8k import load_gsm8k_items, messages_to_text
from ais_bench.datasets.item import Prompt, RequestItem
from ais_bench.datasets.selection import parse_test_range
from ais_bench.datasets.synthetic import load_synthetic_items
from ais_bench.errors import DatasetError

if TYPE_CHECKING:
    from ais_bench.config.datasets import DatasetConfig


class LoadedItems(list):
    """A ``list[RequestItem]`` that also carries ``warnings`` (text for the CLI to print)."""

    def __init__(self, items: list[RequestItem], warnings: list[str] | None = None) -> None:
        super().__init__(items)
        self.warnings: list[str] = list(warnings or [])


def _gsm8k(cfg: DatasetConfig, selection: slice) -> list[RequestItem]:
    return load_gsm8k_items(cfg.path, cfg.abbr, selection, cfg.template, cfg.input_columns or ("question",))


def _synthetic(cfg: DatasetConfig, selection: slice) -> list[RequestItem]:
    assert cfg.synthetic is not None  # guaranteed by config validation
    return load_synthetic_items(cfg.synthetic, cfg.abbr, selection)


#: Loader per dataset type: ``(config, row selection) -> items``.
LOADERS: dict[type, Callable[[DatasetConfig, slice], list[RequestItem]]] = {
    GSM8KDataset: _gsm8k,
    SyntheticDataset: _synthetic,
}


def load_items(dataset_cfg: DatasetConfig, num_prompts: int | None = None) -> LoadedItems:
    """Items of one dataset config: its ``test_range`` rows, else the first ``num_prompts`` rows,
    else all. ``--num-prompts`` is ignored (with a warning) when the config sets ``test_range``."""
    warnings: list[str] = []
    if dataset_cfg.test_range:
        selection = parse_test_range(dataset_cfg.test_range)
        if num_prompts is not None:
            warnings.append(
                f"--num-prompts {num_prompts} ignored for dataset '{dataset_cfg.abbr}': "
                f"its config sets test_range={dataset_cfg.test_range!r}"
            )
    else:
        selection = slice(None, num_prompts)
    loader = LOADERS.get(dataset_cfg.type)
    if loader is None:
        raise DatasetError(f"no loader for dataset type {dataset_cfg.type!r}")
    items = loader(dataset_cfg, selection)
    if not items:
        raise DatasetError(f"dataset '{dataset_cfg.abbr}' has no rows in the selected range")
    if num_prompts is not None and not dataset_cfg.test_range and len(items) < num_prompts:
        warnings.append(
            f"dataset '{dataset_cfg.abbr}' has only {len(items)} rows (--num-prompts {num_prompts})"
        )
    return LoadedItems(items, warnings)


def prompt_text(prompt: Prompt) -> str:
    """A prompt as a string (chat messages joined) for completions-style APIs."""
    return prompt if isinstance(prompt, str) else messages_to_text(prompt)


__all__ = ["LOADERS", "LoadedItems", "RequestItem", "load_items", "prompt_text"]
