# Global constants of ais_bench (user-editable; AISBench-compatible names).
# Point the environment variable AIS_BENCH_GLOBAL_CONSTS at a copy of this file to use another one.

# Number of request-sending worker processes. 0 = automatic (about 500 concurrent requests per
# process, at most 0.8 x CPU count). Integer >= 0.
WORKERS_NUM = 0

# Largest accepted size in bytes of one streamed (SSE) line. Valid range [1, 2**24]; anything else
# falls back to 65536 with a warning.
MAX_CHUNK_SIZE = 65536

# Total time limit in seconds of one request. None = wait forever; otherwise a number in [0, 86400].
REQUEST_TIME_OUT = None

# Log level: one of "DEBUG", "INFO", "WARNING", "ERROR" (logging.INFO etc. are accepted too).
LOG_LEVEL = "INFO"
