"""<ds>_server_metrics.csv: written scrape by scrape, read back whole (a cut last line skipped)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ais_bench.records.server_series import ServerSeriesWriter, labels_text, read_server_series_csv


def test_csv_round_trip_keeps_full_precision_and_odd_labels(tmp_path: Path) -> None:
    path = tmp_path / "ds_server_metrics.csv"
    writer = ServerSeriesWriter(path)
    odd = labels_text({"path": 'a "quoted",\nvalue\\', "le": "+Inf"})
    writer.append(1234.000000123, [("vllm:num_requests_running", 'model_name="m"', 3.0), ("x_bucket", odd, float("inf"))])
    writer.append(1235.5, [("vllm:num_requests_running", 'model_name="m"', 0.1 + 0.2)])
    writer.close()
    assert path.read_text(encoding="utf-8").splitlines()[0] == "t_s,name,labels,value"
    series = read_server_series_csv(path)
    assert series.t_s.tolist() == [1234.000000123, 1234.000000123, 1235.5]
    assert series.labels[1] == 'le="+Inf",path="a \\"quoted\\",\\nvalue\\\\"'
    assert np.isinf(series.value[1]) and series.value[2] == 0.1 + 0.2


def test_a_line_cut_by_a_kill_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "ds_server_metrics.csv"
    path.write_text('t_s,name,labels,value\n1.0,a,,2.0\n2.0,a,,3', encoding="utf-8")
    assert len(read_server_series_csv(path)) == 2
    path.write_text('t_s,name,labels,value\n1.0,a,,2.0\n2.0,a', encoding="utf-8")
    assert len(read_server_series_csv(path)) == 1
