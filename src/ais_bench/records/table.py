"""A run's columns -> the RequestTable the metrics use, with final token counts (vectorised).

Token counts (DESIGN.md decision 4), per request and per direction:

1. the server's ``usage`` when it is > 0 (source ``usage``);
2. else the model's tokenizer (``path``), when one is given (source ``tokenizer``): the prompt as it
   was sent (chat messages rendered with the chat template) for input, counted per data index before
   sending; the generated text (reasoning included) for output, counted after the run -- see
   ``ais_bench.tokens`` and ``records.token_counts`` (both are stored with the run);
3. else, with a warning, the number of token events for output (source ``events``; without streaming
   ``unknown``, a placeholder of 1 per response) and 0 for
   input (source ``none``).

When both usage and a tokenizer exist, the tokenizer also counts the requests that have usage (every
prompt; outputs of up to ``MISMATCH_SAMPLE`` requests), and a summed difference above
``MISMATCH_WARN_RATIO`` (1 %) is reported as a warning. Everything here reads only the stored
columns, so a recalculation reproduces the counts and warnings of the live run without a tokenizer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ais_bench.records.columns import RecordColumns
from ais_bench.records.record import FINISH_REASONS, RequestTable
from ais_bench.records.token_counts import NOT_COUNTED, TokenizerCounts, read_token_counts, write_token_counts

if TYPE_CHECKING:
    from ais_bench.tokens import TextTokenizer

#: Relative difference between the tokenizer's and the server's token totals that is reported.
MISMATCH_WARN_RATIO = 0.01
#: Outputs that have usage are re-counted with the tokenizer for the check in a seeded random sample
#: of at most this many requests (all of them in smaller runs), so large runs stay fast.
MISMATCH_SAMPLE = 20_000


@dataclass
class TokenCounts:
    """Final per-request counts (row order of the columns) and where each came from
    (``usage``, ``tokenizer``, ``events``, ``unknown``, ``none``)."""

    input_tokens: np.ndarray  # int64 (n,)
    output_tokens: np.ndarray  # int64 (n,)
    input_source: np.ndarray  # str (n,)
    output_source: np.ndarray  # str (n,)
    warnings: list[str] = field(default_factory=list)


def outputs_to_count(columns: RecordColumns) -> np.ndarray:
    """Rows whose output the tokenizer counts after the run: every row without the server's output
    usage, plus a seeded sample of the successful rows with usage (for the mismatch check)."""
    rows = columns.rows
    has_out = rows["usage_output_tokens"] > 0
    checked = _sample(np.flatnonzero(has_out & (rows["success"] != 0)), MISMATCH_SAMPLE)
    return np.union1d(np.flatnonzero(~has_out), checked)


def count_outputs(
    columns: RecordColumns, tokenizer: TextTokenizer, texts: Mapping[int, tuple[str, str]]
) -> tuple[np.ndarray, np.ndarray]:
    """(request ids, output tokens) of the rows ``outputs_to_count`` picks; ``texts``: request id ->
    (output text, reasoning text)."""
    request_ids = columns.rows["request_id"][outputs_to_count(columns)]
    pairs = [texts.get(rid, ("", "")) for rid in request_ids.tolist()]
    counted = tokenizer.count_outputs([text for text, _ in pairs], [reasoning for _, reasoning in pairs])
    return request_ids.astype(np.int64), np.asarray(counted, dtype=np.int64)


def store_output_token_counts(
    perf_dir: Path, columns: RecordColumns, tokenizer: TextTokenizer, texts: Mapping[int, tuple[str, str]]
) -> None:
    """Live run, after the load: count the outputs (``count_outputs``), add them to the prompt counts
    stored before sending (``records/<ds>.tokens.npz``) and to ``columns.tokenizer``. Nothing when
    no prompt counts were stored (a run folder written before they were)."""
    stored = read_token_counts(perf_dir, columns.data_abbr)
    if stored is None:
        return
    stored.output_request_id, stored.output_tokens = count_outputs(columns, tokenizer, texts)
    stored.warnings += [warning for warning in tokenizer.warnings if warning not in stored.warnings]
    write_token_counts(perf_dir, columns.data_abbr, stored)
    columns.tokenizer = stored.per_request(columns.rows["data_index"], columns.rows["request_id"])


def resolve_token_counts(columns: RecordColumns, stream: bool | None = None) -> TokenCounts:
    """Token counts of every row, from the server's usage, the stored tokenizer counts
    (``columns.tokenizer``) and the token events.

    ``stream``: the run's mode when known: a streamed request whose several tokens arrived as one
    event is reported, and without streaming an output count from events (one per response) is a
    placeholder.
    """
    rows = columns.rows
    n = len(columns)
    usage_in = np.maximum(rows["usage_input_tokens"].astype(np.int64), 0)
    usage_out = np.maximum(rows["usage_output_tokens"].astype(np.int64), 0)
    events = rows["content_events"].astype(np.int64)
    success = rows["success"].astype(bool)
    has_in, has_out = usage_in > 0, usage_out > 0
    in_tokens = usage_in.copy()
    out_tokens = np.where(has_out, usage_out, events)
    in_source = np.where(has_in, "usage", "none").astype(object)
    out_source = np.where(has_out, "usage", "events").astype(object)
    warnings: list[str] = []
    tokenizer = columns.tokenizer
    if tokenizer is not None and n:
        tok_in, tok_out = tokenizer.input_tokens, tokenizer.output_tokens
        out_counted, in_counted = tok_out != NOT_COUNTED, tok_in != NOT_COUNTED
        out_tokens = np.where(has_out, usage_out, np.where(out_counted, tok_out, events))
        out_source = np.where(has_out, "usage", np.where(out_counted, "tokenizer", "events")).astype(object)
        warnings += _mismatch("output", usage_out, tok_out, has_out & success & out_counted, tokenizer.path)
        in_tokens = np.where(has_in, usage_in, np.where(in_counted, tok_in, 0))
        in_source = np.where(has_in, "usage", np.where(in_counted, "tokenizer", "none")).astype(object)
        warnings += _mismatch("input", usage_in, tok_in, has_in & success & in_counted, tokenizer.path)
        warnings += tokenizer.warnings
    if stream:
        warnings += _single_event_streams(events, out_tokens, success)
    out_source, missing = _missing_counts(success, out_source, in_source, stream, tokenizer)
    warnings += missing
    return TokenCounts(in_tokens.astype(np.int64), out_tokens.astype(np.int64), in_source, out_source, warnings)


def _missing_counts(
    success: np.ndarray, out_source: np.ndarray, in_source: np.ndarray, stream: bool | None,
    tokenizer: TokenizerCounts | None,
) -> tuple[np.ndarray, list[str]]:
    """The warnings for successful requests without a measured count (and, without streaming, the
    output source ``unknown`` for the placeholder of 1 per response)."""
    warnings: list[str] = []
    missing_out = int(np.count_nonzero((out_source == "events") & success))
    missing_in = int(np.count_nonzero((in_source == "none") & success))
    hint = " (set the model config's path to a tokenizer folder to count them)" if tokenizer is None else ""
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
        uncounted = "" if tokenizer is None else " (the run stopped before the tokenizer counted them)"
        warnings.append(
            f"{missing_out} successful request(s) had no usage.completion_tokens from the server: "
            f"their output token count is the number of token events{hint}{uncounted}"
        )
    if missing_in:
        left_out = "; the input-token rows and throughputs are left out" if missing_in == int(success.sum()) else ""
        warnings.append(
            f"{missing_in} successful request(s) had no usage.prompt_tokens from the server: "
            f"their input token count is 0{hint}{left_out}"
        )
    return out_source, warnings


def _single_event_streams(events: np.ndarray, out_tokens: np.ndarray, success: np.ndarray) -> list[str]:
    """The warning for streamed requests whose several tokens arrived as one token event."""
    single = int(np.count_nonzero(success & (events == 1) & (out_tokens > 1)))
    if not single:
        return []
    return [
        f"{single} streamed request(s) arrived as a single event carrying several tokens: the server did not "
        "stream them, so their TTFT is their E2EL and they have no ITL (Triton: check that the model reads "
        "the stream input)"
    ]


def finish_reason_mix(columns: RecordColumns) -> dict[str, int]:
    """How many requests ended with each finish reason (``none`` when the server sent none, ``other``
    for a reason outside ``FINISH_REASONS``), most frequent first."""
    codes = np.bincount(columns.rows["finish_reason"].astype(np.intp), minlength=256)
    names = ["none", *FINISH_REASONS] + ["other"] * (256 - 1 - len(FINISH_REASONS))
    mix: dict[str, int] = {}
    for code in np.flatnonzero(codes).tolist():
        mix[names[code]] = mix.get(names[code], 0) + int(codes[code])
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


def _sample(index: np.ndarray, limit: int) -> np.ndarray:
    if len(index) <= limit:
        return index
    return np.sort(np.random.default_rng(0).choice(index, size=limit, replace=False))


def _mismatch(what: str, usage: np.ndarray, counted: np.ndarray, mask: np.ndarray, tokenizer_path: str) -> list[str]:
    if not mask.any():
        return []
    server_total = int(usage[mask].sum())
    tokenizer_total = int(counted[mask].sum())
    ratio = (tokenizer_total - server_total) / server_total
    if abs(ratio) <= MISMATCH_WARN_RATIO:
        return []
    per_request = np.abs(counted[mask] - usage[mask]) > MISMATCH_WARN_RATIO * usage[mask]
    return [
        f"{what} token counts: the tokenizer at {tokenizer_path} counts {abs(ratio):.1%} "
        f"{'more' if ratio > 0 else 'fewer'} tokens than the server's usage ({tokenizer_total} vs "
        f"{server_total} over {int(mask.sum())} requests; {int(per_request.sum())} differ by more than "
        f"{MISMATCH_WARN_RATIO:.0%}): is path the served model's tokenizer? The server's counts are used"
    ]


def table_from_columns(columns: RecordColumns, counts: TokenCounts) -> RequestTable:
    """The metrics' input: start/end/success per row, final token counts, the flat time points."""
    rows = columns.rows
    return RequestTable(
        start_s=rows["start_s"].astype(np.float64),
        end_s=rows["end_s"].astype(np.float64),
        success=rows["success"].astype(bool),
        input_tokens=np.asarray(counts.input_tokens, dtype=np.int64),
        output_tokens=np.asarray(counts.output_tokens, dtype=np.int64),
        offsets=columns.offsets,
        time_points_s=columns.time_points_s,
        slot_wait_s=rows["slot_wait_s"].astype(np.float64),
    )


def failure_reasons(failures: Iterable[tuple[str | None, str | None]]) -> list[tuple[str, int]]:
    """(reason, count) over the failed requests' (error kind, message), most frequent first.

    Messages that differ only in positions and counts (byte offsets, "after 12 events") are one
    reason: those numbers become ``N`` and any snippet after ``near:`` is dropped, so a long run with many
    malformed events gives one row, not one row per request. Each request's exact message stays in
    the details files.
    """
    reasons: dict[str, int] = {}
    for kind, message in failures:
        key = reason_key(message or kind or "unknown error")
        reasons[key] = reasons.get(key, 0) + 1
    return sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))


#: Numbers that vary per request (positions and counts), not the ones that name a fault (HTTP status).
_VARYING_NUMBER = re.compile(r"\b(after|at least|byte|bytes|offset|position|line|column|char|events?:?) \d+")


def reason_key(message: str) -> str:
    """A failure message with its request-specific parts removed (see ``failure_reasons``)."""
    head = message.split("; near:", 1)[0].split(" near: ", 1)[0]
    return _VARYING_NUMBER.sub(r"\1 N", head)
