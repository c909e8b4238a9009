# Talks to the embedded simulated inference server (ais_bench.sim), started in-process for the run:
# no GPU, no download, no setup. host_port=0 = the simulator picks a free port at run time.
from ais_bench.benchmark.models import VLLMCustomAPIChat

models = [
    dict(
        attr="service",
        type=VLLMCustomAPIChat,  # POST v1/chat/completions (SSE)
        abbr="golden",
        path="",
        model="",
        stream=True,
        request_rate=0,
        retry=2,
        host_ip="127.0.0.1",
        host_port=0,
        max_out_len=64,
        batch_size=16,
        generation_kwargs=dict(ignore_eos=False),
        seed=0,  # makes the send schedule reproducible
        simulator=dict(
            max_num_seqs=16,  # continuous-batching slots of the simulated server
            seed=0,
        ),
    )
]
