"""Write small config folders for end-to-end runs against test servers on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def write_model_config(
    config_dir: Path, name: str, port: int, *, backend: str = "VLLMCustomAPIChat", **fields: Any
) -> None:
    values: dict[str, Any] = {
        "attr": "service", "abbr": name.replace("_", "-"), "path": "", "model": "m", "stream": True,
        "request_rate": 0, "retry": 0, "host_ip": "127.0.0.1", "host_port": port, "max_out_len": 16,
        "batch_size": 2,
    }
    values.update(fields)
    body = ",\n        ".join(f"{key}={value!r}" for key, value in values.items())
    text = (
        f"from ais_bench.benchmark.models import {backend}\n\n"
        f"models = [\n    dict(\n        type={backend},\n        {body},\n    )\n]\n"
    )
    (config_dir / "models").mkdir(parents=True, exist_ok=True)
    (config_dir / "models" / f"{name}.py").write_text(text)


def write_synthetic_dataset(config_dir: Path, name: str, count: int, *, input_len: int = 8, output_len: int = 8) -> None:
    text = f"""from ais_bench.benchmark.datasets import SyntheticDataset

{name}_datasets = [
    dict(
        abbr="{name}",
        type=SyntheticDataset,
        config={{
            "Type": "string",
            "RequestCount": {count},
            "StringConfig": {{
                "Input": {{"Method": "uniform", "Params": {{"MinValue": {input_len}, "MaxValue": {input_len}}}}},
                "Output": {{"Method": "uniform", "Params": {{"MinValue": {output_len}, "MaxValue": {output_len}}}}},
            }},
        }},
        seed=0,
    )
]
"""
    (config_dir / "datasets").mkdir(parents=True, exist_ok=True)
    (config_dir / "datasets" / f"{name}.py").write_text(text)


def only_run_dir(work_dir: Path) -> Path:
    runs = [p for p in work_dir.iterdir() if p.is_dir() and not p.is_symlink()]  # not `latest`
    assert len(runs) == 1, runs
    return runs[0]


def write_sim_model_config(config_dir: Path, name: str, simulator: dict[str, Any], **fields: Any) -> None:
    """A model config that starts the embedded simulator (with ``simulator`` settings) for the run."""
    write_model_config(config_dir, name, 0, simulator=simulator, **fields)


def write_global_consts(path: Path, **values: Any) -> Path:
    path.write_text("".join(f"{key} = {value!r}\n" for key, value in values.items()))
    return path
