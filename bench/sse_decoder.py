"""Events per second of ``SSEDecoder`` on a typical vLLM chat stream, against a naive baseline.

The baseline is what a quick client does: append the read to a buffer, ``split(b"\\n\\n")``, strip
``data: `` and decode each event (``NaiveSplitDecoder``, called once per read like the real one). It ignores comments, CR line endings, multi-line data and line
limits, so it is a floor to compare against, not a correct decoder.

Run: ``.venv/bin/python bench/sse_decoder.py [--events N] [--repeat R]``
"""

from __future__ import annotations

import argparse
import time

from ais_bench.clients.sse import SSEDecoder

EVENT = (
    b'data: {"id":"chatcmpl-4f1c2a9e8b7d4c3f","object":"chat.completion.chunk","created":1760000000,'
    b'"model":"Qwen2.5-7B-Instruct","choices":[{"index":0,"delta":{"content":" token"},'
    b'"logprobs":null,"finish_reason":null}]}\n\n'
)


class NaiveSplitDecoder:
    """The baseline: buffer, ``split(b"\\n\\n")``, strip ``data: ``, decode. Same call shape as
    ``SSEDecoder.feed`` (one method call per read), no validation at all.
    """

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> list[str]:
        parts = (self._buf + data).split(b"\n\n")
        self._buf = parts.pop()
        events = []
        for part in parts:
            if part.startswith(b"data: "):
                events.append(part[6:].decode())
        return events


def naive_decode(reads: list[bytes]) -> int:
    decoder = NaiveSplitDecoder()
    count = 0
    for read in reads:
        count += len(decoder.feed(read))
    return count


def decoder_decode(reads: list[bytes]) -> int:
    decoder = SSEDecoder()
    count = 0
    for read in reads:
        count += len(decoder.feed(read))
    return count


def best_rates(reads: list[bytes], n_events: int, repeat: int) -> tuple[float, float]:
    """Events per second (decoder, naive), each the fastest of ``repeat`` runs; the two are
    interleaved so that a busy machine slows both alike.
    """
    best = {decoder_decode: float("inf"), naive_decode: float("inf")}
    for _ in range(repeat):
        for func in best:
            start_s = time.perf_counter()
            count = func(reads)
            best[func] = min(best[func], time.perf_counter() - start_s)
            assert count == n_events, (count, n_events)
    return n_events / best[decoder_decode], n_events / best[naive_decode]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    assert SSEDecoder().feed(EVENT * 8) == NaiveSplitDecoder().feed(EVENT * 8)  # same events
    print(f"event size {len(EVENT)} bytes, {args.events} events, best of {args.repeat}")
    print(f"{'events/read':>11}  {'decoder ev/s':>14}  {'naive ev/s':>14}  {'ratio':>6}")
    for per_read in (1, 8):
        reads = [EVENT * per_read] * (args.events // per_read)
        n_events = len(reads) * per_read
        ours, naive = best_rates(reads, n_events, args.repeat)
        print(f"{per_read:>11}  {ours:>14,.0f}  {naive:>14,.0f}  {ours / naive:>6.2f}")
    # An event split across two reads (a worst case for buffering).
    half = len(EVENT) // 2
    reads = [EVENT[:half], EVENT[half:]] * (args.events // 2)
    n_events = args.events // 2
    ours, naive = best_rates(reads, n_events, args.repeat)
    print(f"{'1/2':>11}  {ours:>14,.0f}  {naive:>14,.0f}  {ours / naive:>6.2f}")


if __name__ == "__main__":
    main()
