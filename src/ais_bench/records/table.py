"""Records -> the columnar RequestTable the metrics use, with final token counts.

Token counts (DESIGN.md decision 4), per request and per direction:

1. the server's ``usage`` when it is > 0 (source ``usage``);
2. else the model's tokenizer (``path``), when one is given (source ``tokenizer``): the prompt as it
   was sent (chat messages rendered with the chat template) for input, the generated text (reasoning
   included) for output -- see ``ais_bench.tokens``;
3. else, with a warning, the number of token events for output (source ``events``; without streaming
   ``unknown``, a placeholder of 1 per response) and 0 for
   input (source ``none``).

When both usage and a tokenizer exist, the tokenizer also counts the requests that have usage (every
prompt; outputs of up to ``MISMATCH_SAMPLE`` requests), and a summed difference above
``MISMATCH_WARN_RATIO`` (1 %) is reported as a warning.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ais_bench.records.record import RequestRecord, RequestTable

if TYPE_CHECKING:
    from ais_bench.tokens import TextTokenizer

#: Relative difference between the tokenizer's and the server's token totals that is reported.
MISMATCH_WARN_RATIO = 0.01
#: Outputs that have usage are re-counted with the tokenizer for the check in a seeded random sample
#: of at most this many requests (all of them in smaller runs), so large runs stay fast.
MISMATCH_SAMPLE = 20_000


@dataclass
class TokenCounts:
    """Final per-request counts (same order as the records) and where each came from
    (``usage``, ``tokenizer``, ``events``, ``none``)."""

    input_tokens: list[int]
    output_tokens: list[int]
    input_source: list[str]
    output_source: list[str]
    warnings: list[str] = field(default_factory=list)


def resolve_token_counts(
    records: list[RequestRecord],
    tokenizer: TextTokenizer | None = None,
    prompts: Sequence[Any] | None = None,
    stream: bool | None = None,
) -> TokenCounts:
    """Token counts of every record.

    ``tokenizer``: the model's tokenizer, or None. ``prompts``: the prompt of each dataset row *as
    sent* (chat messages for chat APIs, the string for the others), indexed by
    ``RequestRecord.data_index``; without it the tokenizer counts outputs only. ``stream``: the run's
    mode when known: a streamed request whose several tokens arrived as one event is reported, and
    without streaming an output count from events (one per response) is a placeholder.
    """
    n = len(records)
    usage_in = np.array([r.usage_input_tokens or 0 for r in records], dtype=np.int64)
    usage_out = np.array([r.usage_output_tokens or 0 for r in records], dtype=np.int64)
    success = np.array([r.success for r in records], dtype=bool)
    has_in, has_out = usage_in > 0, usage_out > 0
    in_tokens = np.where(has_in, usage_in, 0)
    out_tokens = np.where(has_out, usage_out, [r.content_events for r in records]).astype(np.int64)
    in_source = np.where(has_in, "usage", "none").astype(object)
    out_source = np.where(has_out, "usage", "events").astype(object)
    warnings: list[str] = []
    if tokenizer is not None and n:
        # outputs without usage are all tokenized; those with usage only in a sample, for the check
        checked = _sample(np.flatnonzero(has_out & success), MISMATCH_SAMPLE)
        todo = np.union1d(np.flatnonzero(~has_out), checked)
        tok_out = np.zeros(n, dtype=np.int64)
        tok_out[todo] = tokenizer.count_outputs(
            [records[i].output_text for i in todo], [records[i].reasoning_text for i in todo]
        )
        out_tokens = np.where(has_out, usage_out, tok_out)
        out_source = np.where(has_out, "usage", "tokenizer").astype(object)
        check_mask = np.zeros(n, dtype=bool)
        check_mask[checked] = True
        warnings += _mismatch("output", usage_out, tok_out, check_mask, tokenizer)
        tok_in = _prompt_counts(records, tokenizer, prompts)
        if tok_in is not None:
            in_tokens = np.where(has_in, usage_in, tok_in)
            in_source = np.where(has_in, "usage", "tokenizer").astype(object)
            warnings += _mismatch("input", usage_in, tok_in, has_in & success, tokenizer)
        warnings += tokenizer.warnings
    missing_out = int(np.count_nonzero((out_source == "events") & success))
    missing_in = int(np.count_nonzero((in_source == "none") & success))
    hint = "" if tokenizer is not None else " (set the model config's path to a tokenizer folder to count them)"
    if stream:
        warnings += _single_event_streams(records, out_tokens, success)
    if missing_out and stream is False:
        out_source = np.where((out_source == "events") & success, "unknown", out_source).astype(object)
        warnings.append(
            f"output token count unknown for {missing_out} successful request(s): the server sent no count "
            "(usage / details.generated_tokens / num_output_tokens) and no tokenizer is set, so each counts "
            "1 token (a placeholder, not a measurement): set the model config's path to the served model's "
            "tokenizer folder (or ask the server for its counts, e.g. generation_kwargs details=True); "
            "token throughputs and TPOT of this run are not measured values"
        )
        missing_out = 0
    if missing_out:
        warnings.append(
            f"{missing_out} successful request(s) had no usage.completion_tokens from the server: "
            f"their output token count is the number of token events{hint}"
        )
    if missing_in:
        left_out = "; the input-token rows and throughputs are left out" if missing_in == int(success.sum()) else ""
        warnings.append(
            f"{missing_in} successful request(s) had no usage.prompt_tokens from the server: "
            f"their input token count is 0{hint}{left_out}"
        )
    return TokenCounts(
        input_tokens=in_tokens.tolist(),
        output_tokens=out_tokens.tolist(),
        input_source=list(in_source),
        output_source=list(out_source),
        warnings=warnings,
    )


def _single_event_streams(records: list[RequestRecord], out_tokens: np.ndarray, success: np.ndarray) -> list[str]:
    """The warning for streamed requests whose several tokens arrived as one token event."""
    events = np.array([r.content_events for r in records], dtype=np.int64)
    single = int(np.count_nonzero(success & (events == 1) & (out_tokens > 1)))
    if not single:
        return []
    return [
        f"{single} streamed request(s) arrived as a single event carrying several tokens: the server did not "
        "stream them, so their TTFT is their E2EL and they have no ITL (Triton: check that the model reads "
        "the stream input)"
    ]


def finish_reason_mix(records: list[RequestRecord]) -> dict[str, int]:
    """How many requests ended with each finish reason (``none`` when the server sent none),
    most frequent first."""
    mix: dict[str, int] = {}
    for rec in records:
        key = rec.finish_reason or "none"
        mix[key] = mix.get(key, 0) + 1
    return dict(sorted(mix.items(), key=lambda kv: (-kv[1], kv[0])))


#: Finish reasons that mean the output stopped before max_out_len.
_EARLY_STOPS = ("stop", "eos_token", "stop_sequence")


def early_stop_warning(mix: dict[str, int], ignore_eos: bool) -> list[str]:
    """A warning when a run meant to reach max_out_len (``ignore_eos``) mostly stopped earlier."""
    early = sum(mix.get(reason, 0) for reason in _EARLY_STOPS)
    known = early + mix.get("length", 0)
    if not ignore_eos or not known or early * 2 <= known:
        return []
    return [
        f"{early} of {known} requests stopped before max_out_len (finish_reason stop/eos) although "
        "ignore_eos is set: the server ignored it, so outputs are shorter than planned"
    ]


def _prompt_counts(
    records: list[RequestRecord], tokenizer: TextTokenizer, prompts: Sequence[Any] | None
) -> np.ndarray | None:
    """Input tokens of each record's prompt (each distinct row counted once), None without prompts."""
    if prompts is None:
        return None
    rows = sorted({r.data_index for r in records if 0 <= r.data_index < len(prompts)})
    per_row = dict(zip(rows, tokenizer.count_prompts([prompts[i] for i in rows]).tolist(), strict=True))
    return np.array([per_row.get(r.data_index, 0) for r in records], dtype=np.int64)


