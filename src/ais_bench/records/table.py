"""Records -> the columnar RequestTable the metrics use, with final token counts.

Token counts (DESIGN.md decision 4): the server's ``usage`` when it is > 0; otherwise (until a
tokenizer is configured) the output count falls back to the number of content events, with a
warning, and the input count to 0. Each request's source is kept: ``usage`` or ``events``/``none``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ais_bench.records.record import RequestRecord, RequestTable


@dataclass
class TokenCounts:
    input_tokens: list[int]
    output_tokens: list[int]
    input_source: list[str]
    output_source: list[str]
    warnings: list[str] = field(default_factory=list)


def resolve_token_counts(records: list[RequestRecord]) -> TokenCounts:
    counts = TokenCounts([], [], [], [])
    missing_input = missing_output = 0
    for rec in records:
        if rec.usage_input_tokens and rec.usage_input_tokens > 0:
            counts.input_tokens.append(rec.usage_input_tokens)
            counts.input_source.append("usage")
        else:
            counts.input_tokens.append(0)
            counts.input_source.append("none")
            missing_input += rec.success
        if rec.usage_output_tokens and rec.usage_output_tokens > 0:
            counts.output_tokens.append(rec.usage_output_tokens)
            counts.output_source.append("usage")
        else:
            counts.output_tokens.append(rec.content_events)
            counts.output_source.append("events")
            missing_output += rec.success
    if missing_output:
        counts.warnings.append(
            f"{missing_output} successful request(s) had no usage.completion_tokens from the server: "
            "their output token count is the number of content events"
        )
    if missing_input:
        counts.warnings.append(
            f"{missing_input} successful request(s) had no usage.prompt_tokens from the server: "
            "their input token count is 0"
        )
    return counts


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
    """(reason, count) for failed requests, most frequent first."""
    reasons: dict[str, int] = {}
    for rec in records:
        if not rec.success:
            key = rec.error_message or rec.error_kind or "unknown error"
            reasons[key] = reasons.get(key, 0) + 1
    return sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
