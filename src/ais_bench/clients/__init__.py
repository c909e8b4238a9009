"""Talking to inference servers: a sans-I/O SSE decoder and one pure adapter per API.

The engine does the HTTP; this package builds request bodies and headers and turns response bytes
into a ``ResponseState``. See ``backends.BACKENDS`` for the supported backends.
"""
