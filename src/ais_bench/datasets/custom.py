"""Custom JSON-lines dataset (``--custom-dataset-path FILE`` or ``type=CustomDataset``).

One request per row (a JSON array of objects works too). Fields:

* the prompt, exactly one of: ``prompt`` or ``question`` (a string; AISBench's custom QA datasets
  use ``question``), or ``messages`` (OpenAI chat messages ``[{"role": ..., "content": "..."}]``);
* ``max_out_len`` (or ``output_length``): optional integer >= 1, overrides the model's ``max_out_len``;
* ``timestamp``: optional send time in milliseconds (used when the model sets ``use_timestamp=True``).

Other fields (``answer``, ``id``, ...) are ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ais_bench.datasets.item import MAX_OUT_TOKENS, Prompt, RequestItem
from ais_bench.datasets.paths import resolve_data_path
from ais_bench.datasets.rows import check_file, field_error, get_optional_int, get_timestamp_ms, read_rows
from ais_bench.errors import DatasetError

PROMPT_FIELDS = ("prompt", "question", "messages")


def row_prompt(path: Path, line_no: int, row: dict[str, Any]) -> Prompt:
    """The row's prompt: its ``prompt``/``question`` string or its ``messages`` list."""
    present = [name for name in PROMPT_FIELDS if name in row]
    if len(present) != 1:
        found = "none" if not present else " and ".join(present)
        raise DatasetError(
            f"{path}:{line_no}: a row needs exactly one of 'prompt', 'question' (strings) or 'messages' "
            f"(a list of {{role, content}}); found {found}"
        )
    name = present[0]
    value = row[name]
    if name != "messages":
        if not isinstance(value, str) or not value:
            raise field_error(path, line_no, name, "a non-empty string", row)
        return value
    if not isinstance(value, list) or not value:
        raise field_error(path, line_no, name, "a non-empty list of {role, content} messages", row)
    for k, message in enumerate(value):
        ok = isinstance(message, dict) and isinstance(message.get("role"), str)
        if not ok or not isinstance(message.get("content"), str):
            raise field_error(path, line_no, f"messages[{k}]", "an object with string 'role' and 'content'",
                              {f"messages[{k}]": message})
    return value


def load_custom_items(path: str, abbr: str, selection: slice) -> list[RequestItem]:
    """Request items of the selected rows."""
    file = resolve_data_path(path, "")
    check_file(file, f"custom dataset '{abbr}'", hint="give an existing JSONL file (--custom-dataset-path FILE)")
    items: list[RequestItem] = []
    for line_no, row in read_rows(file):
        prompt = row_prompt(file, line_no, row)
        out_field = "max_out_len" if "max_out_len" in row or "output_length" not in row else "output_length"
        max_out_len = get_optional_int(file, line_no, row, out_field, maximum=MAX_OUT_TOKENS)
        timestamp_ms = get_timestamp_ms(file, line_no, row)
        items.append(
            RequestItem(
                index=len(items), prompt=prompt, data_abbr=abbr, max_out_len=max_out_len,
                timestamp_s=None if timestamp_ms is None else timestamp_ms / 1000.0,
            )
        )
    selected = items[selection]
    return [RequestItem(i, it.prompt, abbr, it.max_out_len, it.timestamp_s) for i, it in enumerate(selected)]
