"""One writer per format (console tables, csv, json); formatting only, no computation."""

from __future__ import annotations

from ais_bench.reports.console import format_notes, format_tables
from ais_bench.reports.csv_writer import read_csv, write_csv
from ais_bench.reports.json_writer import read_json, write_json

__all__ = ["format_notes", "format_tables", "read_csv", "read_json", "write_csv", "write_json"]
