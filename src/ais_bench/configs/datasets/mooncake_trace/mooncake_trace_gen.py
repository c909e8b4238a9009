from ais_bench.benchmark.datasets import MooncakeTraceDataset

# A request trace, one JSON object per line:
#   {"timestamp": 0, "input_length": 655, "output_length": 52, "hash_ids": [46, 47]}
#   {"timestamp": 1200, "input_text": "What is the capital of France?", "output_length": 10}
# timestamp in ms; set use_timestamp=True in the model config to send on that schedule.
# Rows with input_length need path= (the tokenizer folder) in the model config.
mooncake_trace_datasets = [
    dict(
        abbr="mooncake_trace",
        type=MooncakeTraceDataset,
        path="ais_bench/datasets/mooncake_trace/mooncake_trace.jsonl",  # below the data root, or absolute
        random_seed=0,  # tokens of each hash id / row
        block_size=512,  # tokens per hash id
        fixed_schedule_auto_offset=False,  # True: shift timestamps so the first is 0
        fixed_schedule_start_offset=0,  # ms; rows before are dropped
        fixed_schedule_end_offset=-1,  # ms; rows after are dropped (-1: no end)
    )
]
