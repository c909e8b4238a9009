"""SSEDecoder: the WHATWG examples, every split across reads, and a slow reference decoder."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ais_bench.clients.errors import SSELineTooLong, StreamProtocolError
from ais_bench.clients.sse import SSEDecoder
from tests.support.examples import examples


def reference_decode(stream: bytes) -> list[str]:
    """The standard's algorithm, written plainly: decode, split lines, one field at a time."""
    text = stream.decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    pieces = re.split(r"\r\n|\r|\n", text)
    pieces.pop()  # after the last line ending: an unfinished line, never processed
    events: list[str] = []
    data_buffer = ""
    for line in pieces:
        if line == "":
            if data_buffer:
                events.append(data_buffer.removesuffix("\n"))
            data_buffer = ""
            continue
        if line.startswith(":"):
            continue
        if ":" in line:
            name, value = line.split(":", 1)
            value = value.removeprefix(" ")
        else:
            name, value = line, ""
        if name == "data":
            data_buffer += value + "\n"
    return events


def feed_all(chunks: list[bytes], **kwargs: int) -> list[str]:
    decoder = SSEDecoder(**kwargs)
    events: list[str] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    events.extend(decoder.close())
    return events


def split_at(stream: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(bounds)]


# --- The examples of the WHATWG HTML standard, section "Event stream interpretation" ---------------

WHATWG_EXAMPLES = [
    (b"data: YHOO\ndata: +2\ndata: 10\n\n", ["YHOO\n+2\n10"]),
    (
        b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n",
        ["first event", "second event", " third event"],
    ),
    # The last block has no blank line after it, so it is never dispatched.
    (b"data\n\ndata\ndata\n\ndata:", ["", "\n"]),
    (b"data:test\n\ndata: test\n\n", ["test", "test"]),
    (
        b"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n",
        ["73857293", "2153", "113411"],
    ),
    (
        b"data: This is the first message.\n\ndata: This is the second message, it\n"
        b"data: has two lines.\n\ndata: This is the third message.\n\n",
        [
            "This is the first message.",
            "This is the second message, it\nhas two lines.",
            "This is the third message.",
        ],
    ),
]


@pytest.mark.parametrize(("stream", "expected"), WHATWG_EXAMPLES)
def test_whatwg_examples(stream: bytes, expected: list[str]) -> None:
    assert feed_all([stream]) == expected
    assert reference_decode(stream) == expected


@pytest.mark.parametrize(("stream", "expected"), WHATWG_EXAMPLES)
@pytest.mark.parametrize("ending", [b"\r\n", b"\r"])
def test_whatwg_examples_with_other_line_endings(stream: bytes, expected: list[str], ending: bytes) -> None:
    assert feed_all([stream.replace(b"\n", ending)]) == expected


# --- A sample stream cut at every position --------------------------------------------------------

VLLM_SAMPLE = (
    b'data: {"id":"c1","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n'
    b'data: {"id":"c1","choices":[{"index":0,"delta":{"content":"Hi \xc3\xa9\xe2\x82\xac"}}]}\n\n'
    b'data: {"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    b'data: {"id":"c1","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}\n\n'
    b"data: [DONE]\n\n"
)

MIXED_SAMPLE = (
    b"\xef\xbb\xbf: hello\r\n\r\n"
    b"data: one\r\ndata:two\r\r"
    b"event: x\nid: 7\nretry: 10\ndata:  three \xf0\x9f\x98\x80\n\n"
    b"data\r\n\r\n"
    b"\n\n\ndata: after blank lines\r\n\n"
    b":comment\rdata: cr only\r\r"
    b"bogus field\ndata: [DONE]\n\n"
    b"data: unfinished"
)


@pytest.mark.parametrize("stream", [VLLM_SAMPLE, MIXED_SAMPLE], ids=["vllm", "mixed"])
def test_every_split_into_two_reads(stream: bytes) -> None:
    whole = feed_all([stream])
    assert whole == reference_decode(stream)
    for cut in range(len(stream) + 1):
        assert feed_all([stream[:cut], stream[cut:]]) == whole, cut


def test_mixed_sample_events() -> None:
    assert feed_all([MIXED_SAMPLE]) == [
        "one\ntwo",
        " three 😀",
        "",
        "after blank lines",
        "cr only",
        "[DONE]",
    ]


def test_one_byte_per_read() -> None:
    for stream in (VLLM_SAMPLE, MIXED_SAMPLE):
        assert feed_all([stream[i : i + 1] for i in range(len(stream))]) == reference_decode(stream)


@settings(max_examples=examples(300), deadline=None)
@given(st.data())
def test_arbitrary_splits_match_one_read(data: st.DataObject) -> None:
    stream = data.draw(st.sampled_from([VLLM_SAMPLE, MIXED_SAMPLE]))
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=30))
    assert feed_all(split_at(stream, cuts)) == feed_all([stream])