def _sample(index: np.ndarray, limit: int) -> np.ndarray:
    if len(index) <= limit:
        return index
    return np.sort(np.random.default_rng(0).choice(index, size=limit, replace=False))


def _mismatch(
    what: str, usage: np.ndarray, counted: np.ndarray, mask: np.ndarray, tokenizer: TextTokenizer
) -> list[str]:
    if not mask.any():
        return []
    server_total = int(usage[mask].sum())
    tokenizer_total = int(counted[mask].sum())
    ratio = (tokenizer_total - server_total) / server_total
    if abs(ratio) <= MISMATCH_WARN_RATIO:
        return []
    per_request = np.abs(counted[mask] - usage[mask]) > MISMATCH_WARN_RATIO * usage[mask]
    return [
        f"{what} token counts: the tokenizer at {tokenizer.path} counts {abs(ratio):.1%} "
        f"{'more' if ratio > 0 else 'fewer'} tokens than the server's usage ({tokenizer_total} vs "
        f"{server_total} over {int(mask.sum())} requests; {int(per_request.sum())} differ by more than "
        f"{MISMATCH_WARN_RATIO:.0%}): is path the served model's tokenizer? The server's counts are used"
    ]


def build_table(records: list[RequestRecord], counts: TokenCounts) -> RequestTable:
    return RequestTable.from_columns(
        time_points=[rec.time_points_s for rec in records],
        success=[rec.success for rec in records],
        input_tokens=counts.input_tokens,
        output_tokens=counts.output_tokens,
        start_s=[rec.start_s for rec in records],
        end_s=[rec.end_s for rec in records],
    )


def failure_reasons(records: list[RequestRecord]) -> list[tuple[str, int]]:
    """(reason, count) for failed requests, most frequent first.

    Messages that differ only in positions and counts (byte offsets, "after 12 events") are one
    reason: those numbers become ``N`` and any snippet after ``near:`` is dropped, so a long run with many
    malformed events gives one row, not one row per request. Each request's exact message stays in
    the details files.
    """
    reasons: dict[str, int] = {}
    for rec in records:
        if not rec.success:
            key = reason_key(rec.error_message or rec.error_kind or "unknown error")
            reasons[key] = reasons.get(key, 0) + 1
    return sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))


#: Numbers that vary per request (positions and counts), not the ones that name a fault (HTTP status).
_VARYING_NUMBER = re.compile(r"\b(after|at least|byte|bytes|offset|position|line|column|char|events?:?) \d+")


def reason_key(message: str) -> str:
    """A failure message with its request-specific parts removed (see ``failure_reasons``)."""
    head = message.split("; near:", 1)[0].split(" near: ", 1)[0]
    return _VARYING_NUMBER.sub(r"\1 N", head)
