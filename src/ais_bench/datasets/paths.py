"""Where dataset files are looked for.

The data root is ``$AIS_BENCH_DATA_ROOT`` when set, else the ``datasets`` folder of the installed
package (``ais_bench/datasets``, as in AISBench). A dataset config's ``path`` is used as is when
absolute; a relative one is taken below the data root, with a leading ``ais_bench/datasets/`` (the
AISBench spelling) removed.
"""

from __future__ import annotations

import os
from pathlib import Path

import ais_bench

DATA_ROOT_ENV = "AIS_BENCH_DATA_ROOT"


def data_root() -> Path:
    """The folder dataset paths are relative to."""
    env = os.environ.get(DATA_ROOT_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return Path(ais_bench.__file__).resolve().parent / "datasets"


def resolve_data_path(path: str, default: str) -> Path:
    """Absolute folder or file for a dataset config ``path`` (``default`` when ``path`` is empty)."""
    candidate = Path(path or default).expanduser()
    if candidate.is_absolute():
        return candidate
    parts = candidate.parts
    if parts[:2] == ("ais_bench", "datasets"):
        parts = parts[2:]
    return data_root().joinpath(*parts)