# Random streams from pieces that exercise every rule.
PIECES = [
    "data",
    "data:",
    "data: ",
    ":",
    " ",
    "x",
    "é",
    "€",
    "😀",
    "id",
    "event",
    "retry",
    "[DONE]",
    "{}",
    "\n",
    "\n",
    "\n",
    "\r",
    "\r\n",
    "\r\n",
]


@settings(max_examples=examples(500), deadline=None)
@given(st.data())
def test_random_streams_match_reference(data: st.DataObject) -> None:
    text = "".join(data.draw(st.lists(st.sampled_from(PIECES), max_size=60)))
    stream = data.draw(st.sampled_from([b"", b"\xef\xbb\xbf"])) + text.encode()
    expected = reference_decode(stream)
    assert feed_all([stream]) == expected
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=20))
    assert feed_all(split_at(stream, cuts)) == expected


# --- Reads and state ------------------------------------------------------------------------------


def test_several_events_per_read_and_done_returned() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\ndata: b\n\ndata: [DONE]\n\n") == ["a", "b", "[DONE]"]
    assert not decoder.has_partial_event


def test_partial_event_is_buffered_until_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n") == []
    assert decoder.has_partial_event
    assert decoder.buffered_bytes == 8
    assert decoder.feed(b"\n") == ["a"]
    assert not decoder.has_partial_event


def test_cr_at_end_of_read_then_lf_is_one_line_ending() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r\n\r") == ["a"]
    # The "\n" completes the "\r\n" above; it is not a second blank line, and "b" is still one event.
    assert decoder.feed(b"\ndata: b\r") == []
    assert decoder.feed(b"\n\r\n") == ["b"]


def test_close_discards_unfinished_event_unless_asked() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: a\n\ndata: tail")
    assert decoder.close() == []
    assert not decoder.has_partial_event
    decoder.feed(b"data: tail\ndata: more")
    assert decoder.close(dispatch_incomplete=True) == ["tail\nmore"]
    # close() resets: a new stream may start, with a byte order mark again.
    assert decoder.feed(b"\xef\xbb\xbfdata: new\n\n") == ["new"]


def test_byte_order_mark_split_across_reads() -> None:
    assert feed_all([b"\xef", b"\xbb", b"\xbfdata: x\n\n"]) == ["x"]
    # Only one leading BOM is dropped; a second one starts the field name.
    assert feed_all([b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\n"]) == []


def test_multibyte_character_split_across_reads() -> None:
    stream = "data: é€😀\n\n".encode()
    for cut in range(len(stream) + 1):
        assert feed_all([stream[:cut], stream[cut:]]) == ["é€😀"]


def test_empty_reads_are_harmless() -> None:
    assert feed_all([b"", b"data: a", b"", b"\n\n", b""]) == ["a"]


# --- Errors ---------------------------------------------------------------------------------------


def test_line_at_the_limit_is_accepted() -> None:
    line = b"data: " + b"x" * 10
    assert feed_all([line + b"\n\n"], max_line_bytes=len(line)) == ["x" * 10]


def test_line_over_the_limit_raises_with_offset_and_hint() -> None:
    decoder = SSEDecoder(max_line_bytes=16)
    assert decoder.feed(b"data: ok\n\n") == ["ok"]
    with pytest.raises(SSELineTooLong) as info:
        decoder.feed(b"data: 0123456789abcdef\n\n")
    err = info.value
    assert isinstance(err, StreamProtocolError)
    assert err.offset_bytes == 10
    assert err.max_line_bytes == 16
    assert err.line_bytes == 22
    assert err.snippet.startswith("data: 0123")
    assert "16 bytes" in str(err)
    assert "MAX_CHUNK_SIZE in global_consts.py" in str(err)


def test_unfinished_line_over_the_limit_raises_before_it_ends() -> None:
    decoder = SSEDecoder(max_line_bytes=64)
    decoder.feed(b"data: " + b"x" * 50)
    with pytest.raises(SSELineTooLong) as info:
        decoder.feed(b"x" * 50)
    assert info.value.offset_bytes == 0
    assert info.value.line_bytes == 106


def test_offset_of_long_line_after_crlf_lines() -> None:
    with pytest.raises(SSELineTooLong) as info:
        feed_all([b"data: a\r\n\r\n", b"data: " + b"y" * 40 + b"\r\n\r\n"], max_line_bytes=20)
    assert info.value.offset_bytes == 11


@pytest.mark.parametrize("ending", [b"\n", b"\r\n"])
def test_invalid_utf8_raises_with_exact_offset(ending: bytes) -> None:
    first = b"data: ok" + ending + ending
    second = b"data: caf\xe9!" + ending + ending
    decoder = SSEDecoder()
    assert decoder.feed(first) == ["ok"]
    with pytest.raises(StreamProtocolError) as info:
        decoder.feed(second[:4])
        decoder.feed(second[4:])
    assert info.value.offset_bytes == len(first) + 9
    assert "\\xe9" in info.value.snippet
    assert "UTF-8" in str(info.value)


def test_invalid_max_line_bytes() -> None:
    with pytest.raises(ValueError, match="max_line_bytes"):
        SSEDecoder(max_line_bytes=0)
