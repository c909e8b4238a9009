"""ShareGPT conversations (``ShareGPT_V3_unfiltered_cleaned_split.json``) to chat requests.

File: a JSON array (or JSON lines) of ``{"id": ..., "conversations": [{"from": "human"|"gpt",
"value": "..."}, ...]}``. As in AISBench, conversations with fewer than 2 turns, an odd number of
turns, or a first turn not from ``human`` are skipped; the rest are (question, answer) pairs.

Requests (AISBench's multi-turn ``infer_mode``): ``every`` (default; ``every_with_gt`` is the same
here) sends one request per pair, whose messages are the conversation so far -- earlier questions and
the dataset's answers -- then the pair's question; ``last`` sends only the last pair with the whole
history. A request asks for as many tokens as the dataset's answer has in the model's tokenizer
(``max_out_len``), or the model's ``max_out_len`` without a tokenizer.

Row selection (``test_range`` / ``--num-prompts``) counts conversations, as in AISBench. Order: the
file's, or shuffled with ``seed`` when ``disable_shuffle=False``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ais_bench.datasets.item import RequestItem
from ais_bench.datasets.paths import DATA_ROOT_ENV, resolve_data_path
from ais_bench.datasets.rows import check_file, field_error, read_rows

if TYPE_CHECKING:
    from ais_bench.tokens import TextTokenizer

DEFAULT_PATH = "sharegpt/ShareGPT_V3_unfiltered_cleaned_split.json"
DOWNLOAD_URL = (
    "https://huggingface.co/datasets/anon8231489123/ShareGPT_Vicuna_unfiltered/resolve/main/"
    "ShareGPT_V3_unfiltered_cleaned_split.json"
)
INFER_MODES = ("every", "every_with_gt", "last")

Pair = tuple[str, str]


def read_conversations(path: Path) -> list[list[Pair]]:
    """The usable conversations of the file, as lists of (question, answer) pairs."""
    check_file(
        path, "ShareGPT dataset",
        hint=f"download {DOWNLOAD_URL} to {path} (or set an absolute path= in the dataset config, "
        f"or {DATA_ROOT_ENV})",
    )
    conversations: list[list[Pair]] = []
    for line_no, row in read_rows(path):
        turns = row.get("conversations")
        if not isinstance(turns, list):
            raise field_error(path, line_no, "conversations", "a list of {from, value} turns", row)
        for k, turn in enumerate(turns):
            if not isinstance(turn, dict) or not isinstance(turn.get("from"), str) or not isinstance(
                turn.get("value"), str
            ):
                raise field_error(path, line_no, f"conversations[{k}]",
                                  "an object with string 'from' and 'value'", {f"conversations[{k}]": turn})
        if len(turns) < 2 or len(turns) % 2 or turns[0]["from"] != "human":
            continue
        conversations.append([(turns[i]["value"], turns[i + 1]["value"]) for i in range(0, len(turns), 2)])
    return conversations


def load_sharegpt_items(
    path: str,
    abbr: str,
    selection: slice,
    *,
    tokenizer: TextTokenizer | None = None,
    infer_mode: str = "every",
    shuffle_seed: int | None = None,
    shuffle: bool = False,
) -> list[RequestItem]:
    """Request items of the selected conversations (see the module docstring)."""
    conversations = read_conversations(resolve_data_path(path, DEFAULT_PATH))
    if shuffle:
        order = np.random.default_rng(shuffle_seed).permutation(len(conversations))
        conversations = [conversations[i] for i in order]
    conversations = conversations[selection]
    requests: list[tuple[list[dict[str, Any]], str]] = []
    for pairs in conversations:
        history: list[dict[str, Any]] = []
        for k, (question, answer) in enumerate(pairs):
            messages = [*history, {"role": "user", "content": question}]
            if infer_mode != "last" or k == len(pairs) - 1:
                requests.append((messages, answer))
            history = [*messages, {"role": "assistant", "content": answer}]
    if tokenizer is not None:
        lengths = tokenizer.count_texts([answer for _, answer in requests]).tolist()
    else:
        lengths = [0] * len(requests)
    return [
        RequestItem(index=i, prompt=messages, data_abbr=abbr, max_out_len=n or None)
        for i, ((messages, _), n) in enumerate(zip(requests, lengths, strict=True))
    ]
