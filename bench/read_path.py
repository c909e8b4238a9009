"""CPU per socket read of the client's parsing path, for reads of 1 and 6 chat token events.

Usage: ``.venv/bin/python bench/read_path.py [--reads 100000] [--repeat 3]``

Two paths over the same bytes (the simulator's chunk shape, as vLLM writes it), in one process,
alternating, so their ratio holds on a busy machine:
- **event by event**: the SSE decoder splits the read, then the chat adapter recognises each event
  (the learned frame, else its pattern, else a JSON parse);
- **whole read**: a read of nothing but the stream's plain token events folded at once
  (``clients/token_frame.py``), what the engine does with kernel stamps.
The syscall, the HTTP parser and the record are not in these figures (``bench/client_capacity.py``
measures the whole client). A script that prints figures, not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ais_bench.clients.openai_chat import parse_stream_event
from ais_bench.clients.response import ResponseState
from ais_bench.clients.sse import SSEDecoder

EVENT = (
    '{"id":"chatcmpl-sim-0","object":"chat.completion.chunk","created":1796065827,"model":"sim-model",'
    '"choices":[{"index":0,"delta":{"content":" fox"},"logprobs":null,"finish_reason":null}]}'
)


def _event_by_event(body: bytes, reads: int) -> float:
    state, decoder = ResponseState(), SSEDecoder()
    decoder.feed(body)
    start = time.process_time()
    for _ in range(reads):
        for data in decoder.feed(body):
            parse_stream_event(data, state)
        state.text_parts.clear()
    return (time.process_time() - start) / reads


def _whole_read(body: bytes, reads: int) -> float:
    state, decoder, points = ResponseState(), SSEDecoder(), []
    for data in decoder.feed(body):
        parse_stream_event(data, state)  # learns the frame
    frame = state.token_frame
    assert frame is not None
    start = time.process_time()
    for _ in range(reads):
        if decoder.holds_whole_events(body) and frame.fold_read(body, state, points, 1.0) is not None:
            decoder.skip(body)
        state.text_parts.clear()
        points.clear()
    return (time.process_time() - start) / reads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for events in (1, 6):
        body = f"data: {EVENT}\n\n".encode() * events
        by_event, whole = [], []
        for _ in range(args.repeat):
            by_event.append(_event_by_event(body, args.reads))
            whole.append(_whole_read(body, args.reads))
        a, b = statistics.median(by_event) * 1e6, statistics.median(whole) * 1e6
        print(f"{events} event(s) per read: event by event {a:.2f} us, whole read {b:.2f} us per read "
              f"(ratio {b / a:.2f}; medians of {args.repeat})")


if __name__ == "__main__":
    main()
