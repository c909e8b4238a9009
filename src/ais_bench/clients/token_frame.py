"""The frame of a stream's plain token events: the text around their content.

Every token chunk of one stream from vLLM, SGLang or OpenAI is the same JSON text (id, model,
created, ...) around a different ``delta.content``. Once the chat adapter has recognised one such
chunk with its pattern (``openai_chat.plain_token_text``), the text before and after the content is
this stream's :class:`TokenFrame`; a later event with that frame and a *plain* content (no quote, no
backslash, only printable characters: a JSON string without escapes) is the same kind of chunk, so
its content is known without the pattern or a JSON parse. A whole socket read made of nothing but
such events is taken in one go (:meth:`TokenFrame.fold_read`): one decode and one split per read
instead of an SSE split, a decode and a check per event.
"""

from __future__ import annotations

from ais_bench.clients.response import ResponseState


def is_plain(text: str) -> bool:
    """True when ``text`` between two quotes is a JSON string without escapes, whose text it is."""
    return '"' not in text and "\\" not in text and text.isprintable()


class TokenFrame:
    """``head`` + content + ``tail``: one stream's plain token chunk (see the module docstring)."""

    __slots__ = ("_end", "_end_bytes", "_separator", "_shortest_read", "_start", "_start_bytes", "head", "tail")

    def __init__(self, head: str, tail: str) -> None:
        self.head = head
        self.tail = tail
        #: A read of such events: ``data: `` head, content, tail, blank line, ``data: `` head, ...
        self._start = ("data: " + head).encode()
        self._end = (tail + "\n\n").encode()
        self._separator = tail + "\n\ndata: " + head
        self._start_bytes = len(self._start)
        self._end_bytes = len(self._end)
        #: A read shorter than this cannot hold one event of this frame (start and end must not overlap).
        self._shortest_read = self._start_bytes + self._end_bytes

    def content(self, data: str) -> str | None:
        """The content of one event's ``data`` in this frame with a plain content, else None."""
        head, tail = self.head, self.tail
        if len(data) < len(head) + len(tail) or not (data.startswith(head) and data.endswith(tail)):
            return None
        text = data[len(head) : len(data) - len(tail)]
        return text if is_plain(text) else None

    def end_of_last_event(self, body: bytes) -> int:
        """Where the last event in this frame that ``body`` holds ends (0: none does)."""
        found = body.rfind(self._end)
        return found + self._end_bytes if found >= 0 else 0

    def fold_read(self, body: bytes, state: ResponseState, points: list[float], stamp: float) -> int | None:
        """When ``body`` (whole events of one read) is nothing but events in this frame with plain
        contents: fold them into ``state`` as the adapter would, append ``stamp`` to ``points`` once
        per token event, and return how many events there were; else None and nothing touched.

        Why this is exact: the contents are what lies between the separators, and a plain content
        holds no quote while the separator does, so the split cannot cut inside a content, and any
        other text in the read (another event, a comment, ``[DONE]``, a line break) would leave a
        quote or an unprintable character in some piece."""
        if len(body) < self._shortest_read or not (body.startswith(self._start) and body.endswith(self._end)):
            return None
        try:
            middle = body[self._start_bytes : -self._end_bytes].decode()
        except UnicodeDecodeError:
            return None
        contents = middle.split(self._separator)
        count = len(contents)
        text = middle if count == 1 else "".join(contents)
        if '"' in text or "\\" in text or not text.isprintable():  # is_plain, inlined: once per read
            return None
        if "" in contents:  # a chunk with an empty content is an event, not a token
            tokens = [piece for piece in contents if piece]
            state.text_parts.extend(tokens)
            state.content_events += len(tokens)
            points.extend([stamp] * len(tokens))
        elif count == 1:
            state.text_parts.append(middle)
            state.content_events += 1
            points.append(stamp)
        else:
            state.text_parts.extend(contents)
            state.content_events += count
            points.extend([stamp] * count)
        return count
