"""The server's own metrics as scraped during a run: ``<ds>_server_metrics.csv`` and its columns.

One row per scraped sample: ``t_s`` (``time.perf_counter`` seconds, the clock of the request records),
the sample ``name`` as the server exposes it, its ``labels`` as ``key="value"`` pairs sorted by key and
joined by commas (Prometheus's escaping of ``\\``, ``"`` and newlines), and its ``value``. The file is
appended and flushed after every scrape, so a killed run keeps what was scraped; a recalculation reads
it (or the copy in ``<ds>_details.h5``) back.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

CSV_HEADER = ("t_s", "name", "labels", "value")


def server_metrics_csv_path(out_dir: Path, data_abbr: str) -> Path:
    return out_dir / f"{data_abbr}_server_metrics.csv"


def labels_text(labels: Mapping[str, str]) -> str:
    """``key="value",...`` sorted by key, values escaped as in the Prometheus text format."""
    return ",".join(f'{key}="{_escape(labels[key])}"' for key in sorted(labels))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass(frozen=True)
class ServerSeries:
    """Scraped samples as columns, in scrape order: ``t_s`` (float64), ``name`` and ``labels`` (str
    object arrays), ``value`` (float64)."""

    t_s: np.ndarray
    name: np.ndarray
    labels: np.ndarray
    value: np.ndarray

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    @classmethod
    def empty(cls) -> ServerSeries:
        return cls.of([])

    @classmethod
    def of(cls, rows: Iterable[tuple[float, str, str, float]]) -> ServerSeries:
        rows = list(rows)
        return cls(
            np.array([row[0] for row in rows], dtype=np.float64),
            np.array([row[1] for row in rows], dtype=object),
            np.array([row[2] for row in rows], dtype=object),
            np.array([row[3] for row in rows], dtype=np.float64),
        )

    @property
    def scrape_times_s(self) -> np.ndarray:
        """The distinct sample times, ascending."""
        return np.unique(self.t_s)

    def names(self) -> set[str]:
        return set(self.name.tolist())


class ServerSeriesWriter:
    """Appends scraped samples to ``<ds>_server_metrics.csv`` (header first), flushing after each scrape."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: TextIO = path.open("w", encoding="utf-8", newline="")
        self._csv = csv.writer(self._file)
        self._csv.writerow(CSV_HEADER)
        self._file.flush()
        self.rows = 0

    def append(self, t_s: float, samples: Iterable[tuple[str, str, float]]) -> None:
        for name, labels, value in samples:
            self._csv.writerow((repr(t_s), name, labels, _value_text(value)))
            self.rows += 1
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _value_text(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def read_server_series_csv(path: Path) -> ServerSeries:
    """The samples of a ``<ds>_server_metrics.csv`` (a last line cut short by a kill is skipped)."""
    rows: list[tuple[float, str, str, float]] = []
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader, None)
        for row in reader:
            if len(row) != len(CSV_HEADER):
                continue
            try:
                rows.append((float(row[0]), row[1], row[2], float(row[3])))
            except ValueError:
                continue
    return ServerSeries.of(rows)
