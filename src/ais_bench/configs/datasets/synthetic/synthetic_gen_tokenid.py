from ais_bench.benchmark.datasets import SyntheticDataset

# Prompts of exactly RequestSize tokens of the served model's tokenizer (random plain-word tokens,
# decoded to text), the first PrefixLen of them shared by every request (prefix caching).
# Needs path= (the tokenizer folder) in the model config. Output length: the model's max_out_len
# (set ignore_eos=True in generation_kwargs for fixed-length outputs).
synthetic_config = {
    "Type": "tokenid",
    "RequestCount": 1000,  # 1 .. 2**20
    "TokenIdConfig": {
        "RequestSize": 1024,  # input tokens per request, 1 .. 2**20
        "PrefixLen": 0,  # shared prefix tokens, 0 .. RequestSize
    },
}

synthetic_datasets = [
    dict(
        abbr="synthetic_tokenid",
        type=SyntheticDataset,
        config=synthetic_config,
        seed=0,  # same seed, same prompts (None: new prompts each run)
    )
]
