from ais_bench.benchmark.datasets import SyntheticDataset

# String prompts ("A A A ...") with a gaussian input length and a zipf output length.
# Methods: "uniform" (MinValue, MaxValue), "gaussian" (Mean, Var; clipped to [MinValue, MaxValue]),
# "zipf" (Alpha in (1, 10]; clipped to [MinValue, MaxValue]). Lengths in [1, 2**20].
synthetic_config = {
    "Type": "string",
    "RequestCount": 1000,
    "StringConfig": {
        "Input": {"Method": "gaussian", "Params": {"Mean": 512, "Var": 128 * 128, "MinValue": 1, "MaxValue": 2048}},
        "Output": {"Method": "zipf", "Params": {"Alpha": 1.5, "MinValue": 16, "MaxValue": 1024}},
    },
}

synthetic_datasets = [
    dict(
        abbr="synthetic_string",
        type=SyntheticDataset,
        config=synthetic_config,
        seed=0,  # same seed, same rows (None: new rows each run)
    )
]
