from ais_bench.benchmark.datasets import CustomDataset

# One request per line: {"prompt": "..."} or {"question": "..."} or {"messages": [{"role": "user",
# "content": "..."}]}, optional "max_out_len" (tokens) and "timestamp" (ms, with use_timestamp=True).
# The command-line shortcut: --custom-dataset-path FILE (no dataset config needed).
custom_datasets = [
    dict(
        abbr="custom",
        type=CustomDataset,
        path="ais_bench/datasets/custom/custom.jsonl",  # below the data root, or absolute
    )
]
