"""One request's worth of input, produced by a dataset loader."""

from __future__ import annotations

from dataclasses import dataclass

#: Largest output length (tokens) a request may ask for: what a server's 32-bit signed token count
#: can hold (the model's ``max_out_len`` and a dataset row's alike).
MAX_OUT_TOKENS = 2**31 - 1

#: A chat prompt: OpenAI-style messages ``[{"role": "user", "content": "..."}]``.
ChatMessages = list[dict[str, str]]
Prompt = str | ChatMessages


@dataclass(frozen=True, slots=True)
class RequestItem:
    """What to send for one dataset row.

    ``index`` is the row's position in the dataset (after ``test_range``);
    ``max_out_len`` overrides the model's ``max_out_len`` when not None;
    ``timestamp_s`` is the planned send offset from the first send (trace replay), or None.
    """

    index: int
    prompt: Prompt
    data_abbr: str
    max_out_len: int | None = None
    timestamp_s: float | None = None
